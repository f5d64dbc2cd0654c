"""A case notification inside a transaction or batch (``POST /fhir``): routed to the
notification (as ``POST /fhir/Condition/$notify``), never stored as a record Condition;
its laboratory Observation (referred to by the Condition's fullUrl) confirms the case;
refusals name the entry's element; a transaction is all or nothing; permission and
audit as the other paths; answers checked against HL7's R4 JSON schema."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from salomat.core.audit import AuditEvent
from salomat.domains.epidemic.service.notifications import today
from salomat.fhir import epidemic as mapper
from salomat.fhir.patient import national_system
from tests.factories import national_id_for
from tests.fhir.validator import invalid, schema_errors

pytestmark = pytest.mark.anyio

ICD10 = "http://hl7.org/fhir/sid/icd-10"
BIRTH = date(1990, 3, 4)
NOTIFICATIONS = "/api/v1/epidemic/notifications"


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


@pytest.fixture
async def scene(make_place, make_person, make_user, login, make_facility):  # type: ignore[no-untyped-def]
    place = await make_place()
    nid = national_id_for(BIRTH, "male")
    person = await make_person(national_id=nid, birth_date=BIRTH, sex="male")
    lab = await make_facility()
    return {
        "place": place,
        "person": person,
        "nid": nid,
        "lab": lab.code,
        "doctor_auth": await login(await make_user("family_doctor")),
        "epi_auth": await login(await make_user("epidemiologist")),
    }


def _condition(
    s: dict[str, Any],
    subject: str | None = None,
    onset: date | None = None,
    report: date | None = None,
    lab: str | None = None,
) -> dict[str, Any]:
    report = report or today()
    onset = onset or report - timedelta(days=2)
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "subject": {"reference": subject or f"Patient/{s['person'].id}"},
        "code": {"coding": [{"system": ICD10, "code": "U07.1"}]},
        "onsetDateTime": onset.isoformat(),
        "recordedDate": report.isoformat(),
        "extension": [
            {
                "url": mapper.DISTRICT_EXT,
                "valueCoding": {"system": "urn:salomat:territory", "code": s["place"].district},
            }
        ],
    }
    if lab is not None:
        res["evidence"] = [{"detail": [{"reference": lab}]}]
    return res


def _lab(s: dict[str, Any], subject: str, focus: str, positive: bool = True) -> dict[str, Any]:
    code = mapper.POSITIVE if positive else "260385009"  # SNOMED CT "Negative"
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "SARS-CoV-2 RNA PCR"},
        "subject": {"reference": subject},
        "focus": [{"reference": focus}],
        "valueCodeableConcept": {"coding": [{"system": mapper.SNOMED, "code": code}]},
        "performer": [{"identifier": {"system": "urn:salomat:facility", "value": s["lab"]}}],
    }


def _post(full_url: str, resource: dict[str, Any], **request: Any) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }


def _patient(s: dict[str, Any], full_url: str) -> dict[str, Any]:
    token = f"{national_system()}|{s['nid']}"
    return _post(
        full_url,
        {
            "resourceType": "Patient",
            "identifier": [{"system": national_system(), "value": s["nid"]}],
        },
        ifNoneExist=f"identifier={token}",
    )


def _bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _expressions(r: Any, status: int) -> set[str]:
    assert r.status_code == status, r.text
    return {x for i in r.json()["issue"] for x in i.get("expression", [])}


async def _notified(client: Any, s: dict[str, Any]) -> int:
    r = await client.get(
        NOTIFICATIONS, params={"district": s["place"].district}, headers=s["epi_auth"]
    )
    assert r.status_code == 200, r.text
    return sum(1 for n in r.json()["items"] if n["person_id"] == s["person"].id)


async def _record_conditions(client: Any, s: dict[str, Any]) -> list[str]:
    """The shared record's Conditions of the person (ids ``shr-<n>``)."""
    r = await client.get(
        "/fhir/Condition",
        params={"subject": f"Patient/{s['person'].id}"},
        headers=s["doctor_auth"],
    )
    assert r.status_code == 200, r.text
    ids = [e["resource"]["id"] for e in r.json().get("entry", [])]
    return [i for i in ids if i.startswith("shr-")]


