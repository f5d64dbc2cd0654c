"""The calendar as the engine reads it from the country pack: ages, dose rules, series.

Pure (no database). ``schedule`` re-exports every name here; callers import
from there.

- Ages are calendar offsets from the birth date: ``"2m"`` is the same day
  two months later (clamped to the month's last day), ``"6w"`` 42 days,
  ``"1d"`` the day after birth.
- A series' ``doses`` are its slots in order: the first valid dose fills the
  first slot, the next valid dose the second, and so on (``counting``). A
  slot's ``dose_number`` is the number the calendar gives it (Uzbekistan's
  DTP booster is dose 4 of the ``dtp`` series, after Penta 1-3).
- ``catch_up``: reduced series for late starters, where a WHO position paper
  defines one (PCV begun at 12-23 months: 2 doses at least 8 weeks apart).
  Which plan applies depends on the age at the first valid dose of the series;
  the plan's slots are the first ``doses`` slots of the series with the plan's
  interval between them, and the later slots are not needed.
- ``continues``: a series whose slots follow another's in one sequence
  (a ``Chain``). WHO counts DTP-containing doses, not products: Uzbekistan's
  DTP booster ``continues: penta``, so a DTP dose given before three valid
  Penta doses fills the next primary place, and a Penta dose once the primary
  places are filled may fill the booster's. A dose's upper age is its own
  product's (``Chain.upper_age``): Penta's 5 years (Hib), DTP's 7.
"""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property, lru_cache
from typing import Any

from salomat.country import pack

__all__ = [
    "BY_AGE",
    "ON_INDICATION",
    "Age",
    "Calendar",
    "CatchUp",
    "Chain",
    "DoseRule",
    "Series",
    "add_age",
    "calendar",
    "parse_age",
]

#: series kinds: scheduled by age (the calendar's), or given on indication (never due)
BY_AGE = "by_age"
ON_INDICATION = "on_indication"
KINDS = (BY_AGE, ON_INDICATION)

_AGE = re.compile(r"^(?:\d+[dwmy])+$")
_PART = re.compile(r"(\d+)([dwmy])")


@dataclass(frozen=True, slots=True)
class Age:
    years: int = 0
    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        parts = [f"{self.years}y" if self.years else "", f"{self.months}m" if self.months else ""]
        if self.days and self.days % 7 == 0:
            parts.append(f"{self.days // 7}w")
        elif self.days or not any(parts):
            parts.append(f"{self.days}d")
        return "".join(parts)


#: the age 0, one object: the worklist's counting memoises birth + age by the age object
#: (``counting._count_chain``), so every age a rule holds must outlive the count
ZERO_AGE = Age()


#: one object per age value: equal ages parsed from the pack are the same object, so a
#: person's ``birth + age`` can be remembered by ``id(age)`` (``counting._count_chain``)
_AGES: dict[Age, Age] = {}


def parse_age(value: str | int | None) -> Age | None:
    """``"2m"``, ``"6w"``, ``"10y"``, ``"0d"``, ``"11y6m"`` (an int is days)."""
    if value is None:
        return None
    if isinstance(value, int):
        return _interned(Age(days=value))
    text = str(value).replace(" ", "")
    if not _AGE.match(text):
        raise pack.PackError(f"not an age: {value!r} (use 0d, 6w, 2m, 9y, 11y6m)")
    years = months = days = 0
    for n, unit in _PART.findall(text):
        if unit == "y":
            years += int(n)
        elif unit == "m":
            months += int(n)
        elif unit == "w":
            days += 7 * int(n)
        else:
            days += int(n)
    return _interned(Age(years, months, days))


def _interned(age: Age) -> Age:
    return _AGES.setdefault(age, age)


