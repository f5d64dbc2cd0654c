"""Doses count in order: which recorded dose fills which place of its series. Pure.

WHO (immunization in practice; the position papers' summary tables "Table 2"
and "Table 3") and ACIP (General Best Practice Guidelines, "Timing and
spacing") count a series the same way, and so does ``count_doses``:

- A person's doses of one series (``antigen``) are taken in date order
  (entered-in-error ones left out; on one day, a chain's series in pack order,
  Penta before DTP, then stored rows by id, then new ones as given). The
  number the clinician recorded on a dose is kept, but it does not decide
  where the dose counts.
- Each dose is judged against the next open slot of the series: valid when
  given at or after the slot's minimum age, before the upper age (``max_age``,
  exclusive: WHO gives no rotavirus dose after 24 months, no Hib after 5
  years; ``too_late_age``) and at least the slot's minimum interval after the
  previous valid dose (the slot's ``after``: the series' previous slot, or
  another series' dose). A valid dose fills the slot; its *counted position*
  is the slot's dose number. A dose recorded as "dose 3" with no valid doses
  1-2 is the first valid dose: it counts as dose 1 (a mismatch the card flags
  for review), never dose 3.
- Series that the pack chains (``continues``) count as one sequence: WHO
  counts DTP-containing doses whatever the product, so in Uzbekistan Penta
  and DTP doses fill Penta 1-3 then the DTP booster (4) in date order. A lone
  DTP dose is DTP-containing dose 1 (in Penta 1's place), never the booster:
  the booster's 6 months count from the third DTP-containing dose. The upper
  age is the product's (``rules.Chain.upper_age``).
- An invalid dose does not count and does not move the series on; the repeat
  of that slot waits the slot's minimum interval (4 weeks when it has none,
  ``REPEAT_AFTER_INVALID``) after the invalid dose (ACIP: "the repeat dose
  should be spaced after the invalid dose by the recommended minimum
  interval").
- A series is never restarted: a late dose simply fills the next slot.
- The first valid dose decides the plan: a late starter in an age band of the
  series' ``catch_up`` follows the reduced series (``rules.CatchUp``).
- A dose once the series is complete (every slot filled, no revaccination)
  does not count: ``series_complete``.
- Doses of an antigen the calendar does not have are left as recorded.

So the set of (counted position, date) of a person's doses depends only on
the dates and antigens, never on the numbers typed or the order of entry
(property-tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from salomat.domains.immunization.service.rules import (
    Age,
    Calendar,
    Chain,
    DoseRule,
    add_age,
    cal_of,
)

__all__ = [
    "REPEAT_AFTER_INVALID",
    "Counted",
    "DoseLike",
    "GivenDose",
    "Tally",
    "Validity",
    "check_dose",
    "count_doses",
    "counting_index",
    "tally",
    "tally_rows",
]

#: a dose repeated because the first was invalid waits this long after the invalid one
#: when its rule has no interval of its own (WHO / ACIP: doses of live vaccines 4 weeks apart)
REPEAT_AFTER_INVALID = Age(days=28)


class DoseLike(Protocol):
    antigen: str
    dose_number: int
    given_on: date


@dataclass(frozen=True)
class GivenDose:
    """A dose as the engine needs it (``valid`` is ignored: the engine judges)."""

    antigen: str
    dose_number: int
    given_on: date
    valid: bool = True
    status: str = "completed"


@dataclass(frozen=True)
class Validity:
    valid: bool
    #: too_early_age | too_late_age | too_early_interval | series_complete | None
    code: str | None
    reason: str | None
    earliest_on: date | None
    #: the position it counts as (the slot's dose number); None when it does not count
    counted_as: int | None = None


@dataclass(frozen=True, slots=True)
class Counted:
    """The verdict on one recorded dose."""

    #: the place it fills in its series (None: it does not count)
    counted_as: int | None
    valid: bool
    code: str | None = None
    reason: str | None = None
    #: the first day the slot it was judged for could be given
    earliest_on: date | None = None
    #: the antigen is not in the calendar: left as recorded
    unknown: bool = False

    @property
    def validity(self) -> Validity:
        return Validity(self.valid, self.code, self.reason, self.earliest_on, self.counted_as)


@dataclass
class Tally:
    """A person's counted doses, as the schedule reads them."""

    #: (antigen, counted position) -> date given
    given: dict[tuple[str, int], date] = field(default_factory=dict)
    #: (antigen, slot) -> the earliest day its repeat may be given, after an invalid dose
    floors: dict[tuple[str, int], date] = field(default_factory=dict)
    #: antigen -> date of its first valid dose
    first: dict[str, date] = field(default_factory=dict)
    #: antigen -> the slots it follows (the calendar's, or a catch-up plan's)
    slots: dict[str, tuple[DoseRule, ...]] = field(default_factory=dict)