async def test_transaction_notifies_with_its_lab_observation(client, scene, db) -> None:  # type: ignore[no-untyped-def]
    """Patient matched by national id, the notification referring to it and to its lab
    Observation by urn:uuid, the Observation referring back: one confirmed notification,
    read back as Condition/epi-<n> and Observation/epi-lab-<n>; audited as a create."""
    p, c, o = urn(), urn(), urn()
    body = _bundle(
        "transaction",
        _post(c, _condition(scene, subject=p, lab=o)),
        _post(o, _lab(scene, subject=p, focus=c)),
        _patient(scene, p),
    )
    r = await client.post("/fhir", json=body, headers=scene["doctor_auth"])
    assert r.status_code == 200, r.text
    out = r.json()
    Bundle.model_validate(out)
    assert out["type"] == "transaction-response"
    cond_loc = out["entry"][0]["response"]["location"]
    lab_loc = out["entry"][1]["response"]["location"]
    assert out["entry"][0]["response"]["status"].startswith("201")
    assert cond_loc.startswith("Condition/epi-"), cond_loc
    n = cond_loc.removeprefix("Condition/epi-")
    assert lab_loc == f"Observation/epi-lab-{n}"
    assert out["entry"][2]["response"]["location"] == f"Patient/{scene['person'].id}"
    r = await client.get(f"/fhir/{cond_loc}", headers=scene["epi_auth"])
    assert r.status_code == 200, r.text
    cond = r.json()
    assert cond["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert cond["subject"]["reference"] == f"Patient/{scene['person'].id}"
    r = await client.get(f"/fhir/{lab_loc}", headers=scene["epi_auth"])
    assert r.status_code == 200, r.text
    obs = r.json()
    assert obs["performer"][0]["identifier"]["value"] == scene["lab"]
    errors = await schema_errors([("bundle", out), ("condition", cond), ("observation", obs)])
    assert not invalid(errors), invalid(errors)
    created = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.resource_type == "CaseNotification",
            AuditEvent.action == "create",
            AuditEvent.patient_id == scene["person"].id,
        )
    )
    assert created == 1
    # not a record Condition: the shared record has none for the person
    assert await _record_conditions(client, scene) == []


async def test_transaction_is_all_or_nothing(client, scene) -> None:  # type: ignore[no-untyped-def]
    """A refused notification fails the whole transaction, named from its entry; the
    record Condition beside it is not stored either. The Patient is matched by national
    id (a hospital's Bundle)."""
    t = today()
    p = urn()
    plain = _condition(scene, subject=p)
    plain.pop("extension")
    late = _condition(scene, subject=p, onset=t, report=t - timedelta(days=1))  # after report
    body = _bundle("transaction", _patient(scene, p), _post(urn(), plain), _post(urn(), late))
    r = await client.post("/fhir", json=body, headers=scene["doctor_auth"])
    assert "Bundle.entry[2].resource.onsetDateTime" in _expressions(r, 422)
    assert await _notified(client, scene) == 0
    assert await _record_conditions(client, scene) == []
    # the same day for onset and report is accepted, with the record Condition beside it
    same = _condition(scene, subject=p, onset=t, report=t)
    body = _bundle("transaction", _patient(scene, p), _post(urn(), plain), _post(urn(), same))
    r = await client.post("/fhir", json=body, headers=scene["doctor_auth"])
    assert r.status_code == 200, r.text
    locs = [e["response"]["location"] for e in r.json()["entry"]]
    assert locs[1].startswith("Condition/shr-"), locs
    assert locs[2].startswith("Condition/epi-"), locs
    assert await _notified(client, scene) == 1
    assert [f"Condition/{i}" for i in await _record_conditions(client, scene)] == [
        locs[1].split("/_history")[0]
    ]


