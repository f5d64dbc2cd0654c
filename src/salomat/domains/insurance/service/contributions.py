"""Payment files and contribution lines: taken whole or not at all, and only once.

A payment file is CSV with the columns payer, national_id, month (YYYY-MM), amount
(major units, "4250.00") and paid_on (YYYY-MM-DD), and optionally kind (an employer's
line is its own 3 % unless ``kind=employee``: the 2 % it withheld). The API takes the
same lines as JSON. Every line is checked and every wrong one named with its line and
field; one wrong line and nothing is stored. The same bytes again add nothing (the
file's SHA-256 is kept), and a line already stored from another file is counted as a
duplicate, not stored twice (a unique constraint, INSERT .. ON CONFLICT DO NOTHING).

Set-wise: the payers and national ids of a file are resolved in a few statements and
the lines inserted 500 to a statement, so a 10,000-line file is some thirty statements.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.insurance.models import Contribution, ContributionImport, Payer
from salomat.domains.insurance.schemas.contributions import (
    ContributionsIn,
    ImportOut,
    ImportResult,
)
from salomat.domains.insurance.service.categories import listed_periods
from salomat.domains.insurance.service.expected import MAX_MONTHS
from salomat.domains.insurance.service.payers import major, refuse_universal
from salomat.domains.insurance.service.rules import add_months, insurance_rules, month_of
from salomat.domains.registry import service as registry

__all__ = [
    "COLUMNS",
    "KINDS_OF_PAYER",
    "MAX_AMOUNT",
    "MAX_LINES",
    "get_import",
    "import_contributions",
    "import_months",
    "import_payment_file",
    "list_imports",
    "read_payment_csv",
]

COLUMNS = ("payer", "national_id", "month", "amount", "paid_on")
OPTIONAL = ("kind",)
MAX_LINES = 50_000
#: the most one line may pay, in minor units (1,000,000,000.00): no single contribution
#: is near it, and a full file of such lines still totals within a BIGINT
MAX_AMOUNT = 1_000_000_000_00
#: the contribution kinds each kind of payer may send
KINDS_OF_PAYER = {
    "employer": ("employer", "employee"),
    "entrepreneur": ("entrepreneur",),
    "independent": ("independent",),
    "self_employed": ("self_employed",),
    "state": ("state",),
    "aggregate": ("aggregate",),
}
PERSON_PAYERS = ("entrepreneur", "independent", "self_employed")
RESOURCE = "ContributionImport"
CHUNK = 500

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_AMOUNT = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")
_NEGATIVE = re.compile(r"^[-\u2212][0-9]+(\.[0-9]+)?$")
_NID = re.compile(r"^[0-9]{1,32}$")

REQUIRED = N_("is required")


@dataclass
class _Line:
    n: int
    payer: str
    national_id: str
    month: date | None
    amount: int | None
    paid_on: date | None
    kind: str | None


def _err(n: int, field: str, message: str, params: dict[str, Any] | None = None) -> FieldError:
    return FieldError(f"lines.{n}.{field}", message, params)


def _file_error(message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError("file", message, params)])


def read_payment_csv(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """The rows of a payment file with their line numbers (the header is line 1); a file
    that is not CSV text with the columns is refused as a whole."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _file_error(N_("is not UTF-8 text")) from e
    if "\x00" in text:
        raise _file_error(N_("contains a NUL character: not a text file"))
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None or not any(c.strip() for c in header):
            raise _file_error(N_("is empty: the first line names the columns"))
        names = [c.strip().lower() for c in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise _file_error(
                N_("has no column %(columns)s (the first line names the columns: %(all)s)"),
                {"columns": ", ".join(missing), "all": ", ".join(COLUMNS)},
            )
        rows: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_LINES:
                raise _file_error(N_("has more than %(n)s lines"), {"n": MAX_LINES})
            row = {
                name: cells[i].strip() if i < len(cells) else ""
                for i, name in enumerate(names)
                if name in COLUMNS or name in OPTIONAL
            }
            if len(cells) > len(names):
                row["__extra__"] = "1"
            rows.append((reader.line_num, row))
    except csv.Error as e:
        raise _file_error(N_("is not readable as CSV")) from e
    if not rows:
        raise _file_error(N_("has no lines after the header"))
    return rows


def _parse(n: int, row: dict[str, Any], errors: list[FieldError]) -> _Line:
    def text(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value).strip()

    if row.get("__extra__"):
        errors.append(_err(n, "line", N_("has more cells than the header has columns")))
    for name in (*COLUMNS, *OPTIONAL):
        if "\x00" in text(name):
            errors.append(_err(n, name, N_("contains a NUL character")))
            return _Line(n, "", "", None, None, None, None)
    payer, nid = text("payer"), text("national_id")
    if not payer:
        errors.append(_err(n, "payer", REQUIRED))
    elif len(payer) > 32:
        errors.append(_err(n, "payer", N_("no payer with this code")))
    if not nid:
        errors.append(_err(n, "national_id", REQUIRED))
    elif not _NID.match(nid):
        errors.append(_err(n, "national_id", N_("a national id is digits only")))
    month = None
    raw = text("month")
    m = _MONTH.match(raw)
    if not raw:
        errors.append(_err(n, "month", REQUIRED))
    elif m is None or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1900:
        errors.append(_err(n, "month", N_("not a month: write it like 2024-05")))
    else:
        month = date(int(m[1]), int(m[2]), 1)
    amount = None
    raw = text("amount")
    if not raw:
        errors.append(_err(n, "amount", REQUIRED))
    elif _NEGATIVE.match(raw):
        errors.append(_err(n, "amount", N_("cannot be negative")))
    elif not _AMOUNT.match(raw):
        errors.append(
            _err(n, "amount", N_("not an amount: write it like 4250.00, a point before cents"))
        )
    else:
        try:
            amount = int(Decimal(raw) * 100)
        except InvalidOperation:  # pragma: no cover - the pattern admits decimals only
            amount = None
        if amount == 0:
            errors.append(_err(n, "amount", N_("must be more than 0")))
            amount = None
        elif amount is not None and amount > MAX_AMOUNT:
            errors.append(
                _err(
                    n, "amount", N_("at most %(maximum)s"), {"maximum": f"{major(MAX_AMOUNT):.2f}"}
                )
            )
            amount = None
    paid_on = None
    raw = text("paid_on")
    if not raw:
        errors.append(_err(n, "paid_on", REQUIRED))
    else:
        try:
            paid_on = date.fromisoformat(raw) if _DATE.match(raw) else None
        except ValueError:
            paid_on = None
        if paid_on is None:
            errors.append(_err(n, "paid_on", N_("not a date: write it like 2024-05-31")))
    kind = text("kind") or None
    return _Line(n, payer, nid, month, amount, paid_on, kind)


async def _payers(session: AsyncSession, codes: Iterable[str]) -> dict[str, Payer]:
    wanted = sorted({c for c in codes if c and len(c) <= 32})
    out: dict[str, Payer] = {}
    for i in range(0, len(wanted), 2000):
        for p in await session.scalars(select(Payer).where(Payer.code.in_(wanted[i : i + 2000]))):
            out[p.code] = p
    return out


def _in_period(month: date, start: date, end: date | None) -> bool:
    return start < add_months(month, 1) and (end is None or end >= month)


async def _check(
    session: AsyncSession, lines: list[_Line], errors: list[FieldError]
) -> tuple[dict[str, Payer], dict[str, int]]:
    """The checks that read the database: payers, people, kinds, advance, the state."""
    rules = insurance_rules()
    today = pack.today(get_settings().country)
    payers = await _payers(session, (li.payer for li in lines))
    people = await registry.person_ids_by_national_ids(
        session, (li.national_id for li in lines if _NID.match(li.national_id))
    )
    state_people = [
        people[li.national_id]
        for li in lines
        if li.payer in payers and payers[li.payer].kind == "state" and li.national_id in people
    ]
    briefs = await registry.person_briefs(session, state_people) if state_people else {}
    listed = await listed_periods(session, state_people) if state_people else {}
    derived = [c for c in rules.categories.values() if c.derived]
    for li in lines:
        n = li.n
        payer = payers.get(li.payer)
        if li.payer and payer is None:
            errors.append(_err(n, "payer", N_("no payer with this code")))
        person = people.get(li.national_id)
        if li.national_id and _NID.match(li.national_id) and person is None:
            errors.append(_err(n, "national_id", N_("no person with this national id")))
        if li.paid_on is not None and li.paid_on > today:
            errors.append(_err(n, "paid_on", N_("is in the future")))
        if payer is None:
            continue
        allowed = KINDS_OF_PAYER.get(payer.kind, ())
        if li.kind is None:
            li.kind = payer.kind
        elif li.kind not in allowed:
            errors.append(
                _err(
                    n,
                    "kind",
                    N_("a payer of this kind pays only: %(kinds)s"),
                    {"kinds": ", ".join(allowed)},
                )
            )
        if (
            payer.kind in PERSON_PAYERS
            and payer.person_id is not None
            and person is not None
            and person != payer.person_id
        ):
            errors.append(_err(n, "national_id", N_("this payer pays only for themself")))
        if li.month is not None and li.paid_on is not None:
            paid_month = month_of(li.paid_on)
            if li.month > paid_month:
                if payer.kind not in rules.advance_kinds:
                    errors.append(
                        _err(
                            n,
                            "month",
                            N_("is after the month of payment: this payer may not pay ahead"),
                        )
                    )
                elif li.month > add_months(paid_month, rules.advance_months):
                    errors.append(
                        _err(
                            n,
                            "month",
                            N_("is more than %(n)s months after the month of payment"),
                            {"n": rules.advance_months},
                        )
                    )
        if payer.kind == "state" and person is not None and li.month is not None:
            b = briefs.get(person)
            by_register = b is not None and any(
                c.holds(b.birth_date, b.sex, li.month) for c in derived
            )
            by_list = any(_in_period(li.month, s, e) for s, e in listed.get(person, ()))
            if not (by_register or by_list):
                errors.append(
                    _err(
                        n,
                        "national_id",
                        N_("this person is in no protected category in %(month)s"),
                        {"month": li.month.strftime("%Y-%m")},
                    )
                )
    return payers, people


async def _prior(session: AsyncSession, sha: str) -> ContributionImport | None:
    return await session.scalar(select(ContributionImport).where(ContributionImport.sha256 == sha))


def _result(imp: ContributionImport, *, already: bool) -> ImportResult:
    return ImportResult(
        import_id=imp.id,
        already_imported=already,
        filename=imp.filename,
        lines=imp.lines,
        added=0 if already else imp.lines - imp.duplicates,
        duplicates=imp.lines if already else imp.duplicates,
        total=major(imp.total),
        imported_at=imp.imported_at,
    )


def _insert(session: AsyncSession) -> Any:
    table = Contribution.__table__
    name = session.get_bind().dialect.name
    ins = postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)
    return ins.on_conflict_do_nothing()


