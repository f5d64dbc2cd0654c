"""The zone matrix: each region's zone under a rule edition of the pack.

An edition is data (``<CC>/epidemic.yaml`` ``matrix.editions``): its zones, most severe
first; its rules, each a zone and a condition; the zone when no rule holds
(``otherwise``, or none); and how incidence per 100 000 is read (the daily average over
the window, or the window's sum). A condition is ``{metric, op, value}`` or
``{all: [...]}`` / ``{any: [...]}`` of conditions. One function evaluates every edition.

Rules are tried in order and the first that holds gives the zone. A rule whose truth
depends on a metric not known (Rt with too few cases, say) stops the evaluation: the
zone is unknown and the missing metrics are named, never guessed. Editions are checked on
load: unknown metrics or operators, a rule that can never hold (``rt > 1 and rt < 0.9``),
and two rules of different zones that overlap on the same indicators (a band read twice,
as the quoted "yellow 25-50, green < 50" would) are refused naming the field. A rule on
other indicators (the brown-red occupancy rule above the incidence zones) overlaps by
design and takes precedence by its place in the list.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from salomat.core.errors import N_, FieldError, Invalid
from salomat.country import pack
from salomat.country.pack import in_force

__all__ = [
    "METRICS",
    "METRIC_LABELS",
    "READINGS",
    "All",
    "Any_",
    "Condition",
    "Edition",
    "EditionError",
    "Rule",
    "Zone",
    "ZoneResult",
    "evaluate",
    "in_force",
    "incidence_per_100k",
    "parse_edition",
]

#: indicators a rule may test (docs/epidemic.md)
METRICS = (
    "rt",
    "incidence_per_100k",
    "bed_occupancy_pct",
    "icu_occupancy_pct",
    "hospitalised_per_100k",
    "beds_occupied",
    "beds_occupied_per_100k",
    "vaccination_coverage_pct",
)
READINGS = ("daily_average", "window_sum")
#: a metric's name for a reader (a msgid): pages name the missing ones with these
METRIC_LABELS = {
    "rt": N_("Reproduction number Rt"),
    "incidence_per_100k": N_("Incidence per 100,000"),
    "bed_occupancy_pct": N_("Infectious bed occupancy, percent"),
    "icu_occupancy_pct": N_("Intensive care bed occupancy, percent"),
    "hospitalised_per_100k": N_("Hospitalised per 100,000"),
    "beds_occupied": N_("Beds occupied"),
    "beds_occupied_per_100k": N_("Beds occupied per 100,000"),
    "vaccination_coverage_pct": N_("Vaccination coverage, percent"),
}

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class EditionError(pack.PackError):
    """A matrix edition is malformed, contradictory or overlapping."""


def incidence_per_100k(cases: float, population: float, window_days: int, reading: str) -> float:
    """Incidence per 100 000 from the cases of a ``window_days`` window: their daily
    average (``daily_average``) or their sum (``window_sum``; the weekly sum with 7 days)."""
    if population <= 0:
        raise Invalid.fields([FieldError("population", N_("Must be positive."))])
    if cases < 0:
        raise Invalid.fields([FieldError("cases", N_("May not be negative."))])
    if window_days < 1:
        raise ValueError("window_days must be >= 1")
    per = cases / population * 100_000
    if reading == "daily_average":
        return per / window_days
    if reading == "window_sum":
        return per
    raise ValueError(f"unknown reading {reading!r}")


# ---- conditions ------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    value: float

    def holds(self, metrics: Mapping[str, float | None], missing: set[str]) -> bool | None:
        v = metrics.get(self.metric)
        value = math.nan if v is None else float(v)
        if math.isnan(value):
            missing.add(self.metric)
            return None
        return _OPS[self.op](value, self.value)


@dataclass(frozen=True)
class All:
    of: tuple[Condition | All | Any_, ...]

    def holds(self, metrics: Mapping[str, float | None], missing: set[str]) -> bool | None:
        values = [c.holds(metrics, missing) for c in self.of]
        if any(v is False for v in values):
            return False
        return None if any(v is None for v in values) else True


@dataclass(frozen=True)
class Any_:
    of: tuple[Condition | All | Any_, ...]

    def holds(self, metrics: Mapping[str, float | None], missing: set[str]) -> bool | None:
        values = [c.holds(metrics, missing) for c in self.of]
        if any(v is True for v in values):
            return True
        return None if any(v is None for v in values) else False


Node = Condition | All | Any_


@dataclass(frozen=True)
class Zone:
    code: str
    names: Mapping[str, str]
    colour: str

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.code


@dataclass(frozen=True)
class Rule:
    zone: str
    when: Node


@dataclass(frozen=True)
class Edition:
    code: str
    title: Mapping[str, str]
    source: str
    valid_from: date
    zones: tuple[Zone, ...]  # most severe first
    rules: tuple[Rule, ...]
    otherwise: str | None
    reading: str = "daily_average"
    window_days: int = 7
    #: no legal text was read for it: pages say so
    unverified: bool = False
    #: indicators shown beside the zone though no rule tests them
    reports: tuple[str, ...] = ()
    notes: str = ""

    def zone(self, code: str) -> Zone:
        for z in self.zones:
            if z.code == code:
                return z
        raise KeyError(code)

    def name(self, language: str) -> str:
        return self.title.get(language) or self.title.get("en") or self.code

    def incidence(self, cases: float, population: float) -> float:
        return incidence_per_100k(cases, population, self.window_days, self.reading)


@dataclass(frozen=True)
class ZoneResult:
    edition: str
    #: None: no rule holds and the edition sets no ``otherwise``, or a metric was missing
    zone: str | None
    #: the rule that held (index in the edition), None for ``otherwise`` or unknown
    rule: int | None
    #: metric codes not known (``METRIC_LABELS`` names them for a reader)
    missing: tuple[str, ...] = ()
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def evaluate(edition: Edition, metrics: Mapping[str, float | None]) -> ZoneResult:
    """The zone of one region's ``metrics`` (a metric missing or None: not known)."""
    for i, rule in enumerate(edition.rules):
        missing: set[str] = set()
        value = rule.when.holds(metrics, missing)
        if value is True:
            return ZoneResult(edition.code, rule.zone, i)
        if value is None:
            return ZoneResult(
                edition.code,
                None,
                None,
                tuple(sorted(missing)),
                N_("Zone not determined: an indicator the rules need is not known."),
            )
    if edition.otherwise is None:
        return ZoneResult(
            edition.code,
            None,
            None,
            reason=N_("Zone not determined: the edition's rules do not cover these values."),
        )
    return ZoneResult(edition.code, edition.otherwise, None)


