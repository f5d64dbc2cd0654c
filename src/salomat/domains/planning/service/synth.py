"""Synthetic settlements for planning (``salomat synth``; the planning bench).

What the registry's generator leaves to this one (its settlements are a town and a few
villages of similar size per district, all with attached people):

- **Villages up to the country's count.** The pack's ``planning.rural_settlements`` (the
  country's number of rural settlements, thousands, whatever the people asked: the
  planner plans for the whole country), spread over the districts by their rural
  people; the registry's villages count, the others are added as settlements with a
  census figure and nobody attached (attachment is not residence). Each lies at a
  normal offset (``spread`` degrees) from its district's centre, clipped to the
  country's bounding box (``bbox``).
- **Census figures.** Every settlement gets one ``settlement_census`` row on the run's
  day: a village's size is log-normal (``size.median``, ``size.sigma``: many small
  villages, few large ones), a town's is its attached people scaled up to the national
  population (the registry scales the people down).
- **Primary-care units by the current norm.** Each settlement's required unit under the
  pack's current norm edition (service/norms.py) is opened there (a facility of the
  unit's kind) unless a unit of that level or higher already is, except for a
  ``missing_share`` drawn at random: those are the gaps the planner sees.
- **FTE.** A ``part_time.share`` of the practitioner roles work part-time, at one of
  ``part_time.fte``.

One ``ctx.rng("planning")`` stream, settlements in id order: a seed gives the same rows.
The drawing is pure (``draw_villages``, ``village_size``, ``place_units``) so the bench
and the tests use it without a database.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random
from typing import Any

from salomat.country import pack

__all__ = [
    "SYNTH_SOURCE",
    "Placed",
    "Village",
    "draw_villages",
    "inside",
    "place_units",
    "settings",
    "village_size",
]

#: the census ``source`` of every synthetic figure (and ``imported_by``)
SYNTH_SOURCE = "synthetic (salomat synth)"
SYNTH_BY = "synth"


def settings(country: str) -> dict[str, Any]:
    """The ``planning`` section of the pack's ``population.yaml``."""
    data = pack.load(country, "population").get("planning")
    if not data:
        raise pack.PackError(f"{country}/population.yaml has no planning section")
    return data


def village_size(rng: Random, cfg: dict[str, Any]) -> int:
    """A village's residents: log-normal of the pack's median and sigma, at least 1."""
    size = cfg["size"]
    return max(1, round(rng.lognormvariate(math.log(size["median"]), size["sigma"])))


def inside(cfg: dict[str, Any], lat: float, lon: float) -> bool:
    box = cfg["bbox"]
    return box["south"] <= lat <= box["north"] and box["west"] <= lon <= box["east"]


def _clip(cfg: dict[str, Any], lat: float, lon: float) -> tuple[float, float]:
    box = cfg["bbox"]
    return (
        round(min(max(lat, box["south"]), box["north"]), 5),
        round(min(max(lon, box["west"]), box["east"]), 5),
    )


@dataclass(frozen=True)
class Village:
    """A drawn village: its district (index into the districts given), its number among
    the district's new villages, position, size."""

    district: int
    number: int
    latitude: float
    longitude: float
    population: int


def draw_villages(
    rng: Random,
    cfg: dict[str, Any],
    districts: Sequence[tuple[float, float, float]],
    count: int,
    *,
    have: Sequence[int] = (),
) -> list[Village]:
    """``count`` villages in all over ``districts`` ((latitude, longitude, weight) of each
    centre), a district's share by its weight, less the ``have`` villages it already has
    (by district index). ``number`` counts a district's new villages from 1."""
    total = sum(w for _, _, w in districts) or 1.0
    out: list[Village] = []
    for d, (lat0, lon0, weight) in enumerate(districts):
        already = have[d] if d < len(have) else 0
        want = max(0, round(count * weight / total) - already)
        for k in range(want):
            lat, lon = _clip(
                cfg, rng.gauss(lat0, cfg["spread"]), rng.gauss(lon0, cfg["spread"] * 1.3)
            )
            out.append(Village(d, k + 1, lat, lon, village_size(rng, cfg)))
    return out


