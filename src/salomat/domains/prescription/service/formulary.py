"""The formulary (packages of the national drug register) and the pack's prescribing rules.

The formulary is reference data imported from a CSV export of the national drug
register (``salomat formulary import FILE``, ``POST /api/v1/formulary/import``).
Every row is checked before anything is stored: the report names each bad cell
by line (the header is line 1), column and reason, and one bad row stores
nothing. Rows are keyed by ``code``: a known code is updated, a new one added;
packages missing from the file are left as they are (a partial file is safe).

The prescription types (validity) and the reimbursement list (qualifying ICD-10
codes, rate, units per period) are the country pack's ``prescription.yaml``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.text import problem as text_problem
from salomat.country import pack
from salomat.domains.prescription.models import Medicine
from salomat.domains.prescription.schemas import (
    FormularyImportReport,
    FormularyRowError,
    MedicineOut,
)

__all__ = [
    "ATC_LEVEL5",
    "FORMULARY_COLUMNS",
    "PrescriptionRules",
    "PrescriptionType",
    "ReimbursementRule",
    "check_formulary_csv",
    "diagnosis_qualifies",
    "get_medicine",
    "import_formulary",
    "list_formulary",
    "load_demo_formulary",
    "medicine_by_code",
    "medicines_by_code",
    "prescription_rules",
]

#: WHO ATC level 5 (chemical substance): letter, 2 digits, 2 letters, 2 digits (C08CA01)
ATC_LEVEL5 = re.compile(r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$")
FORMULARY_COLUMNS = (
    "code",
    "inn",
    "atc",
    "trade_name",
    "form",
    "strength",
    "unit",
    "units_per_package",
    "reference_price",
)
_REQUIRED = tuple(c for c in FORMULARY_COLUMNS if c != "trade_name")
_MAX_LEN = {"code": 32, "inn": 200, "trade_name": 200, "form": 32, "strength": 64, "unit": 16}
_INT = re.compile(r"^[0-9]+$")
_ICD_CATEGORY = re.compile(r"^[A-Z][0-9]{2}$")


# ---- the pack's rules -----------------------------------------------------------------


@dataclass(frozen=True)
class PrescriptionType:
    name: str
    validity_days: int
    reimbursed: bool


@dataclass(frozen=True)
class ReimbursementRule:
    inn: str
    atc: str | None
    #: "I10-I15" (3-character categories, both ends included) or a prefix "E11"
    diagnoses: tuple[str, ...]
    rate_pct: int
    max_units: int
    period_days: int


@dataclass(frozen=True)
class PrescriptionRules:
    country: str
    types: dict[str, PrescriptionType]
    reimbursement: dict[str, ReimbursementRule]
    formulary_file: str | None


def prescription_rules(country: str | None = None) -> PrescriptionRules:
    """The deployed country's prescription types and reimbursement list."""
    cc = country or get_settings().country
    data = pack.load(cc, "prescription")
    types = {
        name: PrescriptionType(name, int(v["validity_days"]), bool(v["reimbursed"]))
        for name, v in data["types"].items()
        if isinstance(v, dict)
    }
    items = {}
    for item in data["reimbursement"]["items"]:
        inn = str(item["inn"]).strip().lower()
        items[inn] = ReimbursementRule(
            inn=inn,
            atc=item.get("atc"),
            diagnoses=tuple(str(d).upper() for d in item["diagnoses"]),
            rate_pct=int(item["rate_pct"]),
            max_units=int(item["max_units"]),
            period_days=int(item["period_days"]),
        )
    return PrescriptionRules(cc, types, items, (data.get("formulary") or {}).get("file"))


def diagnosis_qualifies(diagnosis: str, patterns: tuple[str, ...]) -> bool:
    """Whether an ICD-10 code (I10, E11.9) falls in one of the list's ranges or prefixes."""
    code = diagnosis.strip().upper()
    category = code[:3]
    for p in patterns:
        if "-" in p:
            low, high = p.split("-", 1)
            if _ICD_CATEGORY.match(category) and low[:3] <= category <= high[:3]:
                return True
        elif code.replace(".", "").startswith(p.replace(".", "")):
            return True
    return False


# ---- reading --------------------------------------------------------------------------


async def list_formulary(
    session: AsyncSession,
    *,
    inn: str | None = None,
    atc: str | None = None,
    include_inactive: bool = False,
) -> list[MedicineOut]:
    """Packages by INN (case-insensitive prefix) and/or ATC (prefix: C09 lists ACE inhibitors)."""
    q = select(Medicine).order_by(Medicine.inn, Medicine.strength, Medicine.code)
    if inn:
        q = q.where(Medicine.inn.like(f"{inn.strip().lower()}%"))
    if atc:
        q = q.where(Medicine.atc.like(f"{atc.strip().upper()}%"))
    if not include_inactive:
        q = q.where(Medicine.active.is_(True))
    return [MedicineOut.model_validate(m) for m in (await session.execute(q)).scalars()]


async def medicine_by_code(session: AsyncSession, code: str) -> MedicineOut | None:
    m = await session.scalar(select(Medicine).where(Medicine.code == code.strip()))
    return MedicineOut.model_validate(m) if m else None


