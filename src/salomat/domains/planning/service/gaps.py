"""The gap list: settlements whose required unit (under a norm edition) is not met by a
unit of that level or higher in the settlement, by district, with the cost of closing
each gap (the pack's cost of the required unit: a medical point that must become a FAP is
costed as a new FAP, the conservative reading; the costs are UNVERIFIED pack data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.domains.planning.service import norms
from salomat.domains.planning.service.settlements import SettlementRow, settlement_rows

__all__ = ["DistrictGaps", "GapReport", "gap_report", "gaps_by_district", "summarise"]


@dataclass
class DistrictGaps:
    district_code: str | None
    district_name: str | None
    settlements: int = 0
    #: settlements without a population figure (no census, no registry table): no norm
    unknown_population: int = 0
    with_gap: int = 0
    population_in_gap: int = 0
    #: required unit -> settlements lacking it
    by_unit: dict[str, int] = field(default_factory=dict)
    cost: Decimal = Decimal(0)
    #: gaps whose unit has no cost in the pack
    uncosted: int = 0
    #: settlements above the edition's range (the norm sets no unit) and their population
    above_range: int = 0
    population_above_range: int = 0
    #: settlements that need a visiting medical worker (no premises) and their population:
    #: no facility closes it, so it is no gap and is not costed
    visiting_worker: int = 0
    population_visiting_worker: int = 0

    def add(self, row: SettlementRow) -> None:
        self.settlements += 1
        if row.census_population is None:
            self.unknown_population += 1
        if row.above_range:
            self.above_range += 1
            self.population_above_range += row.census_population or 0
        if row.visiting_worker:
            self.visiting_worker += 1
            self.population_visiting_worker += row.census_population or 0
        if not row.gap or row.required_unit is None:
            return
        self.with_gap += 1
        self.population_in_gap += row.census_population or 0
        self.by_unit[row.required_unit] = self.by_unit.get(row.required_unit, 0) + 1
        if row.cost is None:
            self.uncosted += 1
        else:
            self.cost += row.cost


@dataclass
class GapReport:
    territory_code: str | None
    edition: norms.NormEdition
    currency: str
    cost_source: str
    costs_illustrative: bool
    districts: list[DistrictGaps]
    total: DistrictGaps
    gaps: list[SettlementRow]
    #: settlements above the edition's range: the norm sets no unit (shown apart)
    above_range: list[SettlementRow] = field(default_factory=list)
    #: settlements that need a visiting medical worker (shown apart, not costed)
    visiting_worker: list[SettlementRow] = field(default_factory=list)


def summarise(rows: list[SettlementRow]) -> tuple[list[DistrictGaps], DistrictGaps]:
    """Per district (in code order) and the total, from settlement rows."""
    by: dict[str | None, DistrictGaps] = {}
    total = DistrictGaps(None, None)
    for r in rows:
        d = by.get(r.district_code)
        if d is None:
            d = by[r.district_code] = DistrictGaps(r.district_code, r.district_name)
        d.add(r)
        total.add(r)
    return [by[k] for k in sorted(by, key=lambda c: c or "")], total


async def gap_report(
    session: AsyncSession,
    principal: Principal,
    territory_code: str | None,
    *,
    edition_code: str | None = None,
    on: date | None = None,
    rows: list[SettlementRow] | None = None,
) -> GapReport:
    """``rows``: the territory's settlement rows already read under the same edition and
    day (a page reads them once for all its reports); read here when not given."""
    day = on or norms.today()
    rules = norms.current()
    edition = rules.edition(edition_code, day)
    if rows is None:
        rows = await settlement_rows(
            session, principal, territory_code, edition_code=edition.code, on=day
        )
    districts, total = summarise(rows)
    return GapReport(
        territory_code=territory_code,
        edition=edition,
        currency=rules.currency,
        cost_source=rules.cost_source,
        costs_illustrative=rules.costs_illustrative,
        districts=districts,
        total=total,
        gaps=[r for r in rows if r.gap],
        above_range=[r for r in rows if r.above_range],
        visiting_worker=[r for r in rows if r.visiting_worker],
    )


async def gaps_by_district(
    session: AsyncSession,
    principal: Principal,
    territory_code: str | None,
    *,
    edition_code: str | None = None,
    on: date | None = None,
) -> list[DistrictGaps]:
    """Counts and cost of the gaps per district."""
    report = await gap_report(session, principal, territory_code, edition_code=edition_code, on=on)
    return report.districts