# ---- reading and checking an edition -----------------------------------------------


@dataclass(frozen=True)
class _Interval:
    lo: float = -math.inf
    lo_closed: bool = False
    hi: float = math.inf
    hi_closed: bool = False

    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_closed and self.hi_closed))

    def __and__(self, other: _Interval) -> _Interval:
        if self.lo > other.lo or (self.lo == other.lo and not self.lo_closed):
            lo, lo_c = self.lo, self.lo_closed
        else:
            lo, lo_c = other.lo, other.lo_closed
        if self.hi < other.hi or (self.hi == other.hi and not self.hi_closed):
            hi, hi_c = self.hi, self.hi_closed
        else:
            hi, hi_c = other.hi, other.hi_closed
        return _Interval(lo, lo_c, hi, hi_c)

    def text(self) -> str:
        left = "[" if self.lo_closed else "("
        right = "]" if self.hi_closed else ")"
        return f"{left}{self.lo:g}, {self.hi:g}{right}"


Box = dict[str, _Interval]


def _interval(c: Condition) -> _Interval:
    return {
        ">": _Interval(lo=c.value),
        ">=": _Interval(lo=c.value, lo_closed=True),
        "<": _Interval(hi=c.value),
        "<=": _Interval(hi=c.value, hi_closed=True),
    }[c.op]


def _meet(a: Box, b: Box) -> Box | None:
    out = dict(a)
    for m, iv in b.items():
        out[m] = out[m] & iv if m in out else iv
        if out[m].empty():
            return None
    return out


def _boxes(node: Node) -> list[Box]:
    """The condition as a union of boxes (disjunctive normal form), empty boxes dropped."""
    if isinstance(node, Condition):
        return [{node.metric: _interval(node)}]
    parts = [_boxes(c) for c in node.of]
    if isinstance(node, Any_):
        return [b for p in parts for b in p]
    out: list[Box] = [{}]
    for p in parts:
        out = [m for a in out for b in p if (m := _meet(a, b)) is not None]
    return out


def _node(raw: Any, where: str) -> Node:
    if not isinstance(raw, Mapping):
        raise EditionError(f"{where}: a condition must be a mapping")
    if "all" in raw or "any" in raw:
        key = "all" if "all" in raw else "any"
        if len(raw) != 1:
            raise EditionError(f"{where}: '{key}' stands alone in its condition")
        items = raw[key]
        if not isinstance(items, list) or not items:
            raise EditionError(f"{where}.{key}: must be a non-empty list of conditions")
        kids = tuple(_node(c, f"{where}.{key}[{i}]") for i, c in enumerate(items))
        return All(kids) if key == "all" else Any_(kids)
    extra = set(raw) - {"metric", "op", "value"}
    if extra:
        raise EditionError(f"{where}: unknown key(s) {sorted(extra)}")
    metric = raw.get("metric")
    if metric not in METRICS:
        raise EditionError(f"{where}.metric: unknown metric {metric!r} (known: {METRICS})")
    op = raw.get("op")
    if op not in _OPS:
        raise EditionError(f"{where}.op: unknown operator {op!r} (known: {tuple(_OPS)})")
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EditionError(f"{where}.value: not a finite number: {value!r}")
    return Condition(str(metric), str(op), float(value))


