"""The screening Observation another system submits, read into the service's input (no
database): each value lands in the measurement field it means, and a refusal of the
service's checks is named by the element it came from; the output quantities round-trip
the canonical values (hypothesis)."""

from __future__ import annotations

from datetime import date

from fhir.resources.R4B.observation import Observation
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.screening.schemas import ObservationOut, ScreeningVisitOut
from salomat.domains.screening.service import check_measurement, screening_rules
from salomat.fhir import screening as mapper

LOINC = "http://loinc.org"
RULES = screening_rules("UZ")


def _bp(systolic: int, diastolic: int, swap: bool = False) -> Observation:
    comps = [
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
         "valueQuantity": {"value": systolic, "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
         "valueQuantity": {"value": diastolic, "code": "mm[Hg]"}},
    ]  # fmt: skip
    if swap:
        comps.reverse()
    return Observation.model_validate(
        {
            "resourceType": "Observation",
            "status": "final",
            "extension": [{"url": mapper.PROGRAMME_EXT, "valueCode": "health_profile"}],
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "subject": {"reference": "Patient/7"},
            "effectiveDateTime": "2025-06-01T10:30:00+05:00",
            "interpretation": [{"coding": [{"code": "N"}]}],
            "component": comps,
        }
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 400), st.integers(0, 400), st.booleans())
def test_a_blood_pressure_panel_lands_in_its_fields(systolic: int, diastolic: int, swap: bool):
    inc = mapper.incoming(_bp(systolic, diastolic, swap))
    assert inc.person_id == 7
    assert inc.values["performed_on"] == "2025-06-01"  # the local day measured
    [m] = inc.values["measurements"]
    assert (m["kind"], m["systolic"], m["diastolic"]) == ("bp", systolic, diastolic)
    _, errors = check_measurement(
        RULES, "measurements.0", "bp", systolic=systolic, diastolic=diastolic
    )
    named = {inc.paths[e.field] for e in errors}
    # DHIS2's accepted range: systolic 60-260, diastolic 40-260, both bounds included
    sys_at = 1 if swap else 0
    dia_at = 0 if swap else 1
    expected = set()
    if not 60 <= systolic <= 260:
        expected.add(f"Observation.component[{sys_at}].valueQuantity.value")
    if not 40 <= diastolic <= 260:
        expected.add(f"Observation.component[{dia_at}].valueQuantity.value")
    assert named == expected


def _visit(o: ObservationOut) -> ScreeningVisitOut:
    return ScreeningVisitOut(
        id=1, person_id=7, facility_id=3, programme="health_profile", performed_on=o.observed_on,
        opportunistic=False, result="normal", next_step="none", notes=None, recorded_by="x",
        measurements=[o],
    )  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.floats(1.0, 55.5, allow_nan=False), st.sampled_from(["mmol/L", "mg/dL"]))
def test_glucose_is_given_in_mg_dl_and_as_entered(value: float, unit: str):
    """1558-6 is a mass concentration: the quantity is mg/dL (typed in mg/dL: as typed;
    from mmol/L: x 18.016), and the extension keeps what was entered."""
    m = RULES.measurements["glucose_fasting"]
    entered = value if unit == "mmol/L" else round(value * 18.016, 1)
    c, errors = check_measurement(
        RULES, "measurements.0", "glucose_fasting", value=entered, unit=unit
    )
    if errors:  # rounding moved it past a bound
        return
    assert c is not None
    o = ObservationOut(
        id=2, person_id=7, observed_on=date(2025, 6, 1), kind=c.kind, systolic=None,
        diastolic=None, value=c.value, unit=c.unit, value_entered=c.value_entered,
        unit_entered=c.unit_entered, code=None, loinc=c.loinc, screening_visit_id=1,
        enrolment_id=None,
    )  # fmt: skip
    res = mapper.observation(_visit(o), o)
    q = res["valueQuantity"]
    assert q["code"] == "mg/dL"
    expected = float(c.value_entered or 0) if unit == "mg/dL" else entered * 18.016
    assert abs(q["value"] - expected) <= 0.005 + 1e-9
    [as_entered] = [e for e in res["extension"] if e["url"] == mapper.AS_ENTERED_EXT]
    assert as_entered["valueQuantity"]["code"] == unit
    assert as_entered["valueQuantity"]["value"] == float(c.value_entered or 0)
    assert m.loinc == res["code"]["coding"][0]["code"] == "1558-6"


def test_ids_parse_back_and_do_not_cross():
    assert mapper.parse_observation_id("Observation/screening-12-34") == (12, 34)
    for bad in ("screening-12", "screening--1", "screening-1-x", "cancer-stage-1", "12-bp1"):
        assert mapper.parse_observation_id(bad) is None, bad
    assert mapper.enrolment_id("EpisodeOfCare/dmp-5", "EpisodeOfCare") == 5
    assert mapper.enrolment_id("dmp-recall-5", "EpisodeOfCare") is None
    assert mapper.recall_id("Task/dmp-recall-5") == 5
    assert mapper.recall_id("dmp-5") is None
    assert mapper.measure_programme("https://x/fhir/Measure/hearts-t2dm") == "t2dm"
    assert mapper.measure_programme("infant-mortality") is None


def test_a_body_is_a_screening_by_its_profile_or_category():
    assert mapper.is_screening({"meta": {"profile": [mapper.PROFILE]}})
    assert mapper.is_screening(
        {"category": [{"coding": [{"system": mapper.CATEGORY_SYSTEM, "code": "screening"}]}]}
    )
    for other in (None, [], {"meta": {"profile": ["http://x"]}}, {"category": "x"}):
        assert not mapper.is_screening(other)
