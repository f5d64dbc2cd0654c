"""Screening and the disease-management programmes as FHIR: screening Observations (LOINC,
UCUM), a result another system submits (POST Observation with the screening profile),
screening visits as Encounter, enrolments as EpisodeOfCare, their schedule as CarePlan,
the recall of an overdue patient as Task, the HEARTS indicators as Measure /
MeasureReport; beside the other domains that share these types.

The default test pack is Uzbekistan's (PP-103: a health-profile check at 18-40, an address
screening over 40, reason Z13.6); ``kz`` switches to the Kazakh pack (cervical Z12.4,
breast Z12.3, colorectal Z12.1). Every answer is checked with its R4B model here and
with HL7's schema and the published terminology at the session's end.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.task import Task

from salomat.domains.screening.service.common import today as country_today
from salomat.fhir import screening as mapper
from tests.domains.screening.conftest import kz, scr, today

__all__ = ["kz", "scr", "today"]

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
MODELS: dict[str, Any] = {
    m.__name__: m
    for m in (Observation, Encounter, EpisodeOfCare, CarePlan, Task, Measure, MeasureReport)
}
TODAY = country_today()  # the service's day: the country's, not UTC's
AGO = (TODAY - timedelta(days=30)).isoformat()


def ok(r, status: int = 200) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            MODELS[e["resource"]["resourceType"]].model_validate(e["resource"])
    elif body["resourceType"] == "OperationOutcome":
        OperationOutcome.model_validate(body)
    else:
        MODELS[body["resourceType"]].model_validate(body)
    return body


def entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in body.get("entry", [])]


def issues(r, status: int) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


async def _screen(client, auth, person_id: int, **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {
        "programme": "address_screening",
        "performed_on": AGO,
        "result": "abnormal",
        "next_step": "enrol",
        "measurements": [
            {"kind": "bp", "systolic": 162, "diastolic": 98},
            {"kind": "glucose_fasting", "value": 6.8, "unit": "mmol/L"},
            {"kind": "hba1c", "value": 7.4, "unit": "%"},
            {"kind": "smoking", "code": "current"},
        ],
        **over,
    }
    r = await client.post(f"/api/v1/persons/{person_id}/screenings", json=body, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def _by_kind(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["code"]["text"]: r for r in resources}


# ---- Observation ------------------------------------------------------------------------


async def test_screening_observations_loinc_ucum_and_search(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1975, 1, 1))
    v = await _screen(client, auth, p.id)
    body = ok(
        await client.get(
            f"/fhir/Observation?patient=Patient/{p.id}&category={mapper.CATEGORY_SYSTEM}|screening",
            headers=auth,
        )
    )
    found = _by_kind(entries(body))
    assert body["total"] == 4
    bp = found["bp"]
    assert bp["code"]["coding"][0] == {
        "system": LOINC, "code": "85354-9",
        "display": "Blood pressure panel with all children optional",
    }  # fmt: skip
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]) for c in bp["component"]] == [
        ("8480-6", {"value": 162, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}),
        ("8462-4", {"value": 98, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}),
    ]
    assert bp["category"][0]["coding"][0]["code"] == "vital-signs"
    assert bp["encounter"] == {"reference": f"Encounter/screening-{v['id']}"}
    # 1558-6 is a mass concentration: 6.8 mmol/L x 18.016 = 122.5 mg/dL; as entered kept
    glucose = found["glucose_fasting"]
    assert glucose["code"]["coding"][0]["code"] == "1558-6"
    assert glucose["valueQuantity"] == {
        "value": 122.51,
        "unit": "mg/dL",
        "system": UCUM,
        "code": "mg/dL",
    }
    [entered] = [e for e in glucose["extension"] if e["url"] == mapper.AS_ENTERED_EXT]
    assert entered["valueQuantity"]["value"] == 6.8
    assert entered["valueQuantity"]["code"] == "mmol/L"
    assert glucose["category"][0]["coding"][0]["code"] == "laboratory"
    hba1c = found["hba1c"]
    assert hba1c["code"]["coding"][0]["code"] == "4548-4"
    assert hba1c["valueQuantity"]["value"] == 7.4
    assert hba1c["valueQuantity"]["code"] == "%"
    smoking = found["smoking"]
    assert smoking["valueCodeableConcept"]["coding"][0] == {
        "system": mapper.RESULT_SYSTEM,
        "code": "current",
    }
    assert smoking["category"][0]["coding"][0]["code"] == "social-history"
    # code and date filters; the read by id
    only = ok(
        await client.get(
            f"/fhir/Observation?patient={p.id}&category=urn:salomat:observation-category|screening"
            f"&code={LOINC}|4548-4&date=ge{AGO}",
            headers=auth,
        )
    )
    assert [r["id"] for r in entries(only)] == [hba1c["id"]]
    none = ok(
        await client.get(
            f"/fhir/Observation?patient={p.id}&category={mapper.CATEGORY_SYSTEM}|screening"
            f"&date=gt{AGO}",
            headers=auth,
        )
    )
    assert none["total"] == 0
    read = ok(await client.get(f"/fhir/Observation/{bp['id']}", headers=auth))
    assert read == bp
    by_encounter = ok(
        await client.get(f"/fhir/Observation?encounter=Encounter/screening-{v['id']}", headers=auth)
    )
    assert by_encounter["total"] == 4


async def test_observation_out_of_scope_is_404_and_others_are_refused(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1975, 1, 1))
    v = await _screen(client, auth, p.id)
    oid = f"screening-{v['id']}-{v['measurements'][0]['id']}"
    other = await login(scr.other_doctor_account)
    assert issues(await client.get(f"/fhir/Observation/{oid}", headers=other), 404) == set()
    assert (
        await client.get(f"/fhir/Observation/screening-{v['id']}-0", headers=auth)
    ).status_code == 404
    found = ok(await client.get(f"/fhir/Observation?_id={oid}", headers=other))
    assert found["total"] == 0


# ---- Observation create ----------------------------------------------------------------------


def _submitted(person_id: int, **over: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [mapper.PROFILE]},
        "extension": [
            {"url": mapper.PROGRAMME_EXT,
             "valueCoding": {"system": mapper.PROGRAMME_SYSTEM, "code": "health_profile"}}
        ],
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "1558-6"}]},
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": AGO,
        "interpretation": [{"coding": [{"code": "N"}]}],
        "valueQuantity": {"value": 110, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
    }  # fmt: skip
    res.update(over)
    return res


async def test_submitted_result_is_a_screening_and_idempotent(client, login, scr):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))  # 18-40: the health-profile check
    headers = {**auth, "Idempotency-Key": f"fhir-scr-{p.id}"}
    a = await client.post("/fhir/Observation", json=_submitted(p.id), headers=headers)
    b = await client.post("/fhir/Observation", json=_submitted(p.id), headers=headers)
    first, again = ok(a, 201), ok(b, 201)
    assert first["id"] == again["id"]
    assert first["id"].startswith("screening-")
    assert a.headers["location"].endswith(f"/fhir/Observation/{first['id']}/_history/1")
    assert first["valueQuantity"]["value"] == 110
    assert first["valueQuantity"]["code"] == "mg/dL"
    # stored once, through the screening service: the programme card has one visit
    card = (await client.get(f"/api/v1/persons/{p.id}/screening-card", headers=auth)).json()
    assert len(card["visits"]) == 1
    [m] = card["visits"][0]["measurements"]
    assert (m["unit"], m["unit_entered"], m["value_entered"]) == ("mmol/L", "mg/dL", "110")
    enc = ok(await client.get(f"/fhir/{first['encounter']['reference']}", headers=auth))
    assert enc["reasonCode"][0]["coding"][0] == {"system": ICD10, "code": "Z13.6"}
    assert {"url": mapper.OPPORTUNISTIC_EXT, "valueBoolean": False} in enc["extension"]


async def test_submitted_blood_pressure_panel(client, login, scr):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))
    body = _submitted(
        p.id,
        code={"coding": [{"system": LOINC, "code": "85354-9"}]},
        component=[
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
             "valueQuantity": {"value": 139, "system": UCUM, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
             "valueQuantity": {"value": 89, "system": UCUM, "code": "mm[Hg]"}},
        ],
    )  # fmt: skip
    del body["valueQuantity"]
    out = ok(await client.post("/fhir/Observation", json=body, headers=auth), 201)
    assert [c["valueQuantity"]["value"] for c in out["component"]] == [139, 89]


@pytest.mark.parametrize(
    ("change", "element"),
    [
        # systolic 400: the component it came from is named
        ({"code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
          "component": [
              {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
               "valueQuantity": {"value": 400, "code": "mm[Hg]"}},
              {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
               "valueQuantity": {"value": 90, "code": "mm[Hg]"}}],
          "valueQuantity": None},
         "Observation.component[0].valueQuantity.value"),
        # a glucose in an unknown unit
        ({"valueQuantity": {"value": 6, "code": "mmol"}}, "Observation.valueQuantity.code"),
        # impossible HbA1c (40 per cent)
        ({"code": {"coding": [{"system": LOINC, "code": "4548-4"}]},
          "valueQuantity": {"value": 40, "code": "%"},
          "extension": [{"url": mapper.PROGRAMME_EXT,
                         "valueCoding": {"system": mapper.PROGRAMME_SYSTEM,
                                         "code": "address_screening"}}]},
         "Observation.valueQuantity.value"),
        # a measurement this programme does not take (HbA1c at the health-profile check)
        ({"code": {"coding": [{"system": LOINC, "code": "4548-4"}]},
          "valueQuantity": {"value": 6, "code": "%"}}, "Observation.code"),
        ({"code": {"coding": [{"system": LOINC, "code": "0000-0"}]}}, "Observation.code"),
        ({"interpretation": None}, "Observation.interpretation"),
        ({"extension": None}, f"Observation.extension('{mapper.PROGRAMME_EXT}')"),
        ({"extension": [{"url": mapper.PROGRAMME_EXT, "valueCode": "nope"}]},
         f"Observation.extension('{mapper.PROGRAMME_EXT}')"),
        ({"effectiveDateTime": (TODAY + timedelta(days=2)).isoformat()},
         "Observation.effectiveDateTime"),
        # abnormal needs a next step
        ({"interpretation": [{"coding": [{"code": "A"}]}]},
         f"Observation.extension('{mapper.NEXT_STEP_EXT}')"),
    ],
)  # fmt: skip
async def test_submitted_refusals_name_the_element(client, login, scr, change, element):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))
    body = _submitted(p.id, **change)
    body = {k: v for k, v in body.items() if v is not None}
    r = await client.post("/fhir/Observation", json=body, headers=auth)
    assert element in issues(r, 422)
    card = (await client.get(f"/api/v1/persons/{p.id}/screening-card", headers=auth)).json()
    assert card["visits"] == []


async def test_submitted_opportunistic_is_kept_and_said(client, login, scr):
    auth = await login(scr.nurse_account)
    p = await scr.make_patient(date(1990, 1, 1))
    ok(await client.post("/fhir/Observation", json=_submitted(p.id), headers=auth), 201)
    # a second check the same month: not due, kept as opportunistic, said in the outcome
    r = await client.post(
        "/fhir/Observation",
        json=_submitted(p.id),
        headers={**auth, "Prefer": "return=OperationOutcome"},
    )
    out = ok(r, 201)
    assert out["resourceType"] == "OperationOutcome"
    assert [i["severity"] for i in out["issue"]] == ["information", "warning"]
    assert "not_due" in out["issue"][1]["diagnostics"]


async def test_other_observations_still_go_to_the_record(client, login, scr):
    """A body without the screening profile is the shared record's create (or, for a user
    without record:write, refused naming the profile)."""
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1990, 1, 1))
    body = _submitted(p.id)
    del body["meta"]
    del body["extension"]
    r = await client.post("/fhir/Observation", json=body, headers=auth)
    assert r.status_code in (201, 403, 422), r.text
    if r.status_code == 201:
        assert r.json()["id"].startswith("shr-")
    elif r.status_code == 422:
        assert "Observation.meta.profile" in issues(r, 422)


async def test_submit_needs_screening_record(client, login, make_user, scr):
    analyst = await make_user("analyst")
    auth = await login(analyst)
    p = await scr.make_patient(date(1990, 1, 1))
    r = await client.post("/fhir/Observation", json=_submitted(p.id), headers=auth)
    assert r.status_code == 403


# ---- Encounter (KZ reasons) --------------------------------------------------------------------


async def test_screening_encounters_carry_the_programme_reason(client, login, scr, kz):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1985, 5, 10), sex="female")
    v = await _screen(
        client, auth, p.id, programme="cervical", result="normal", next_step="none",
        measurements=[{"kind": "cytology", "code": "nilm"}],
    )  # fmt: skip
    enc = ok(await client.get(f"/fhir/Encounter/screening-{v['id']}", headers=auth))
    assert enc["reasonCode"][0]["coding"][0] == {"system": ICD10, "code": "Z12.4"}
    assert enc["type"][0]["coding"][0]["code"] == "cervical"
    assert enc["status"] == "finished"
    found = ok(
        await client.get(
            f"/fhir/Encounter?patient={p.id}&type={mapper.PROGRAMME_SYSTEM}|cervical"
            f"&reason-code={ICD10}|Z12.4",
            headers=auth,
        )
    )
    assert [e["id"] for e in entries(found)] == [enc["id"]]
    other = ok(
        await client.get(
            f"/fhir/Encounter?patient={p.id}&type={mapper.PROGRAMME_SYSTEM}|breast", headers=auth
        )
    )
    assert other["total"] == 0
    obs = ok(await client.get(f"/fhir/Observation?encounter=Encounter/{enc['id']}", headers=auth))
    [cyt] = entries(obs)
    assert cyt["code"]["coding"][0] == {"system": LOINC, "code": "10524-7"}
    assert cyt["valueCodeableConcept"]["coding"][0]["code"] == "nilm"


# ---- EpisodeOfCare, CarePlan, Task -------------------------------------------------------------


async def _enrol(client, auth, person_id: int, on: str, **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"programme": "hypertension", "diagnosis_code": "I10", "enrolled_on": on, **over}
    r = await client.post(f"/api/v1/persons/{person_id}/dmp-enrolments", json=body, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


async def test_enrolment_episode_and_care_plan(client, login, scr):
    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1960, 1, 1))
    e = await _enrol(client, auth, p.id, AGO)
    ep = ok(await client.get(f"/fhir/EpisodeOfCare/dmp-{e['id']}", headers=auth))
    assert ep["status"] == "active"
    assert ep["type"][0]["coding"][0]["code"] == "hypertension"
    # the diagnosis is the Condition dmp-<id> (tests/fhir/test_screening_fhir_more.py)
    assert ep["diagnosis"][0]["condition"] == {
        "reference": f"Condition/dmp-{e['id']}", "display": "I10",
    }  # fmt: skip
    assert ep["period"] == {"start": AGO}
    assert ep["managingOrganization"] == {"reference": f"Organization/{scr.polyclinic.id}"}
    found = ok(
        await client.get(
            f"/fhir/EpisodeOfCare?patient={p.id}&type={mapper.PROGRAMME_SYSTEM}|hypertension",
            headers=auth,
        )
    )
    assert [r["id"] for r in entries(found)] == [ep["id"]]
    finished = ok(
        await client.get(
            f"/fhir/EpisodeOfCare?patient={p.id}&type={mapper.PROGRAMME_SYSTEM}|hypertension"
            "&status=finished",
            headers=auth,
        )
    )
    assert finished["total"] == 0
    plan = ok(await client.get(f"/fhir/CarePlan/dmp-{e['id']}", headers=auth))
    due = (date.fromisoformat(AGO) + timedelta(days=28)).isoformat()
    timing = plan["activity"][0]["detail"]["scheduledTiming"]
    assert timing["event"] == [due]
    assert timing["repeat"] == {"frequency": 1, "period": 28, "periodUnit": "d"}
    assert plan["status"] == "active"
    plans = ok(await client.get(f"/fhir/CarePlan?patient={p.id}", headers=auth))
    assert [r["id"] for r in entries(plans)] == [plan["id"]]
    # ended: finished, no next visit
    current = (await client.get(f"/api/v1/dmp-enrolments/{e['id']}", headers=auth)).headers["etag"]
    end = await client.post(
        f"/api/v1/dmp-enrolments/{e['id']}/end",
        json={"ended_on": TODAY.isoformat(), "end_reason": "transferred"},
        headers={**auth, "If-Match": current},
    )
    assert end.status_code == 200, end.text
    ep = ok(await client.get(f"/fhir/EpisodeOfCare/dmp-{e['id']}", headers=auth))
    assert (ep["status"], ep["period"]["end"]) == ("finished", TODAY.isoformat())
    plan = ok(await client.get(f"/fhir/CarePlan/dmp-{e['id']}", headers=auth))
    assert plan["status"] == "completed"
    assert "activity" not in plan
    other = await login(scr.other_doctor_account)
    assert (await client.get(f"/fhir/CarePlan/dmp-{e['id']}", headers=other)).status_code == 404
    assert (
        await client.get(f"/fhir/EpisodeOfCare/dmp-{e['id']}", headers=other)
    ).status_code == 404


async def test_recall_tasks_from_the_overdue_worklist(client, login, make_user, scr):
    auth = await login(scr.doctor_account)
    late = await scr.make_patient(date(1960, 1, 1))
    on_time = await scr.make_patient(date(1961, 1, 1))
    # due one day ago: overdue; due today: not overdue (boundary)
    a = await _enrol(
        client, auth, late.id, (TODAY - timedelta(days=60)).isoformat(),
        next_visit_due=(TODAY - timedelta(days=1)).isoformat(),
    )  # fmt: skip
    await _enrol(
        client, auth, on_time.id, (TODAY - timedelta(days=60)).isoformat(),
        next_visit_due=TODAY.isoformat(),
    )  # fmt: skip
    found = ok(await client.get(f"/fhir/Task?code={mapper.RECALL_SYSTEM}|recall", headers=auth))
    tasks = entries(found)
    assert [t["id"] for t in tasks] == [f"dmp-recall-{a['id']}"]
    t = tasks[0]
    assert t["for"]["reference"] == f"Patient/{late.id}"
    assert t["focus"] == {"reference": f"EpisodeOfCare/dmp-{a['id']}"}
    assert t["status"] == "requested"
    assert t["restriction"]["period"]["start"] == (TODAY - timedelta(days=1)).isoformat()
    read = ok(await client.get(f"/fhir/Task/{t['id']}", headers=auth))
    assert read == t
    mine = ok(
        await client.get(
            f"/fhir/Task?code={mapper.RECALL_SYSTEM}|recall&patient={on_time.id}", headers=auth
        )
    )
    assert mine["total"] == 0
    analyst = await login(await make_user("analyst"))
    assert (await client.get(f"/fhir/Task/{t['id']}", headers=analyst)).status_code == 403


# ---- Measure and MeasureReport ------------------------------------------------------------------


async def test_measure_has_a_group_per_hearts_indicator(client, login, scr):
    auth = await login(scr.doctor_account)
    m = ok(await client.get("/fhir/Measure/hearts-hypertension", headers=auth))
    codes = [g["code"]["coding"][0]["code"] for g in m["group"]]
    assert codes == [
        "registered", "under-care", "controlled", "uncontrolled", "visited-no-bp", "missed",
        "controlled-with-ltfu", "uncontrolled-with-ltfu", "visited-no-bp-with-ltfu",
        "missed-with-ltfu", "ltfu", "cohort-controlled", "cohort-uncontrolled",
        "cohort-no-visit",
    ]  # fmt: skip
    diabetes = ok(await client.get("/fhir/Measure/hearts-t2dm", headers=auth))
    assert "sugar-controlled-simple" in [g["code"]["coding"][0]["code"] for g in diabetes["group"]]
    found = ok(await client.get("/fhir/Measure?_id=hearts-t2dm", headers=auth))
    assert [r["id"] for r in entries(found)] == ["hearts-t2dm"]
    assert (await client.get("/fhir/Measure/hearts-nothing", headers=auth)).status_code == 404


async def test_measure_report_gives_the_note_s_vector_by_facility(
    client, login, make_user, db, make_place, make_person, today
):
    """The note's vector 1 five times over at one facility and three patients at another of
    the district: 15 of 40 controlled (37.5), 33.3 with the lost to follow-up kept; the
    small facility's counts below five withheld (masked). A third facility, a controlled
    and an uncontrolled patient fewer than the first, gives the complements withheld
    beside the small one's (else the district's total less the first would reveal it)."""
    from tests.domains.screening.test_indicators_sql import (
        VECTOR_1,
        facility_in,
        insert_patients,
        vector_1_times_5,
    )

    place, big, small = await vector_1_times_5(db, make_place, make_person)
    fewer = VECTOR_1 * 5
    fewer.remove(VECTOR_1[0])  # controlled
    fewer.remove(VECTOR_1[1])  # not controlled
    middle = await facility_in(db, place.settlement)
    await insert_patients(db, make_person, middle.id, fewer, "hypertension")
    today(date(2025, 7, 1))
    auth = await login(await make_user("analyst"))
    r = await client.get(
        "/fhir/MeasureReport?measure=Measure/hearts-hypertension&period=2025-06"
        f"&subject=urn:salomat:territory|{place.district}",
        headers=auth,
    )
    [report] = entries(ok(r))
    assert report["measure"].endswith("/Measure/hearts-hypertension")
    assert report["period"] == {"start": "2025-06-01", "end": "2025-06-30"}
    groups = {g["code"]["coding"][0]["code"]: g for g in report["group"]}

    def counts(element: dict[str, Any]) -> dict[str, Any]:
        return {
            p["code"]["coding"][0]["code"]: p.get("count", "masked") for p in element["population"]
        }

    def strata(code: str) -> dict[str, dict[str, Any]]:
        [s] = groups[code]["stratifier"]
        assert s["code"] == [{"text": "facility"}]
        return {x["value"]["text"]: x for x in s["stratum"]}

    controlled = groups["controlled"]
    assert counts(controlled) == {"numerator": 31, "denominator": 81}
    assert controlled["measureScore"]["value"] == round(100 * 31 / 81, 1)
    b = strata("controlled")[f"{big.name} ({big.code})"]
    assert counts(b) == {"numerator": 15, "denominator": 40}
    assert b["measureScore"] == {"value": 37.5, "unit": "%", "system": UCUM, "code": "%"}
    assert strata("uncontrolled")[f"{big.name} ({big.code})"]["measureScore"]["value"] == 50.0
    assert strata("missed")[f"{big.name} ({big.code})"]["measureScore"]["value"] == 12.5
    assert (
        strata("controlled-with-ltfu")[f"{big.name} ({big.code})"]["measureScore"]["value"] == 33.3
    )
    assert strata("ltfu")[f"{big.name} ({big.code})"]["measureScore"]["value"] == 10.0
    s = strata("controlled")[f"{small.name} ({small.code})"]
    assert counts(s)["numerator"] == "masked"
    assert "measureScore" not in s
    assert s["extension"] == [{"url": mapper.ABSENT, "valueCode": "masked"}]
    complement = strata("controlled")[f"{middle.name} ({middle.code})"]
    assert counts(complement)["numerator"] == "masked"
    # an open month and an unknown area are refused, naming the FHIR parameter
    bad = await client.get(
        "/fhir/MeasureReport?measure=hearts-hypertension&period=2025-07", headers=auth
    )
    assert "period" in issues(bad, 422)
    bad = await client.get(
        "/fhir/MeasureReport?measure=hearts-hypertension&period=2025-06&subject=NOPE",
        headers=auth,
    )
    assert "subject" in issues(bad, 422)


async def test_measure_groups_state_their_denominator(client, login, make_user):
    auth = await login(await make_user("analyst"))
    m = ok(await client.get("/fhir/Measure/hearts-hypertension", headers=auth))
    groups = {g["code"]["coding"][0]["code"]: g for g in m["group"]}
    assert "Denominator" in groups["controlled"]["description"]
    assert "140/90" in groups["controlled"]["description"]
    assert [p["code"]["coding"][0]["code"] for p in groups["controlled"]["population"]] == [
        "numerator",
        "denominator",
    ]
    assert [s["code"]["text"] for s in groups["controlled"]["stratifier"]] == [
        "region",
        "district",
        "facility",
    ]
    assert (await client.get("/fhir/Measure/hearts-t2dm", headers=auth)).status_code == 200
    # the statistics' Measures stay theirs
    nurse = await login(await make_user("nurse"))
    assert (await client.get("/fhir/Measure/hearts-t2dm", headers=nurse)).status_code == 200


# ---- audit, capability ---------------------------------------------------------------------------


async def test_fhir_reads_are_audited_with_the_patient(client, login, scr):
    from salomat.core import audit

    auth = await login(scr.doctor_account)
    p = await scr.make_patient(date(1975, 1, 1))
    v = await _screen(client, auth, p.id)
    oid = f"screening-{v['id']}-{v['measurements'][0]['id']}"
    before = (await audit.search(scr.db, audit.AuditQuery(patient_id=p.id, action="read")))[1]
    ok(await client.get(f"/fhir/Observation/{oid}", headers=auth))
    ok(await client.get(f"/fhir/Encounter/screening-{v['id']}", headers=auth))
    await scr.db.rollback()  # a fresh snapshot of the trail
    rows, after = await audit.search(scr.db, audit.AuditQuery(patient_id=p.id, action="read"))
    assert after == before + 2
    assert {r.username for r in rows[:2]} == {scr.doctor_account.username}


async def test_metadata_lists_screening_beside_the_other_domains(client):
    from salomat.fhir.screening_api import SEARCH_PARAMS

    cs = ok_metadata(await client.get("/fhir/metadata"))
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert len(listed) == len(cs["rest"][0]["resource"])  # each type once
    for t, params in SEARCH_PARAMS.items():
        names = {p["name"] for p in listed[t]["searchParam"]}
        assert set(params) <= names, t
        assert "Screening" in listed[t]["documentation"], t
    assert {i["code"] for i in listed["Observation"]["interaction"]} >= {"create", "read"}
    assert {i["code"] for i in listed["CarePlan"]["interaction"]} == {"read", "search-type"}


def ok_metadata(r) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    assert r.status_code == 200, r.text
    CapabilityStatement.model_validate(r.json())
    return r.json()


async def test_a_citizen_reads_her_own_screenings_and_nobody_else_s(client, login, make_user, scr):
    auth = await login(scr.doctor_account)
    her = await scr.make_patient(date(1975, 1, 1))
    other = await scr.make_patient(date(1976, 1, 1))
    mine = await _screen(client, auth, her.id)
    theirs = await _screen(client, auth, other.id)
    citizen = await login(await make_user("citizen", person_id=her.id))
    found = ok(
        await client.get(
            f"/fhir/Observation?patient={her.id}&category={mapper.CATEGORY_SYSTEM}|screening",
            headers=citizen,
        )
    )
    assert found["total"] == 4
    ok(await client.get(f"/fhir/Encounter/screening-{mine['id']}", headers=citizen))
    r = await client.get(f"/fhir/Encounter/screening-{theirs['id']}", headers=citizen)
    assert r.status_code == 404
    # the facility's recall worklist and the indicators are not hers
    r = await client.get(f"/fhir/Task?code={mapper.RECALL_SYSTEM}|recall", headers=citizen)
    assert r.status_code == 403
