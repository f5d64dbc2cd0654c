"""The fund's dashboards: contributions collected against expected by month and kind of
payer; spending on service claims by region, provider and package against the plan; the
spending-control flags by rule. Aggregates only (no person is shown), each with a CSV.

Spending is what the fund pays for claim lines given in the period: the approved amount
where a reviewer decided, else the amount claimed; rejected lines are left out. The
plan is yearly, by region and package (``ins_plan``), set by the analyst.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import i18n
from salomat.core.db import utcnow
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.pagination import PageParams
from salomat.core.security import Principal
from salomat.domains.insurance.models import ClaimLine, Contribution, Payer, SpendingPlan
from salomat.domains.insurance.schemas.contributions import (
    CollectedRow,
    FlagRow,
    FundDashboard,
    PlanIn,
    PlanOut,
    SpendingRow,
)
from salomat.domains.insurance.service import labels
from salomat.domains.insurance.service.expected import due_by_kind, month_range
from salomat.domains.insurance.service.payers import major, minor
from salomat.domains.insurance.service.rules import add_months, insurance_rules
from salomat.domains.registry import service as registry

__all__ = [
    "COLUMN_LABELS",
    "DASHBOARD_TABLES",
    "dashboard_csv",
    "fund_dashboard",
    "list_plans",
    "localised_csv",
    "region_names",
    "set_plan",
]

DASHBOARD_TABLES = ("collected", "regions", "providers", "flags")
#: column keys of each table (the adapters name them in the reader's language)
TABLE_COLUMNS = {
    "collected": ("month", "kind", "expected", "collected"),
    "regions": ("region", "package", "lines", "spent", "plan"),
    "providers": ("region", "facility_code", "facility_name", "package", "lines", "spent"),
    "flags": ("rule", "lines", "open", "accepted", "reduced", "rejected", "claimed"),
}
#: the columns as a reader sees them (the page's headings and the CSV's header)
COLUMN_LABELS = {
    "month": N_("Month"),
    "kind": N_("Kind of payer"),
    "expected": N_("Expected"),
    "collected": N_("Collected"),
    "region": N_("Region"),
    "package": N_("Benefit package"),
    "lines": N_("Claim lines"),
    "spent": N_("Spent"),
    "plan": N_("Plan"),
    "facility_code": N_("Facility code"),
    "facility_name": N_("Provider"),
    "rule": N_("Rule"),
    "open": N_("Waiting for review"),
    "accepted": N_("Accepted"),
    "reduced": N_("Reduced"),
    "rejected": N_("Rejected"),
    "claimed": N_("Claimed"),
}


async def _collected(session: AsyncSession, months: list[date]) -> list[CollectedRow]:
    rows = await session.execute(
        select(Contribution.month, Payer.kind, func.sum(Contribution.amount))
        .join(Payer, Payer.id == Contribution.payer_id)
        .where(Contribution.month >= months[0], Contribution.month <= months[-1])
        .group_by(Contribution.month, Payer.kind)
    )
    cells: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for m, kind, total in rows:
        cells[(m, kind)][1] += int(total or 0)
    for (m, kind), v in (await due_by_kind(session, months)).items():
        cells[(m, kind)][0] += v
    return [
        CollectedRow(month=m.strftime("%Y-%m"), kind=k, expected=major(e), collected=major(c))
        for (m, k), (e, c) in sorted(cells.items())
    ]


async def _spending(
    session: AsyncSession, months: list[date], lang: str
) -> tuple[list[SpendingRow], list[SpendingRow]]:
    spent = func.coalesce(ClaimLine.amount_approved, ClaimLine.amount_claimed)
    rows = (
        await session.execute(
            select(ClaimLine.facility_id, ClaimLine.package, func.count(), func.sum(spent))
            .where(
                ClaimLine.service_on >= months[0],
                ClaimLine.service_on < add_months(months[-1], 1),
                ClaimLine.status != "rejected",
            )
            .group_by(ClaimLine.facility_id, ClaimLine.package)
        )
    ).all()
    ids = [r[0] for r in rows]
    names = await registry.facility_names(session, ids)
    regions = await registry.facility_regions(session, ids)
    providers = []
    by_region: dict[tuple[str | None, str], list[int]] = defaultdict(lambda: [0, 0])
    for fid, package, n, total in rows:
        region = regions.get(fid)
        fn = names.get(fid)
        providers.append(
            SpendingRow(
                region=region,
                facility_code=fn.code if fn else None,
                facility_name=(fn.names.get(lang) or fn.name) if fn else None,
                package=package,
                lines=int(n),
                spent=major(int(total or 0)),
            )
        )
        cell = by_region[(region, package)]
        cell[0] += int(n)
        cell[1] += int(total or 0)
    plans: dict[tuple[str | None, str], int] = defaultdict(int)
    years = sorted({m.year for m in months})
    for p in await list_plans(session, years):
        plans[(p.region, p.package)] += minor(p.amount)
        by_region.setdefault((p.region, p.package), [0, 0])
    providers.sort(key=lambda r: (-r.spent, r.facility_code or "", r.package))
    regions_rows = [
        SpendingRow(
            region=region,
            facility_code=None,
            facility_name=None,
            package=package,
            lines=n,
            spent=major(total),
            plan=major(plans[(region, package)]) if (region, package) in plans else None,
        )
        for (region, package), (n, total) in sorted(
            by_region.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
        )
    ]
    return regions_rows, providers


async def _flags(session: AsyncSession, months: list[date]) -> list[FlagRow]:
    rows = await session.execute(
        select(ClaimLine.flags, ClaimLine.status, ClaimLine.amount_claimed).where(
            ClaimLine.service_on >= months[0],
            ClaimLine.service_on < add_months(months[-1], 1),
            ClaimLine.status != "entered",
        )
    )
    cells: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    for flags, status, claimed in rows:
        for rule in sorted({f.get("rule") for f in flags or () if isinstance(f, dict)} - {None}):
            c = cells[str(rule)]
            c[0] += 1
            c[{"flagged": 1, "accepted": 2, "reduced": 3, "rejected": 4}.get(status, 1)] += 1
            c[5] += int(claimed or 0)
    order = list(insurance_rules().control)
    return [
        FlagRow(
            rule=rule,
            lines=c[0],
            open=c[1],
            accepted=c[2],
            reduced=c[3],
            rejected=c[4],
            claimed=major(c[5]),
        )
        for rule, c in sorted(
            cells.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0])
        )
    ]


async def fund_dashboard(
    session: AsyncSession,
    month_from: str | None = None,
    month_to: str | None = None,
    *,
    lang: str | None = None,
) -> FundDashboard:
    """The period's figures (YYYY-MM to YYYY-MM; by default the last 12 months); the
    providers named in ``lang`` (the current language by default)."""
    months = month_range(month_from, month_to)
    regions, providers = await _spending(session, months, lang or i18n.current_language())
    return FundDashboard(
        month_from=months[0].strftime("%Y-%m"),
        month_to=months[-1].strftime("%Y-%m"),
        collected=await _collected(session, months),
        spending_by_region=regions,
        spending_by_provider=providers,
        flags=await _flags(session, months),
    )


async def set_plan(session: AsyncSession, principal: Principal, data: PlanIn) -> PlanOut:
    """The plan of a region and package for a year (replacing one set before)."""
    errors = []
    region = await registry.territory_by_code(session, data.region)
    if region is None or region.level != "region":
        errors.append(FieldError("region", N_("no region with this code")))
    if data.package not in insurance_rules().packages:
        errors.append(
            FieldError(
                "package",
                N_("must be one of: %(choices)s"),
                {"choices": ", ".join(insurance_rules().packages)},
            )
        )
    if errors:
        raise Invalid.fields(errors)
    assert region is not None
    amount = minor(data.amount)
    table = SpendingPlan.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = insert.values(
        year=data.year,
        region_id=region.id,
        package=data.package,
        amount=amount,
        updated_by=principal.username,
        updated_at=utcnow(),
    )
    # one statement: two analysts saving one plan at once both succeed, the later wins
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["year", "region_id", "package"],
            set_={
                "amount": stmt.excluded.amount,
                "updated_by": stmt.excluded.updated_by,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )
    return PlanOut(year=data.year, region=region.code, package=data.package, amount=major(amount))


async def list_plans(session: AsyncSession, years: list[int]) -> list[PlanOut]:
    rows = list(
        await session.scalars(
            select(SpendingPlan)
            .where(SpendingPlan.year.in_(years))
            .order_by(SpendingPlan.year, SpendingPlan.region_id, SpendingPlan.package)
        )
    )
    codes: dict[int, str] = {}
    for rid in sorted({r.region_id for r in rows}):
        codes[rid] = (await registry.get_territory_by_id(session, rid)).code
    return [
        PlanOut(year=r.year, region=codes[r.region_id], package=r.package, amount=major(r.amount))
        for r in rows
    ]


def dashboard_csv(
    d: FundDashboard,
    table: str,
    *,
    labels: dict[str, str],
    name: Callable[[str, str | None], str] = lambda column, value: value or "",
) -> CsvFile:
    """One table as CSV: ``labels`` name the columns, ``name(column, code)`` a code's words
    (a region, a kind, a rule) in the reader's language. Cells are neutralised."""
    if table not in DASHBOARD_TABLES:
        raise Invalid.fields(
            [
                FieldError(
                    "table",
                    N_("must be one of: %(choices)s"),
                    {"choices": ", ".join(DASHBOARD_TABLES)},
                )
            ]
        )
    rows = {
        "collected": d.collected,
        "regions": d.spending_by_region,
        "providers": d.spending_by_provider,
        "flags": d.flags,
    }[table]
    columns = TABLE_COLUMNS[table]

    def cell(column: str, value: object) -> object:
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        if column in ("kind", "region", "package", "rule"):
            return name(column, value if isinstance(value, str) or value is None else str(value))
        return "" if value is None else value

    body = [[cell(c, getattr(r, c)) for c in columns] for r in rows]
    return CsvFile(
        f"fund-{table}-{d.month_from}-{d.month_to}.csv",
        csv_text([labels.get(c, c) for c in columns], body),
    )


async def region_names(session: AsyncSession, lang: str) -> dict[str, str]:
    """The regions' names in ``lang`` by code."""
    regions = (await registry.list_territory(session, PageParams(500, 0), level="region")).items
    return {r.code: r.names.get(lang) or r.name for r in regions}


async def localised_csv(session: AsyncSession, d: FundDashboard, table: str, lang: str) -> CsvFile:
    """One table as CSV in ``lang``: the header in words, kinds, rules, packages and
    regions by name (the page's CSV and the API's, by Accept-Language)."""
    names = await region_names(session, lang)
    token = i18n.set_language(lang)
    try:
        gettext = i18n.translations(lang).gettext

        def name(column: str, code: str | None) -> str:
            if code is None:
                return ""
            if column == "kind":
                return labels.label(labels.PAYER_KIND_LABELS, code)
            if column == "rule":
                return labels.label(labels.CONTROL_RULE_LABELS, code)
            if column == "package":
                return labels.package_name(code)
            return names.get(code, code)

        return dashboard_csv(
            d, table, labels={k: gettext(v) for k, v in COLUMN_LABELS.items()}, name=name
        )
    finally:
        i18n.reset_language(token)
