"""Doses count in order, and late starters follow the catch-up series (the engine, pure).

The reference ``who_count`` below is written from the sources, not from the
engine or the pack: WHO "Table 2: Recommended routine immunizations for
children" and "Table 3: Recommendations for interrupted or delayed routine
immunization" (summaries of the WHO position papers), the WHO PCV position
paper 2019 (begun at 12-23 months: 2 doses at least 8 weeks apart), the WHO
rotavirus position paper 2021 (from 6 weeks, 4 weeks apart, not after 24
months), and ACIP's General Best Practice Guidelines on timing and spacing (a
dose given too early does not count; it is repeated no sooner than the
minimum interval after the invalid dose; a series is never restarted). Where
Uzbekistan's calendar sets its own spacing (PCV 2, 3 and 12 months; booster
from 9 months) the reference says so beside the number.
"""

from __future__ import annotations

import calendar as _cal
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.country import pack
from salomat.domains.immunization.service import schedule as s
from salomat.domains.immunization.service.schedule import GivenDose

# ---- the reference, from the sources --------------------------------------------------------


def months_after(born: date, months: int) -> date:
    """The same day ``months`` calendar months later (the last day of a shorter month)."""
    y, m = divmod(born.month - 1 + months, 12)
    year, month = born.year + y, m + 1
    return date(year, month, min(born.day, _cal.monthrange(year, month)[1]))


#: a slot: (minimum age as (months, days), minimum days after the previous counted dose)
Slot = tuple[tuple[int, int], int | None]

#: the routine series (WHO Table 2; the UZ calendar's PCV spacing noted)
ROUTINE: dict[str, list[Slot]] = {
    # DTP-containing vaccine: first dose from 6 weeks, then at least 4 weeks apart (3 doses)
    "penta": [((0, 42), None), ((0, 0), 28), ((0, 0), 28)],
    # rotavirus (WHO 2021): from 6 weeks, at least 4 weeks apart; UZ gives 3 doses
    "rota": [((0, 42), None), ((0, 0), 28), ((0, 0), 28)],
    # PCV 2p+1: from 6 weeks; UZ spaces the primary doses 1 month (at least 4 weeks);
    # booster from 9 months and at least 8 weeks after the second dose
    "pcv": [((0, 42), None), ((0, 0), 28), ((9, 0), 56)],
}


def pcv_late(born: date, first: date) -> list[Slot] | None:
    """WHO PCV 2019: begun at 12-23 months, 2 doses 8 weeks apart; ACIP: from 24 months, 1."""
    if months_after(born, 12) <= first < months_after(born, 24):
        return [((0, 42), None), ((0, 0), 56)]
    if months_after(born, 24) <= first < months_after(born, 60):
        return [((0, 42), None)]
    return None


#: without an interval of its own, a repeat waits 4 weeks after the invalid dose (ACIP)
REPEAT_DAYS = 28


def who_count(born: date, antigen: str, days: list[date]) -> list[date]:
    """The dates of the doses that count, in order: the n-th is dose n."""
    plan = ROUTINE[antigen]
    counted: list[date] = []
    last_invalid: dict[int, date] = {}
    for day in sorted(days):
        k = len(counted)
        if k >= len(plan):
            continue  # the series is complete: an extra dose counts for nothing
        (months, plus), gap = plan[k]
        ok = day >= months_after(born, months) + timedelta(days=plus)
        if ok and k and gap is not None:
            ok = day >= counted[-1] + timedelta(days=gap)
        if ok and k in last_invalid:
            ok = day >= last_invalid[k] + timedelta(days=gap or REPEAT_DAYS)
        if ok:
            counted.append(day)
            if k == 0 and antigen == "pcv":
                plan = pcv_late(born, day) or plan
        else:
            last_invalid[k] = day
    return counted


def engine_count(born: date, antigen: str, doses: list[GivenDose]) -> list[date]:
    out = sorted(
        (c.counted_as, d.given_on)
        for d, c in zip(doses, s.count_doses(born, doses, "UZ"), strict=True)
        if c is not None and c.counted_as is not None and d.antigen == antigen
    )
    assert [n for n, _ in out] == list(range(1, len(out) + 1)), out
    return [on for _, on in out]