def _judge(
    rule: DoseRule,
    birth: date,
    given_on: date,
    counted: dict[tuple[str, int], date],
    floor: date | None,
    upper: Age | None = None,
    product: str | None = None,
) -> tuple[bool, str | None, str | None, date | None]:
    """(valid, code, reason, earliest day) for a dose given on ``given_on`` in ``rule``'s slot.

    ``upper``: the age from which the dose no longer counts (the product's upper age,
    exclusive); ``product``: the series of the dose given, when it names it.
    """
    min_age_on = add_age(birth, rule.min_age)
    if given_on < min_age_on:
        return (
            False,
            "too_early_age",
            f"before the minimum age ({rule.min_age}; not before {min_age_on.isoformat()})",
            min_age_on,
        )
    if upper is not None:
        upper_on = add_age(birth, upper)
        if given_on >= upper_on:
            return (
                False,
                "too_late_age",
                f"at or after the upper age of {product or rule.antigen} ({upper}; "
                f"not from {upper_on.isoformat()})",
                None,
            )
    if floor is not None and given_on < floor:
        return (
            False,
            "too_early_interval",
            f"too soon after the invalid {rule.antigen} dose {rule.dose_number}; "
            f"not before {floor.isoformat()}",
            floor,
        )
    earliest = min_age_on
    if rule.after is not None and rule.min_interval is not None and rule.after in counted:
        prev = counted[rule.after]
        after_on = add_age(prev, rule.min_interval)
        if given_on < after_on:
            a, n = rule.after
            return (
                False,
                "too_early_interval",
                f"less than the minimum interval ({rule.min_interval}) after {a} dose {n} "
                f"of {prev.isoformat()}; not before {after_on.isoformat()}",
                after_on,
            )
        earliest = max(earliest, after_on)
    if floor is not None:
        earliest = max(earliest, floor)
    return True, None, None, earliest


