"""The HEARTS / Simple control indicators against the domain note's vectors
(../shared/domain/screening-dmp.md, "Test vectors" 1-3), their boundaries, and
properties any patient list keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.screening.service.hearts import (
    DHIS2_SUGAR,
    SIMPLE_SUGAR,
    BPReading,
    CohortOutcome,
    Outcome,
    Patient,
    Period,
    SugarReading,
    classify_bp,
    classify_sugar,
    cohort_outcome,
    cohort_report,
    control_report,
    sugar_controlled,
)

pytestmark = pytest.mark.no_db

JUNE = Period.parse("2025-06")


def _bp(on: str, s: int, d: int) -> BPReading:
    return BPReading(date.fromisoformat(on), s, d)


def _p(pid: str, registered: str, *bps: BPReading, died: str | None = None) -> Patient:
    return Patient(
        pid,
        date.fromisoformat(registered),
        facility_id=1,
        died_on=date.fromisoformat(died) if died else None,
        bp=tuple(bps),
    )


# Vector 1 as the note writes it: (registration; last BP date, value) -> class.
# P5's and P6's values and P9's death date are not in the note: any will do.
VECTOR_1 = {
    "P1": (_p("P1", "2024-01-10", _bp("2025-06-12", 132, 84)), "controlled"),
    "P2": (_p("P2", "2024-11-05", _bp("2025-05-20", 150, 92)), "uncontrolled"),
    "P3": (_p("P3", "2025-02-14", _bp("2025-06-01", 138, 88)), "controlled"),
    "P4": (_p("P4", "2025-04-20", _bp("2025-06-25", 128, 80)), "new"),
    "P5": (_p("P5", "2023-06-01", _bp("2025-02-10", 136, 86)), "missed"),
    "P6": (_p("P6", "2023-03-15", _bp("2024-05-30", 150, 95)), "ltfu"),
    "P7": (_p("P7", "2024-08-08", _bp("2025-04-02", 140, 85)), "uncontrolled"),
    "P8": (_p("P8", "2024-09-09", _bp("2025-06-30", 139, 90)), "uncontrolled"),
    "P9": (
        _p("P9", "2024-02-02", _bp("2025-05-02", 120, 80), died="2025-05-20"),
        "dead",
    ),
    "P10": (_p("P10", "2025-03-31", _bp("2025-06-15", 118, 76)), "controlled"),
    "P11": (
        _p("P11", "2024-05-05", _bp("2025-04-10", 130, 80), _bp("2025-06-05", 146, 88)),
        "uncontrolled",
    ),
}
PATIENTS_1 = [p for p, _ in VECTOR_1.values()]


@pytest.mark.parametrize("pid", list(VECTOR_1))
def test_vector_1_each_patient_is_classed_as_the_note_says(pid: str) -> None:
    patient, expected = VECTOR_1[pid]
    assert classify_bp(patient, JUNE) == Outcome(expected)


def test_vector_1_rates() -> None:
    r = control_report(PATIENTS_1, JUNE)
    assert r.denominator == 8
    assert round(r.rate(Outcome.CONTROLLED), 1) == 37.5
    assert round(r.rate(Outcome.UNCONTROLLED), 1) == 50.0
    assert round(r.rate(Outcome.MISSED), 1) == 12.5
    assert r.rate(Outcome.VISITED_NO_BP) == 0.0
    # lost to follow-up: 1 of the 10 assigned (every patient but the dead one)
    assert r.assigned == 10
    assert round(r.ltfu_rate, 1) == 10.0
    # the lost-to-follow-up patient kept in the denominator: 3 of 9, and P6 is a missed visit
    assert r.denominator_with_ltfu == 9
    assert round(r.rate(Outcome.CONTROLLED, with_ltfu=True), 1) == 33.3
    assert round(r.rate(Outcome.UNCONTROLLED, with_ltfu=True), 1) == 44.4
    assert round(r.rate(Outcome.MISSED, with_ltfu=True), 1) == 22.2
    assert r.registered == 11
    assert r.under_care == 9


def test_vector_1_quarter_ending_in_june_has_the_same_windows() -> None:
    q2 = Period.parse("2025-Q2")
    assert (q2.start, q2.end, q2.recent_start, q2.year_start) == (
        date(2025, 4, 1),
        date(2025, 6, 30),
        date(2025, 4, 1),
        date(2024, 7, 1),
    )
    assert control_report(PATIENTS_1, q2) == control_report(PATIENTS_1, JUNE)


def test_the_note_s_june_windows() -> None:
    assert JUNE.recent_start == date(2025, 4, 1)
    assert JUNE.year_start == date(2024, 7, 1)
    assert JUNE.end == date(2025, 6, 30)


# --- boundaries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (139, 89, "controlled"),
        (140, 89, "uncontrolled"),
        (139, 90, "uncontrolled"),
        (140, 90, "uncontrolled"),
        (141, 91, "uncontrolled"),
        (138, 88, "controlled"),
    ],
)
def test_control_is_strictly_below_both_numbers(
    systolic: int, diastolic: int, expected: str
) -> None:
    p = _p("x", "2024-01-01", _bp("2025-06-01", systolic, diastolic))
    assert classify_bp(p, JUNE) == Outcome(expected)


@pytest.mark.parametrize(
    ("registered", "expected"),
    [
        ("2025-03-30", "controlled"),
        ("2025-03-31", "controlled"),  # exactly three months before the end: counted
        ("2025-04-01", "new"),
        ("2025-06-30", "new"),
        ("2025-07-01", None),  # after the period: not registered yet
    ],
)
def test_registration_three_months_before_the_end(registered: str, expected: str | None) -> None:
    p = _p("x", registered, _bp("2025-06-15", 120, 80))
    got = classify_bp(p, JUNE)
    assert got == (Outcome(expected) if expected else None)


@pytest.mark.parametrize(
    ("last_bp", "expected"),
    [
        ("2024-06-30", "ltfu"),  # a year and a day before the end
        ("2024-07-01", "missed"),  # first day of the last 12 months: still under care
        ("2024-07-02", "missed"),
        ("2025-03-31", "missed"),  # the day before the last 3 months
        ("2025-04-01", "controlled"),  # the first day of them
    ],
)
def test_blood_pressure_twelve_and_three_months_ago(last_bp: str, expected: str) -> None:
    p = _p("x", "2023-01-01", _bp(last_bp, 120, 80))
    assert classify_bp(p, JUNE) == Outcome(expected)


@pytest.mark.parametrize(
    ("registered", "expected"),
    [("2024-06-30", "ltfu"), ("2024-07-01", "missed"), ("2024-07-02", "missed")],
)
def test_lost_to_follow_up_needs_registration_over_a_year_ago(
    registered: str, expected: str
) -> None:
    assert classify_bp(_p("x", registered), JUNE) == Outcome(expected)


@pytest.mark.parametrize(
    ("died", "expected"),
    [("2025-06-29", "dead"), ("2025-06-30", "dead"), ("2025-07-01", "controlled")],
)
def test_death_by_the_end_of_the_period_excludes(died: str, expected: str) -> None:
    p = _p("x", "2024-01-01", _bp("2025-06-01", 120, 80), died=died)
    assert classify_bp(p, JUNE) == Outcome(expected)


def test_readings_after_the_period_are_not_seen() -> None:
    p = _p("x", "2024-01-01", _bp("2025-05-01", 150, 95), _bp("2025-07-01", 120, 80))
    assert classify_bp(p, JUNE) == Outcome.UNCONTROLLED


def test_same_day_readings_the_one_recorded_last_wins() -> None:
    p = _p("x", "2024-01-01", _bp("2025-06-01", 150, 95), _bp("2025-06-01", 128, 82))
    assert classify_bp(p, JUNE) == Outcome.CONTROLLED


def test_a_visit_without_blood_pressure_is_not_a_missed_visit() -> None:
    p = replace(_p("x", "2024-01-01", _bp("2025-01-10", 130, 80)), visits=(date(2025, 5, 3),))
    assert classify_bp(p, JUNE) == Outcome.VISITED_NO_BP
    # a visit without BP does not keep a patient in care: Simple's LTFU counts BPs only
    old = replace(_p("y", "2023-01-01"), visits=(date(2025, 5, 3),))
    assert classify_bp(old, JUNE) == Outcome.LTFU


@pytest.mark.parametrize("text", ["2025-13", "2025-Q5", "2025-6", "2025-00", "25-06", ""])
def test_an_unknown_period_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM or YYYY-Qn"):
        Period.parse(text)


def test_periods_and_their_next() -> None:
    assert Period.parse("2025-Q4").next() == Period.parse("2026-Q1")
    assert Period.parse("2024-12").next() == Period.parse("2025-01")
    assert Period.parse("2024-02").end == date(2024, 2, 29)
    assert Period.parse("2025-Q1").code == "2025-Q1"
    assert Period.parse("2025-03").code == "2025-03"


# --- vector 3: the quarterly cohort ---------------------------------------------------


def _cohort_40() -> list[Patient]:
    """40 registered in Q1 2025 spread over the quarter (its first and last day too);
    latest Q2 reading: 18 below 140/90, 12 at or above, 10 with none in Q2."""
    days = [date(2025, 1, 1) + timedelta(days=(i * 89) // 39) for i in range(40)]
    assert days[0] == date(2025, 1, 1)
    assert days[-1] == date(2025, 3, 31)
    out = []
    for i, reg in enumerate(days):
        if i < 18:  # controlled at the latest Q2 visit (an earlier one was not)
            bps = (BPReading(date(2025, 4, 10), 160, 100), BPReading(date(2025, 6, 30), 130, 80))
        elif i < 30:  # not controlled at the latest (an earlier one was)
            bps = (BPReading(date(2025, 4, 1), 120, 70), BPReading(date(2025, 5, 20), 140, 80))
        else:  # none in Q2: a reading in Q1 and one in Q3 do not count
            bps = (BPReading(reg, 120, 80), BPReading(date(2025, 7, 1), 120, 80))
        out.append(Patient(f"c{i}", reg, bp=bps))
    return out


def test_vector_3_quarterly_cohort() -> None:
    decoys = [
        Patient("before", date(2024, 12, 31), bp=(BPReading(date(2025, 5, 1), 120, 80),)),
        Patient("after", date(2025, 4, 1), bp=(BPReading(date(2025, 5, 1), 120, 80),)),
        Patient(
            "dead",
            date(2025, 2, 1),
            died_on=date(2025, 6, 30),
            bp=(BPReading(date(2025, 5, 1), 120, 80),),
        ),
    ]
    r = cohort_report([*_cohort_40(), *decoys], Period.parse("2025-Q1"))
    assert (r.cohort, r.controlled, r.uncontrolled, r.no_visit) == (40, 18, 12, 10)
    assert round(r.rate(CohortOutcome.CONTROLLED), 1) == 45.0
    assert round(r.rate(CohortOutcome.UNCONTROLLED), 1) == 30.0
    assert round(r.rate(CohortOutcome.NO_VISIT), 1) == 25.0


def test_monthly_cohort_follows_up_the_two_following_months() -> None:
    march = Period.parse("2025-03")
    p = Patient("m", date(2025, 3, 5), bp=(BPReading(date(2025, 5, 31), 120, 80),))
    assert cohort_outcome(p, march) == CohortOutcome.CONTROLLED
    late = Patient("m", date(2025, 3, 5), bp=(BPReading(date(2025, 6, 1), 120, 80),))
    assert cohort_outcome(late, march) == CohortOutcome.NO_VISIT
    own = Patient("m", date(2025, 3, 5), bp=(BPReading(date(2025, 3, 31), 120, 80),))
    assert cohort_outcome(own, march) == CohortOutcome.NO_VISIT


# --- vector 2: diabetes control, two labelled definitions -----------------------------


@pytest.mark.parametrize(
    ("kind", "value", "dhis2", "simple"),
    [
        ("hba1c", 7.4, False, True),  # the note: uncontrolled at < 7 %, controlled in Simple
        ("hba1c", 6.9, True, True),
        ("hba1c", 7.0, False, True),
        ("hba1c", 8.9, False, True),
        ("hba1c", 9.0, False, False),
        ("glucose_fasting", 6.8, True, True),  # 122.5 mg/dL
        ("glucose_fasting", 7.0, False, True),  # 126.1 mg/dL: not below 126
        ("glucose_fasting", 6.99, True, True),  # 125.9 mg/dL
        ("glucose_fasting", 11.1, False, True),  # 199.98 mg/dL
        ("glucose_fasting", 11.11, False, False),  # 200.16 mg/dL
    ],
)
def test_sugar_thresholds(kind: str, value: float, dhis2: bool, simple: bool) -> None:
    r = SugarReading(date(2025, 6, 1), kind, value)
    assert sugar_controlled(r, DHIS2_SUGAR) is dhis2
    assert sugar_controlled(r, SIMPLE_SUGAR) is simple


def test_sugar_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="cholesterol"):
        sugar_controlled(SugarReading(date(2025, 6, 1), "cholesterol", 5.0), DHIS2_SUGAR)


def test_diabetes_control_uses_the_latest_sugar_and_both_definitions() -> None:
    p = Patient(
        "d",
        date(2024, 1, 1),
        sugar=(
            SugarReading(date(2025, 4, 3), "glucose_fasting", 6.5),
            SugarReading(date(2025, 6, 3), "hba1c", 7.4),
        ),
    )
    assert classify_sugar(p, JUNE, DHIS2_SUGAR) == Outcome.UNCONTROLLED
    assert classify_sugar(p, JUNE, SIMPLE_SUGAR) == Outcome.CONTROLLED
    # a BP-only visit in the window: visited, no sugar taken; a BP a year ago keeps
    # a diabetic patient out of lost to follow-up
    bp_only = Patient("e", date(2023, 1, 1), bp=(BPReading(date(2025, 5, 1), 120, 80),))
    assert classify_sugar(bp_only, JUNE, DHIS2_SUGAR) == Outcome.VISITED_NO_BP
    old_bp = Patient("f", date(2023, 1, 1), bp=(BPReading(date(2024, 9, 1), 120, 80),))
    assert classify_sugar(old_bp, JUNE, DHIS2_SUGAR) == Outcome.MISSED
    nothing = Patient("g", date(2023, 1, 1))
    assert classify_sugar(nothing, JUNE, DHIS2_SUGAR) == Outcome.LTFU
    r = control_report([p, bp_only, old_bp, nothing], JUNE, sugar=DHIS2_SUGAR)
    assert r.denominator == 3
    assert r.n(Outcome.LTFU) == 1


# --- properties ---------------------------------------------------------------------

_DAY0 = date(2022, 1, 1)
_days = st.integers(min_value=0, max_value=4 * 365).map(lambda n: _DAY0 + timedelta(days=n))
_readings = st.builds(
    BPReading,
    _days,
    st.integers(min_value=60, max_value=260),
    st.integers(min_value=40, max_value=200),
)
_patients = st.lists(
    st.builds(
        Patient,
        id=st.uuids(),
        registered_on=_days,
        died_on=st.none() | _days,
        bp=st.lists(_readings, max_size=6).map(tuple),
        visits=st.lists(_days, max_size=3).map(tuple),
    ),
    max_size=40,
)
_periods = st.sampled_from(
    [Period.parse(p) for p in ("2023-05", "2024-01", "2024-Q3", "2025-06", "2025-Q1", "2025-12")]
)
_SHARES = (Outcome.CONTROLLED, Outcome.UNCONTROLLED, Outcome.VISITED_NO_BP, Outcome.MISSED)


@settings(max_examples=200, deadline=None)
@given(_patients, _periods)
def test_shares_sum_to_100_per_cent_in_both_variants(
    patients: list[Patient], period: Period
) -> None:
    r = control_report(patients, period)
    assert r.registered == sum(p.registered_on <= period.end for p in patients)
    assert r.under_care + r.n(Outcome.LTFU) == r.assigned
    for with_ltfu in (False, True):
        rates = [r.rate(o, with_ltfu=with_ltfu) for o in _SHARES]
        whole = r.denominator_with_ltfu if with_ltfu else r.denominator
        if whole == 0:
            assert rates == [None] * 4
        else:
            assert sum(rates) == pytest.approx(100.0)
    if r.denominator:
        # keeping the lost in the denominator can only lower the controlled share
        assert r.rate(Outcome.CONTROLLED, with_ltfu=True) <= r.rate(Outcome.CONTROLLED)


@settings(max_examples=200, deadline=None)
@given(_patients, _periods, st.integers(min_value=0, max_value=91))
def test_a_new_reading_in_the_last_three_months_never_adds_a_missed_or_lost_patient(
    patients: list[Patient], period: Period, offset: int
) -> None:
    on = min(period.recent_start + timedelta(days=offset), period.end)
    before = control_report(patients, period)
    after = control_report(
        [replace(p, bp=(*p.bp, BPReading(on, 120, 80))) for p in patients], period
    )
    assert after.n(Outcome.MISSED) <= before.n(Outcome.MISSED)
    assert after.n(Outcome.LTFU) <= before.n(Outcome.LTFU)
    assert after.n(Outcome.CONTROLLED) >= before.n(Outcome.CONTROLLED)
    assert after.registered == before.registered


@settings(max_examples=200, deadline=None)
@given(_patients, _periods, st.integers(min_value=0, max_value=60))
def test_lower_readings_never_lose_control(
    patients: list[Patient], period: Period, drop: int
) -> None:
    lower = [
        replace(
            p,
            bp=tuple(
                replace(b, systolic=b.systolic - drop, diastolic=b.diastolic - drop) for b in p.bp
            ),
        )
        for p in patients
    ]
    before, after = control_report(patients, period), control_report(lower, period)
    assert after.n(Outcome.CONTROLLED) >= before.n(Outcome.CONTROLLED)
    assert after.denominator == before.denominator


@settings(max_examples=100, deadline=None)
@given(_patients, st.sampled_from([Period.parse(p) for p in ("2023-Q2", "2024-Q4", "2024-03")]))
def test_cohort_shares_sum_to_100_per_cent(patients: list[Patient], cohort: Period) -> None:
    r = cohort_report(patients, cohort)
    if r.cohort:
        assert sum(r.rate(o) for o in CohortOutcome) == pytest.approx(100.0)
    else:
        assert r.rate(CohortOutcome.CONTROLLED) is None
