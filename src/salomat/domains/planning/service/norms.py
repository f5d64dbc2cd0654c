"""The pack's planning rules (``<CC>/planning.yaml``), read once per country, and the
pure rules on them: the unit a settlement needs under a norm edition, the posts a
population needs under a staffing ratio.

A norm edition's bands hold whole people, both bounds included; together they cover every
population from 0 up, with no gap and no overlap (``validate_bands``, on load: a pack whose
edition overlaps is refused naming the edition and the band). An edition applies from its
``valid_from`` until the next one's; any edition may be asked for by its code (a planner
compares them). Units are ordered by level: a unit of a higher level in a settlement
meets the need for a lower one (docs/planning.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from salomat.core.config import get_settings
from salomat.core.errors import N_
from salomat.country import pack

__all__ = [
    "AccessRules",
    "Band",
    "BandError",
    "Bounds",
    "MobileRules",
    "NormEdition",
    "PlanningPack",
    "PostRatio",
    "StaffingEdition",
    "Unit",
    "current",
    "edition",
    "fte_needed",
    "load_editions",
    "planning_pack",
    "posts_needed",
    "required_unit",
    "validate_bands",
]

POPULATION_OF = ("all", "children")


def today() -> date:
    """Today in the country's civil time zone (the configured country's pack): the planning
    domain's one "today", the same day the screening domain and the mobile visits use, so a
    server on UTC does not turn Almaty's or Tashkent's day over five hours late."""
    return pack.today(get_settings().country)


class BandError(pack.PackError):
    """A norm edition's bands overlap, leave a gap, or are malformed."""


@dataclass(frozen=True)
class Band:
    min_population: int
    max_population: int | None  # None: no upper bound
    unit: str | None  # None: the edition sets no unit for this size

    def contains(self, population: int) -> bool:
        return population >= self.min_population and (
            self.max_population is None or population <= self.max_population
        )

    def label(self) -> str:
        top = "" if self.max_population is None else str(self.max_population)
        return f"{self.min_population}-{top} ({self.unit or 'none'})"


@dataclass(frozen=True)
class NormEdition:
    code: str
    title: Mapping[str, str]
    source: str
    valid_from: date
    bands: tuple[Band, ...]

    def name(self, language: str) -> str:
        return self.title.get(language) or self.title.get("en") or self.code


@dataclass(frozen=True)
class Unit:
    code: str
    level: int
    names: Mapping[str, str]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code


@dataclass(frozen=True)
class PostRatio:
    position: str
    ratio: int  # people per post
    of: str  # all | children


@dataclass(frozen=True)
class StaffingEdition:
    code: str
    title: Mapping[str, str]
    source: str
    valid_from: date
    brigade_population: int | None
    per_population: tuple[PostRatio, ...]
    #: unit code -> {position: posts a unit keeps}
    per_unit: Mapping[str, Mapping[str, Decimal]]

    def name(self, language: str) -> str:
        return self.title.get(language) or self.title.get("en") or self.code


@dataclass(frozen=True)
class AccessRules:
    threshold_km: float
    threshold_level: str
    detour_factor: float
    speed_kmh: float
    #: an imported road network (service/roads.py): km/h per OSM highway class, the
    #: classes not imported (footways...), and how far a point may be from a road node
    road_speeds_kmh: Mapping[str, float] = field(default_factory=dict)
    road_skip: tuple[str, ...] = ()
    road_snap_km: float = 2.0


@dataclass(frozen=True)
class Bounds:
    min_latitude: float
    max_latitude: float
    min_longitude: float
    max_longitude: float

    def contains(self, latitude: float, longitude: float) -> bool:
        return (
            self.min_latitude <= latitude <= self.max_latitude
            and self.min_longitude <= longitude <= self.max_longitude
        )


@dataclass(frozen=True)
class MobileRules:
    service_minutes: int
    day_minutes: int
    speed_kmh: float
    #: the team's days off (``date.weekday()``: 5 = Saturday, 6 = Sunday)
    weekend: tuple[int, ...] = (5, 6)


