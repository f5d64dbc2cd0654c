"""Antenatal decision rules at their boundaries, the risk table and the schedule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.maternal.service import rules
from salomat.domains.maternal.service.rules import (
    Advice,
    ContactFacts,
    DueContact,
    Facts,
    evaluate,
    risk,
    schedule,
)

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

TODAY = date(2026, 6, 1)
COUNTRIES = ["UZ", "KZ"]


def contact(ga_weeks: float = 20, **kw: object) -> ContactFacts:
    ga = int(ga_weeks * 7)
    return ContactFacts(on=TODAY, ga_days=ga, **kw)  # type: ignore[arg-type]


def facts(*contacts: ContactFacts, ga_days: int | None = None, **kw: object) -> Facts:
    ga = ga_days if ga_days is not None else (contacts[-1].ga_days if contacts else 140)
    base: dict = {"today": TODAY, "age_years": 25, "ga_days": ga, "gravida": 2, "parity": 1}
    base.update(kw)
    return Facts(contacts=tuple(contacts), **base)


def codes(advice: list[Advice]) -> list[str]:
    return [a.code for a in advice]


# --- DT.01 -------------------------------------------------------------------


def test_dt01_danger_sign_urgent_referral() -> None:
    assert rules.dt01_danger_signs(facts(contact())) == []
    [a] = rules.dt01_danger_signs(facts(contact(danger_signs=frozenset({"convulsions"}))))
    assert (a.rule_id, a.urgency, a.values) == (
        "DT.01",
        "emergency",
        {"danger_signs": ["convulsions"]},
    )
    assert "DT.01" in a.source


# --- DT.04 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sbp", "dbp", "fires"),
    [(139, 89, False), (140, 90, True), (140, 89, True), (139, 90, True)],
)
def test_dt04_bp_remeasure(sbp: int, dbp: int, fires: bool) -> None:
    out = rules.dt04_remeasure(facts(contact(systolic=(sbp,), diastolic=(dbp,))))
    assert codes(out) == (["remeasure_bp"] if fires else [])


def test_dt04_no_remeasure_once_second_reading_taken() -> None:
    out = rules.dt04_remeasure(facts(contact(systolic=(150, 150), diastolic=(95, 95))))
    assert out == []


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"temperature_c": (37.9,)}, None),
        ({"temperature_c": (38.0,)}, "remeasure_temperature"),
        ({"pulse": (60,)}, None),
        ({"pulse": (59,)}, "remeasure_pulse"),
        ({"pulse": (100,)}, None),
        ({"pulse": (101,)}, "remeasure_pulse"),
        ({"fetal_heart_rate": (100,)}, None),
        ({"fetal_heart_rate": (99,)}, "remeasure_fhr"),
        ({"fetal_heart_rate": (180,)}, None),
        ({"fetal_heart_rate": (181,)}, "remeasure_fhr"),
    ],
)
def test_dt04_vitals_remeasure(kw: dict, code: str | None) -> None:
    out = rules.dt04_remeasure(facts(contact(**kw)))
    assert codes(out) == ([code] if code else [])


# --- DT.06 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"temperature_c": (38.5, 37.9)}, None),
        ({"temperature_c": (38.5, 38.0)}, "fever"),
        ({"pulse": (110, 100)}, None),
        ({"pulse": (110, 101)}, "abnormal_pulse"),
        ({"spo2": 92}, None),
        ({"spo2": 91}, "low_oxygen_saturation"),
        ({"fetal_heart_rate": (90, 120)}, None),
        ({"fetal_heart_rate": (90, 190)}, "abnormal_fetal_heart_rate"),
        ({"fetal_heartbeat_absent": True}, "no_fetal_heartbeat"),
    ],
)
def test_dt06_refer(kw: dict, code: str | None) -> None:
    out = rules.dt06_refer(facts(contact(20, **kw)))
    assert codes(out) == ([code] if code else [])


def test_dt06_fetal_heartbeat_only_from_20_weeks() -> None:
    c = contact(19, fetal_heartbeat_absent=True)
    c = replace(c, ga_days=139)
    assert rules.dt06_refer(facts(c)) == []
    assert codes(rules.dt06_refer(facts(replace(c, ga_days=140)))) == ["no_fetal_heartbeat"]


# --- DT.17 -------------------------------------------------------------------


def bp(s1: int, d1: int, s2: int | None = None, d2: int | None = None, **kw: object) -> Facts:
    s2 = s1 if s2 is None else s2
    d2 = d1 if d2 is None else d2
    return facts(contact(24, systolic=(s1, s2), diastolic=(d1, d2), **kw))


@pytest.mark.parametrize(
    ("reading", "code"),
    [
        ((139, 89), None),
        ((140, 90), "hypertension"),
        ((140, 80), "hypertension"),
        ((120, 90), "hypertension"),
        ((159, 109), "hypertension"),
        ((160, 109), "severe_hypertension"),
        ((159, 110), "severe_hypertension"),
        ((160, 110), "severe_hypertension"),
    ],
)
def test_dt17_boundaries(reading: tuple[int, int], code: str | None) -> None:
    out = rules.dt17_hypertension(bp(*reading))
    assert codes(out) == ([code] if code else [])


def test_dt17_needs_both_readings_high() -> None:
    assert rules.dt17_hypertension(bp(150, 95, 135, 85)) == []
    assert rules.dt17_hypertension(facts(contact(systolic=(150,), diastolic=(95,)))) == []
    # one severe and one merely high reading: hypertension, not severe
    assert codes(rules.dt17_hypertension(bp(165, 95, 150, 95))) == ["hypertension"]


@pytest.mark.parametrize("protein", ["++", "+++"])
def test_dt17_protein_without_severe_feature_is_pre_eclampsia_not_severe(protein: str) -> None:
    for reading in [(140, 90), (150, 95), (159, 109)]:
        out = rules.dt17_hypertension(bp(*reading, urine_protein=protein))
        assert codes(out) == ["pre_eclampsia"]
        assert out[0].urgency == "urgent"
        assert "magnesium" not in out[0].action.lower()
    for reading in [(160, 95), (150, 110), (170, 115)]:
        out = rules.dt17_hypertension(bp(*reading, urine_protein=protein))
        assert codes(out) == ["severe_pre_eclampsia"]
        assert out[0].urgency == "emergency"


@pytest.mark.parametrize("protein", [None, "none", "+"])
def test_dt17_protein_none_or_plus_is_hypertension(protein: str | None) -> None:
    assert codes(rules.dt17_hypertension(bp(150, 95, urine_protein=protein))) == ["hypertension"]
    assert codes(rules.dt17_hypertension(bp(165, 112, urine_protein=protein))) == [
        "severe_hypertension"
    ]


def test_dt17_symptom_makes_severe_pre_eclampsia() -> None:
    out = rules.dt17_hypertension(bp(145, 92, symptoms=frozenset({"blurred_vision"})))
    assert codes(out) == ["severe_pre_eclampsia"]
    assert out[0].values["symptoms"] == ["blurred_vision"]


def test_dt17_typo_row_read_as_at_least_140() -> None:
    """The DAK row "SBP <= 140 + protein ++" is read as ">= 140": normal BP with
    proteinuria is not classified as (severe) pre-eclampsia."""
    assert rules.dt17_hypertension(bp(120, 80, urine_protein="++")) == []
    assert rules.dt17_hypertension(bp(139, 89, urine_protein="+++")) == []
    assert codes(rules.dt17_hypertension(bp(140, 80, urine_protein="++"))) == ["pre_eclampsia"]


def test_dt17_hypertension_reassess_in_a_week_late_and_refer_if_persisting() -> None:
    [a] = rules.dt17_hypertension(bp(150, 95))
    assert a.details["reassess_in_days"] is None
    assert not a.details["refer"]
    late = facts(contact(32, systolic=(150, 150), diastolic=(95, 95)))
    assert rules.dt17_hypertension(late)[0].details["reassess_in_days"] == 7
    high = contact(30, systolic=(150, 150), diastolic=(95, 95))
    again = facts(high, contact(31, systolic=(148, 146), diastolic=(92, 94)))
    [a] = rules.dt17_hypertension(again)
    assert a.details["refer"]
    assert a.urgency == "soon"


# --- DT.23 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"fasting_glucose_mmol_l": 5.0}, None),
        ({"fasting_glucose_mmol_l": 5.1}, "gestational_diabetes"),
        ({"fasting_glucose_mmol_l": 6.9}, "gestational_diabetes"),
        ({"fasting_glucose_mmol_l": 7.0}, "diabetes_in_pregnancy"),
        ({"ogtt_1h_mmol_l": 9.9}, None),
        ({"ogtt_1h_mmol_l": 10.0}, "gestational_diabetes"),
        ({"ogtt_1h_mmol_l": 11.0}, "gestational_diabetes"),
        # WHO 2013: a 1-h value alone, however high, is gestational diabetes
        ({"ogtt_1h_mmol_l": 11.1}, "gestational_diabetes"),
        ({"ogtt_1h_mmol_l": 16.0}, "gestational_diabetes"),
        ({"ogtt_2h_mmol_l": 8.4}, None),
        ({"ogtt_2h_mmol_l": 8.5}, "gestational_diabetes"),
        ({"ogtt_2h_mmol_l": 11.1}, "diabetes_in_pregnancy"),
        ({"random_glucose_mmol_l": 11.0}, None),
        ({"random_glucose_mmol_l": 11.1}, "diabetes_in_pregnancy"),
        ({"fasting_glucose_mmol_l": 5.5, "ogtt_2h_mmol_l": 12.0}, "diabetes_in_pregnancy"),
    ],
)
def test_dt23_glucose(kw: dict, code: str | None) -> None:
    out = rules.dt23_diabetes(facts(contact(26, **kw)))
    assert codes(out) == ([code] if code else [])
    if code:
        assert out[0].values == kw


# --- DT.25 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weeks", "hb", "code"),
    [
        (12, 109, "anaemia"),
        (12, 110, None),
        (13, 104, "anaemia"),
        (13, 105, None),
        (20, 104, "anaemia"),
        (20, 105, None),
        (27, 105, None),
        (28, 109, "anaemia"),
        (28, 110, None),
        (20, 100, "anaemia"),
        (20, 99, "moderate_anaemia"),
        (20, 70, "moderate_anaemia"),
        (20, 69, "severe_anaemia"),
    ],
)
def test_dt25_anaemia_by_ga_band(weeks: int, hb: int, code: str | None) -> None:
    c = replace(contact(haemoglobin_g_l=hb), ga_days=weeks * 7 + 6)  # last day of the week
    out = rules.dt25_anaemia(facts(c))
    assert codes(out) == ([code] if code else [])


def test_dt25_pallor_without_test_and_severe_refers() -> None:
    assert codes(rules.dt25_anaemia(facts(contact(pallor=True)))) == ["anaemia"]
    assert rules.dt25_anaemia(facts(contact(pallor=True, haemoglobin_g_l=120))) == []
    [a] = rules.dt25_anaemia(facts(contact(haemoglobin_g_l=60)))
    assert a.urgency == "urgent"
    assert "refer" in a.action.lower()


# --- DT.27, DT.07, DT.08/11 ------------------------------------------------------


def test_dt27_pre_eclampsia_risk_aspirin_from_12_weeks() -> None:
    assert rules.dt27_pre_eclampsia_risk(facts(contact(8))) == []
    f = facts(contact(8), ga_days=56, conditions=frozenset({"chronic_hypertension", "asthma"}))
    [a] = rules.dt27_pre_eclampsia_risk(f)
    assert a.values == {"factors": ["chronic_hypertension"]}
    assert a.details["aspirin_from"] == (TODAY + timedelta(days=28)).isoformat()
    [a] = rules.dt27_pre_eclampsia_risk(facts(contact(20), multiple_pregnancy=True))
    assert a.details["aspirin_from"] == TODAY.isoformat()
    assert codes(rules.dt27_pre_eclampsia_risk(facts(previous_pre_eclampsia=True))) == [
        "pre_eclampsia_risk"
    ]


def test_dt07_ultrasound_before_24_weeks() -> None:
    assert codes(rules.dt07_ultrasound(facts(ga_days=167))) == ["ultrasound_due"]
    assert rules.dt07_ultrasound(facts(ga_days=168)) == []
    assert rules.dt07_ultrasound(facts(contact(10, ultrasound_done=True), ga_days=100)) == []


def test_dt08_11_tests_at_first_contact_and_again_from_29_weeks() -> None:
    assert codes(rules.dt08_11_hiv_syphilis(facts(contact(10)))) == [
        "hiv_test_due",
        "syphilis_test_due",
    ]
    tested = contact(10, hiv_test_done=True, syphilis_test_done=True)
    assert rules.dt08_11_hiv_syphilis(facts(tested, ga_days=202)) == []  # 28w6d
    out = rules.dt08_11_hiv_syphilis(facts(tested, ga_days=203))  # 29w0d
    assert codes(out) == ["hiv_test_due", "syphilis_test_due"]
    assert out[0].values["reason"] == "third_trimester"
    retested = replace(tested, ga_days=203)
    assert rules.dt08_11_hiv_syphilis(facts(tested, retested)) == []
    positive = contact(10, hiv_positive=True, syphilis_test_done=True)
    assert codes(rules.dt08_11_hiv_syphilis(facts(positive))) == []


# --- DT.34 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "adolescent"),
    [(15, True), (17, True), (18, False), (19, False), (20, False), (25, False), (40, False)],
)
def test_dt34_adolescent_is_17_or_younger_never_over_19(age: int, adolescent: bool) -> None:
    """DAK table: age <= 17; the spreadsheet's "> 19" is the known defect (the
    CQL's "< 19" is right), so women over 19 never fire on age."""
    out = rules.dt34_facility_birth(facts(age_years=age))
    factors = out[0].values["factors"] if out else []
    assert ("adolescent" in factors) is adolescent