def add_age(start: date, age: Age) -> date:
    """``start`` plus a calendar age (months clamp to the month's last day)."""
    if not age.months and not age.years:
        return start + timedelta(days=age.days) if age.days else start
    months = start.month - 1 + age.months + 12 * age.years
    year = start.year + months // 12
    month = months % 12 + 1
    day = start.day
    if day > 28:
        day = min(day, _calendar.monthrange(year, month)[1])
    out = date(year, month, day)
    return out + timedelta(days=age.days) if age.days else out


@dataclass(frozen=True)
class DoseRule:
    antigen: str
    dose_number: int
    age: Age
    min_age: Age
    min_interval: Age | None
    max_age: Age | None
    #: (antigen, dose) whose date the interval counts from; None: the first dose
    after: tuple[str, int] | None
    booster: bool = False


@dataclass(frozen=True)
class CatchUp:
    """A reduced series: the first valid dose at an age in [``from_age``, ``until_age``)."""

    from_age: Age
    until_age: Age
    #: the plan's slots: the series' first ``len(rules)`` slots with the plan's interval
    rules: tuple[DoseRule, ...]
    min_interval: Age | None
    source: str

    def applies(self, birth: date, first_on: date) -> bool:
        return add_age(birth, self.from_age) <= first_on < add_age(birth, self.until_age)


@dataclass(frozen=True)
class Series:
    antigen: str
    label: str
    vaccines: tuple[str, ...]
    sex: str | None
    doses: tuple[DoseRule, ...]
    source: str = ""
    #: revaccination: (every, from_age, min_interval) or None
    booster_every: Age | None = None
    booster_from_age: Age | None = None
    booster_min_interval: Age | None = None
    booster_max_age: Age | None = None
    catch_up: tuple[CatchUp, ...] = ()
    #: the series whose places this one's follow (one ``Chain``), e.g. the DTP booster: penta
    continues: str | None = None
    #: ``by_age`` (scheduled) or ``on_indication`` (recorded and counted, never due)
    kind: str = BY_AGE
    #: WHO ATC code of the vaccine group, where the pack gives one (COVID-19: J07BX03)
    atc: str = ""

    @property
    def on_indication(self) -> bool:
        return self.kind == ON_INDICATION

    def plan(self, birth: date, first_on: date | None) -> CatchUp | None:
        """The reduced series that a first dose on ``first_on`` starts (None: the calendar's)."""
        if first_on is None:
            return None
        return next((c for c in self.catch_up if c.applies(birth, first_on)), None)

    def slots(self, birth: date, first_on: date | None) -> tuple[DoseRule, ...]:
        """The rules to fill in order when the first valid dose is on ``first_on``."""
        if not self.catch_up:
            return self.doses
        plan = self.plan(birth, first_on)
        return self.doses if plan is None else plan.rules

    def slot(self, slots: tuple[DoseRule, ...], k: int) -> DoseRule | None:
        """The ``k``-th slot (0-based); past the calendar's last dose, revaccinations if any."""
        if k < len(slots):
            return slots[k]
        if slots is not self.doses or self.booster_every is None or not self.doses:
            return None
        return booster_rule(self, self.doses[-1].dose_number + 1 + k - len(self.doses))