@dataclass(frozen=True)
class PlanningPack:
    country: str
    units: Mapping[str, Unit]
    #: facility kind -> unit code
    facility_units: Mapping[str, str]
    editions: tuple[NormEdition, ...]  # by valid_from
    staffing: tuple[StaffingEdition, ...]  # by valid_from
    access: AccessRules
    mobile: MobileRules
    bounds: Bounds
    currency: str
    cost_source: str
    unit_costs: Mapping[str, Decimal] = field(default_factory=dict)
    #: the unit costs are illustrative (no costing sourced): pages and API say so
    costs_illustrative: bool = False

    def edition(self, code: str | None = None, on: date | None = None) -> NormEdition:
        """The edition ``code``, or the one in force on ``on`` (today); an unknown code is
        a 422 naming the field ``edition``."""
        unknown = N_("Unknown norm edition: %(code)s (known: %(known)s)")
        return pack.edition(self.editions, code, on or today(), unknown=unknown)

    def staffing_edition(self, code: str | None = None, on: date | None = None) -> StaffingEdition:
        unknown = N_("Unknown staffing edition: %(code)s (known: %(known)s)")
        return pack.edition(
            self.staffing, code, on or today(), unknown=unknown, field="staffing_edition"
        )

    def level(self, unit: str | None) -> int:
        """The unit's level (0 for none)."""
        return 0 if unit is None else self.units[unit].level

    def unit_of(self, facility_kind: str) -> str | None:
        return self.facility_units.get(facility_kind)

    def need_met(self, required: str | None, existing: Iterable[str]) -> bool:
        """A unit of the required level or higher is in the settlement (no need is met)."""
        if required is None:
            return True
        need = self.level(required)
        return any(self.level(u) >= need for u in existing)

    def cost(self, unit: str | None) -> Decimal | None:
        return None if unit is None else self.unit_costs.get(unit)

    def unit_name(self, unit: str | None, language: str) -> str:
        return "" if unit is None else self.units[unit].name(language)


# ---- pure rules ------------------------------------------------------------------


def validate_bands(bands: Iterable[Band], edition_code: str = "") -> tuple[Band, ...]:
    """The bands in order if they cover 0 and up once each; else ``BandError`` naming the
    edition and the first band that overlaps, leaves a gap or is malformed."""
    where = f"norm edition {edition_code}: " if edition_code else ""
    ordered = sorted(bands, key=lambda b: b.min_population)
    if not ordered:
        raise BandError(f"{where}no bands")
    expected = 0
    for i, b in enumerate(ordered):
        if b.min_population < 0 or (
            b.max_population is not None and b.max_population < b.min_population
        ):
            raise BandError(f"{where}band {b.label()} is empty or negative")
        if b.min_population < expected:
            raise BandError(f"{where}band {b.label()} overlaps the band {ordered[i - 1].label()}")
        if b.min_population > expected:
            raise BandError(
                f"{where}band {b.label()} leaves a gap: {expected}-{b.min_population - 1} "
                "has no band"
            )
        if b.max_population is None:
            if i != len(ordered) - 1:
                raise BandError(
                    f"{where}band {b.label()} has no upper bound and overlaps the band "
                    f"{ordered[i + 1].label()}"
                )
            return tuple(ordered)
        expected = b.max_population + 1
    raise BandError(f"{where}band {ordered[-1].label()} is the last and has an upper bound")


def required_unit(population: int, edition: NormEdition) -> str | None:
    """The unit ``edition`` requires for a settlement of ``population`` residents (None:
    the edition sets none). A negative population is refused (``ValueError``)."""
    if population < 0:
        raise ValueError(f"negative population {population}")
    for b in edition.bands:
        if b.contains(population):
            return b.unit
    raise ValueError(f"norm edition {edition.code} has no band for {population}")


def above_range(population: int, edition: NormEdition) -> bool:
    """Whether ``population`` lies above every band of ``edition`` that sets a unit (its
    band sets none): the norm is silent for such a town, which is reported apart, never
    given an invented unit. A band without a unit below the smallest unit (the 2017
    edition's under-50s) is not above the range. Follows the pack's boundaries."""
    if required_unit(population, edition) is not None:
        return False
    tops = [b.max_population for b in edition.bands if b.unit is not None]
    if not tops or any(t is None for t in tops):
        return False
    return population > max(t for t in tops if t is not None)