@pytest.mark.parametrize(
    ("kw", "factor"),
    [
        ({"gravida": 1, "parity": 0}, "first_pregnancy"),
        ({"gravida": 7, "parity": 6}, "grand_multiparity"),
        ({"previous_caesarean": True}, "previous_caesarean"),
        ({"previous_pph": True}, "previous_pph"),
        ({"previous_instrumental_birth": True}, "previous_instrumental_birth"),
        ({"previous_convulsions": True}, "previous_convulsions"),
        ({"previous_severe_tear": True}, "previous_severe_tear"),
        ({"multiple_pregnancy": True}, "multiple_pregnancy"),
        ({"abnormal_presentation": True}, "abnormal_presentation"),
        ({"conditions": frozenset({"hiv"})}, "hiv_positive"),
    ],
)
def test_dt34_factors(kw: dict, factor: str) -> None:
    [a] = rules.dt34_facility_birth(facts(**kw))
    assert factor in a.values["factors"]


def test_dt34_none_and_parity_boundary_and_bleeding() -> None:
    assert rules.dt34_facility_birth(facts(gravida=6, parity=5)) == []
    bleeding = contact(danger_signs=frozenset({"vaginal_bleeding"}))
    assert rules.dt34_facility_birth(facts(bleeding))[0].values["factors"] == ["vaginal_bleeding"]


