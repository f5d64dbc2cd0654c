"""Case notifications as CSV: an import checked line by line (all lines or none) and the
export of a search, every cell neutralised (docs/epidemic.md "CSV").

Columns: ``person_id,icd10,onset_date,report_date,district`` and optionally
``lab_confirmed,lab_facility,hospitalised,admission_date,reporting_facility``; comma or
semicolon separated; ``#`` lines skipped; the header is line 1.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.downloads import csv_text
from salomat.core.errors import N_, FieldError
from salomat.core.security import Principal
from salomat.domains.epidemic.schemas import NotificationIn, NotificationOut
from salomat.domains.epidemic.service.notifications import (
    create_notification,
    validate_notification,
)

__all__ = ["COLUMNS", "ImportReport", "export_csv", "import_csv", "parse_csv"]

REQUIRED = ("person_id", "icd10", "onset_date", "report_date", "district")
OPTIONAL = ("lab_confirmed", "lab_facility", "hospitalised", "admission_date", "reporting_facility")
COLUMNS = REQUIRED + OPTIONAL
MAX_LINES = 5000
_TRUE = {"1", "true", "yes", "y", "да", "ha", "иә"}
_FALSE = {"", "0", "false", "no", "n", "нет", "yoʻq", "жоқ"}


@dataclass
class ImportReport:
    lines: int = 0
    issues: list[tuple[int, FieldError]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)


def _bool(raw: str) -> bool | None:
    v = raw.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


def parse_csv(text: str) -> tuple[list[tuple[int, NotificationIn]], list[tuple[int, FieldError]]]:
    """The lines read as notifications, and each line's refusals (``line``, field); pure:
    no database. Never raises on any text."""
    issues: list[tuple[int, FieldError]] = []
    good: list[tuple[int, NotificationIn]] = []
    raw_lines = text.lstrip("\ufeff").splitlines()
    numbered = [
        (i + 1, s) for i, s in enumerate(raw_lines) if s.strip() and not s.lstrip().startswith("#")
    ]
    if not numbered:
        return good, [(1, FieldError("header", N_("The file is empty")))]
    head_no, head = numbered[0]
    delimiter = ";" if head.count(";") > head.count(",") else ","
    try:
        header = [h.strip().lower() for h in next(csv.reader([head], delimiter=delimiter))]
    except csv.Error:
        return good, [(head_no, FieldError("header", N_("The header cannot be read")))]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return good, [
            (
                head_no,
                FieldError(
                    "header",
                    N_("Missing columns: %(columns)s (expected %(expected)s)"),
                    {"columns": ", ".join(missing), "expected": ",".join(COLUMNS)},
                ),
            )
        ]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        return good, [
            (
                head_no,
                FieldError(
                    "header", N_("Unknown columns: %(columns)s"), {"columns": ", ".join(unknown)}
                ),
            )
        ]
    body = numbered[1:]
    if len(body) > MAX_LINES:
        return good, [(head_no, FieldError("file", N_("More than %(n)s lines"), {"n": MAX_LINES}))]
    for number, line in body:
        try:
            cells = next(csv.reader([line], delimiter=delimiter))
        except csv.Error:
            issues.append((number, FieldError("line", N_("The line cannot be read"))))
            continue
        if len(cells) != len(header):
            issues.append(
                (
                    number,
                    FieldError(
                        "line",
                        N_("%(n)s cells, expected %(expected)s"),
                        {"n": len(cells), "expected": len(header)},
                    ),
                )
            )
            continue
        row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
        data: dict[str, object] = {}
        bad = False
        for name in ("lab_confirmed", "hospitalised"):
            if name in row:
                b = _bool(row[name])
                if b is None:
                    issues.append(
                        (
                            number,
                            FieldError(
                                name, N_("Not yes or no: %(value)s"), {"value": row[name][:40]}
                            ),
                        )
                    )
                    bad = True
                else:
                    data[name] = b
        for name in ("person_id", "icd10", "onset_date", "report_date", "district"):
            data[name] = row[name]
        for name in ("lab_facility", "admission_date", "reporting_facility"):
            if row.get(name):
                data[name] = row[name]
        try:
            parsed = NotificationIn.model_validate(data)
        except ValidationError as e:
            for err in e.errors():
                loc = ".".join(str(x) for x in err["loc"]) or "line"
                issues.append(
                    (
                        number,
                        FieldError(
                            loc,
                            N_("Not a valid value: %(value)s"),
                            {"value": str(row.get(loc, ""))[:40]},
                        ),
                    )
                )
            continue
        if not bad:
            good.append((number, parsed))
    return good, issues


async def import_csv(
    session: AsyncSession, principal: Principal, text: str, *, language: str = "en"
) -> ImportReport:
    """Every line checked, every refusal reported with its line and column; if any line is
    refused nothing is stored."""
    report = ImportReport()
    good, issues = parse_csv(text)
    report.lines = len(good) + len({n for n, _ in issues if n > 1})
    report.issues.extend(issues)
    for number, data in good:
        for e in await validate_notification(session, principal, data):
            report.issues.append((number, e))
    if report.issues:
        report.issues.sort(key=lambda x: x[0])
        return report
    for _, data in good:
        out: NotificationOut = await create_notification(
            session, principal, data, language=language
        )
        report.ids.append(out.id)
    return report


def export_csv(rows: list[NotificationOut]) -> str:
    """The notifications as CSV in the import's columns (plus id and disease), every text
    cell neutralised against spreadsheet formulas."""
    header = ["id", *COLUMNS, "disease", "region"]
    return csv_text(
        header,
        (
            [
                r.id, r.person_id, r.icd10, r.onset_date.isoformat(), r.report_date.isoformat(),
                r.district, "yes" if r.lab_confirmed else "no", r.lab_facility or "",
                "yes" if r.hospitalised else "no",
                r.admission_date.isoformat() if r.admission_date else "",
                r.reporting_facility, r.disease, r.region or "",
            ]
            for r in rows
        ),
    )  # fmt: skip