@dataclass(frozen=True)
class Chain:
    """Series whose doses count as one sequence, in date order, whatever the product.

    Usually a single series. A chain of several (``continues`` in the pack) has
    as places the series' doses one after the other: Uzbekistan's Penta 1-3 and
    DTP 4 are the DTP-containing places 1-4, filled by Penta and DTP doses
    alike (WHO counts DTP-containing doses in sequence). The places keep their
    own rules (minimum age, interval, the series they belong to); only the
    upper age follows the product given (``upper_age``).
    """

    series: tuple[Series, ...]

    @property
    def lead(self) -> Series:
        return self.series[0]

    @cached_property
    def antigens(self) -> tuple[str, ...]:
        return tuple(s.antigen for s in self.series)

    @cached_property
    def places(self) -> tuple[DoseRule, ...]:
        if len(self.series) == 1:
            return self.lead.doses
        return tuple(r for s in self.series for r in s.doses)

    @cached_property
    def numbers(self) -> tuple[int, ...]:
        """The numbers of its places (a dose of any of its series may be recorded with one)."""
        return tuple(r.dose_number for r in self.places)

    def slots(self, birth: date, first_on: date | None) -> tuple[DoseRule, ...]:
        """The places to fill when the first valid dose is on ``first_on`` (catch-up plans)."""
        return self.lead.slots(birth, first_on) if len(self.series) == 1 else self.places

    def slot(self, slots: tuple[DoseRule, ...], k: int) -> DoseRule | None:
        """The ``k``-th place (0-based); past the last, the last series' revaccinations if any."""
        if len(self.series) == 1:
            return self.lead.slot(slots, k)
        if k < len(slots):
            return slots[k]
        last = self.series[-1]
        if slots is not self.places or last.booster_every is None or not last.doses:
            return None
        return booster_rule(last, last.doses[-1].dose_number + 1 + k - len(slots))

    def upper_age(self, product: Series, rule: DoseRule) -> Age | None:
        """The age from which a dose of ``product`` no longer counts in ``rule``'s place.

        In its own series' place: the place's ``max_age``. In another series' place
        of the chain: the product's own upper age (its last dose's ``max_age``):
        Penta as the DTP booster stops at 5 years (Hib), DTP as a primary dose at 7.
        """
        if rule.antigen == product.antigen or not product.doses:
            return rule.max_age
        return product.doses[-1].max_age

    def label(self) -> str:
        return "/".join(self.antigens)


def booster_rule(s: Series, n: int) -> DoseRule:
    return DoseRule(
        antigen=s.antigen,
        dose_number=n,
        age=s.booster_from_age or ZERO_AGE,
        min_age=s.booster_from_age or ZERO_AGE,
        min_interval=s.booster_min_interval or s.booster_every,
        max_age=s.booster_max_age,
        after=(s.antigen, n - 1),
        booster=True,
    )


@dataclass(frozen=True)
class Calendar:
    country: str
    source: str
    code_system: str
    #: the series scheduled by age (what the schedule, worklists, coverage and synth read)
    series: tuple[Series, ...]
    vaccines: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, str] = field(default_factory=dict)
    #: the series given on indication: recorded and counted, never due
    on_indication: tuple[Series, ...] = ()

    @property
    def all_series(self) -> tuple[Series, ...]:
        """Every series a dose may be recorded for: the scheduled ones, then on indication."""
        return self.series + self.on_indication

    @cached_property
    def _index(self) -> tuple[dict[str, Series], dict[tuple[str, int], DoseRule]]:
        """Series by antigen and rules by (antigen, dose): the first in pack order wins."""
        series: dict[str, Series] = {}
        rules: dict[tuple[str, int], DoseRule] = {}
        for s in self.all_series:
            series.setdefault(s.antigen, s)
        for s in series.values():
            for r in s.doses:
                rules.setdefault((s.antigen, r.dose_number), r)
        return series, rules

    @cached_property
    def _chains(self) -> tuple[tuple[Chain, ...], dict[str, Chain]]:
        """The chains (a series and those that ``continue`` it), ordered so that one whose
        places count from another chain's dose (KZ: Td after DTP 5) comes after it."""
        index = self._index[0]
        members: dict[str, list[Series]] = {}
        head: dict[str, str] = {}
        for s in index.values():
            if s.continues is not None and s.continues in head:
                root = head[s.continues]
                members[root].append(s)
            else:
                root = s.antigen
                members[root] = [s]
            head[s.antigen] = root
        by_root = {root: Chain(tuple(ss)) for root, ss in members.items()}
        done: dict[str, Chain] = {}

        def visit(c: Chain, path: tuple[str, ...]) -> None:
            root = c.lead.antigen
            if root in done or root in path:
                return
            for r in c.places:
                if r.after is not None and r.after[0] not in c.antigens and r.after[0] in head:
                    visit(by_root[head[r.after[0]]], (*path, root))
            done[root] = c

        for c in by_root.values():
            visit(c, ())
        chains = tuple(done.values())
        return chains, {a: c for c in chains for a in c.antigens}

    @property
    def counting_order(self) -> tuple[Chain, ...]:
        """Chains so that one whose first place counts from another's dose comes after it."""
        return self._chains[0]

    def chain(self, antigen: str) -> Chain | None:
        """The chain a series' doses count in (None: not in the calendar)."""
        return self._chains[1].get(antigen)

    def accepts(self, antigen: str, dose_number: int) -> bool:
        """May a dose of this series be recorded with this number? (its chain's places, or a
        revaccination after the last)."""
        c = self.chain(antigen)
        if c is None:
            return False
        return dose_number in c.numbers or self.rule(antigen, dose_number) is not None

    def get(self, antigen: str) -> Series | None:
        return self._index[0].get(antigen)

    def rule(self, antigen: str, dose_number: int) -> DoseRule | None:
        found = self._index[1].get((antigen, dose_number))
        if found is not None:
            return found
        s = self._index[0].get(antigen)
        if s is None:
            return None
        if s.booster_every is not None and s.doses and dose_number > s.doses[-1].dose_number:
            return booster_rule(s, dose_number)
        return None