def _count_chain(
    c: Chain,
    cal: Calendar,
    birth: date,
    items: list[tuple[int, date, str]],
    out: list[Counted | None] | None,
    t: Tally,
    born: dict[int, date] | None = None,
) -> None:
    """Fill the chain's places with its doses, in date order (``out``: verdicts, if wanted).

    ``items``: (index, date given, series of the dose). A place's minimum age and
    interval are the place's; the upper age is the product's (``Chain.upper_age``).
    ``born``: the person's ``id(age) -> birth + age`` so far, shared by the chains of one
    person (the calendar's ages are few and held by the calendar): each is computed once.
    """
    slots = c.places
    head = c.series[0]  # ``c.lead``
    lead = head.antigen
    single = len(c.series) == 1
    planned = single and bool(head.catch_up)  # else the places never change
    k = 0
    floors: dict[int, date] = {}
    given = t.given
    min_on: dict[int, date] = {} if born is None else born  # id(age) -> birth + that age
    upper_on: dict[tuple[int, str], date | None] = {}  # (id(rule), product) -> upper date
    for i, on, antigen in items:
        rule = slots[k] if k < len(slots) else c.slot(slots, k)
        if rule is None:
            if out is not None:
                n = len(slots)
                plan = "" if slots is c.places else ", late-start schedule"
                out[i] = Counted(
                    None,
                    False,
                    "series_complete",
                    f"the {c.label()} series was already complete ({n} "
                    f"dose{'s' if n > 1 else ''}{plan}); this dose does not count",
                )
            continue
        # the usual case decided in line: old enough, young enough, no repeat floor, far enough
        first_on = min_on.get(id(rule.min_age))
        if first_on is None:
            first_on = min_on[id(rule.min_age)] = add_age(birth, rule.min_age)
        if single:
            upper = rule.max_age  # ``upper_age`` of the place's own series
            if upper is None:
                last_on = None
            else:
                last_on = min_on.get(id(upper))
                if last_on is None:
                    last_on = min_on[id(upper)] = add_age(birth, upper)
        else:
            key = (id(rule), antigen)
            if key in upper_on:
                last_on = upper_on[key]
            else:
                upper = c.upper_age(cal.get(antigen) or c.lead, rule)
                last_on = upper_on[key] = add_age(birth, upper) if upper is not None else None
        ok = on >= first_on and not floors and (last_on is None or on < last_on)
        if ok and rule.after is not None and rule.min_interval is not None:
            prev = given.get(rule.after)
            ok = prev is None or on >= add_age(prev, rule.min_interval)
        if ok:
            valid, code, reason, earliest = True, None, None, None
        else:
            product = c.lead if single else cal.get(antigen) or c.lead
            valid, code, reason, earliest = _judge(
                rule,
                birth,
                on,
                given,
                floors.get(k),
                c.upper_age(product, rule),
                antigen,
            )
        if valid:
            given[(rule.antigen, rule.dose_number)] = on
            if k == 0:
                t.first[lead] = on
                if planned:  # a catch-up plan may replace the places
                    slots = c.slots(birth, on)
            k += 1
            if out is not None:
                if earliest is None:
                    earliest = _judge(rule, birth, on, given, floors.get(k - 1))[3]
                out[i] = Counted(rule.dose_number, True, None, None, earliest)
        else:
            step = rule.min_interval or REPEAT_AFTER_INVALID
            floors[k] = max(floors.get(k, on), add_age(on, step))
            t.floors[(rule.antigen, rule.dose_number)] = floors[k]
            if out is not None:
                out[i] = Counted(None, False, code, reason, earliest)
    t.slots[lead] = slots


def _count(
    birth: date, doses: Sequence[Any], cal: Calendar, verdicts: bool = True
) -> tuple[list[Counted | None], Tally]:
    out: list[Counted | None] = [None] * len(doses)
    keyed: list[tuple[date, int, int, int, int]] = []
    for i, d in enumerate(doses):
        if getattr(d, "status", "completed") == "entered_in_error":
            continue
        if cal.get(d.antigen) is None:
            out[i] = Counted(
                None,
                bool(getattr(d, "valid", True)),
                None,
                getattr(d, "invalid_reason", None),
                unknown=True,
            )
            continue
        ident = getattr(d, "id", None)
        c = cal.chain(d.antigen)
        rank = c.antigens.index(d.antigen) if c is not None and len(c.series) > 1 else 0
        keyed.append((d.given_on, rank, 0 if ident is not None else 1, ident or 0, i))
    keyed.sort()
    by_chain: dict[str, list[tuple[int, date, str]]] = {}
    for on, _, _, _, i in keyed:
        antigen = doses[i].antigen
        c = cal.chain(antigen)
        assert c is not None
        by_chain.setdefault(c.lead.antigen, []).append((i, on, antigen))
    t = Tally()
    for c in cal.counting_order:
        items = by_chain.get(c.lead.antigen)
        if items:
            _count_chain(c, cal, birth, items, out if verdicts else None, t)
    return out, t


