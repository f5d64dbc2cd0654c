"""Doses count in order, and late starters follow the catch-up series (the engine, pure).

The reference (``who_reference.who_count``) is written from the sources, not
from the engine or the pack: WHO Tables 2 and 3, the DTP, Hib, rotavirus and
PCV position papers, and ACIP's timing and spacing (see that module). Where
Uzbekistan's calendar sets its own spacing (PCV 2, 3 and 12 months; booster
from 9 months) the reference says so beside the number.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.country import pack
from salomat.domains.immunization.service import schedule as s
from salomat.domains.immunization.service.schedule import GivenDose
from tests.domains.immunization.who_reference import SEQUENCES, who_count

# ---- the reference agrees with the engine ---------------------------------------------------


def engine_count(born: date, sequence: str, doses: list[GivenDose]) -> list[tuple[date, str]]:
    """(date, product) of the doses the engine counts in the sequence, by counted place."""
    products = SEQUENCES[sequence][1]
    out = sorted(
        (c.counted_as, d.given_on, d.antigen)
        for d, c in zip(doses, s.count_doses(born, doses, "UZ"), strict=True)
        if c is not None and c.counted_as is not None and d.antigen in products
    )
    assert [n for n, _, _ in out] == list(range(1, len(out) + 1)), out
    return [(on, antigen) for _, on, antigen in out]


births = st.dates(min_value=date(2015, 1, 1), max_value=date(2026, 6, 1))


#: ages and gaps near the rules' edges: 6 weeks, 4 and 8 weeks, 6, 9, 12, 24 months, 5 and 7
#: years (the upper ages of rotavirus, Penta and DTP)
AGES = st.one_of(
    st.integers(min_value=0, max_value=1100),
    st.integers(min_value=38, max_value=46),
    st.integers(min_value=268, max_value=278),
    st.integers(min_value=360, max_value=370),
    st.integers(min_value=725, max_value=735),
    st.integers(min_value=1820, max_value=1830),
    st.integers(min_value=2550, max_value=2560),
)
GAPS = st.one_of(
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=25, max_value=31),
    st.integers(min_value=53, max_value=59),
    st.integers(min_value=178, max_value=186),
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[date, str, list[GivenDose]]:
    """A child's doses of one sequence; the DTP-containing one mixes Penta and DTP doses."""
    born = draw(births)
    sequence = draw(st.sampled_from(sorted(SEQUENCES)))
    products = sorted(SEQUENCES[sequence][1])
    offsets = [draw(AGES)]
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        offsets.append(offsets[-1] + draw(GAPS))
    doses = []
    for o in offsets:
        product = draw(st.sampled_from(products))
        # a number the calendar has for that product: the clinician's choice, never read
        typed = draw(
            st.sampled_from([4] if product == "dtp" else [1, 2, 3][: 2 + (product != "mmr")])
        )
        doses.append(GivenDose(product, typed, born + timedelta(days=o)))
    return born, sequence, draw(st.permutations(doses))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=histories())
