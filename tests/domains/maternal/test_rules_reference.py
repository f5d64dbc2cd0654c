"""The antenatal rules against references written from their sources, not from our code.

- Blood pressure and DT.17: ../shared/domain/maternal.md, "Blood pressure is judged per
  component across the two readings" and the DT.17 rows (WHO SMART ANC DAK
  WHO-SRH-21.2; rows 17-23 for pre-eclampsia without a severe feature).
- DT.23: WHO 2013, Diagnostic criteria and classification of hyperglycaemia first
  detected in pregnancy (WHO/NMH/MND/13.2), table 1 and 2.
- ANC.S.01: the DAK's contact schedule (CQL library ANCS01: contacts at 12 (first,
  "up to 12 weeks"), 20, 26, 30, 34, 36, 38, 40 weeks), counted in sequence.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.maternal.service import rules
from salomat.domains.maternal.service.contact_schedule import contact_schedule
from salomat.domains.maternal.service.rules import ContactFacts, Facts

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

TODAY = date(2026, 6, 1)
DAK_WEEKS = [12, 20, 26, 30, 34, 36, 38, 40]


def dt17(r1: tuple[int, int], r2: tuple[int, int], protein=None, symptoms=()) -> str | None:
    c = ContactFacts(
        on=TODAY,
        ga_days=24 * 7,
        systolic=(r1[0], r2[0]),
        diastolic=(r1[1], r2[1]),
        urine_protein=protein,
        symptoms=frozenset(symptoms),
    )
    f = Facts(today=TODAY, age_years=25, ga_days=24 * 7, gravida=2, parity=1, contacts=(c,))
    out = rules.dt17_hypertension(f)
    return out[0].code if out else None


# --- the reference, written from maternal.md ------------------------------------------


def ref_raised(r1, r2) -> bool:
    return (r1[0] >= 140 and r2[0] >= 140) or (r1[1] >= 90 and r2[1] >= 90)


def ref_severe(r1, r2) -> bool:
    return (r1[0] >= 160 and r2[0] >= 160) or (r1[1] >= 110 and r2[1] >= 110)


def ref_dt17(r1, r2, protein, symptom: bool) -> str | None:
    if not ref_raised(r1, r2):
        return None
    if protein in ("++", "+++", "++++"):
        return "severe_pre_eclampsia" if ref_severe(r1, r2) or symptom else "pre_eclampsia"
    if symptom:
        return "severe_pre_eclampsia"
    return "severe_hypertension" if ref_severe(r1, r2) else "hypertension"


# --- the issue's cases and the boundaries ---------------------------------------------


def test_the_issue_cases() -> None:
    assert dt17((145, 80), (130, 95)) is None  # components mixed across readings
    assert dt17((150, 95), (150, 95), "++") == "pre_eclampsia"  # not severe
    assert dt17((165, 95), (150, 112)) == "hypertension"  # raised, not severe
    assert dt17((165, 95), (150, 112), "++") == "pre_eclampsia"


@pytest.mark.parametrize(
    ("r1", "r2", "raised"),
    [
        ((139, 80), (139, 80), False),
        ((140, 80), (140, 80), True),
        ((141, 80), (139, 80), False),
        ((120, 89), (120, 89), False),
        ((120, 90), (120, 90), True),
        ((120, 91), (120, 89), False),
        ((140, 80), (120, 90), False),  # systolic once, diastolic once: not raised
    ],
)
def test_raised_boundaries_per_component(r1, r2, raised: bool) -> None:
    assert (dt17(r1, r2) is not None) is raised


@pytest.mark.parametrize(
    ("r1", "r2", "code"),
    [
        ((159, 95), (159, 95), "hypertension"),
        ((160, 95), (160, 95), "severe_hypertension"),
        ((161, 95), (159, 95), "hypertension"),
        ((150, 109), (150, 109), "hypertension"),
        ((150, 110), (150, 110), "severe_hypertension"),
        ((150, 111), (150, 109), "hypertension"),
        ((165, 95), (150, 112), "hypertension"),  # severe values in different components
    ],
)
def test_severe_boundaries_per_component(r1, r2, code: str) -> None:
    assert dt17(r1, r2) == code


@pytest.mark.parametrize(
    ("protein", "symptom", "severe_bp", "code"),
    [
        ("+", False, False, "hypertension"),
        ("++", False, False, "pre_eclampsia"),
        ("+++", False, False, "pre_eclampsia"),
        ("++", True, False, "severe_pre_eclampsia"),
        ("++", False, True, "severe_pre_eclampsia"),
        (None, False, True, "severe_hypertension"),
        ("none", True, False, "severe_pre_eclampsia"),
    ],
)
def test_pre_eclampsia_needs_a_severe_feature_to_be_severe(protein, symptom, severe_bp, code):
    r = (165, 100) if severe_bp else (150, 95)
    symptoms = ("severe_headache",) if symptom else ()
    assert dt17(r, r, protein, symptoms) == code


readings = st.tuples(st.integers(60, 230), st.integers(30, 140))


@settings(max_examples=400, deadline=None)
@given(
    readings,
    readings,
    st.sampled_from([None, "none", "+", "++", "+++"]),
    st.booleans(),
)
def test_dt17_equals_the_reference_and_the_order_of_readings_does_not_matter(
    r1, r2, protein, symptom
) -> None:
    symptoms = ("blurred_vision",) if symptom else ()
    got = dt17(r1, r2, protein, symptoms)
    assert got == ref_dt17(r1, r2, protein, symptom)
    assert dt17(r2, r1, protein, symptoms) == got


# --- DT.23, WHO 2013 --------------------------------------------------------------------


def dt23(**kw: float) -> str | None:
    c = ContactFacts(on=TODAY, ga_days=26 * 7, **kw)  # type: ignore[arg-type]
    f = Facts(today=TODAY, age_years=25, ga_days=26 * 7, gravida=2, parity=1, contacts=(c,))
    out = rules.dt23_diabetes(f)
    return out[0].code if out else None


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        # WHO 2013 table 1 (GDM): fasting 5.1-6.9; 1 h >= 10.0; 2 h 8.5-11.0
        ({"fasting_glucose_mmol_l": 5.0}, None),
        ({"fasting_glucose_mmol_l": 5.1}, "gestational_diabetes"),
        ({"fasting_glucose_mmol_l": 6.9}, "gestational_diabetes"),
        ({"ogtt_1h_mmol_l": 9.9}, None),
        ({"ogtt_1h_mmol_l": 10.0}, "gestational_diabetes"),
        ({"ogtt_1h_mmol_l": 10.1}, "gestational_diabetes"),
        ({"ogtt_1h_mmol_l": 14.0}, "gestational_diabetes"),  # no 1-h criterion for DIP
        ({"ogtt_2h_mmol_l": 8.4}, None),
        ({"ogtt_2h_mmol_l": 8.5}, "gestational_diabetes"),
        ({"ogtt_2h_mmol_l": 11.0}, "gestational_diabetes"),
        # table 2 (diabetes in pregnancy): fasting >= 7.0; 2 h >= 11.1; random >= 11.1
        ({"fasting_glucose_mmol_l": 7.0}, "diabetes_in_pregnancy"),
        ({"ogtt_2h_mmol_l": 11.1}, "diabetes_in_pregnancy"),
        ({"random_glucose_mmol_l": 11.0}, None),
        ({"random_glucose_mmol_l": 11.1}, "diabetes_in_pregnancy"),
        ({"ogtt_1h_mmol_l": 12.0, "ogtt_2h_mmol_l": 11.1}, "diabetes_in_pregnancy"),
    ],
)
def test_dt23_who_2013(kw: dict, code: str | None) -> None:
    assert dt23(**kw) == code


# --- ANC.S.01 ---------------------------------------------------------------------------


def sched(contact_weeks: list[float], today_ga_days: int, lmp: date = date(2026, 1, 5)):
    today = lmp + timedelta(days=today_ga_days)
    contacts = [(lmp + timedelta(days=int(w * 7)), int(w * 7)) for w in contact_weeks]
    return contact_schedule(
        weeks=DAK_WEEKS, today=today, today_ga_days=today_ga_days, contacts=contacts
    )


#: counted by hand from the DAK's weeks (12 = "up to 12 weeks", then 20, 26, 30, 34, 36,
#: 38, 40) and the one reading we add (a contact up to 6 days before a scheduled week is
#: that week's contact): (weeks, days) of the latest contact -> the week of the next one
NEXT_BY_HAND = [
    ((8, 0), 20),
    ((12, 0), 20),
    ((13, 6), 20),
    ((19, 0), 20),  # 7 days before 20 weeks: not yet the 20-week contact
    ((19, 1), 26),  # 6 days before: it was the 20-week contact
    ((20, 0), 26),
    ((24, 0), 26),
    ((25, 0), 26),
    ((25, 1), 30),
    ((29, 1), 34),
    ((30, 0), 34),
    ((33, 1), 36),
    ((34, 0), 36),
    ((35, 0), 36),
    ((35, 1), 38),
    ((38, 0), 40),
    ((39, 0), 40),
    ((39, 1), None),  # the 40-week contact: next comes the referral at 41 weeks
    ((40, 0), None),
]


@pytest.mark.parametrize(("contact", "expected"), NEXT_BY_HAND)
def test_next_contact_by_hand(contact: tuple[int, int], expected: int | None) -> None:
    ga = contact[0] * 7 + contact[1]
    due = sched([ga / 7], ga)
    planned = [d for d in due if d.status != "done"]
    assert (planned[0].ga_weeks if planned else None) == expected


def test_a_woman_who_attends_as_the_dak_schedules_is_never_missed_or_overdue() -> None:
    attended = [8, *DAK_WEEKS[1:]]  # first contact at 8 weeks, then every scheduled week
    for day in range(8 * 7, 41 * 7):
        seen = [w for w in attended if w * 7 <= day]
        statuses = {d.status for d in sched(seen, day)}
        assert not statuses & {"overdue", "missed"}, day


def test_contacts_count_in_sequence_not_by_slot() -> None:
    due = sched([10, 18], 18 * 7)
    assert [(d.number, d.ga_weeks, d.status) for d in due[:3]] == [
        (1, 10, "done"),
        (2, 18, "done"),
        (3, 20, "upcoming"),  # the next scheduled week after 18
    ]


def test_an_early_contact_moves_the_next_on() -> None:
    """A contact at 24 weeks (two weeks before the 26-week contact): next at 26, and no
    contact is overdue at 27 weeks after she comes at 26."""
    due = sched([12, 20, 24], 24 * 7)
    assert next(d.ga_weeks for d in due if d.status != "done") == 26
    due = sched([12, 20, 24, 26], 27 * 7)
    assert not {d.status for d in due} & {"overdue", "missed"}


def test_late_booking_gets_the_remaining_contacts_and_nothing_before_is_missed() -> None:
    due = sched([25], 25 * 7)
    assert [(d.ga_weeks, d.status) for d in due] == [
        (25, "done"),
        (26, "upcoming"),
        (30, "upcoming"),
        (34, "upcoming"),
        (36, "upcoming"),
        (38, "upcoming"),
        (40, "upcoming"),
    ]


@pytest.mark.parametrize(
    ("day", "status"),
    [
        (139, "upcoming"),
        (140, "due"),
        (146, "due"),
        (147, "overdue"),
        (181, "overdue"),
        (182, "missed"),
    ],
)
def test_due_overdue_missed_boundaries(day: int, status: str) -> None:
    due = sched([10], day)
    assert next(d for d in due if d.ga_weeks == 20).status == status


def test_no_contact_yet_first_due_by_12_weeks_never_missed() -> None:
    lmp = date(2026, 1, 5)
    for day, status in [
        (83, "upcoming"),
        (84, "due"),
        (90, "due"),
        (91, "overdue"),
        (200, "overdue"),
    ]:
        due = contact_schedule(
            weeks=DAK_WEEKS,
            today=lmp + timedelta(days=day),
            today_ga_days=day,
            contacts=[],
            registered_on=lmp + timedelta(days=56),
        )
        assert (due[0].number, due[0].status) == (1, status), day


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(4 * 7, 41 * 7), min_size=1, max_size=10), st.integers(0, 30))
def test_schedule_invariants_for_any_history(gas: list[int], extra_days: int) -> None:
    gas = sorted(gas)
    today_ga = gas[-1] + extra_days
    lmp = date(2026, 1, 5)
    contacts = [(lmp + timedelta(days=g), g) for g in gas]
    due = contact_schedule(
        weeks=DAK_WEEKS,
        today=lmp + timedelta(days=today_ga),
        today_ga_days=today_ga,
        contacts=contacts,
    )
    # every contact recorded is a contact, numbered in order
    assert [d.number for d in due] == list(range(1, len(due) + 1))
    assert len([d for d in due if d.status == "done"]) == len(gas)
    planned = [d for d in due if d.status != "done"]
    # only the DAK's weeks after the first, each at least a week after the last contact,
    # none skipped except the one the last contact stood for
    assert all(d.ga_weeks in DAK_WEEKS[1:] for d in planned)
    assert all(d.ga_weeks * 7 - gas[-1] >= 7 for d in planned)
    later = [w for w in DAK_WEEKS[1:] if w * 7 - gas[-1] >= 7]
    assert [d.ga_weeks for d in planned] == later
    # one contact at most is chased at a time
    assert sum(d.status in ("due", "overdue") for d in due) <= 1


def test_registered_never_seen_chases_the_first_contact_only() -> None:
    """Registered at 8 weeks, never seen, now 30 weeks: contact 1 is overdue; nothing is
    listed missed, and the later contacts are planned from today."""
    lmp = date(2026, 1, 5)
    due = contact_schedule(
        weeks=DAK_WEEKS,
        today=lmp + timedelta(weeks=30),
        today_ga_days=30 * 7,
        contacts=[],
        registered_on=lmp + timedelta(weeks=8),
    )
    assert [(d.number, d.ga_weeks, d.status) for d in due] == [
        (1, 12, "overdue"),
        (2, 34, "upcoming"),
        (3, 36, "upcoming"),
        (4, 38, "upcoming"),
        (5, 40, "upcoming"),
    ]


@pytest.mark.parametrize(
    ("danger", "severe"),
    [
        ("severe_headache", True),
        ("visual_disturbance", True),
        ("severe_abdominal_pain", True),
        ("severe_vomiting", True),
        ("vaginal_bleeding", False),
        ("fever", False),
    ],
)
def test_a_severe_feature_ticked_as_a_danger_sign_makes_pre_eclampsia_severe(danger, severe):
    c = ContactFacts(
        on=TODAY,
        ga_days=30 * 7,
        systolic=(150, 150),
        diastolic=(95, 95),
        urine_protein="++",
        danger_signs=frozenset({danger}),
    )
    f = Facts(today=TODAY, age_years=25, ga_days=30 * 7, gravida=2, parity=1, contacts=(c,))
    (a,) = rules.dt17_hypertension(f)
    assert a.code == ("severe_pre_eclampsia" if severe else "pre_eclampsia")
