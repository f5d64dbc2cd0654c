"""Settlements with their population: the census figure (with its source and date) beside
the registry's count of people living there and attached to a facility. The two differ
(attachment is not residence) and both are shown; the norm reads the census figure, or the
registry's population table (``territory_population``) where no census figure is kept.

Every read is set-wise: one statement per table for the whole territory, never one per
settlement. ``import_census_csv`` takes a CSV of census figures: all lines or none (a
census half-loaded would mislead every plan), with a report naming each bad line and field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.security import Principal
from salomat.domains.planning.models import SettlementCensus
from salomat.domains.planning.service import norms
from salomat.domains.registry.service import planning_reads as reads

__all__ = [
    "AreaRows",
    "CensusIssue",
    "ImportReport",
    "Msg",
    "SettlementRow",
    "area",
    "area_rows",
    "import_census_csv",
    "settlement_rows",
]

#: ages counted as children by per-children ratios: under 18 (0-17). The population table
#: has 5-year bands: 0, 5 and 10 count whole, the 15-19 band for three fifths (15, 16, 17)
CHILD_BANDS = {0: Decimal(1), 5: Decimal(1), 10: Decimal(1), 15: Decimal(3) / 5}
MAX_LINES = 100_000
#: no settlement is larger (the largest cities hold a few million)
MAX_POPULATION = 50_000_000
#: the unit that is a visiting medical worker without premises (the packs' unit code)
VISITING_UNIT = "health_worker"


@dataclass
class SettlementRow:
    id: int
    code: str
    name: str
    names: dict[str, str]
    district_id: int | None
    district_code: str | None
    district_name: str | None
    is_rural: bool | None
    latitude: float | None
    longitude: float | None
    #: the figure the norm reads: the census's where kept, else the registry's table
    census_population: int | None
    census_source: str | None
    census_as_of: date | None
    #: "census" (settlement_census) | "registry" (territory_population) | None (unknown)
    population_origin: str | None
    #: living people of the registry resident here and attached to a facility
    attached: int
    #: residents under 18: the registry's age structure scaled to the population figure
    #: (None: no age structure)
    children: Decimal | None
    required_unit: str | None
    existing_units: frozenset[str] = field(default_factory=frozenset)
    gap: bool = False
    cost: Decimal | None = None
    #: above every band of the edition that sets a unit: the norm sets no unit, reported
    #: apart (no gap, no invented unit)
    above_range: bool = False
    #: the norm requires a visiting medical worker (no premises; the KZ 2022 and Action Plan
    #: editions below 50 / up to 50 people) and no unit is there: no facility kind is one
    #: and no scenario proposes one, so it is listed apart (no gap, no cost)
    visiting_worker: bool = False
    #: the district's parent (a page filters its region's rows to the territory's)
    district_parent_id: int | None = None

    @property
    def population(self) -> int | None:
        return self.census_population

    def source_text(self) -> str | None:
        """The population figure's source as shown: a census's own words, or the registry
        table's name (a message, translated into the request's language)."""
        if self.population_origin == "registry" and self.census_source:
            return i18n.gettext(self.census_source)
        return self.census_source


@dataclass(frozen=True)
class Area:
    """A territory and the selection of its settlements (a subquery of ids)."""

    id: int
    code: str
    level: str
    name: str
    names: dict[str, str]


def _invalid(fieldname: str, msgid: str, **params: Any) -> Invalid:
    return Invalid.fields([FieldError(fieldname, msgid, params)])


async def area(session: AsyncSession, territory_code: str | None) -> Area | None:
    """The territory (None: the whole country); an unknown code is a 422 naming
    ``territory``."""
    if territory_code is None:
        return None
    row = await reads.territory_by_code(session, territory_code)
    if row is None:
        raise _invalid("territory", N_("Unknown territory: %(code)s"), code=territory_code)
    return Area(row.id, row.code, row.level, row.name, dict(row.names or {}))


def settlements_query(where: Area | None) -> Any:
    """Settlements of ``where`` (or of the country) with their district, as a select."""
    return reads.settlements_select(where.id if where is not None else None)


def settlement_ids(where: Area | None) -> Any:
    return reads.settlement_id_select(where.id if where is not None else None)


async def census_figures(
    session: AsyncSession, ids: Any, on: date
) -> dict[int, tuple[int, str, date]]:
    """The latest census figure on or before ``on`` of each settlement."""
    latest = (
        select(
            SettlementCensus.territory_id,
            func.max(SettlementCensus.as_of).label("as_of"),
        )
        .where(SettlementCensus.territory_id.in_(ids), SettlementCensus.as_of <= on)
        .group_by(SettlementCensus.territory_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            SettlementCensus.territory_id,
            SettlementCensus.population,
            SettlementCensus.source,
            SettlementCensus.as_of,
        ).join(
            latest,
            and_(
                latest.c.territory_id == SettlementCensus.territory_id,
                latest.c.as_of == SettlementCensus.as_of,
            ),
        )
    )
    return {r.territory_id: (r.population, r.source, r.as_of) for r in rows}


async def units_by_settlement(
    session: AsyncSession, ids: Any, on: date, rules: norms.PlanningPack
) -> dict[int, set[str]]:
    """The primary-care units open on ``on`` in each settlement (facility kinds the pack
    maps to a unit)."""
    kinds = await reads.facility_kinds_by_settlement(session, ids, on, rules.facility_units)
    return {sid: {rules.facility_units[k] for k in ks} for sid, ks in kinds.items()}


async def settlement_rows(
    session: AsyncSession,
    principal: Principal,
    territory_code: str | None,
    *,
    edition_code: str | None = None,
    on: date | None = None,
) -> list[SettlementRow]:
    """Every settlement of the territory (region, district or one settlement; None: the
    country) with its population, attached count, the unit the norm edition requires
    (``edition_code``, or the one in force on ``on``), the units it has and the gap."""
    del principal  # aggregates and registry places: the route checked planning:read
    day = on or norms.today()
    rules = norms.current()
    edition = rules.edition(edition_code, day)
    where = await area(session, territory_code)
    ids = settlement_ids(where)
    census = await census_figures(session, ids, day)
    registry = await reads.population_by_settlement(session, ids, day.year, CHILD_BANDS)
    attached = await reads.attached_by_settlement(session, ids)
    units = await units_by_settlement(session, ids, day, rules)
    rows = []
    for r in await session.execute(settlements_query(where)):
        pop: int | None
        source: str | None
        as_of: date | None
        if r.id in census:
            pop, source, as_of = census[r.id]
            origin: str | None = "census"
        elif r.id in registry:
            pop, _, year = registry[r.id]
            source, as_of, origin = N_("registry population table"), date(year, 1, 1), "registry"
        else:
            pop = source = as_of = origin = None
        required = norms.required_unit(pop, edition) if pop is not None else None
        existing = frozenset(units.get(r.id, ()))
        gap = not rules.need_met(required, existing)
        # a visiting medical worker (no premises) closes no gap a facility could: listed
        # apart, out of the gap count and cost (no facility kind is one)
        visiting = gap and required == VISITING_UNIT
        gap = gap and not visiting
        rows.append(
            SettlementRow(
                id=r.id,
                code=r.code,
                # the reader's language, as the district's name below
                name=(r.names or {}).get(i18n.current_language()) or r.name,
                names=dict(r.names or {}),
                district_id=r.district_id,
                district_code=r.district_code,
                district_name=(r.district_names or {}).get(i18n.current_language())
                or r.district_name,
                is_rural=r.is_rural,
                latitude=r.latitude,
                longitude=r.longitude,
                census_population=pop,
                census_source=source,
                census_as_of=as_of,
                population_origin=origin,
                attached=attached.get(r.id, 0),
                children=_children(pop, registry.get(r.id)),
                required_unit=required,
                existing_units=existing,
                gap=gap,
                cost=rules.cost(required) if gap else None,
                district_parent_id=r.district_parent_id,
                above_range=pop is not None and norms.above_range(pop, edition),
                visiting_worker=visiting,
            )
        )
    return rows


@dataclass(frozen=True)
class AreaRows:
    """One read of a territory's settlements for a whole page: the territory's own rows
    and its region's (the access measure's places: the nearest unit may lie across a
    district border). ``own`` is a subset of ``region``; both are the same list for a
    region."""

    own: list[SettlementRow]
    region: list[SettlementRow]


async def area_rows(
    session: AsyncSession,
    principal: Principal,
    territory_code: str,
    *,
    edition_code: str | None = None,
    on: date | None = None,
) -> AreaRows:
    """The territory's rows and its region's, reading the settlement tables once (the
    region's rows, filtered to the territory's with the same rule as
    ``settlements_select``)."""
    from salomat.domains.planning.service.regions import region_of

    where = await area(session, territory_code)
    assert where is not None
    t = await region_of(session, territory_code)
    if t is None or t.code == territory_code:
        rows = await settlement_rows(
            session, principal, territory_code, edition_code=edition_code, on=on
        )
        return AreaRows(rows, rows)
    region = await settlement_rows(session, principal, t.code, edition_code=edition_code, on=on)
    own = [r for r in region if where.id in (r.id, r.district_id, r.district_parent_id)]
    return AreaRows(own, region)


def _children(population: int | None, registry: tuple[int, Decimal, int] | None) -> Decimal | None:
    """Residents under 18: the registry's age structure scaled to the figure the norm reads
    (the census's where kept); None without an age structure."""
    if registry is None or population is None:
        return None
    total, children, _ = registry
    if not total:
        return None
    share = children / total
    return (share * population).quantize(Decimal("0.01"))


# ---- census import -------------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    """A message to translate when shown: an English msgid and its parameters."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        text = i18n.gettext(self.msgid)
        return text % self.params if self.params else text


@dataclass(frozen=True)
class CensusIssue:
    """A refused line: its number in the file (the header is line 1), the column, why."""

    line: int
    field: str
    msg: Msg

    @property
    def message(self) -> str:
        return str(self.msg)


@dataclass
class ImportReport:
    """What the import did: nothing if any line was refused (``issues`` names each)."""

    lines: int = 0
    imported: int = 0
    replaced: int = 0
    coordinates: int = 0
    issues: list[CensusIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


REQUIRED_COLUMNS = ("code", "population", "as_of", "source")
OPTIONAL_COLUMNS = ("latitude", "longitude")


#: a line the csv module refuses; ``detail`` is its (English) reason
UNREADABLE = N_("The line cannot be read as CSV: %(detail)s")


def _say(msgid: str, **params: Any) -> Msg:
    return Msg(msgid, params)


class _LineError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _cells(line: str, delimiter: str) -> list[str]:
    """One line's cells (a quoted newline is not supported: one settlement a line)."""
    return next(csv.reader([line], delimiter=delimiter, strict=True), [])


def _parse_lines(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header (lower case) and each data line with its number in the file (comments
    starting with # and blank lines skipped, ``,`` or ``;`` separated)."""
    lines = text.lstrip("\ufeff").splitlines()
    body = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#")]
    if not body:
        return [], []
    first = body[0][1]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = [h.strip().lower() for h in _cells(first, delimiter)]
    out = []
    for number, line in body[1:]:
        try:
            cells = _cells(line, delimiter)
        except csv.Error as e:
            raise _LineError(number, str(e)) from e
        out.append(
            (
                number,
                {h: (cells[k].strip() if k < len(cells) else "") for k, h in enumerate(header)},
            )
        )
    return header, out


async def import_census_csv(session: AsyncSession, principal: Principal, text: str) -> ImportReport:
    """Census figures from a CSV (``code,population,as_of,source`` and optionally
    ``latitude,longitude``): every line is checked and every problem reported with its line
    and column; if any line is refused nothing is stored. A figure for a settlement and a
    date already kept replaces it; coordinates given replace the settlement's own."""
    rules = norms.current()
    report = ImportReport()
    try:
        header, lines = _parse_lines(text)
    except _LineError as e:
        report.issues.append(CensusIssue(e.line, "file", _say(UNREADABLE, detail=e.message)))
        return report
    except csv.Error as e:
        report.issues.append(CensusIssue(1, "header", _say(UNREADABLE, detail=str(e))))
        return report
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if not header or missing:
        report.issues.append(
            CensusIssue(
                1,
                "header",
                _say(
                    N_("Missing columns: %(columns)s (expected %(expected)s)"),
                    columns=", ".join(missing or REQUIRED_COLUMNS),
                    expected=",".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS),
                ),
            )
        )
        return report
    if len(lines) > MAX_LINES:
        report.issues.append(CensusIssue(1, "file", _say(N_("More than %(n)s lines"), n=MAX_LINES)))
        return report
    with_coords = "latitude" in header or "longitude" in header
    report.lines = len(lines)
    codes = {cells.get("code", "") for _, cells in lines}
    known = await reads.settlements_by_code(session, codes)
    issues = report.issues
    good: list[dict[str, Any]] = []
    coords: dict[int, tuple[float, float]] = {}
    seen: dict[tuple[str, date], int] = {}
    for number, cells in lines:
        bad = len(issues)
        code = cells.get("code", "")
        if code not in known:
            issues.append(
                CensusIssue(
                    number, "code", _say(N_("Unknown settlement code: %(code)s"), code=code)
                )
            )
        raw = cells.get("population", "")
        population: int | None = None
        try:
            population = int(raw)
        except ValueError:
            issues.append(
                CensusIssue(
                    number, "population", _say(N_("Not a whole number: %(value)s"), value=raw)
                )
            )
        if population is not None and population < 0:
            issues.append(
                CensusIssue(number, "population", _say(N_("A population cannot be negative")))
            )
        elif population is not None and population > MAX_POPULATION:
            issues.append(
                CensusIssue(
                    number,
                    "population",
                    _say(N_("More than %(n)s people in one settlement"), n=MAX_POPULATION),
                )
            )
        raw = cells.get("as_of", "")
        as_of: date | None = None
        try:
            as_of = date.fromisoformat(raw)
        except ValueError:
            issues.append(
                CensusIssue(
                    number, "as_of", _say(N_("Not a date (YYYY-MM-DD): %(value)s"), value=raw)
                )
            )
        if as_of is not None and as_of > norms.today():
            issues.append(CensusIssue(number, "as_of", _say(N_("A date in the future"))))
        source = cells.get("source", "")
        if not source or len(source) > 300:
            issues.append(
                CensusIssue(number, "source", _say(N_("Name the source (up to 300 characters)")))
            )
        if with_coords:
            lat, lon = cells.get("latitude", ""), cells.get("longitude", "")
            if lat or lon:
                try:
                    la, lo = float(lat), float(lon)
                except ValueError:
                    issues.append(
                        CensusIssue(
                            number,
                            "latitude" if not _is_float(lat) else "longitude",
                            _say(N_("Give latitude and longitude as decimal degrees")),
                        )
                    )
                else:
                    if not rules.bounds.contains(la, lo):
                        issues.append(
                            CensusIssue(
                                number,
                                "latitude" if not _in(la, rules.bounds, "lat") else "longitude",
                                _say(
                                    N_("Coordinates %(lat)s, %(lon)s are outside the country"),
                                    lat=la,
                                    lon=lo,
                                ),
                            )
                        )
                    elif code in known:
                        coords[known[code][0]] = (la, lo)
            elif code in known and (known[code][1] is None or known[code][2] is None):
                issues.append(
                    CensusIssue(
                        number,
                        "latitude",
                        _say(N_("The settlement has no coordinates: give latitude and longitude")),
                    )
                )
        if as_of is not None and code:
            first = seen.setdefault((code, as_of), number)
            if first != number:
                issues.append(
                    CensusIssue(
                        number,
                        "as_of",
                        _say(
                            N_("A second figure for this settlement and date (line %(line)s)"),
                            line=first,
                        ),
                    )
                )
        if len(issues) == bad and as_of is not None and population is not None:
            good.append(
                {
                    "territory_id": known[code][0],
                    "as_of": as_of,
                    "population": population,
                    "source": source,
                }
            )
    if issues:
        return report
    report.replaced = await _store(session, principal, good)
    report.imported = len(good)
    await reads.set_settlement_coordinates(session, coords)
    report.coordinates = len(coords)
    await audit.record(
        session,
        principal,
        action="create",
        resource_type="SettlementCensus",
        detail=(
            f"census import: {report.imported} figures ({report.replaced} replaced), "
            f"{report.coordinates} settlements' coordinates"
        ),
    )
    await session.flush()
    return report


def _is_float(raw: str) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True


def _in(value: float, bounds: norms.Bounds, axis: str) -> bool:
    if axis == "lat":
        return bounds.min_latitude <= value <= bounds.max_latitude
    return bounds.min_longitude <= value <= bounds.max_longitude


async def _store(session: AsyncSession, principal: Principal, good: list[dict[str, Any]]) -> int:
    """Insert the figures, replacing those kept for the same settlement and date (set-wise:
    one delete and one insert). Returns how many were replaced."""
    from sqlalchemy import delete, insert, tuple_

    if not good:
        return 0
    keys = [(g["territory_id"], g["as_of"]) for g in good]
    replaced = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        result = await session.execute(
            delete(SettlementCensus).where(
                tuple_(SettlementCensus.territory_id, SettlementCensus.as_of).in_(chunk)
            )
        )
        replaced += result.rowcount or 0
    now = datetime.now(UTC)
    await session.execute(
        insert(SettlementCensus),
        [{**g, "imported_by": principal.username, "imported_at": now} for g in good],
    )
    return replaced