# --- national rules ----------------------------------------------------------


@pytest.mark.parametrize("country", COUNTRIES)
@pytest.mark.parametrize(
    ("age", "code"),
    [
        (17, "maternal_age_under_18"),
        (18, None),
        (35, None),
        (36, "maternal_age_over_35"),
    ],
)
def test_national_age_rules(country: str, age: int, code: str | None) -> None:
    out = [a for a in evaluate(facts(age_years=age), country) if a.rule_id.startswith(country)]
    assert codes(out) == ([code] if code else [])
    if code:
        assert out[0].source.startswith("UNVERIFIED")


# --- evaluate and risk -------------------------------------------------------


@pytest.mark.parametrize("country", COUNTRIES)
def test_acceptance_hypertension_at_second_contact(country: str) -> None:
    """Registered at 10 weeks; the second contact has 150/95 twice."""
    first = ContactFacts(
        on=TODAY - timedelta(days=70),
        ga_days=70,
        systolic=(115, 115),
        diastolic=(75, 75),
        hiv_test_done=True,
        syphilis_test_done=True,
        ultrasound_done=True,
    )
    second = ContactFacts(on=TODAY, ga_days=140, systolic=(150, 150), diastolic=(95, 95))
    f = facts(first, second, first_contact_on=first.on)
    advice = evaluate(f, country)
    [hyp] = [a for a in advice if a.rule_id == "DT.17"]
    assert hyp.code == "hypertension"
    assert hyp.values["systolic"] == [150, 150]
    assert hyp.values["diastolic"] == [95, 95]
    assert "ANC.DT.17" in hyp.source
    assert "remeasure_bp" not in codes(advice)
    level, care = risk(advice, country)
    assert level == "high"
    assert care >= 2