async def _take(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[tuple[int, dict[str, Any]]],
    sha: str,
    filename: str | None,
) -> ImportResult:
    errors: list[FieldError] = []
    lines = [_parse(n, row, errors) for n, row in rows]
    payers, people = await _check(session, lines, errors)
    if errors:
        bad = len({e.field.split(".")[1] for e in errors})
        raise Invalid(
            N_("%(bad)s of %(lines)s lines are wrong; nothing was stored."),
            errors=errors,
            params={"bad": bad, "lines": len(lines)},
        )
    now = utcnow()
    imp = ContributionImport(
        sha256=sha,
        filename=(filename or None) and filename[:200],
        lines=len(lines),
        duplicates=0,
        total=sum(li.amount or 0 for li in lines),
        imported_by=principal.username,
        imported_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(imp)
            await session.flush()
    except IntegrityError:
        # the same file taken meanwhile by another request: the savepoint rolled back
        # and ``imp`` left the session with it, so the re-read flushes nothing
        with session.no_autoflush:
            prior = await _prior(session, sha)
        if prior is None:
            raise
        return _result(prior, already=True)
    values = [
        {
            "person_id": people[li.national_id],
            "payer_id": payers[li.payer].id,
            "kind": li.kind,
            "month": li.month,
            "amount": li.amount,
            "paid_on": li.paid_on,
            "import_id": imp.id,
            "recorded_by": principal.username,
            "recorded_at": now,
        }
        for li in lines
    ]
    stmt = _insert(session)
    for i in range(0, len(values), CHUNK):
        await session.execute(stmt.values(values[i : i + CHUNK]))
    added = int(
        await session.scalar(
            select(func.count()).select_from(Contribution).where(Contribution.import_id == imp.id)
        )
        or 0
    )
    imp.duplicates = len(lines) - added
    await session.flush()
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=RESOURCE,
        resource_id=str(imp.id),
        detail=f"{len(lines)} lines, {added} added",
    )
    await audit.record_listing(
        session,
        principal,
        [audit.Access(pid) for pid in sorted({v["person_id"] for v in values})],
        action="create",
        resource_type="InsuranceContribution",
    )
    return _result(imp, already=False)