def _names(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise EditionError(f"{where}: names by language are required")
    return {str(k): str(v) for k, v in raw.items()}


def parse_edition(raw: Mapping[str, Any], where: str = "matrix.editions") -> Edition:
    """One edition from the pack, checked (``EditionError`` naming the field)."""
    if not isinstance(raw, Mapping):
        raise EditionError(f"{where}: an edition must be a mapping")
    code = str(raw.get("code") or "")
    if not code:
        raise EditionError(f"{where}.code: an edition has no code")
    here = f"{where}[{code}]"
    valid_from = raw.get("valid_from")
    if not isinstance(valid_from, date):
        try:
            valid_from = date.fromisoformat(str(valid_from))
        except ValueError:
            raise EditionError(f"{here}.valid_from: not a date: {valid_from!r}") from None
    zones = []
    for i, z in enumerate(raw.get("zones") or []):
        zc = str((z or {}).get("code") or "")
        if not zc:
            raise EditionError(f"{here}.zones[{i}].code: missing")
        names = _names(z.get("names"), f"{here}.zones[{i}].names")
        zones.append(Zone(zc, names, str(z.get("colour") or "")))
    codes = [z.code for z in zones]
    if not zones:
        raise EditionError(f"{here}.zones: no zones")
    if len(set(codes)) != len(codes):
        raise EditionError(f"{here}.zones: two zones share a code")
    rules: list[Rule] = []
    for i, r in enumerate(raw.get("rules") or []):
        rw = f"{here}.rules[{i}]"
        if not isinstance(r, Mapping):
            raise EditionError(f"{rw}: a rule must be a mapping")
        if r.get("zone") not in codes:
            raise EditionError(f"{rw}.zone: {r.get('zone')!r} is not one of the zones {codes}")
        when = _node(r.get("when"), f"{rw}.when")
        if not _boxes(when):
            raise EditionError(f"{rw}.when: contradictory thresholds, the rule can never hold")
        rules.append(Rule(str(r["zone"]), when))
    if not rules:
        raise EditionError(f"{here}.rules: no rules")
    _check_overlaps(rules, here)
    otherwise = raw.get("otherwise")
    if otherwise is not None and otherwise not in codes:
        raise EditionError(f"{here}.otherwise: {otherwise!r} is not one of the zones {codes}")
    reading = raw.get("incidence_reading", "daily_average")
    if reading not in READINGS:
        raise EditionError(f"{here}.incidence_reading: {reading!r} is not one of {READINGS}")
    window = raw.get("incidence_window_days", 7)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise EditionError(f"{here}.incidence_window_days: must be a whole number >= 1")
    reports = tuple(str(m) for m in raw.get("reports") or ())
    for m in reports:
        if m not in METRICS:
            raise EditionError(f"{here}.reports: unknown metric {m!r}")
    title = _names(raw.get("title"), f"{here}.title")
    return Edition(
        code=code,
        title=title,
        source=str(raw.get("source") or ""),
        valid_from=valid_from,
        zones=tuple(zones),
        rules=tuple(rules),
        otherwise=None if otherwise is None else str(otherwise),
        reading=str(reading),
        window_days=window,
        unverified=bool(raw.get("unverified", False)),
        reports=reports,
        notes=str(raw.get("notes") or ""),
    )


def _check_overlaps(rules: Sequence[Rule], here: str) -> None:
    boxes = [_boxes(r.when) for r in rules]
    for (i, a), (j, b) in itertools.combinations(enumerate(rules), 2):
        if a.zone == b.zone:
            continue
        for ba, bb in itertools.product(boxes[i], boxes[j]):
            if set(ba) != set(bb):
                continue  # other indicators: precedence by order
            both = _meet(ba, bb)
            if both is not None:
                where = ", ".join(f"{m} in {iv.text()}" for m, iv in sorted(both.items()))
                raise EditionError(
                    f"{here}.rules[{j}].when: overlapping thresholds: zone {b.zone!r} and "
                    f"zone {a.zone!r} (rules[{i}]) both hold for {where}"
                )