# ---- the reference agrees with the engine ---------------------------------------------------

births = st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 6, 1))


#: ages and gaps near the rules' edges: 6 weeks, 4 and 8 weeks, 9, 12, 24 months
AGES = st.one_of(
    st.integers(min_value=0, max_value=1100),
    st.integers(min_value=38, max_value=46),
    st.integers(min_value=268, max_value=278),
    st.integers(min_value=360, max_value=370),
    st.integers(min_value=725, max_value=735),
)
GAPS = st.one_of(
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=25, max_value=31),
    st.integers(min_value=53, max_value=59),
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[date, str, list[GivenDose]]:
    born = draw(births)
    antigen = draw(st.sampled_from(sorted(ROUTINE)))
    offsets = [draw(AGES)]
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        offsets.append(offsets[-1] + draw(GAPS))
    typed = draw(st.lists(st.integers(1, 3), min_size=len(offsets), max_size=len(offsets)))
    doses = [
        GivenDose(antigen, n, born + timedelta(days=o)) for o, n in zip(offsets, typed, strict=True)
    ]
    return born, antigen, draw(st.permutations(doses))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=histories())
def test_the_engine_counts_as_the_who_rules_do(h: tuple[date, str, list[GivenDose]]) -> None:
    born, antigen, doses = h
    assert engine_count(born, antigen, doses) == who_count(
        born, antigen, [d.given_on for d in doses]
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=histories(), data=st.data())
def test_the_counted_doses_do_not_depend_on_typed_numbers_or_entry_order(
    h: tuple[date, str, list[GivenDose]], data: st.DataObject
) -> None:
    born, _, doses = h
    renumbered = [
        GivenDose(
            d.antigen, data.draw(st.integers(1, 3)), d.given_on, valid=data.draw(st.booleans())
        )
        for d in doses
    ]
    shuffled = data.draw(st.permutations(renumbered))

    def counted(ds: list[GivenDose]) -> set[tuple[int | None, date]]:
        return {
            (c.counted_as, d.given_on)
            for d, c in zip(ds, s.count_doses(born, ds, "UZ"), strict=True)
            if c is not None and c.counted_as is not None
        }

    assert counted(doses) == counted(renumbered) == counted(shuffled)
    today = born + timedelta(days=1200)

    def plan(ds: list[GivenDose]) -> list[tuple[str, int, str, date | None]]:
        return [
            (i.antigen, i.dose_number, i.status, i.given_on)
            for i in s.schedule_for(born, "female", ds, [], today, "UZ")
        ]

    assert plan(doses) == plan(shuffled)


# ---- the case and the rule's boundaries ---------------------------------------------

BORN = date(2025, 1, 15)


def _counted(doses: list[GivenDose]) -> list[tuple[int | None, bool, str | None]]:
    return [
        (c.counted_as, c.valid, c.code) for c in s.count_doses(BORN, doses, "UZ") if c is not None
    ]


def _item(items: list[s.DueDose], antigen: str, n: int) -> s.DueDose:
    return next(i for i in items if i.antigen == antigen and i.dose_number == n)


def test_a_lone_dose_recorded_as_3_is_dose_1_and_the_series_goes_on_from_there() -> None:
    lone = [GivenDose("penta", 3, date(2025, 5, 15))]
    assert _counted(lone) == [(1, True, None)]
    items = s.schedule_for(BORN, "male", lone, [], date(2025, 5, 20), "UZ")
    assert _item(items, "penta", 1).status == "given"
    assert _item(items, "penta", 1).given_on == date(2025, 5, 15)
    p2 = _item(items, "penta", 2)
    assert (p2.status, p2.earliest_on) == ("upcoming", date(2025, 6, 12))  # 4 weeks on
    assert _item(items, "penta", 3).status == "upcoming"
    # check_dose says where a new dose would count, whatever number it carries
    v = s.check_dose(BORN, "penta", 3, date(2025, 6, 12), lone, "UZ")
    assert (v.valid, v.counted_as) == (True, 2)
    v = s.check_dose(BORN, "penta", 2, date(2025, 6, 11), lone, "UZ")
    assert (v.valid, v.code, v.counted_as) == (False, "too_early_interval", None)