async def import_payment_file(
    session: AsyncSession, principal: Principal, data: bytes, filename: str | None = None
) -> ImportResult:
    """Take a payment file whole, or refuse it naming every wrong line; the same file
    again answers that it was imported, adding nothing."""
    refuse_universal()
    if not data.strip():
        raise _file_error(N_("is empty: the first line names the columns"))
    sha = hashlib.sha256(data).hexdigest()
    prior = await _prior(session, sha)
    if prior is not None:
        return _result(prior, already=True)
    return await _take(session, principal, read_payment_csv(data), sha, filename)


async def import_contributions(
    session: AsyncSession, principal: Principal, data: ContributionsIn
) -> ImportResult:
    """The API's lines, checked and taken like a file (the same lines again add nothing)."""
    refuse_universal()
    rows = [(i, line.model_dump()) for i, line in enumerate(data.lines, 1)]
    canonical = json.dumps([r for _, r in rows], sort_keys=True, default=str)
    sha = hashlib.sha256(b"api\n" + canonical.encode()).hexdigest()
    prior = await _prior(session, sha)
    if prior is not None:
        return _result(prior, already=True)
    return await _take(session, principal, rows, sha, None)


async def get_import(session: AsyncSession, import_id: int, *, again: bool = False) -> ImportResult:
    """What an import stored (``again``: as answered to the same file sent again)."""
    imp = await session.get(ContributionImport, import_id)
    if imp is None:
        raise NotFound(N_("Payment file %(id)s not found."), params={"id": import_id})
    return _result(imp, already=again)


async def import_months(session: AsyncSession, import_id: int) -> tuple[date, date] | None:
    """The first and last month an import's lines pay for (at most the arrears' span,
    ending with the last), or None when it stored no line."""
    first, last = (
        await session.execute(
            select(func.min(Contribution.month), func.max(Contribution.month)).where(
                Contribution.import_id == import_id
            )
        )
    ).one()
    if first is None or last is None:
        return None
    return max(first, add_months(last, 1 - MAX_MONTHS)), last


async def list_imports(session: AsyncSession, *, limit: int = 50) -> list[ImportOut]:
    rows = await session.scalars(
        select(ContributionImport).order_by(ContributionImport.id.desc()).limit(limit)
    )
    return [
        ImportOut(
            id=r.id,
            filename=r.filename,
            lines=r.lines,
            duplicates=r.duplicates,
            total=major(r.total),
            imported_by=r.imported_by,
            imported_at=r.imported_at,
        )
        for r in rows
    ]