@pytest.mark.parametrize("country", COUNTRIES)
def test_risk_default_highest_and_factors(country: str) -> None:
    assert risk([], country) == ("low", 1)
    f = facts(contact(24, systolic=(170, 170), diastolic=(100, 100), urine_protein="++"))
    assert risk(evaluate(f, country), country) == ("high", 3)
    assert risk(rules.dt34_facility_birth(facts(gravida=1, parity=0)), country) == ("low", 1)
    cs = rules.dt34_facility_birth(facts(previous_caesarean=True))
    assert risk(cs, country) == ("medium", 2)


def test_evaluate_order_and_no_duplicates() -> None:
    f = facts(
        contact(
            20,
            danger_signs=frozenset({"fever"}),
            systolic=(150, 150),
            diastolic=(95, 95),
            haemoglobin_g_l=90,
        ),
        gravida=1,
        parity=0,
    )
    out = evaluate(f, "UZ")
    keys = [(a.rule_id, a.code) for a in out]
    assert len(keys) == len(set(keys))
    assert keys[0] == ("DT.01", "danger_signs")
    assert evaluate(f, "UZ") == out
    order = [k[0] for k in keys]
    assert order.index("DT.17") < order.index("DT.25") < order.index("DT.34")


# --- schedule ----------------------------------------------------------------