def test_an_earlier_dose_entered_later_moves_the_others_on() -> None:
    later = GivenDose("penta", 1, date(2025, 5, 15))
    earlier = GivenDose("penta", 1, date(2025, 4, 1))
    assert _counted([later, earlier]) == [(2, True, None), (1, True, None)]
    # too close to the earlier one: the later dose no longer counts, and says why
    close = GivenDose("penta", 1, date(2025, 4, 28))
    got = s.count_doses(BORN, [close, earlier], "UZ")
    assert got[0] is not None
    assert (got[0].counted_as, got[0].code) == (None, "too_early_interval")
    assert "2025-04-29" in (got[0].reason or "")


def test_a_dose_past_the_last_place_does_not_count() -> None:
    doses = [GivenDose("penta", n, date(2025, 3, 1) + timedelta(days=28 * n)) for n in (1, 2, 3)]
    doses.append(GivenDose("penta", 3, date(2025, 9, 1)))
    got = _counted(doses)
    assert got[:3] == [(1, True, None), (2, True, None), (3, True, None)]
    assert got[3] == (None, False, "series_complete")
    # a series with revaccinations goes on: Td 3 is the booster
    born = date(1990, 6, 1)
    td = [GivenDose("td", 1, date(1997, 6, 1)), GivenDose("td", 1, date(2006, 6, 1))]
    td.append(GivenDose("td", 1, date(2020, 1, 10)))
    assert [c.counted_as for c in s.count_doses(born, td, "UZ") if c] == [1, 2, 3]


def test_the_dtp_booster_counts_from_the_third_counted_penta() -> None:
    # three pentas typed 1, 1, 2: they are Penta 1-3; the booster is 6 months after the third
    pentas = [
        GivenDose("penta", 1, date(2025, 3, 15)),
        GivenDose("penta", 1, date(2025, 4, 15)),
        GivenDose("penta", 2, date(2025, 12, 1)),
    ]
    v = s.check_dose(BORN, "dtp", 4, date(2026, 5, 31), pentas, "UZ")
    assert (v.valid, v.code, v.earliest_on) == (False, "too_early_interval", date(2026, 6, 1))
    v = s.check_dose(BORN, "dtp", 4, date(2026, 6, 1), pentas, "UZ")
    assert (v.valid, v.counted_as) == (True, 4)


# ---- catch-up: PCV begun late (WHO 2019; ACIP from 24 months) ---------------------------------


@pytest.mark.parametrize(
    ("first", "needed"),
    [
        (date(2026, 1, 14), 3),  # one day before 12 months: the calendar's 2 + 1
        (date(2026, 1, 15), 2),  # at 12 months: 2 doses
        (date(2027, 1, 14), 2),  # one day before 24 months
        (date(2027, 1, 15), 1),  # at 24 months: one dose
        (date(2030, 1, 14), 1),  # one day before 5 years
    ],
)
def test_pcv_catch_up_depends_on_the_age_at_the_first_dose(first: date, needed: int) -> None:
    doses = [GivenDose("pcv", 1, first)]
    today = first + timedelta(days=1)
    items = [i for i in s.schedule_for(BORN, "male", doses, [], today, "UZ") if i.antigen == "pcv"]
    assert [i.status for i in items if i.status == "not_needed"] == ["not_needed"] * (3 - needed)
    assert [i.dose_number for i in items if i.status != "not_needed"] == list(range(1, needed + 1))
    if needed == 2:
        p2 = _item(items, "pcv", 2)
        assert p2.earliest_on == first + timedelta(days=56)  # 8 weeks, not the calendar's 4


def test_pcv_catch_up_second_dose_eight_weeks_after_the_first_boundary() -> None:
    first = date(2026, 3, 1)  # 13 1/2 months
    doses = [GivenDose("pcv", 1, first)]
    for days, counted, code in ((55, None, "too_early_interval"), (56, 2, None)):
        v = s.check_dose(BORN, "pcv", 2, first + timedelta(days=days), doses, "UZ")
        assert (v.counted_as, v.code) == (counted, code), days
    doses.append(GivenDose("pcv", 2, first + timedelta(days=56)))
    extra = s.check_dose(BORN, "pcv", 3, first + timedelta(days=200), doses, "UZ")
    assert (extra.valid, extra.code) == (False, "series_complete")
    assert "late-start schedule" in (extra.reason or "")
    items = s.schedule_for(BORN, "male", doses, [], first + timedelta(days=60), "UZ")
    assert [i.status for i in items if i.antigen == "pcv"] == ["given", "given", "not_needed"]