async def medicines_by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, MedicineOut]:
    """The formulary's packages with these codes, in one statement (the FHIR terminology's
    ``urn:salomat:formulary`` reads them)."""
    wanted = sorted({c for c in codes if isinstance(c, str) and 0 < len(c) <= 64})
    if not wanted:
        return {}
    found = await session.scalars(select(Medicine).where(Medicine.code.in_(wanted)))
    return {m.code: MedicineOut.model_validate(m) for m in found}


async def get_medicine(session: AsyncSession, medicine_id: int) -> MedicineOut:
    m = await session.get(Medicine, medicine_id)
    if m is None:
        raise NotFound(f"Medication {medicine_id} not found.")
    return MedicineOut.model_validate(m)


# ---- the CSV import -------------------------------------------------------------------


def _check_row(line: int, row: dict[str, str]) -> tuple[dict[str, Any], list[FormularyRowError]]:
    errors: list[FormularyRowError] = []
    clean: dict[str, Any] = {}

    def bad(column: str, reason: str) -> None:
        errors.append(FormularyRowError(line=line, column=column, reason=reason))

    for col in FORMULARY_COLUMNS:
        value = (row.get(col) or "").strip()
        if not value:
            if col in _REQUIRED:
                bad(col, "is empty")
            clean[col] = None
            continue
        if col in _MAX_LEN and len(value) > _MAX_LEN[col]:
            bad(col, f"is longer than {_MAX_LEN[col]} characters")
        refused = text_problem(value)
        if refused:
            bad(col, refused)
        clean[col] = value
    if clean.get("inn"):
        clean["inn"] = clean["inn"].lower()
    if clean.get("atc"):
        atc = clean["atc"].upper()
        if not ATC_LEVEL5.match(atc):
            bad(
                "atc",
                f"{clean['atc']!r} is not a level-5 ATC code (letter, 2 digits, "
                "2 letters, 2 digits: C08CA01)",
            )
        clean["atc"] = atc
    for col, least in (("units_per_package", 1), ("reference_price", 0)):
        value = clean.get(col)
        if value is None:
            continue
        if not _INT.match(value):
            what = "minor units (tiyin/tiyn), no decimal point" if col == "reference_price" else ""
            bad(col, f"{value!r} is not a whole number" + (f" ({what})" if what else ""))
        elif int(value) < least:
            bad(col, f"must be at least {least}")
        else:
            clean[col] = int(value)
    return clean, errors


def check_formulary_csv(text: str) -> tuple[list[dict[str, Any]], list[FormularyRowError]]:
    """Parse and check every row; the clean rows and every error (line 1 is the header)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        return [], [
            FormularyRowError(line=1, column=c, reason="the header lacks this column")
            for c in missing
        ]
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    errors: list[FormularyRowError] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            errors.append(
                FormularyRowError(line=line, column="*", reason="more cells than columns")
            )
        clean, row_errors = _check_row(line, row)
        code = clean.get("code")
        if code and code in seen:
            row_errors.append(
                FormularyRowError(line=line, column="code", reason=f"repeats line {seen[code]}")
            )
        elif code:
            seen[code] = line
        errors.extend(row_errors)
        if not row_errors:
            rows.append(clean)
    if not rows and not errors:
        errors.append(FormularyRowError(line=1, column="*", reason="the file has no rows"))
    return rows, errors


async def import_formulary(
    session: AsyncSession, text: str, *, dry_run: bool = False
) -> FormularyImportReport:
    """Check the CSV and, when every row is good and not ``dry_run``, add or update packages."""
    rows, errors = check_formulary_csv(text)
    total = len(rows) + len({e.line for e in errors if e.line > 1})
    report = FormularyImportReport(rows=total, dry_run=dry_run, errors=errors)
    if errors:
        return report
    existing = {
        m.code: m
        for m in (
            await session.execute(
                select(Medicine).where(Medicine.code.in_([r["code"] for r in rows]))
            )
        ).scalars()
    }
    now = utcnow()
    for r in rows:
        m = existing.get(r["code"])
        if m is None:
            report.created += 1
            if not dry_run:
                session.add(Medicine(**r, active=True, updated_at=now))
        else:
            report.updated += 1
            if not dry_run:
                for k, v in r.items():
                    setattr(m, k, v)
                m.active = True
                m.updated_at = now
    if not dry_run:
        await session.flush()
        report.stored = True
    return report


async def load_demo_formulary(session: AsyncSession, country: str | None = None) -> int:
    """Import the pack's demo formulary (``salomat demo load``); returns the packages added."""
    rules = prescription_rules(country)
    if not rules.formulary_file:
        return 0
    text = (pack.PACKS_DIR / rules.country / rules.formulary_file).read_text(encoding="utf-8")
    report = await import_formulary(session, text)
    if report.errors:
        raise Invalid.fields(
            [FieldError(f"line {e.line}: {e.column}", e.reason) for e in report.errors],
            f"the demo formulary {rules.formulary_file} has wrong rows",
        )
    return report.created