def _parse_after(value: Any) -> tuple[str, int] | None:
    if value is None:
        return None
    antigen, _, n = str(value).partition("/")
    return antigen, int(n)


def _catch_up(antigen: str, rules: list[DoseRule], entries: list[dict[str, Any]]) -> list[CatchUp]:
    """The pack's ``catch_up`` plans, checked: bands in order, apart, within the series."""
    out: list[CatchUp] = []
    day0 = date(2001, 1, 1)
    last_until: date | None = None
    for c in entries:
        start, until = parse_age(c["from_age"]), parse_age(c["until_age"])
        n = int(c["doses"])
        if start is None or until is None or add_age(day0, start) >= add_age(day0, until):
            raise pack.PackError(f"{antigen} catch_up: from_age must be before until_age")
        if last_until is not None and add_age(day0, start) < last_until:
            raise pack.PackError(f"{antigen} catch_up: age bands overlap or are out of order")
        if not 1 <= n <= len(rules):
            raise pack.PackError(f"{antigen} catch_up: doses must be 1 to {len(rules)}")
        if not c.get("source"):
            raise pack.PackError(f"{antigen} catch_up: every plan names its source")
        interval = parse_age(c.get("min_interval"))
        slots = [rules[0]]
        for r in rules[1:n]:
            slots.append(
                replace(
                    r,
                    min_interval=interval or r.min_interval,
                    after=(antigen, slots[-1].dose_number),
                )
            )
        out.append(CatchUp(start, until, tuple(slots), interval, str(c["source"])))
        last_until = add_age(day0, until)
    return out


def _continued(
    antigen: str, continues: str | None, earlier: list[Series], spec: dict[str, Any]
) -> Series | None:
    """The series ``antigen`` continues, checked: earlier in the pack, not continued twice,
    neither with a catch-up plan, and the numbers go on (DTP 4 after Penta 3)."""
    if continues is None:
        return None
    before = next((x for x in earlier if x.antigen == continues), None)
    if before is None or not before.doses:
        raise pack.PackError(f"{antigen} continues {continues!r}: no such series before it")
    if any(x.continues == continues for x in earlier):
        raise pack.PackError(f"{antigen} continues {continues}, which another series continues")
    if before.catch_up or spec.get("catch_up"):
        raise pack.PackError(f"{antigen} continues {continues}: a chain has no catch-up plan")
    first = min((int(d["dose"]) for d in spec["doses"]), default=0)
    if first <= before.doses[-1].dose_number:
        raise pack.PackError(
            f"{antigen} continues {continues}: its doses are numbered after "
            f"{continues} {before.doses[-1].dose_number}"
        )
    return before