def _status(due: list[DueContact]) -> dict[int, str]:
    return {d.ga_weeks: d.status for d in due}


def test_schedule_first_seen_at_10_weeks() -> None:
    lmp = TODAY - timedelta(days=70)
    first = ContactFacts(on=TODAY, ga_days=70)
    due = schedule(facts(first, ga_days=70), "UZ")
    assert [d.ga_weeks for d in due] == [10, 20, 26, 30, 34, 36, 38, 40]
    assert [d.number for d in due] == list(range(1, 9))
    assert due[0].status == "done"
    assert {d.status for d in due[1:]} == {"upcoming"}
    assert due[1].due_on == lmp + timedelta(weeks=20)
    # the same woman on later days, with no further contact
    later = [(140, "due"), (146, "due"), (147, "overdue"), (181, "overdue"), (182, "missed")]
    for ga, status in later:
        f = facts(first, ga_days=ga, today=lmp + timedelta(days=ga))
        assert _status(schedule(f, "UZ"))[20] == status, ga


def test_schedule_first_seen_at_24_weeks_gets_remaining_contacts() -> None:
    first = ContactFacts(on=TODAY, ga_days=168)
    due = schedule(facts(first, ga_days=168), "KZ")
    assert [(d.ga_weeks, d.status) for d in due] == [
        (24, "done"),
        (26, "upcoming"),
        (30, "upcoming"),
        (34, "upcoming"),
        (36, "upcoming"),
        (38, "upcoming"),
        (40, "upcoming"),
    ]


def test_schedule_expires_at_41_weeks() -> None:
    first = ContactFacts(on=TODAY, ga_days=70)
    lmp = TODAY - timedelta(days=70)
    for ga, status in [(279, "upcoming"), (280, "due"), (286, "due"), (287, "missed")]:
        f = facts(first, ga_days=ga, today=lmp + timedelta(days=ga))
        assert _status(schedule(f, "UZ"))[40] == status, ga


def test_missed_contacts_advice() -> None:
    first = ContactFacts(on=TODAY - timedelta(days=77), ga_days=70)
    f = facts(first, ga_days=147, today=TODAY)
    [a] = [a for a in evaluate(f, "UZ") if a.rule_id == "ANC.S.01"]
    assert (a.code, a.values) == ("contact_overdue", {"ga_weeks": [20]})