def test_the_engine_counts_as_the_who_rules_do(h: tuple[date, str, list[GivenDose]]) -> None:
    born, sequence, doses = h
    assert (
        engine_count(born, sequence, doses)
        == who_count(born, sequence, [(d.antigen, d.given_on) for d in doses]).places
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=histories(), data=st.data())
def test_the_counted_doses_do_not_depend_on_typed_numbers_or_entry_order(
    h: tuple[date, str, list[GivenDose]], data: st.DataObject
) -> None:
    born, _, doses = h
    renumbered = [
        GivenDose(
            d.antigen,
            4 if d.antigen == "dtp" else data.draw(st.integers(1, 2 if d.antigen == "mmr" else 3)),
            d.given_on,
            valid=data.draw(st.booleans()),
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
    doses = [GivenDose("rota", n, date(2025, 3, 1) + timedelta(days=28 * n)) for n in (1, 2, 3)]
    doses.append(GivenDose("rota", 3, date(2025, 9, 1)))
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


# ---- DTP-containing doses count in one sequence, whatever the product (WHO) ----------------

PRIMARY = [date(2025, 3, 15), date(2025, 4, 15), date(2025, 5, 15)]


def test_a_lone_dtp_dose_is_dtp_containing_dose_1_never_the_booster() -> None:
    """The review's case: a DTP (booster product) dose with no Penta before it."""
    lone = [GivenDose("dtp", 4, date(2026, 3, 1))]
    assert _counted(lone) == [(1, True, None)]
    items = s.schedule_for(BORN, "male", lone, [], date(2026, 3, 2), "UZ")
    assert (_item(items, "penta", 1).status, _item(items, "penta", 1).given_on) == (
        "given",
        date(2026, 3, 1),
    )
    assert _item(items, "dtp", 4).status == "upcoming"  # waits for the third primary dose
    p2 = _item(items, "penta", 2)
    assert p2.earliest_on == date(2026, 3, 29)  # 4 weeks after the DTP dose
    # with two Penta doses before it, the same DTP dose is the third primary dose
    two = [GivenDose("penta", 1, PRIMARY[0]), GivenDose("penta", 2, PRIMARY[1])]
    assert _counted([*two, *lone]) == [(1, True, None), (2, True, None), (3, True, None)]


@pytest.mark.parametrize(
    ("on", "counted", "code"),
    [
        (date(2026, 1, 31), None, "too_early_interval"),  # one day before 6 months
        (date(2026, 2, 1), 4, None),  # 6 months after the third DTP-containing dose
        (date(2026, 2, 2), 4, None),
    ],
)
def test_the_booster_waits_6_months_after_the_third_dtp_containing_dose(
    on: date, counted: int | None, code: str | None
) -> None:
    # Penta, DTP, Penta: the third DTP-containing dose is the Penta of 1 August 2025 (WHO
    # Table 2: the booster at least 6 months after the primary series; 12 months old by then)
    doses = [
        GivenDose("penta", 1, date(2025, 3, 15)),
        GivenDose("dtp", 4, date(2025, 4, 15)),
        GivenDose("penta", 2, date(2025, 8, 1)),
    ]
    v = s.check_dose(BORN, "dtp", 4, on, doses, "UZ")
    assert (v.counted_as, v.code) == (counted, code)


def test_a_fourth_penta_after_six_months_counts_as_the_booster() -> None:
    doses = [GivenDose("penta", n, on) for n, on in zip((1, 2, 3), PRIMARY, strict=True)]
    v = s.check_dose(BORN, "penta", 3, date(2026, 5, 20), doses, "UZ")
    assert (v.valid, v.counted_as) == (True, 4)
    # one day before 6 months after the third: too soon
    v = s.check_dose(BORN, "penta", 3, date(2025, 11, 14), doses, "UZ")
    assert (v.counted_as, v.code) == (None, "too_early_age")  # and before 12 months


# ---- upper ages: each product's own (WHO rotavirus 2021, Hib 2013, DTP 2017) ------------------


@pytest.mark.parametrize(
    ("antigen", "number", "limit", "before"),
    [
        ("rota", 1, date(2027, 1, 15), []),  # 24 months
        ("penta", 1, date(2030, 1, 15), []),  # 5 years (Hib)
        ("pcv", 1, date(2030, 1, 15), []),  # 5 years
        ("dtp", 4, date(2032, 1, 15), []),  # 7 years (whole-cell pertussis), as a primary dose
        # Penta as the booster keeps Penta's 5 years
        (
            "penta",
            3,
            date(2030, 1, 15),
            [GivenDose("penta", n, on) for n, on in zip((1, 2, 3), PRIMARY, strict=True)],
        ),
    ],
)
def test_a_dose_at_or_after_its_upper_age_does_not_count(
    antigen: str, number: int, limit: date, before: list[GivenDose]
) -> None:
    for on, counts in (
        (limit - timedelta(days=1), True),
        (limit, False),
        (limit + timedelta(days=1), False),
    ):
        v = s.check_dose(BORN, antigen, number, on, before, "UZ")
        assert v.valid is counts, on
        if not counts:
            assert (v.code, v.counted_as) == ("too_late_age", None)
            assert limit.isoformat() in (v.reason or "")


def test_a_dtp_dose_after_5_years_still_counts_where_penta_would_not() -> None:
    on = date(2030, 6, 1)  # 5 years 4 months: no Hib, but DTP until 7 years
    assert s.check_dose(BORN, "penta", 1, on, [], "UZ").code == "too_late_age"
    assert s.check_dose(BORN, "dtp", 1, on, [], "UZ").counted_as == 1
    # the Penta refused at 5 years: the DTP dose 4 weeks later takes its place
    late = [GivenDose("penta", 1, on)]
    assert s.check_dose(BORN, "dtp", 1, on + timedelta(days=27), late, "UZ").valid is False
    assert s.check_dose(BORN, "dtp", 1, on + timedelta(days=28), late, "UZ").counted_as == 1


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