def _on_indication_doses(antigen: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """An on-indication series' doses, checked: no recommended or upper age (it is never
    scheduled), no catch-up plan, no chain, intervals only from its own doses."""
    where = f"series {antigen} (kind: {ON_INDICATION})"
    for key in ("catch_up", "continues"):
        if spec.get(key):
            raise pack.PackError(f"{where}: {key} is for series scheduled by age")
    out = []
    for d in spec["doses"]:
        for key in ("age", "max_age"):
            if key in d:
                raise pack.PackError(
                    f"{where} dose {d.get('dose')}: no {key} (it is never due by age; "
                    "give min_age and min_interval only)"
                )
        after = _parse_after(d.get("after"))
        if after is not None and after[0] != antigen:
            raise pack.PackError(f"{where} dose {d.get('dose')}: after names another series")
        out.append({**d, "age": d.get("min_age", "0d")})
    return out


def _build(country: str, data: dict[str, Any]) -> Calendar:
    series: list[Series] = []
    on_indication: list[Series] = []
    for s in data.get("series", []):
        antigen = s["antigen"]
        kind = s.get("kind", BY_AGE)
        if kind not in KINDS:
            raise pack.PackError(f"series {antigen}: kind must be one of {', '.join(KINDS)}")
        continues = s.get("continues")
        if kind == ON_INDICATION:
            doses = _on_indication_doses(antigen, s)
            before = None
        else:
            doses = s["doses"]
            before = _continued(antigen, continues, series, s)
        rules: list[DoseRule] = []
        for d in doses:
            n = int(d["dose"])
            after = _parse_after(d.get("after"))
            if after is None and rules:
                after = (antigen, rules[-1].dose_number)
            if after is None and before is not None:
                after = (before.antigen, before.doses[-1].dose_number)
            age = parse_age(d["age"])
            assert age is not None
            rules.append(
                DoseRule(
                    antigen=antigen,
                    dose_number=n,
                    age=age,
                    min_age=parse_age(d.get("min_age", d["age"])) or age,
                    min_interval=parse_age(d.get("min_interval")),
                    max_age=parse_age(d.get("max_age")),
                    after=after,
                )
            )
        b = s.get("booster") or {}
        (on_indication if kind == ON_INDICATION else series).append(
            Series(
                antigen=antigen,
                label=s["label"],
                vaccines=tuple(s["vaccines"]),
                sex=s.get("sex"),
                doses=tuple(rules),
                source=s.get("source", ""),
                booster_every=parse_age(b.get("every")),
                booster_from_age=parse_age(b.get("from_age")),
                booster_min_interval=parse_age(b.get("min_interval")),
                booster_max_age=parse_age(b.get("max_age")),
                catch_up=tuple(_catch_up(antigen, rules, s.get("catch_up") or [])),
                continues=None if kind == ON_INDICATION else continues,
                kind=kind,
                atc=str(s.get("atc") or ""),
            )
        )
    indicated = {s.antigen for s in on_indication}
    for s in series:
        for r in s.doses:
            if r.after is not None and r.after[0] in indicated:
                raise pack.PackError(
                    f"series {s.antigen} dose {r.dose_number}: after {r.after[0]}, a series "
                    "given on indication (a scheduled dose never waits for one)"
                )
    vaccines = {v["code"]: v for v in data.get("vaccines", [])}
    sites = {x["code"]: x["label"] for x in data.get("sites", [])}
    return Calendar(
        country=country,
        source=data.get("source", ""),
        code_system=data.get("code_system", ""),
        series=tuple(series),
        vaccines=vaccines,
        sites=sites,
        on_indication=tuple(on_indication),
    )


@lru_cache
def calendar(country: str) -> Calendar:
    """The country's calendar from ``<CC>/immunization.yaml``."""
    cc = country.upper()
    return _build(cc, pack.immunization(cc))


def cal_of(country: str | Calendar) -> Calendar:
    return country if isinstance(country, Calendar) else calendar(country)