def count_doses(
    birth_date: date, doses: Iterable[Any], country: str | Calendar
) -> list[Counted | None]:
    """The verdict on each dose, in the order given (None for a dose entered in error).

    ``doses``: objects with ``antigen``, ``given_on`` and optionally ``status``
    and ``id`` (ties on one day: stored rows first, by id, then the rest in
    the order given). Their ``dose_number`` and ``valid`` are not read.
    """
    return _count(birth_date, list(doses), cal_of(country))[0]


def tally(birth_date: date, doses: Iterable[Any], country: str | Calendar) -> Tally:
    """The counted doses, repeat floors, first dates and plans of one person."""
    return _count(birth_date, list(doses), cal_of(country), verdicts=False)[1]


def counting_index(cal: Calendar) -> dict[str, tuple[int, int]]:
    """For ``tally_rows``: each calendar antigen's chain (its place in ``counting_order``)
    and rank in the chain (the order of a chain's series on one day; -1 in a lone series).

    What ``_count`` asks the calendar per dose (``get``, ``chain``, the index in the
    chain), asked once per calendar: a worklist prepares it once for every child.
    """
    chains = cal.counting_order
    position = {id(c): i for i, c in enumerate(chains)}
    out: dict[str, tuple[int, int]] = {}
    for s in cal.all_series:
        c = cal.chain(s.antigen)
        if c is None or cal.get(s.antigen) is None:
            continue
        out[s.antigen] = (position[id(c)], c.antigens.index(s.antigen) if len(c.series) > 1 else -1)
    return out


def tally_rows(
    birth_date: date,
    rows: Iterable[tuple[str, date]],
    cal: Calendar,
    index: dict[str, tuple[int, int]],
) -> Tally:
    """``tally`` for stored doses as plain ``(antigen, given_on)`` tuples (a bulk read's).

    ``rows`` leave out the doses entered in error; ``index`` is ``counting_index(cal)``.
    The same order as ``_count`` (date, then the chain's series order) and the same
    ``_count_chain``, without the per-dose attribute reads and calendar look-ups
    (property-tested equal to ``tally``). ``_count`` breaks the remaining ties by id, but
    doses of one series on one day are alike to the count (it reads their date and
    series only), so their order among themselves does not change the tally.
    """
    groups: dict[int, list[tuple[int, date, str]]] = {}
    multi: dict[int, bool] = {}
    for antigen, on in rows:
        pos = index.get(antigen)
        if pos is None:
            continue  # an antigen the calendar does not have: left as recorded
        items = groups.get(pos[0])
        if items is None:
            items = groups[pos[0]] = []
            multi[pos[0]] = pos[1] >= 0
        items.append((0, on, antigen))
    t = Tally()
    chains = cal.counting_order
    born: dict[int, date] = {}
    for i in sorted(groups):
        items = groups[i]
        if multi[i]:
            items.sort(key=lambda x: (x[1], index[x[2]][1]))
        else:
            items.sort()  # one series: by date
        _count_chain(chains[i], cal, birth_date, items, None, t, born)
    return t


def check_dose(
    birth_date: date,
    antigen: str,
    dose_number: int,
    given_on: date,
    doses: Iterable[Any],
    country: str | Calendar,
) -> Validity:
    """Would a dose given on ``given_on`` count, and as which dose? ``doses``: the others.

    The new dose is counted with the others in date order (after any recorded
    on the same day), so ``dose_number`` (what the clinician chose) does not
    decide: ``counted_as`` says where it counts. Raises ``LookupError`` for an
    antigen or dose number the calendar does not have.
    """
    cal = cal_of(country)
    if not cal.accepts(antigen, dose_number):
        raise LookupError(f"{antigen}/{dose_number}")
    new = GivenDose(antigen, dose_number, given_on)
    result = _count(birth_date, [*doses, new], cal)[0][-1]
    assert result is not None
    return result.validity
