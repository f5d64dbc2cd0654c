"""FHIR over the pregnancy register: EpisodeOfCare, Encounter, Observation,
RiskAssessment, DetectedIssue (issue 4 item 7)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.riskassessment import RiskAssessment

from salomat.fhir.cancer_api import SEARCH_PARAMS as CANCER_PARAMS
from salomat.fhir.maternal_api import SEARCH_PARAMS
from salomat.fhir.mobile_encounter import SEARCH_PARAMS as MOBILE_ENCOUNTER_PARAMS
from salomat.fhir.record_api import SEARCH_PARAMS as RECORD_PARAMS
from salomat.fhir.sanatorium_api import SEARCH_PARAMS as SANATORIUM_PARAMS
from salomat.fhir.screening_api import SEARCH_PARAMS as SCREENING_PARAMS

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
TODAY = date.today()
LOINC = "http://loinc.org"
MODELS = {
    "EpisodeOfCare": EpisodeOfCare,
    "Encounter": Encounter,
    "Observation": Observation,
    "RiskAssessment": RiskAssessment,
    "DetectedIssue": DetectedIssue,
    "Condition": Condition,
}


def ok(r) -> dict:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            MODELS[e["resource"]["resourceType"]].model_validate(e["resource"])
    else:
        MODELS[body["resourceType"]].model_validate(body)
    return body


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def entries(b: dict) -> list[dict]:
    return [e["resource"] for e in b.get("entry", [])]


def loinc(res: dict) -> str:
    (coding,) = [c for c in res["code"]["coding"] if c["system"] == LOINC]
    return coding["code"]


@pytest.fixture
async def register(client, make_facility, make_person, make_user, login) -> dict[str, Any]:
    """A woman, her doctor, a pregnancy and two contacts (the second with raised BP)."""
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    lmp = TODAY - timedelta(weeks=20)
    registered = lmp + timedelta(weeks=10)
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={
            "lmp": lmp.isoformat(),
            "gravida": 1,
            "parity": 0,
            "registered_on": registered.isoformat(),
        },
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    preg = r.json()

    async def contact(**values: Any) -> dict[str, Any]:
        etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=doctor)).headers[
            "etag"
        ]
        r = await client.post(
            f"/api/v1/pregnancies/{preg['id']}/contacts",
            json=values,
            headers={**doctor, "If-Match": etag},
        )
        assert r.status_code == 201, r.text
        return r.json()

    await contact(
        on=registered.isoformat(),
        systolic_1=112,
        diastolic_1=72,
        hiv_test_done=True,
        syphilis_test_done=True,
        ultrasound_done=True,
    )
    body = await contact(
        on=TODAY.isoformat(),
        systolic_1=150,
        diastolic_1=95,
        systolic_2=150,
        diastolic_2=95,
        urine_protein="none",
        weight_kg=64.5,
        haemoglobin_g_l=118,
        fasting_glucose_mmol_l=4.6,
        fetal_heart_rate_1=140,
        fundal_height_cm=20.0,
    )
    return {"fac": fac, "woman": woman, "doctor": doctor, "preg": body, "lmp": lmp}


async def test_episode_of_care_read_and_search(client, register):
    preg, doctor, woman = register["preg"], register["doctor"], register["woman"]
    r = await client.get(f"/fhir/EpisodeOfCare/{preg['id']}", headers=doctor)
    ep = ok(r)
    assert r.headers["etag"] == f'W/"{preg["version"]}"'
    assert ep["status"] == "active"
    assert ep["type"][0]["coding"][0]["code"] == "pregnancy"
    assert ep["patient"]["reference"] == f"Patient/{woman.id}"
    assert ep["managingOrganization"]["reference"] == f"Organization/{register['fac'].id}"
    assert ep["period"]["start"] == preg["registered_on"]
    ext = {e["url"].rsplit("/", 1)[1]: e for e in ep["extension"]}
    assert ext["estimated-delivery-date"]["valueDate"] == preg["edd"]
    assert ext["gestational-age"]["valueDuration"]["value"] == 140
    found = ok(
        await client.get(
            "/fhir/EpisodeOfCare", params={"patient": f"Patient/{woman.id}"}, headers=doctor
        )
    )
    assert [e["id"] for e in entries(found)] == [str(preg["id"])]
    for status, n in (("active", 1), ("finished", 0)):
        b = ok(
            await client.get(
                "/fhir/EpisodeOfCare",
                params={"patient": woman.id, "status": status},
                headers=doctor,
            )
        )
        assert b["total"] == n
    assert issues(await client.get("/fhir/EpisodeOfCare", headers=doctor), 422) == {"patient"}
    assert issues(
        await client.get(
            "/fhir/EpisodeOfCare", params={"patient": woman.id, "status": "x"}, headers=doctor
        ),
        422,
    ) == {"status"}


async def test_encounters_are_the_contacts(client, register):
    preg, doctor, woman = register["preg"], register["doctor"], register["woman"]
    first, second = preg["contacts"]
    enc = ok(await client.get(f"/fhir/Encounter/{second['id']}", headers=doctor))
    assert enc["class"]["code"] == "AMB"
    assert enc["type"][0]["coding"][0]["code"] == "antenatal-contact"
    assert enc["subject"]["reference"] == f"Patient/{woman.id}"
    assert enc["episodeOfCare"] == [{"reference": f"EpisodeOfCare/{preg['id']}"}]
    assert enc["period"]["start"] == second["on"]
    assert enc["serviceProvider"]["reference"] == f"Organization/{register['fac'].id}"
    for params in ({"patient": f"Patient/{woman.id}"}, {"episode-of-care": preg["id"]}):
        b = ok(await client.get("/fhir/Encounter", params=params, headers=doctor))
        assert {e["id"] for e in entries(b)} == {str(first["id"]), str(second["id"])}
    assert issues(await client.get("/fhir/Encounter", headers=doctor), 422) == {
        "patient",
        "episode-of-care",
    }


async def test_observations_carry_loinc_codes_and_values(client, register):
    preg, doctor, woman = register["preg"], register["doctor"], register["woman"]
    cid = preg["contacts"][1]["id"]
    b = ok(
        await client.get(
            "/fhir/Observation", params={"encounter": f"Encounter/{cid}"}, headers=doctor
        )
    )
    by_id = {r["id"]: r for r in entries(b)}
    assert set(by_id) == {
        f"{cid}-{m}"
        for m in ("bp1", "bp2", "weight", "hb", "glucose", "protein", "fhr1", "fundal", "ga")
    }
    codes = {i.rsplit("-", 1)[1]: loinc(r) for i, r in by_id.items()}
    assert codes == {
        "bp1": "85354-9",
        "bp2": "85354-9",
        "weight": "29463-7",
        "hb": "718-7",
        "glucose": "1558-6",
        "protein": "20454-5",
        "fhr1": "55283-6",
        "fundal": "11881-0",
        "ga": "11884-4",
    }
    bp = by_id[f"{cid}-bp1"]
    comps = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in bp["component"]}
    assert comps["8480-6"]["value"] == 150
    assert comps["8462-4"]["value"] == 95
    assert comps["8480-6"]["code"] == "mm[Hg]"
    assert bp["encounter"]["reference"] == f"Encounter/{cid}"
    assert bp["subject"]["reference"] == f"Patient/{woman.id}"
    assert by_id[f"{cid}-weight"]["valueQuantity"]["value"] == 64.5
    assert by_id[f"{cid}-hb"]["valueQuantity"] == {
        "value": 118,
        "unit": "g/L",
        "system": "http://unitsofmeasure.org",
        "code": "g/L",
    }
    assert by_id[f"{cid}-protein"]["valueString"] == "none"
    assert by_id[f"{cid}-ga"]["valueQuantity"]["value"] == 140
    # stable ids: a read gives the same resource
    for oid, res in by_id.items():
        assert ok(await client.get(f"/fhir/Observation/{oid}", headers=doctor)) == res
    # by patient: both contacts plus the pregnancy's EDD and LMP
    b = ok(await client.get("/fhir/Observation", params={"patient": woman.id}, headers=doctor))
    ids = {r["id"] for r in entries(b)}
    assert {f"p{preg['id']}-edd", f"p{preg['id']}-lmp", f"{preg['contacts'][0]['id']}-bp1"} <= ids
    edd = ok(await client.get(f"/fhir/Observation/p{preg['id']}-edd", headers=doctor))
    assert loinc(edd) == "11778-8"
    assert edd["valueDateTime"] == preg["edd"]
    lmp = ok(await client.get(f"/fhir/Observation/p{preg['id']}-lmp", headers=doctor))
    assert loinc(lmp) == "8665-2"
    assert lmp["valueDateTime"] == register["lmp"].isoformat()
    # code narrows; another system matches nothing
    for code, n in (("85354-9", 3), (f"{LOINC}|85354-9", 3), ("http://other|85354-9", 0)):
        b = ok(
            await client.get(
                "/fhir/Observation", params={"patient": woman.id, "code": code}, headers=doctor
            )
        )
        assert b["total"] == n, code
    for missing in (f"{cid}-fhr2", f"{cid}-edd", f"p{preg['id']}-bp1", "nonsense", f"{cid}-x"):
        issues(await client.get(f"/fhir/Observation/{missing}", headers=doctor), 404)
    assert issues(
        await client.get("/fhir/Observation", params={"code": "718-7"}, headers=doctor), 422
    ) == {"patient", "encounter"}


async def test_risk_assessment_and_detected_issues(client, register):
    preg, doctor, woman = register["preg"], register["doctor"], register["woman"]
    ra = ok(await client.get(f"/fhir/RiskAssessment/{preg['id']}", headers=doctor))
    assert preg["risk_level"] == "high"
    assert ra["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == "high"
    assert ra["subject"]["reference"] == f"Patient/{woman.id}"
    basis = {b["reference"] for b in ra["basis"]}
    assert {f"DetectedIssue/{a['id']}" for a in preg["advice"]} <= basis
    b = ok(await client.get("/fhir/RiskAssessment", params={"patient": woman.id}, headers=doctor))
    assert entries(b) == [ra]

    b = ok(await client.get("/fhir/DetectedIssue", params={"patient": woman.id}, headers=doctor))
    found = {r["id"]: r for r in entries(b)}
    assert set(found) == {str(a["id"]) for a in preg["advice"]}
    (hyper,) = [a for a in preg["advice"] if a["code"] == "hypertension"]
    di = ok(await client.get(f"/fhir/DetectedIssue/{hyper['id']}", headers=doctor))
    assert di == found[str(hyper["id"])]
    assert di["code"]["coding"][0] == {
        "system": "urn:salomat:maternal-advice",
        "code": "hypertension",
    }
    assert di["detail"] == hyper["action"]
    assert di["severity"] in ("high", "moderate", "low")
    assert di["implicated"] == [{"reference": f"EpisodeOfCare/{preg['id']}"}]
    assert di["evidence"][0]["detail"] == [{"reference": f"Encounter/{hyper['contact_id']}"}]
    assert "150" in di["evidence"][0]["code"][0]["text"]
    assert di["extension"][0]["valueString"] == hyper["source"]
    assert di["identifiedDateTime"]


async def test_out_of_scope_reads_are_404_and_permission_is_pregnancy_read(
    client, register, make_facility, make_user, login
):
    preg, woman = register["preg"], register["woman"]
    other = await make_facility()
    stranger = await login(await make_user("family_doctor", facility_code=other.code))
    cid = preg["contacts"][1]["id"]
    advice = preg["advice"][0]["id"]
    for path in (
        f"EpisodeOfCare/{preg['id']}",
        f"Encounter/{cid}",
        f"Observation/{cid}-bp1",
        f"Observation/p{preg['id']}-edd",
        f"RiskAssessment/{preg['id']}",
        f"DetectedIssue/{advice}",
        "EpisodeOfCare/987654321",
        "Encounter/987654321",
        "DetectedIssue/987654321",
    ):
        issues(await client.get(f"/fhir/{path}", headers=stranger), 404)
    for t in SEARCH_PARAMS:
        issues(await client.get(f"/fhir/{t}", params={"patient": woman.id}, headers=stranger), 404)
    registrar = await login(await make_user("registrar"))
    issues(await client.get(f"/fhir/EpisodeOfCare/{preg['id']}", headers=registrar), 403)


async def test_metadata_lists_the_maternal_resources_and_every_parameter_works(client, register):
    cs = (await client.get("/fhir/metadata")).json()
    CapabilityStatement.model_validate(cs)
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    doctor, woman, preg = register["doctor"], register["woman"], register["preg"]
    samples = {
        "patient": str(woman.id),
        "status": "active",
        "clinical-status": "active",
        "episode-of-care": str(preg["id"]),
        "encounter": str(preg["contacts"][0]["id"]),
        "code": "718-7",
        "_count": "5",
    }
    for t, ps in SEARCH_PARAMS.items():
        res = listed[t]
        # Condition: the cancer registry also takes submissions (tests/fhir/test_cancer.py)
        # Encounter, Observation, Condition: also the shared record's (tests/fhir/test_record.py)
        created = {"create"} if t == "Condition" else set()
        if t in RECORD_PARAMS:
            created |= {"create", "vread", "update", "patch", "history-instance", "history-type"}
        assert {i["code"] for i in res["interaction"]} == {"read", "search-type"} | created
        names = {p["name"] for p in res["searchParam"]}
        # Encounter: also the sanatorium's stays (tests/fhir/test_sanatorium.py);
        # Condition and Observation: also the cancer registry's tumours and stages
        # Encounter: also the mobile teams' visits (tests/fhir/test_mobile_encounters.py)
        mobile = set(MOBILE_ENCOUNTER_PARAMS) if t == "Encounter" else set()
        assert names == set(ps) | set(SANATORIUM_PARAMS.get(t, {})) | set(
            CANCER_PARAMS.get(t, {})
        ) | set(RECORD_PARAMS.get(t, {})) | set(SCREENING_PARAMS.get(t, {})) | mobile | {"_count"}
        for name in set(ps) | {"_count"}:
            query = {name: samples[name]}
            if name not in ("patient", "episode-of-care", "encounter"):
                query["patient"] = str(woman.id)
            ok(await client.get(f"/fhir/{t}", params=query, headers=doctor))
        assert issues(
            await client.get(f"/fhir/{t}", params={"colour": "x"}, headers=doctor), 422
        ) == {"colour"}