@dataclass(frozen=True)
class Placed:
    settlement: int
    unit: str
    kind: str


def place_units(
    rng: Random,
    settlements: Sequence[tuple[int, int]],
    existing: dict[int, set[str]],
    required: Callable[[int], str | None],
    kinds: dict[str, str],
    levels: Sequence[str],
    missing_share: float,
) -> list[Placed]:
    """The units to open: for each (settlement id, population), its required unit, unless
    one of that level or higher is there (``existing``: settlement -> unit codes), the
    unit has no facility kind (a health worker without premises), or the draw leaves it
    missing (``missing_share``)."""
    rank = {u: i for i, u in enumerate(levels)}
    out: list[Placed] = []
    for sid, population in settlements:
        unit = required(population)
        if unit is None or unit not in kinds:
            continue
        here = existing.get(sid, set())
        if any(rank.get(u, -1) >= rank.get(unit, 0) for u in here):
            continue
        if rng.random() < missing_share:
            continue
        out.append(Placed(sid, unit, kinds[unit]))
    return out


def _now() -> datetime:
    return datetime.now(UTC)


# ---- writing (``salomat synth``) ------------------------------------------------------


def synthesize_planning(
    ctx: Any, population: Any, *, rural_settlements: int | None = None
) -> dict[str, int]:
    """Villages up to the country's count, census figures, units by the current norm
    with the pack's share missing, part-time FTE; returns the rows written per table.

    ``rural_settlements`` overrides the pack's count (the country's)."""
    from salomat.domains.planning.models import SettlementCensus
    from salomat.domains.planning.service import norms
    from salomat.domains.registry.service import synth_places as places

    cfg = settings(ctx.country)
    main_pack = pack.load(ctx.country)
    words = pack.load(ctx.country, "population")["territory_words"]["village"]
    lang = main_pack["default_language"]
    rng = ctx.rng("planning")
    people = max(1, len(population))
    national = pack.load(ctx.country, "population")["national_population"]
    engine = ctx.writer.engine
    terr = places.territory_rows(engine)
    facilities = places.open_facility_kinds(engine)
    role_ids = places.role_ids(engine)
    districts = [r for r in terr if r.level == "district"]
    settlements = [r for r in terr if r.level == "settlement"]
    # attached people per settlement (the living originals)
    living: dict[int, int] = {}
    for i in range(len(population)):
        if population.alive(i):
            sid = population.settlement_id[i]
            living[sid] = living.get(sid, 0) + 1
    villages_of: dict[int, int] = {}
    settlements_of: dict[int, int] = {}
    rural_people: dict[int, int] = {}
    for s in settlements:
        settlements_of[s.parent_id] = settlements_of.get(s.parent_id, 0) + 1
        if s.is_rural:
            villages_of[s.parent_id] = villages_of.get(s.parent_id, 0) + 1
            rural_people[s.parent_id] = rural_people.get(s.parent_id, 0) + living.get(s.id, 0)
    target = rural_settlements if rural_settlements is not None else cfg["rural_settlements"]
    centres = [
        (d.latitude, d.longitude, float(rural_people.get(d.id, 0)))
        for d in districts
        if d.latitude is not None and d.longitude is not None
    ]
    placed_districts = [d for d in districts if d.latitude is not None and d.longitude is not None]
    drawn = draw_villages(
        rng, cfg, centres, target, have=[villages_of.get(d.id, 0) for d in placed_districts]
    )
    first = places.territory_first_id(ctx.writer, len(drawn))
    new_rows: list[tuple[Any, ...]] = []
    for k, v in enumerate(drawn):
        d = placed_districts[v.district]
        n = settlements_of.get(d.id, 0) + v.number
        code = f"{d.code[:4]}{n:05d}" if ctx.country == "KZ" else f"{d.code}{n:03d}"
        names = {
            lg: f"{d.names.get(lg, '')} {words[lg]} {n:03d}".strip()
            for lg in d.names
            if lg in words
        }
        new_rows.append(
            (first + k, code, "settlement", d.id, names.get(lang, code), names, True,
             v.latitude, v.longitude, 1)
        )  # fmt: skip
    written: dict[str, int] = {}
    written["territory"] = places.write_territory_rows(ctx.writer, new_rows)
    # the registry's settlements drawn past the country's edge are moved onto it (a
    # position outside the country is bad input to the planner's services)
    places.move_settlements(
        engine,
        [
            (s.id, *_clip(cfg, s.latitude, s.longitude))
            for s in settlements
            if s.latitude is not None
            and s.longitude is not None
            and not inside(cfg, s.latitude, s.longitude)
        ],
    )
    # census: villages log-normal (the drawn ones already are), towns scaled up
    census: list[tuple[int, int]] = []
    for s in settlements:
        if s.is_rural:
            census.append((s.id, village_size(rng, cfg)))
        else:
            census.append((s.id, round(living.get(s.id, 0) * national / people)))
    census += [(r[0], v.population) for r, v in zip(new_rows, drawn, strict=True)]
    stamp = datetime.now(UTC)
    c_first = ctx.writer.next_id(SettlementCensus.__table__, len(census))
    written["settlement_census"] = ctx.writer.write(
        SettlementCensus.__table__,
        ["id", "territory_id", "as_of", "population", "source", "imported_by", "imported_at"],
        (
            (c_first + k, sid, ctx.as_of, pop, SYNTH_SOURCE, SYNTH_BY, stamp)
            for k, (sid, pop) in enumerate(census)
        ),
    )
    # units by the current norm, with the pack's share missing
    rules = norms.planning_pack(ctx.country)
    edition = rules.edition(on=ctx.as_of)
    unit_of_kind = dict(rules.facility_units)
    levels = sorted(rules.units, key=rules.level)
    kinds: dict[str, str] = {}
    for kind, unit in unit_of_kind.items():
        kinds.setdefault(unit, kind)
    existing: dict[int, set[str]] = {}
    for sid, kind in facilities:
        if sid is not None and kind in unit_of_kind:
            existing.setdefault(sid, set()).add(unit_of_kind[kind])
    placed = place_units(
        rng,
        census,
        existing,
        lambda pop: norms.required_unit(pop, edition),
        kinds,
        levels,
        cfg["missing_share"],
    )
    code_of = {s.id: s.code for s in settlements} | {r[0]: r[1] for r in new_rows}
    names_of = {s.id: s.names for s in settlements} | {r[0]: r[5] for r in new_rows}
    types = {ft["code"]: ft for ft in main_pack["facility_types"]}
    f_first = places.facility_first_id(ctx.writer, len(placed))
    opened = ctx.as_of.replace(year=ctx.as_of.year - 5, month=1, day=1)

    def facility_rows() -> Any:
        for k, p in enumerate(placed):
            tn = types[p.kind]["name"]
            fnames = {
                lg: f"{tn[lg]}, {names_of[p.settlement].get(lg, '')}"
                for lg in names_of[p.settlement]
                if lg in tn
            }
            code = f"{code_of[p.settlement]}-U1"
            yield (f_first + k, code, fnames.get(lang, code), fnames, p.kind, None,
                   p.settlement, True, opened, 1, stamp)  # fmt: skip

    written["facility"] = places.write_facilities(ctx.writer, facility_rows())
    # part-time roles
    part = cfg["part_time"]
    by_fte: dict[float, list[int]] = {}
    for rid in role_ids:
        if rng.random() < part["share"]:
            by_fte.setdefault(float(rng.choice(part["fte"])), []).append(rid)
    n_part = places.set_fte(engine, by_fte)
    written["practitioner_role (part-time)"] = n_part
    for table, n in written.items():
        ctx.count(table, n)
    return written