def test_schedule_reads_pack_weeks() -> None:
    pack = {"schedule_weeks": [12, 16, 20]}
    due = rules._schedule(facts(ga_days=70), pack)
    assert [(d.ga_weeks, d.status) for d in due] == [
        (12, "upcoming"),
        (16, "upcoming"),
        (20, "upcoming"),
    ]


# --- properties --------------------------------------------------------------

contacts_st = st.builds(
    ContactFacts,
    on=st.dates(date(2025, 1, 1), date(2026, 6, 1)),
    ga_days=st.integers(0, 44 * 7),
    systolic=st.lists(st.integers(60, 220), max_size=3).map(tuple),
    diastolic=st.lists(st.integers(30, 140), max_size=3).map(tuple),
    temperature_c=st.lists(st.floats(34, 42), max_size=2).map(tuple),
    pulse=st.lists(st.integers(30, 200), max_size=2).map(tuple),
    spo2=st.none() | st.integers(50, 100),
    fetal_heart_rate=st.lists(st.integers(50, 240), max_size=2).map(tuple),
    fetal_heartbeat_absent=st.booleans(),
    urine_protein=st.sampled_from([None, "none", "+", "++", "+++"]),
    haemoglobin_g_l=st.none() | st.integers(30, 180),
    pallor=st.booleans(),
    fasting_glucose_mmol_l=st.none() | st.floats(2, 20),
    ogtt_1h_mmol_l=st.none() | st.floats(2, 25),
    ogtt_2h_mmol_l=st.none() | st.floats(2, 25),
    random_glucose_mmol_l=st.none() | st.floats(2, 30),
    danger_signs=st.frozensets(st.sampled_from(sorted(rules.DANGER_SIGNS)), max_size=3),
    symptoms=st.frozensets(st.sampled_from(sorted(rules.PRE_ECLAMPSIA_SYMPTOMS)), max_size=2),
    ultrasound_done=st.booleans(),
    hiv_test_done=st.booleans(),
    syphilis_test_done=st.booleans(),
    hiv_positive=st.booleans(),
)
facts_st = st.builds(
    Facts,
    today=st.dates(date(2025, 1, 1), date(2027, 1, 1)),
    age_years=st.integers(10, 55),
    ga_days=st.integers(14, 45 * 7),
    gravida=st.integers(1, 15),
    parity=st.integers(0, 14),
    previous_caesarean=st.booleans(),
    previous_pre_eclampsia=st.booleans(),
    multiple_pregnancy=st.booleans(),
    abnormal_presentation=st.booleans(),
    conditions=st.frozensets(
        st.sampled_from(["autoimmune", "diabetes", "chronic_hypertension", "kidney_disease", "hiv"])
    ),
    contacts=st.lists(contacts_st, max_size=4).map(tuple),
    first_contact_on=st.none() | st.dates(date(2025, 1, 1), date(2026, 6, 1)),
)


@settings(max_examples=150, deadline=None)
@given(facts_st, st.sampled_from(COUNTRIES))
def test_evaluate_never_raises_and_is_deterministic(f: Facts, country: str) -> None:
    out = evaluate(f, country)
    keys = [(a.rule_id, a.code) for a in out]
    assert len(keys) == len(set(keys))
    assert evaluate(f, country) == out
    level, care = risk(out, country)
    assert level in ("low", "medium", "high")
    assert 1 <= care <= 3
    due = schedule(f, country)
    assert all(d.status in ("done", "due", "overdue", "upcoming", "missed") for d in due)


@settings(max_examples=100, deadline=None)
@given(facts_st, facts_st, st.sampled_from(COUNTRIES))
def test_risk_is_monotone(f: Facts, g: Facts, country: str) -> None:
    a = evaluate(f, country)
    extra = evaluate(g, country)
    order = {"low": 0, "medium": 1, "high": 2}
    base_level, base_care = risk(a, country)
    for item in extra:
        level, care = risk([*a, item], country)
        assert order[level] >= order[base_level]
        assert care >= base_care