def posts_needed(population: int | Decimal, ratio: int) -> int:
    """Whole posts: ceil(population / ratio) (0 people: 0 posts)."""
    if ratio <= 0:
        raise ValueError("ratio must be positive")
    return math.ceil(Decimal(population) / ratio)


def fte_needed(population: int | Decimal, ratio: int) -> Decimal:
    """The exact need in full-time equivalents, population / ratio to two decimals."""
    if ratio <= 0:
        raise ValueError("ratio must be positive")
    return (Decimal(population) / ratio).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---- reading the pack ------------------------------------------------------------


def _date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as e:
        raise pack.PackError(f"{where}: valid_from is not a date: {value!r}") from e


def _int(value: Any, where: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise pack.PackError(f"{where}: not a whole number: {value!r}")
    return value


def parse_edition(raw: Mapping[str, Any], units: Mapping[str, Unit], where: str) -> NormEdition:
    code = str(raw.get("code") or "")
    if not code:
        raise pack.PackError(f"{where}: a norm edition has no code")
    here = f"{where} {code}"
    bands = []
    for b in raw.get("bands") or []:
        unit = b.get("unit")
        if unit is not None and unit not in units:
            raise pack.PackError(f"{here}: band unit {unit!r} is not one of the units")
        bands.append(
            Band(
                min_population=_int(b.get("min_population"), here) or 0,
                max_population=_int(b.get("max_population"), here, allow_none=True),
                unit=unit,
            )
        )
    return NormEdition(
        code=code,
        title=dict(raw.get("title") or {}),
        source=str(raw.get("source") or ""),
        valid_from=_date(raw.get("valid_from"), here),
        bands=validate_bands(bands, code),
    )


def _staffing(
    raw: Mapping[str, Any], units: Mapping[str, Unit], positions: set[str], where: str
) -> StaffingEdition:
    code = str(raw.get("code") or "")
    here = f"{where} staffing {code}"
    ratios = []
    for r in raw.get("per_population") or []:
        if r.get("position") not in positions:
            raise pack.PackError(f"{here}: unknown position {r.get('position')!r}")
        ratio = _int(r.get("ratio"), here)
        if not ratio or ratio <= 0:
            raise pack.PackError(f"{here}: ratio must be a positive whole number")
        of = r.get("of", "all")
        if of not in POPULATION_OF:
            raise pack.PackError(f"{here}: 'of' must be one of {POPULATION_OF}")
        ratios.append(PostRatio(str(r["position"]), ratio, of))
    per_unit: dict[str, dict[str, Decimal]] = {}
    for unit, posts in (raw.get("per_unit") or {}).items():
        if unit not in units:
            raise pack.PackError(f"{here}: per_unit names unknown unit {unit!r}")
        for position, n in (posts or {}).items():
            if position not in positions:
                raise pack.PackError(f"{here}: unknown position {position!r}")
            per_unit.setdefault(unit, {})[position] = Decimal(str(n))
    brigade = _int(raw.get("brigade_population"), here, allow_none=True)
    return StaffingEdition(
        code=code,
        title=dict(raw.get("title") or {}),
        source=str(raw.get("source") or ""),
        valid_from=_date(raw.get("valid_from"), here),
        brigade_population=brigade,
        per_population=tuple(ratios),
        per_unit=per_unit,
    )


def parse_pack(country: str, data: Mapping[str, Any], main: Mapping[str, Any]) -> PlanningPack:
    """``planning.yaml`` (``data``) checked against the country's ``pack.yaml`` (``main``:
    facility kinds, positions, currency)."""
    where = f"{country}/planning.yaml"
    units = {
        str(u["code"]): Unit(str(u["code"]), int(u["level"]), dict(u.get("names") or {}))
        for u in data.get("units") or []
    }
    if not units:
        raise pack.PackError(f"{where}: no units")
    kinds = {str(k["code"]) for k in main.get("facility_types") or []}
    positions = {str(p["code"]) for p in main.get("positions") or []}
    facility_units = {str(k): str(v) for k, v in (data.get("facility_units") or {}).items()}
    for kind, unit in facility_units.items():
        if kind not in kinds:
            raise pack.PackError(f"{where}: facility_units: unknown facility kind {kind!r}")
        if unit not in units:
            raise pack.PackError(f"{where}: facility_units: {kind} maps to unknown unit {unit!r}")
    editions = tuple(
        sorted(
            (parse_edition(e, units, where) for e in data.get("norms") or []),
            key=lambda e: e.valid_from,
        )
    )
    if not editions:
        raise pack.PackError(f"{where}: no norm edition")
    if len({e.code for e in editions}) != len(editions):
        raise pack.PackError(f"{where}: two norm editions share a code")
    staffing = tuple(
        sorted(
            (_staffing(s, units, positions, where) for s in data.get("staffing") or []),
            key=lambda s: s.valid_from,
        )
    )
    if not staffing:
        raise pack.PackError(f"{where}: no staffing edition")
    a = data.get("access") or {}
    if a.get("threshold_level") not in units:
        raise pack.PackError(f"{where}: access threshold_level is not a unit")
    access = AccessRules(
        threshold_km=float(a["threshold_km"]),
        threshold_level=str(a["threshold_level"]),
        detour_factor=float(a["detour_factor"]),
        speed_kmh=float(a["speed_kmh"]),
        road_speeds_kmh={str(k): float(v) for k, v in (a.get("road_speeds_kmh") or {}).items()},
        road_skip=tuple(str(x) for x in a.get("road_skip_highways") or ()),
        road_snap_km=float(a.get("road_snap_km", 2.0)),
    )
    if access.detour_factor < 1 or access.threshold_km <= 0 or access.speed_kmh <= 0:
        raise pack.PackError(f"{where}: access values out of range")
    if access.road_snap_km <= 0 or any(v <= 0 for v in access.road_speeds_kmh.values()):
        raise pack.PackError(f"{where}: access road values out of range")
    m = data.get("mobile") or {}
    mobile = MobileRules(
        service_minutes=int(m["service_minutes"]),
        day_minutes=int(m["day_minutes"]),
        speed_kmh=float(m["speed_kmh"]),
        weekend=tuple(int(d) for d in m.get("weekend", (5, 6))),
    )
    if any(not 0 <= d <= 6 for d in mobile.weekend) or len(set(mobile.weekend)) >= 7:
        raise pack.PackError(f"{where}: mobile.weekend must be weekdays 0-6 leaving a working day")
    b = data.get("bounds") or {}
    try:
        bounds = Bounds(
            float(b["min_latitude"]),
            float(b["max_latitude"]),
            float(b["min_longitude"]),
            float(b["max_longitude"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise pack.PackError(f"{where}: bounds need min/max latitude and longitude") from e
    c = data.get("unit_costs") or {}
    costs = {str(k): Decimal(str(v)) for k, v in (c.get("units") or {}).items()}
    unknown = set(costs) - set(units)
    if unknown:
        raise pack.PackError(f"{where}: unit_costs of unknown units {sorted(unknown)}")
    currency = str(c.get("currency") or main.get("currency") or "")
    return PlanningPack(
        country=country,
        units=units,
        facility_units=facility_units,
        editions=editions,
        staffing=staffing,
        access=access,
        mobile=mobile,
        bounds=bounds,
        currency=currency,
        cost_source=str(c.get("source") or ""),
        unit_costs=costs,
        costs_illustrative=bool(c.get("illustrative", False)),
    )


@lru_cache(maxsize=4)
def _load(country: str) -> PlanningPack:
    try:
        return parse_pack(country, pack.load(country, "planning"), pack.load(country, "pack"))
    except pack.PackError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise pack.PackError(f"{country}/planning.yaml is malformed: {e!r}") from e


def planning_pack(country: str | None = None) -> PlanningPack:
    """The deployed (or ``country``'s) planning rules, read and checked once."""
    return _load((country or get_settings().country).upper())


def current() -> PlanningPack:
    """The deployed country's planning rules (the services call this; tests replace it)."""
    return planning_pack()


def load_editions(country: str | None = None) -> list[NormEdition]:
    return list(planning_pack(country).editions)


def edition(country: str | None, code: str | None = None, on: date | None = None) -> NormEdition:
    return planning_pack(country).edition(code, on)