def test_a_child_not_started_on_pcv_is_planned_by_the_age_a_first_dose_would_have() -> None:
    eleven = date(2026, 1, 14)  # 11 months and 30 days: the calendar's series
    items = s.schedule_for(BORN, "male", [], [], eleven, "UZ")
    assert [i.status for i in items if i.antigen == "pcv"] == ["overdue", "upcoming", "upcoming"]
    twelve = date(2026, 1, 15)
    items = s.schedule_for(BORN, "male", [], [], twelve, "UZ")
    assert [i.status for i in items if i.antigen == "pcv"] == ["overdue", "upcoming", "not_needed"]
    # the worklist's batch asks for the same dose
    due = s.DueOn("UZ", twelve).next_due(BORN, "male", [], [])
    assert ("pcv", 1) in {(d.antigen, d.dose_number) for d in due}


def test_the_worklist_follows_the_catch_up_interval() -> None:
    first = date(2026, 3, 1)
    doses = [GivenDose("pcv", 1, first)]
    # 4 weeks later the calendar's PCV 2 would be due; the catch-up waits 8 weeks
    at4 = s.DueOn("UZ", first + timedelta(days=28)).next_due(BORN, "male", doses, [])
    assert ("pcv", 2) not in {(d.antigen, d.dose_number) for d in at4}
    at8 = s.DueOn("UZ", first + timedelta(days=56)).next_due(BORN, "male", doses, [])
    assert ("pcv", 2) in {(d.antigen, d.dose_number) for d in at8}


# ---- upper ages: rotavirus 24 months (WHO 2021), Hib in Penta 5 years (WHO 2013) -------------


@pytest.mark.parametrize(
    ("antigen", "limit"), [("rota", date(2027, 1, 15)), ("penta", date(2030, 1, 15))]
)
def test_upper_age_one_day_before_at_and_after(antigen: str, limit: date) -> None:
    for today, status in (
        (limit - timedelta(days=1), "overdue"),
        (limit, "not_eligible"),
        (limit + timedelta(days=1), "not_eligible"),
    ):
        assert _item(s.schedule_for(BORN, "male", [], [], today, "UZ"), antigen, 1).status == status


@pytest.mark.parametrize("cc", ["UZ", "KZ"])
def test_every_catch_up_plan_names_its_source_and_the_papers_are_cited(cc: str) -> None:
    cal = s.calendar(cc)
    pcv = cal.get("pcv")
    assert pcv is not None
    assert [(len(c.rules), c.min_interval) for c in pcv.catch_up] == [
        (2, s.Age(days=56)),
        (1, None),
    ]
    assert all(c.source for c in pcv.catch_up)
    text = (pack.PACKS_DIR / cc / "immunization.yaml").read_text()
    assert "WER 94(8)" in text  # PCV 2019
    assert "Hib position paper" in text  # 2013
    if cc == "UZ":
        assert "WER 96(28)" in text  # rotavirus 2021


def test_a_malformed_catch_up_is_refused() -> None:
    from salomat.domains.immunization.service import rules

    data = {
        "series": [
            {
                "antigen": "pcv",
                "label": "PCV",
                "vaccines": ["pcv13"],
                "doses": [{"dose": 1, "age": "2m"}, {"dose": 2, "age": "3m"}],
                "catch_up": [{"from_age": "24m", "until_age": "12m", "doses": 1, "source": "x"}],
            }
        ]
    }
    with pytest.raises(pack.PackError):
        rules._build("XX", data)
    data["series"][0]["catch_up"] = [
        {"from_age": "12m", "until_age": "24m", "doses": 3, "source": "x"}
    ]
    with pytest.raises(pack.PackError):
        rules._build("XX", data)
    data["series"][0]["catch_up"] = [{"from_age": "12m", "until_age": "24m", "doses": 1}]
    with pytest.raises(pack.PackError):
        rules._build("XX", data)
