"""Staffing: the posts a territory needs under the pack's ratios against the posts filled.

Required posts are counted in cells of one district and one settlement type (rural or
urban): per position, ceil(cell population / the ratio) (a post serves one place and
cannot be split between districts) plus the posts each unit in the cell keeps (``per_unit``).
The exact need in FTE (population / ratio, unrounded by posts) is shown beside it, as the
note does (15,500 people at 1 GP : 1,700 is 9.12 FTE, 10 posts). Filled posts are the FTE of
the practitioner roles active on the day at facilities of the cell, by position. The
deficit of a cell is max(0, required - filled); a district's, a type's, a region's and the
country's deficit is the sum of its cells' (a surplus in one district fills no post in
another), and the surplus is shown apart. Populations are the settlement rows' (census
figure, else the registry's table); children (under 18) come from the registry's age
structure, scaled to the census figure where one is kept. A settlement without an age
structure adds no child: its people and the number of such settlements are reported beside
the posts counted per child (no estimate is invented).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.domains.planning.service import norms
from salomat.domains.planning.service.settlements import (
    SettlementRow,
    area,
    settlement_ids,
    settlement_rows,
)
from salomat.domains.registry.service import planning_reads as reads

__all__ = ["StaffingLine", "StaffingReport", "staffing"]

CENT = Decimal("0.01")


@dataclass
class StaffingLine:
    """Posts of one position in a group (a cell, a district, a type, or the total)."""

    position: str
    district_code: str | None = None
    district_name: str | None = None
    rural: bool | None = None
    population: int = 0
    #: the exact need: population / ratio (plus per-unit posts), two decimals
    exact_fte: Decimal = Decimal(0)
    required: int = 0
    filled: Decimal = Decimal(0)
    deficit: Decimal = Decimal(0)
    surplus: Decimal = Decimal(0)
    #: a position counted per child: the settlements (and their people) of the group whose
    #: children are not known (a census figure without the registry's age structure); they
    #: add no child, so the posts above leave them out (no estimate is invented)
    of_children: bool = False
    children_unknown_settlements: int = 0
    children_unknown_population: int = 0

    def merge(self, other: StaffingLine) -> None:
        self.of_children = self.of_children or other.of_children
        self.children_unknown_settlements += other.children_unknown_settlements
        self.children_unknown_population += other.children_unknown_population
        self.population += other.population
        self.exact_fte += other.exact_fte
        self.required += other.required
        self.filled += other.filled
        self.deficit += other.deficit
        self.surplus += other.surplus


@dataclass
class StaffingReport:
    territory_code: str | None
    edition: norms.StaffingEdition
    on: date
    population: int
    children: Decimal
    #: settlements (and their people) whose children are not known: the posts counted per
    #: child leave them out
    children_unknown_settlements: int
    children_unknown_population: int
    #: medical brigades needed (ceil per cell) where the edition sizes brigades
    brigades: int | None
    cells: list[StaffingLine] = field(default_factory=list)
    by_district: list[StaffingLine] = field(default_factory=list)
    by_rurality: list[StaffingLine] = field(default_factory=list)
    by_position: list[StaffingLine] = field(default_factory=list)
    #: all positions together (the territory's total)
    total: StaffingLine = field(default_factory=lambda: StaffingLine(position="*"))


Cell = tuple[str | None, bool | None]  # (district code, rural)


async def staffing(
    session: AsyncSession,
    principal: Principal,
    territory_code: str | None,
    *,
    on: date | None = None,
    edition_code: str | None = None,
    rows: list[SettlementRow] | None = None,
) -> StaffingReport:
    """``rows``: the territory's settlement rows already read for the same day (any norm
    edition: staffing reads populations and existing units only); read when not given."""
    day = on or norms.today()
    rules = norms.current()
    edition = rules.staffing_edition(edition_code, day)
    if rows is None:
        rows = await settlement_rows(session, principal, territory_code, on=day)
    where = await area(session, territory_code)
    filled = await reads.fte_by_settlement(session, settlement_ids(where), day)

    population: dict[Cell, int] = {}
    children: dict[Cell, Decimal] = {}
    unknown: dict[Cell, tuple[int, int]] = {}  # settlements, population
    units: dict[Cell, dict[str, int]] = {}
    names: dict[str | None, str | None] = {}
    cell_of: dict[int, Cell] = {}
    for r in rows:
        cell = (r.district_code, r.is_rural)
        cell_of[r.id] = cell
        names[r.district_code] = r.district_name
        pop = r.census_population or 0
        population[cell] = population.get(cell, 0) + pop
        if r.children is not None:
            children[cell] = children.get(cell, Decimal(0)) + r.children
        elif pop:
            n, people = unknown.get(cell, (0, 0))
            unknown[cell] = (n + 1, people + pop)
        for u in r.existing_units:
            units.setdefault(cell, {})[u] = units.setdefault(cell, {}).get(u, 0) + 1

    positions = {p.position for p in edition.per_population}
    per_child = {p.position for p in edition.per_population if p.of == "children"}
    for posts in edition.per_unit.values():
        positions |= set(posts)
    filled_cells: dict[tuple[Cell, str], Decimal] = {}
    for (sid, pos), fte in filled.items():
        if pos in positions and sid in cell_of:
            key = (cell_of[sid], pos)
            filled_cells[key] = filled_cells.get(key, Decimal(0)) + fte

    cells: list[StaffingLine] = []
    brigades = 0 if edition.brigade_population else None
    for cell in sorted(population, key=lambda c: (c[0] or "", c[1] is not True)):
        pop = population[cell]
        kids = children.get(cell, Decimal(0))
        if brigades is not None and edition.brigade_population:
            brigades += norms.posts_needed(pop, edition.brigade_population)
        need_exact: dict[str, Decimal] = {}
        need_posts: dict[str, int] = {}
        for ratio in edition.per_population:
            base = pop if ratio.of == "all" else kids
            need_exact[ratio.position] = need_exact.get(ratio.position, Decimal(0)) + (
                Decimal(base) / ratio.ratio
            )
            need_posts[ratio.position] = need_posts.get(ratio.position, 0) + norms.posts_needed(
                base.quantize(Decimal(1), rounding=ROUND_HALF_UP)
                if isinstance(base, Decimal)
                else base,
                ratio.ratio,
            )
        for unit, n in units.get(cell, {}).items():
            for position, posts in edition.per_unit.get(unit, {}).items():
                need_exact[position] = need_exact.get(position, Decimal(0)) + posts * n
                need_posts[position] = need_posts.get(position, 0) + int(
                    (posts * n).to_integral_value(rounding="ROUND_CEILING")
                )
        for position in sorted(positions):
            have = filled_cells.get((cell, position), Decimal(0))
            required = need_posts.get(position, 0)
            cells.append(
                StaffingLine(
                    position=position,
                    district_code=cell[0],
                    district_name=names.get(cell[0]),
                    rural=cell[1],
                    population=pop,
                    exact_fte=need_exact.get(position, Decimal(0)).quantize(
                        CENT, rounding=ROUND_HALF_UP
                    ),
                    required=required,
                    filled=have,
                    deficit=max(Decimal(0), required - have),
                    surplus=max(Decimal(0), have - required),
                    of_children=position in per_child,
                    children_unknown_settlements=unknown.get(cell, (0, 0))[0]
                    if position in per_child
                    else 0,
                    children_unknown_population=unknown.get(cell, (0, 0))[1]
                    if position in per_child
                    else 0,
                )
            )

    report = StaffingReport(
        territory_code=territory_code,
        edition=edition,
        on=day,
        population=sum(population.values()),
        children=sum(children.values(), Decimal(0)).quantize(Decimal(1), rounding=ROUND_HALF_UP),
        children_unknown_settlements=sum(n for n, _ in unknown.values()),
        children_unknown_population=sum(p for _, p in unknown.values()),
        brigades=brigades,
        cells=cells,
    )
    report.by_district = _group(cells, lambda c: (c.district_code, c.position), rural=False)
    report.by_rurality = _group(cells, lambda c: (c.rural, c.position), district=False)
    report.by_position = _group(cells, lambda c: c.position, rural=False, district=False)
    for line in report.by_position:
        report.total.merge(line)
    # the population of a group is its people, not counted again per position
    report.total.population = report.population
    report.total.children_unknown_settlements = report.children_unknown_settlements
    report.total.children_unknown_population = report.children_unknown_population
    return report


def _group(
    cells: list[StaffingLine], key: object, *, rural: bool = True, district: bool = True
) -> list[StaffingLine]:
    out: dict[object, StaffingLine] = {}
    for c in cells:
        k = key(c)  # type: ignore[operator]
        line = out.get(k)
        if line is None:
            line = out[k] = StaffingLine(
                position=c.position,
                district_code=c.district_code if district else None,
                district_name=c.district_name if district else None,
                rural=c.rural if rural else None,
            )
        line.merge(c)
    return list(out.values())
