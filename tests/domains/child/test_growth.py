"""Growth monitoring: WHO z-scores and their conventions (pure), and recording through REST."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.child.schemas import MeasurementIn
from salomat.domains.child.service import growth
from salomat.domains.child.service.growth import Assessment, assess, classify

TODAY = date.today()


# ---- the WHO reference point (../shared/domain/child-health.md) --------------------------


def test_the_who_reference_child_girl_366_days_7kg_64cm():
    a = assess("female", 366, weight_kg=7.0, length_or_height_cm=64, measured_lying=True)
    assert (a.lhfa, a.wfa, a.wfl_or_wfh, a.wfl_or_wfh_z) == (-3.90, -2.06, "wfl", 0.24)
    assert a.implausible == []
    assert a.classification == ["severe_stunting", "moderate_underweight"]


def test_a_measurement_at_birth_day_0_has_z_scores():
    # pygrowup takes age_in_days=0 for "no age": the service passes dates instead
    a = assess("male", 0, weight_kg=3.3, length_or_height_cm=49.9, head_circumference_cm=34.5)
    assert a.wfa is not None
    assert abs(a.wfa) < 0.2
    assert a.lhfa is not None
    assert abs(a.lhfa) < 0.2
    assert a.hcfa is not None
    assert abs(a.hcfa) < 0.2


# ---- length below 24 months, height from 24 months, 0.7 cm between ----------------------


def test_day_730_is_length_and_day_731_is_height():
    assert growth.conventional_length(730, 86.0, True) == (86.0, True)
    assert growth.conventional_length(730, 86.0, False) == (86.7, False)
    assert growth.conventional_length(731, 86.0, False) == (86.0, False)
    assert growth.conventional_length(731, 86.0, True) == (85.3, True)
    # not said: as due for the age, no correction
    assert growth.conventional_length(730, 86.0, None) == (86.0, True)
    assert growth.conventional_length(731, 86.0, None) == (86.0, False)


@pytest.mark.parametrize("age", [600, 730, 731, 900])
def test_standing_and_lying_of_one_child_give_one_z_score(age: int):
    """The same child measured both ways (lying is 0.7 cm longer) compares the same."""
    standing = assess("male", age, length_or_height_cm=85.0, measured_lying=False)
    lying = assess("male", age, length_or_height_cm=85.7, measured_lying=True)
    assert standing.lhfa == lying.lhfa
    due = assess("male", age, length_or_height_cm=85.0 if age >= 731 else 85.7)
    assert due.lhfa == standing.lhfa


def test_the_correction_changes_the_z_score_by_the_07_cm():
    as_due = assess("female", 700, length_or_height_cm=80.0, measured_lying=True).lhfa
    wrong_way = assess("female", 700, length_or_height_cm=80.0, measured_lying=False).lhfa
    assert as_due is not None
    assert wrong_way is not None
    assert wrong_way > as_due


def test_weight_for_length_under_24_months_weight_for_height_from_24_months_to_5_years():
    assert assess("male", 730, weight_kg=12, length_or_height_cm=86).wfl_or_wfh == "wfl"
    assert assess("male", 731, weight_kg=12, length_or_height_cm=86).wfl_or_wfh == "wfh"
    older = assess("male", 2000, weight_kg=20, length_or_height_cm=112)
    assert (older.wfl_or_wfh, older.wfl_or_wfh_z) == (None, None)
    assert older.bmifa is not None


# ---- classification at the thresholds ----------------------------------------------------


def _a(**z: float) -> Assessment:
    return Assessment(age_days=400, **z)


@pytest.mark.parametrize(
    ("z", "expected"),
    [
        (-1.99, []),
        (-2.0, []),
        (-2.01, ["moderate_stunting"]),
        (-3.0, ["moderate_stunting"]),
        (-3.01, ["severe_stunting"]),
    ],
)
def test_stunting_below_minus_2_moderate_below_minus_3_severe(z: float, expected: list[str]):
    assert classify(400, _a(lhfa=z)) == expected


@pytest.mark.parametrize(
    ("z", "expected"),
    [
        (-2.0, []),
        (-2.01, ["moderate_wasting"]),
        (-3.01, ["severe_wasting"]),
        (2.0, []),
        (2.01, ["overweight"]),
        (3.0, ["overweight"]),
        (3.01, ["obese"]),
    ],
)
def test_weight_for_length_wasting_overweight_and_obese(z: float, expected: list[str]):
    assert classify(400, _a(wfl_or_wfh="wfl", wfl_or_wfh_z=z)) == expected


def test_underweight_and_bmi_for_age_from_5_years():
    assert classify(400, _a(wfa=-2.5)) == ["moderate_underweight"]
    assert classify(400, _a(wfa=-3.5)) == ["severe_underweight"]
    old = 8 * 365
    assert classify(old, Assessment(age_days=old, bmifa=1.01)) == ["overweight"]
    assert classify(old, Assessment(age_days=old, bmifa=2.01)) == ["obese"]
    assert classify(old, Assessment(age_days=old, bmifa=-2.01)) == ["moderate_thinness"]
    assert classify(old, Assessment(age_days=old, bmifa=-3.01)) == ["severe_thinness"]
    # under 5 the BMI-for-age does not classify (weight-for-length/height does)
    assert classify(400, _a(bmifa=2.5)) == []


# ---- implausible values are flagged, not classified ----------------------------------------


def test_implausible_z_scores_are_flagged_and_left_out_of_the_classification():
    a = assess("female", 366, weight_kg=7.0, length_or_height_cm=45.0, measured_lying=True)
    assert a.lhfa is not None
    assert a.lhfa < -6
    assert "lhfa" in a.implausible
    assert "moderate_stunting" not in a.classification
    assert "severe_stunting" not in a.classification
    # each limit, one below, at and one above: test_who.py


def test_flags_come_from_assess_for_each_indicator():
    heavy = assess("male", 200, weight_kg=30.0, length_or_height_cm=66)
    assert "wfa" in heavy.implausible
    assert "wfl_or_wfh" in heavy.implausible
    assert heavy.classification == []


# ---- properties --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    sex=st.sampled_from(["male", "female"]),
    age=st.integers(min_value=0, max_value=3600),
    w1=st.floats(min_value=2.0, max_value=40.0),
    w2=st.floats(min_value=2.0, max_value=40.0),
)
def test_weight_for_age_z_never_falls_as_weight_rises(sex: str, age: int, w1: float, w2: float):
    low, high = sorted((round(w1, 2), round(w2, 2)))
    z_low = assess(sex, age, weight_kg=low).wfa
    z_high = assess(sex, age, weight_kg=high).wfa
    assert z_low is not None
    assert z_high is not None
    assert z_low <= z_high


@settings(max_examples=40, deadline=None)
@given(
    sex=st.sampled_from(["male", "female"]),
    age=st.integers(min_value=0, max_value=6900),
)
def test_the_reference_curves_are_ordered_by_z(sex: str, age: int):
    for indicator in ("wfa", "lhfa"):
        for _, values in growth.reference_curve(indicator, sex, age, age, points=1):
            assert values == sorted(values)
            assert len(values) == len(growth.CURVE_ZS)


def test_the_median_curve_is_the_who_median():
    # WHO weight-for-age, girls, birth: median 3.2322 kg
    (_, values), *_ = growth.reference_curve("wfa", "female", 0, 0, points=1)
    assert values[growth.CURVE_ZS.index(0)] == pytest.approx(3.23, abs=0.01)


# ---- recording through REST ----------------------------------------------------------------


@pytest.fixture
async def nursery(make_facility, make_person, make_user, login) -> dict[str, Any]:
    fac = await make_facility()
    child = await make_person(
        facility_code=fac.code, sex="female", birth_date=TODAY - timedelta(days=366)
    )
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    return {"facility": fac, "child": child, "nurse": nurse}


def _fields(r) -> set[str]:
    return {e["field"] for e in r.json().get("errors", [])}


@pytest.mark.anyio
async def test_the_nurse_records_a_measurement_and_gets_the_z_scores(client, nursery):
    child, nurse = nursery["child"], nursery["nurse"]
    r = await client.post(
        f"/api/v1/persons/{child.id}/growth",
        json={"weight_kg": 7.0, "length_or_height_cm": 64, "measured_lying": True},
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["age_days"], m["lhfa_z"], m["wfa_z"], m["wfl_or_wfh_z"]) == (366, -3.9, -2.06, 0.24)
    assert m["classification"] == ["severe_stunting", "moderate_underweight"]
    listed = await client.get(f"/api/v1/persons/{child.id}/growth", headers=nurse)
    assert [x["id"] for x in listed.json()] == [m["id"]]


@pytest.mark.anyio
async def test_an_implausible_value_is_stored_and_flagged(client, nursery):
    child, nurse = nursery["child"], nursery["nurse"]
    r = await client.post(
        f"/api/v1/persons/{child.id}/growth", json={"length_or_height_cm": 45}, headers=nurse
    )
    assert r.status_code == 201, r.text
    assert r.json()["implausible"] == ["lhfa"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weight_kg": 0}, "weight_kg"),
        ({"weight_kg": -1}, "weight_kg"),
        ({"weight_kg": 200.5}, "weight_kg"),
        ({"length_or_height_cm": 29.9}, "length_or_height_cm"),
        ({"length_or_height_cm": 231}, "length_or_height_cm"),
        ({"weight_kg": 7, "measured_on": (TODAY + timedelta(days=1)).isoformat()}, "measured_on"),
        ({"weight_kg": 7, "measured_on": (TODAY - timedelta(days=400)).isoformat()}, "measured_on"),
        ({}, "weight_kg"),
    ],
)
async def test_impossible_values_are_refused_naming_the_field(client, nursery, db, body, field):
    from sqlalchemy import func, select

    from salomat.domains.child.models import GrowthMeasurement

    child, nurse = nursery["child"], nursery["nurse"]
    r = await client.post(f"/api/v1/persons/{child.id}/growth", json=body, headers=nurse)
    assert r.status_code == 422, r.text
    assert _fields(r) == {field}
    count = await db.scalar(
        select(func.count())
        .select_from(GrowthMeasurement)
        .where(GrowthMeasurement.person_id == child.id)
    )
    assert count == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weight_kg": "nan"}, "weight_kg"),
        ({"weight_kg": "NaN"}, "weight_kg"),
        ({"weight_kg": 7, "length_or_height_cm": "inf"}, "length_or_height_cm"),
        ({"weight_kg": 7, "head_circumference_cm": "-Infinity"}, "head_circumference_cm"),
        ({"weight_kg": 7, "muac_cm": "nan"}, "muac_cm"),
    ],
)
async def test_nan_and_infinity_are_refused_naming_the_field(client, nursery, body, field):
    child, nurse = nursery["child"], nursery["nurse"]
    r = await client.post(f"/api/v1/persons/{child.id}/growth", json=body, headers=nurse)
    assert r.status_code == 422, r.text
    assert _fields(r) == {field}
    listed = await client.get(f"/api/v1/persons/{child.id}/growth", headers=nurse)
    assert listed.json() == []


@pytest.mark.anyio
async def test_newborn_nan_is_refused_naming_the_field(client, nursery):
    child, nurse = nursery["child"], nursery["nurse"]
    r = await client.put(
        f"/api/v1/persons/{child.id}/newborn-screening",
        json={"hearing": "pass", "birth_length_cm": "nan"},
        headers=nurse,
    )
    assert r.status_code == 422, r.text
    assert _fields(r) == {"birth_length_cm"}


def test_the_service_refuses_nan_even_past_the_schema():
    data = MeasurementIn.model_construct(weight_kg=float("nan"), muac_cm=float("inf"))
    assert {e.field for e in growth._check(data)} == {"weight_kg", "muac_cm"}


@pytest.mark.anyio
async def test_a_measurement_after_the_death_is_refused(client, nursery, make_user, login):
    child, nurse = nursery["child"], nursery["nurse"]
    doctor = await login(await make_user("family_doctor", facility_code=nursery["facility"].code))
    died = TODAY - timedelta(days=10)
    r = await client.post(
        f"/api/v1/persons/{child.id}/death",
        json={"deceased_on": died.isoformat(), "cause": "A41.9"},
        headers={**doctor, "If-Match": f'W/"{child.version}"'},
    )
    assert r.status_code in (200, 201), r.text
    late = await client.post(
        f"/api/v1/persons/{child.id}/growth", json={"weight_kg": 7.0}, headers=nurse
    )
    assert late.status_code == 422, late.text
    assert _fields(late) == {"measured_on"}
    before = await client.post(
        f"/api/v1/persons/{child.id}/growth",
        json={"weight_kg": 7.0, "measured_on": (died - timedelta(days=1)).isoformat()},
        headers=nurse,
    )
    assert before.status_code == 201, before.text


@pytest.mark.anyio
async def test_roles_recording_and_reading(client, nursery, make_user, login):
    child = nursery["child"]
    obstetrician = await login(
        await make_user("obstetrician", facility_code=nursery["facility"].code)
    )
    r = await client.post(
        f"/api/v1/persons/{child.id}/growth", json={"weight_kg": 7}, headers=obstetrician
    )
    assert r.status_code == 403
    other = await login(await make_user("nurse"))
    r = await client.post(
        f"/api/v1/persons/{child.id}/growth", json={"weight_kg": 7}, headers=other
    )
    assert r.status_code == 404
    r = await client.get(f"/api/v1/persons/{child.id}/growth", headers=other)
    assert r.status_code == 404