async def test_transaction_whose_first_write_is_a_record_create(client, scene) -> None:  # type: ignore[no-untyped-def]
    t = today()
    plain = _condition(scene)
    plain.pop("extension")
    late = _condition(scene, onset=t, report=t - timedelta(days=1))
    body = _bundle("transaction", _post(urn(), plain), _post(urn(), late))
    r = await client.post("/fhir", json=body, headers=scene["doctor_auth"])
    assert "Bundle.entry[1].resource.onsetDateTime" in _expressions(r, 422)
    assert await _record_conditions(client, scene) == []


async def test_refusals_name_the_entry_element(client, scene) -> None:  # type: ignore[no-untyped-def]
    p, c, o = f"Patient/{scene['person'].id}", urn(), urn()
    cases = []
    not_listed = _condition(scene)
    not_listed["code"]["coding"][0]["code"] = "J18.9"
    cases.append(([_post(c, not_listed)], "Bundle.entry[0].resource.code"))
    cases.append(
        (
            [_post(c, _condition(scene), ifNoneExist="identifier=x|1")],
            "Bundle.entry[0].request.ifNoneExist",
        )
    )
    negative = _lab(scene, subject=p, focus=c, positive=False)
    cases.append(
        (
            [_post(c, _condition(scene, lab=o)), _post(o, negative)],
            "Bundle.entry[1].resource.valueCodeableConcept",
        )
    )
    unknown_lab = _lab(scene, subject=p, focus=c)
    unknown_lab["performer"][0]["identifier"]["value"] = "NO-SUCH-LAB"
    cases.append(
        (
            [_post(o, unknown_lab), _post(c, _condition(scene, lab=o))],
            "Bundle.entry[0].resource.performer",
        )
    )
    unknown_district = _condition(scene)
    unknown_district["extension"][0]["valueCoding"]["code"] = "NO-SUCH-DISTRICT"
    cases.append(
        (
            [_post(c, unknown_district)],
            f"Bundle.entry[0].resource.extension[{mapper.DISTRICT_EXT}]",
        )
    )
    for entries, element in cases:
        r = await client.post(
            "/fhir", json=_bundle("transaction", *entries), headers=scene["doctor_auth"]
        )
        assert element in _expressions(r, 422), (element, r.text)
    assert await _notified(client, scene) == 0


async def test_batch_notifies_each_entry_on_its_own(client, scene) -> None:  # type: ignore[no-untyped-def]
    t = today()
    good = _condition(scene)
    bad = _condition(scene, onset=t + timedelta(days=1), report=t)
    body = _bundle("batch", _post(urn(), good), _post(urn(), bad))
    r = await client.post("/fhir", json=body, headers=scene["doctor_auth"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["type"] == "batch-response"
    first, second = (e["response"] for e in out["entry"])
    assert first["status"].startswith("201")
    assert first["location"].startswith("Condition/epi-")
    assert second["status"].startswith("422")
    exprs = {x for i in second["outcome"]["issue"] for x in i.get("expression", [])}
    assert "Bundle.entry[1].resource.onsetDateTime" in exprs
    assert await _notified(client, scene) == 1
    errors = await schema_errors([("bundle", out)])
    assert not invalid(errors), invalid(errors)


async def test_who_may_notify_in_a_bundle(client, scene, make_user, login) -> None:  # type: ignore[no-untyped-def]
    body = _bundle("transaction", _post(urn(), _condition(scene)))
    # the registrar may send Bundles (Patient entries) but not notify
    registrar = await login(await make_user("registrar"))
    r = await client.post("/fhir", json=body, headers=registrar)
    assert r.status_code == 403, r.text
    for role in ("analyst", "epidemiologist"):
        r = await client.post("/fhir", json=body, headers=await login(await make_user(role)))
        assert r.status_code == 403, (role, r.text)
    assert await _notified(client, scene) == 0
    r = await client.post("/fhir", json=body, headers=scene["doctor_auth"])
    assert r.status_code == 200, r.text
    assert await _notified(client, scene) == 1
