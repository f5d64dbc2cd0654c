"""The schedule engine (pure): statuses, earliest dates, validity; property tests."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.country import pack
from salomat.domains.immunization.service import schedule as s
from salomat.domains.immunization.service.schedule import GivenDose

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

BORN = date(2026, 1, 15)
COUNTRIES = ("UZ", "KZ")


def _item(items: list[s.DueDose], antigen: str, n: int) -> s.DueDose:
    return next(i for i in items if i.antigen == antigen and i.dose_number == n)


@pytest.mark.parametrize("cc", COUNTRIES)
def test_packs_load_with_sources_and_sites(cc: str) -> None:
    data = pack.immunization(cc)
    assert data["source"]
    cal = s.calendar(cc)
    assert cal.sites
    assert "left_thigh" in cal.sites
    assert {"hepb", "bcg", "mmr", "hpv", "td"} <= {x.antigen for x in cal.series}
    for series in cal.series:
        for v in series.vaccines:
            assert series.antigen in cal.vaccines[v]["series"], (series.antigen, v)
        for rule in series.doses:
            assert s.add_age(BORN, rule.min_age) <= s.add_age(BORN, rule.age), rule
    assert cal.get("hpv").sex == "female"  # type: ignore[union-attr]
    assert cal.get("td").booster_every == s.Age(years=10)  # type: ignore[union-attr]


def test_uz_hpv_and_kz_hpv_as_the_notes_say() -> None:
    uz, kz = s.calendar("UZ").get("hpv"), s.calendar("KZ").get("hpv")
    assert uz
    assert [r.age for r in uz.doses] == [s.Age(years=9)]
    assert uz.doses[0].max_age == s.Age(years=14)
    assert kz
    assert [r.dose_number for r in kz.doses] == [1, 2]
    assert kz.doses[0].age == s.Age(years=11)


def test_parse_and_add_age() -> None:
    assert s.parse_age("6w") == s.Age(days=42)
    assert s.parse_age("11y6m") == s.Age(years=11, months=6)
    assert str(s.parse_age("11y6m")) == "11y6m"
    with pytest.raises(pack.PackError):
        s.parse_age("two months")
    # months clamp to the end of a shorter month
    assert s.add_age(date(2026, 1, 31), s.Age(months=1)) == date(2026, 2, 28)
    assert s.add_age(date(2024, 2, 29), s.Age(years=1)) == date(2025, 2, 28)


def test_newborn_statuses() -> None:
    items = s.schedule_for(BORN, "male", [], [], BORN, "UZ")
    assert _item(items, "hepb", 1).status == "due"
    assert _item(items, "bcg", 1).status == "upcoming"
    assert _item(items, "penta", 1).due_on == date(2026, 3, 15)
    assert not any(i.antigen == "hpv" for i in items)  # girls only
    girl = s.schedule_for(BORN, "female", [], [], BORN, "UZ")
    assert _item(girl, "hpv", 1).due_on == date(2035, 1, 15)


def test_due_then_overdue_boundary() -> None:
    due = date(2026, 3, 15)  # penta 1 at 2 months
    at = {
        due - timedelta(days=1): "upcoming",
        due: "due",
        due + timedelta(days=s.OVERDUE_AFTER_DAYS - 1): "due",
        due + timedelta(days=s.OVERDUE_AFTER_DAYS): "overdue",
    }
    for today, status in at.items():
        items = s.schedule_for(BORN, "male", [], [], today, "UZ")
        assert _item(items, "penta", 1).status == status, today


def test_only_the_next_dose_of_a_series_is_due() -> None:
    items = s.schedule_for(BORN, "male", [], [], date(2026, 8, 1), "UZ")
    assert _item(items, "penta", 1).status == "overdue"
    p2 = _item(items, "penta", 2)
    assert p2.status == "upcoming"
    assert p2.waiting_for == ("penta", 1)


def test_catch_up_age_passed_is_not_eligible() -> None:
    # rota: up to 24 months
    items = s.schedule_for(BORN, "male", [], [], date(2028, 1, 14), "UZ")
    assert _item(items, "rota", 1).status == "overdue"
    items = s.schedule_for(BORN, "male", [], [], date(2028, 1, 15), "UZ")
    assert _item(items, "rota", 1).status == "not_eligible"
    assert _item(items, "rota", 2).status == "not_eligible"


def test_late_dose_pushes_the_next_by_the_minimum_interval() -> None:
    doses = [GivenDose("penta", 1, date(2026, 5, 1))]
    items = s.schedule_for(BORN, "male", doses, [], date(2026, 5, 10), "UZ")
    p2 = _item(items, "penta", 2)
    assert p2.earliest_on == date(2026, 5, 29)  # 4 weeks after dose 1
    assert p2.due_on == date(2026, 5, 29)  # later than 3 months (15.04)
    assert p2.status == "upcoming"


def test_invalid_and_entered_in_error_doses_do_not_count() -> None:
    # Penta 1 one day before 6 weeks (26.02): invalid whatever the caller says of it
    doses = [
        GivenDose("penta", 1, date(2026, 2, 25), valid=True),
        GivenDose("pcv", 1, date(2026, 3, 15), status="entered_in_error"),
    ]
    items = s.schedule_for(BORN, "male", doses, [], date(2026, 3, 20), "UZ")
    # the invalid dose 1 does not count: it is repeated, 28 days after it (no interval of its own)
    p1 = _item(items, "penta", 1)
    assert p1.status == "upcoming"
    assert p1.given_on is None
    assert p1.earliest_on == date(2026, 3, 25)
    assert _item(items, "pcv", 1).status == "due"
    items = s.schedule_for(BORN, "male", doses, [], date(2026, 3, 25), "UZ")
    assert _item(items, "penta", 1).status == "due"
    # on the minimum age itself the same dose counts
    doses[0] = GivenDose("penta", 1, date(2026, 2, 26), valid=False)
    items = s.schedule_for(BORN, "male", doses, [], date(2026, 3, 20), "UZ")
    assert _item(items, "penta", 1).status == "given"


def test_repeat_after_an_invalid_dose_waits_the_minimum_interval() -> None:
    day_x = date(2026, 3, 20)  # Penta-1, valid (after 6 weeks)
    invalid_on = day_x + timedelta(days=10)  # Penta-2 given elsewhere, too early
    doses = [
        GivenDose("penta", 1, day_x),
        GivenDose("penta", 2, invalid_on, valid=False),
    ]
    repeat_on = invalid_on + timedelta(days=28)  # the dose's own minimum interval (4w)
    # 19 days after the invalid dose: past 4 weeks after Penta-1, but not after the invalid one
    early = invalid_on + timedelta(days=19)
    assert early >= day_x + timedelta(days=28)
    v = s.check_dose(BORN, "penta", 2, early, doses, "UZ")
    assert not v.valid
    assert v.code == "too_early_interval"
    assert v.earliest_on == repeat_on
    assert repeat_on.isoformat() in (v.reason or "")
    v = s.check_dose(BORN, "penta", 2, repeat_on, doses, "UZ")
    assert v.valid, v
    # an invalid dose entered in error does not hold the repeat back
    wrong = [doses[0], GivenDose("penta", 2, invalid_on, valid=False, status="entered_in_error")]
    assert s.check_dose(BORN, "penta", 2, early, wrong, "UZ").valid
    # the schedule does not show Penta-2 due before that day
    day = invalid_on
    while day < repeat_on:
        p2 = _item(s.schedule_for(BORN, "male", doses, [], day, "UZ"), "penta", 2)
        assert p2.status == "upcoming", (day, p2)
        assert p2.earliest_on == repeat_on
        day += timedelta(days=1)
    p2 = _item(s.schedule_for(BORN, "male", doses, [], repeat_on, "UZ"), "penta", 2)
    assert p2.status == "due"
    assert p2.due_on == repeat_on
    # Penta-3 counts from the repeat (projected), not from the invalid dose
    p3 = _item(s.schedule_for(BORN, "male", doses, [], repeat_on, "UZ"), "penta", 3)
    assert p3.earliest_on == repeat_on + timedelta(days=28)


def test_dtp_booster_counts_from_penta_3() -> None:
    doses = [
        GivenDose("penta", 1, date(2026, 3, 15)),
        GivenDose("penta", 2, date(2026, 4, 15)),
        GivenDose("penta", 3, date(2026, 12, 1)),
    ]
    v = s.check_dose(BORN, "dtp", 4, date(2027, 5, 15), doses, "UZ")
    assert not v.valid
    assert v.code == "too_early_interval"
    assert v.earliest_on == date(2027, 6, 1)
    assert "penta dose 3" in (v.reason or "")


def test_exemption_active_withdrawn_and_expired() -> None:
    e = SimpleNamespace(
        kind="contraindication",
        antigen="mmr",
        starts_on=date(2027, 1, 1),
        ends_on=date(2027, 6, 30),
        withdrawn_on=None,
    )
    on = date(2027, 2, 1)
    items = s.schedule_for(BORN, "male", [], [e], on, "UZ")
    assert _item(items, "mmr", 1).status == "exempt"
    assert _item(items, "mmr", 1).exemption == "contraindication"
    assert _item(items, "penta", 1).status != "exempt"
    after = s.schedule_for(BORN, "male", [], [e], date(2027, 7, 1), "UZ")
    assert _item(after, "mmr", 1).status == "overdue"
    e.withdrawn_on = date(2027, 1, 20)
    assert _item(s.schedule_for(BORN, "male", [], [e], on, "UZ"), "mmr", 1).status == "due"


def test_check_dose_age_boundary_and_unknown_dose() -> None:
    min_day = s.add_age(BORN, s.Age(days=42))  # penta 1 from 6 weeks
    assert s.check_dose(BORN, "penta", 1, min_day, [], "UZ").valid
    v = s.check_dose(BORN, "penta", 1, min_day - timedelta(days=1), [], "UZ")
    assert not v.valid
    assert v.code == "too_early_age"
    assert v.earliest_on == min_day
    with pytest.raises(LookupError):  # Penta counts in the DTP-containing places 1-4 only
        s.check_dose(BORN, "penta", 5, min_day, [], "UZ")


def test_td_booster_every_ten_years() -> None:
    born = date(1990, 6, 1)
    doses = [GivenDose("td", 1, date(1997, 6, 1)), GivenDose("td", 2, date(2006, 6, 1))]
    items = s.schedule_for(born, "male", doses, [], date(2026, 11, 23), "UZ")
    b = _item(items, "td", 3)
    assert b.booster
    assert b.due_on == date(2016, 6, 1)
    assert b.status == "overdue"
    doses.append(GivenDose("td", 3, date(2020, 1, 10)))
    items = s.schedule_for(born, "male", doses, [], date(2026, 11, 23), "UZ")
    assert _item(items, "td", 3).status == "given"
    assert _item(items, "td", 4).due_on == date(2030, 1, 10)
    assert _item(items, "td", 4).status == "upcoming"
    v = s.check_dose(born, "td", 4, date(2024, 1, 10), doses, "UZ")
    assert not v.valid
    assert v.code == "too_early_interval"


# ---- properties ------------------------------------------------------------------------

births = st.dates(min_value=date(1960, 1, 1), max_value=date(2026, 11, 1))
sexes = st.sampled_from(["male", "female"])
countries = st.sampled_from(COUNTRIES)
days = st.integers(min_value=0, max_value=40 * 365)


def _recommended_doses(born: date, sex: str, cc: str, until: date) -> list[GivenDose]:
    """Every calendar dose on its due date (computed in order), up to ``until``."""
    doses: list[GivenDose] = []
    while True:
        items = s.schedule_for(born, sex, doses, [], until, cc)
        nxt = [
            i
            for i in items
            if i.status in ("due", "overdue", "not_eligible")
            and i.due_on <= until
            and (i.latest_on is None or i.due_on < i.latest_on)
        ]
        if not nxt:
            return doses
        i = min(nxt, key=lambda x: x.due_on)
        doses.append(GivenDose(i.antigen, i.dose_number, i.due_on))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(born=births, sex=sexes, cc=countries, offset=days)
def test_earliest_never_before_minimum_age(born: date, sex: str, cc: str, offset: int) -> None:
    today = born + timedelta(days=offset)
    cal = s.calendar(cc)
    for i in s.schedule_for(born, sex, [], [], today, cc):
        rule = cal.rule(i.antigen, i.dose_number)
        assert rule is not None
        assert i.earliest_on >= s.add_age(born, rule.min_age)
        assert i.due_on >= i.earliest_on
        assert i.overdue_on == i.due_on + timedelta(days=s.OVERDUE_AFTER_DAYS)
        assert i.status in s.STATUSES


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(born=births, sex=sexes, cc=countries, offset=days)
def test_on_time_doses_leave_nothing_overdue(born: date, sex: str, cc: str, offset: int) -> None:
    today = born + timedelta(days=offset)
    doses = _recommended_doses(born, sex, cc, today)
    for d, c in zip(doses, s.count_doses(born, doses, cc), strict=True):
        assert c is not None
        assert c.valid, (d, c)
        assert c.counted_as == d.dose_number, (d, c)
    items = s.schedule_for(born, sex, doses, [], today, cc)
    assert not [i for i in items if i.status in ("overdue", "not_eligible")]


@settings(max_examples=80, deadline=None)
@given(born=births, cc=countries, data=st.data())
def test_earliest_date_is_valid_and_the_day_before_is_not(
    born: date, cc: str, data: st.DataObject
) -> None:
    cal = s.calendar(cc)
    series = data.draw(st.sampled_from(cal.series))
    # the earlier doses of the series given on their earliest dates
    doses: list[GivenDose] = []
    for rule in series.doses:
        prev = rule.after
        if prev is not None and prev[0] != series.antigen:
            # the other series up to that dose, on its recommended ages (doses count in order)
            other = cal.get(prev[0])
            assert other is not None
            for r in other.doses:
                if r.dose_number <= prev[1]:
                    doses.append(GivenDose(prev[0], r.dose_number, s.add_age(born, r.age)))
        today = born + timedelta(days=40 * 365)
        item = _item(
            s.schedule_for(born, "female", doses, [], today, cc), rule.antigen, rule.dose_number
        )
        earliest = item.earliest_on
        assert s.check_dose(born, rule.antigen, rule.dose_number, earliest, doses, cc).valid
        before = s.check_dose(
            born, rule.antigen, rule.dose_number, earliest - timedelta(days=1), doses, cc
        )
        assert not before.valid
        assert before.reason
        assert before.earliest_on == earliest
        doses.append(GivenDose(rule.antigen, rule.dose_number, earliest))
