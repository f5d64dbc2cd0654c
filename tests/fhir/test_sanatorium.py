"""The electronic sanatorium as FHIR: referrals (ServiceRequest), queue entries (Task),
offers and bookings (Appointment), stays (Encounter), the public catalogue
(HealthcareService, Schedule, Slot), and a referral another system submits.

Everything runs in the ``world`` fixture's own region (its queue is nobody else's);
every resource the server answers is validated with its ``fhir.resources`` R4B model.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.slot import Slot
from fhir.resources.R4B.task import Task
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.service.rules import local_today
from salomat.fhir import sanatorium as mapper
from salomat.fhir.sanatorium_api import SEARCH_PARAMS
from tests.domains.sanatorium.conftest import World, world

__all__ = ["world"]

pytestmark = pytest.mark.anyio

TODAY = local_today()  # the pack's day (Tashkent/Almaty), as the service counts days
NOW = datetime.now(UTC)
FHIR_JSON = "application/fhir+json"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
MODELS: dict[str, Any] = {
    m.__name__: m
    for m in (
        Appointment,
        Encounter,
        HealthcareService,
        Schedule,
        ServiceRequest,
        Slot,
        Task,
    )
}


def ok(r, status: int = 200) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            MODELS[e["resource"]["resourceType"]].model_validate(e["resource"])
    else:
        MODELS[body["resourceType"]].model_validate(body)
    return body


def issues(r, status: int) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def ext(res: dict[str, Any], url: str) -> list[Any]:
    """The values of ``url``'s extensions (a complex one as {sub url: value})."""
    out = []
    for e in res.get("extension", []):
        if e["url"] != url:
            continue
        if "extension" in e:
            out.append(
                {
                    s["url"]: next(v for k, v in s.items() if k.startswith("value"))
                    for s in e["extension"]
                }
            )
        else:
            out.append(next(v for k, v in e.items() if k.startswith("value")))
    return out


def output(task: dict[str, Any], code: str) -> Any:
    for o in task.get("output", []):
        if o["type"]["coding"][0]["code"] == code:
            return next(v for k, v in o.items() if k.startswith("value"))
    return None


async def _sweep(now: datetime | None = None, today: date | None = None) -> None:
    async with session_factory()() as s:
        await service.sweep(s, now=now, today=today)
        await s.commit()


async def _period(client, world: World, *, beds=1, starts_in=10, profile="cardiology") -> dict:  # type: ignore[no-untyped-def]
    r = await client.put(
        "/api/v1/sanatorium/beds", json={"profile": profile, "beds": beds}, headers=world.admin
    )
    assert r.status_code == 200, r.text
    body = {"profile": profile, "starts_on": (TODAY + timedelta(days=starts_in)).isoformat()}
    r = await client.post("/api/v1/sanatorium/periods", json=body, headers=world.admin)
    assert r.status_code == 201, r.text
    return r.json()


async def _refer(client, world: World, person, **body) -> dict:  # type: ignore[no-untyped-def]
    payload = {"indication": "I25.1", "category": "disability_1_2", **body}
    r = await client.post(
        f"/api/v1/persons/{person.id}/sanatorium-referrals", json=payload, headers=world.doctor
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _citizen(world: World, person, make_user, login) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return await login(await make_user("citizen", person_id=person.id))


def referral(person_id: int, **kw: Any) -> dict[str, Any]:
    """A new referral as another system sends it."""
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "code": {"coding": [{"system": mapper.REFERRAL_KIND, "code": "sanatorium"}]},
        "subject": {"reference": f"Patient/{person_id}"},
        "reasonCode": [{"coding": [{"system": ICD10, "code": kw.pop("indication", "I25.1")}]}],
        "performerType": {
            "coding": [{"system": mapper.PROFILE_SYSTEM, "code": kw.pop("profile", "cardiology")}]
        },
        "extension": [
            {
                "url": mapper.CATEGORY_EXT,
                "valueCoding": {
                    "system": mapper.CATEGORY_SYSTEM,
                    "code": kw.pop("category", "disability_1_2"),
                },
            },
            *kw.pop("extension", []),
        ],
    }
    res.update(kw)
    return res


async def _audit(db, person_id: int, action: str) -> int:  # type: ignore[no-untyped-def]
    from salomat.core.audit import AuditEvent

    return await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.patient_id == person_id,
            AuditEvent.action == action,
            AuditEvent.resource_type == service.REFERRAL,
        )
    )


# ---- ServiceRequest and Task -------------------------------------------------------------


async def test_the_doctor_reads_a_queued_referral_and_its_queue_entry(client, db, world):
    p = await world.make_patient()
    ref = await _refer(client, world, p, conditions=["I50.0"])
    sid = f"sanatorium-{ref['id']}"
    reads = await _audit(db, p.id, "read")
    r = await client.get(f"/fhir/ServiceRequest/{sid}", headers=world.doctor)
    sr = ok(r)
    assert r.headers["etag"] == f'W/"{ref["version"]}"'
    assert sr["id"] == sid
    assert sr["identifier"] == [{"system": mapper.number_system(), "value": ref["number"]}]
    assert (sr["status"], sr["intent"], sr["priority"]) == ("active", "order", "routine")
    assert sr["subject"] == {"reference": f"Patient/{p.id}"}
    assert sr["requester"]["reference"] == f"Organization/{world.polyclinic.id}"
    assert sr["reasonCode"][0]["coding"][0]["system"] == ICD10
    assert sr["reasonCode"][0]["coding"][0]["code"] == "I25.1"
    assert sr["performerType"]["coding"][0] == {
        "system": mapper.PROFILE_SYSTEM,
        "code": "cardiology",
        "display": "Cardiology",
    }
    assert ext(sr, mapper.CATEGORY_EXT)[0]["code"] == "disability_1_2"
    assert ext(sr, mapper.TIER_EXT) == [2]
    assert ext(sr, mapper.STATUS_EXT) == ["queued"]
    assert [c["code"] for c in ext(sr, mapper.CONDITION_EXT)] == ["I50.0"]
    [warning] = ext(sr, mapper.WARNING_EXT)
    assert (warning["kind"], warning["label"]) == ("warn", "needs_assessment")
    # the queue entry: in line, first of its own region's queue
    task = ok(await client.get(f"/fhir/Task/{ref['id']}", headers=world.doctor))
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == ("ready", "in-queue")
    assert task["focus"] == {"reference": f"ServiceRequest/{sid}"}
    assert task["for"] == {"reference": f"Patient/{p.id}"}
    assert (output(task, "position"), output(task, "ahead")) == (1, 0)
    assert output(task, "pseudonym")
    # both reads opened her record: audited by the service
    assert await _audit(db, p.id, "read") == reads + 2


async def test_search_by_patient_identifier_id_status_and_profile(client, world):
    p = await world.make_patient()
    ref = await _refer(client, world, p)
    sid = f"sanatorium-{ref['id']}"

    async def found(**params: str) -> list[str]:
        r = await client.get("/fhir/ServiceRequest", params=params, headers=world.doctor)
        return ids(ok(r))

    mine = {"patient": f"Patient/{p.id}", "code": "sanatorium"}
    assert await found(**mine) == [sid]
    assert await found(subject=str(p.id), code=f"{mapper.REFERRAL_KIND}|sanatorium") == [sid]
    assert await found(**mine, status="active") == [sid]
    assert await found(**mine, status="completed,revoked") == []
    assert await found(**mine, **{"performer-type": f"{mapper.PROFILE_SYSTEM}|cardiology"}) == [sid]
    assert await found(**mine, **{"performer-type": "digestive"}) == []
    number = ref["number"].replace("-", "")
    assert await found(identifier=f"{mapper.number_system()}|{number}") == [sid]
    assert await found(_id=sid) == [sid]
    # a search that names nothing of the sanatorium is the pregnancy register's
    r = await client.get("/fhir/ServiceRequest", params={"patient": p.id}, headers=world.doctor)
    assert ids(ok(r)) == []
    # and so is a plain id
    issues(await client.get("/fhir/ServiceRequest/999999999", headers=world.doctor), 404)
    tasks = await client.get("/fhir/Task", params={"patient": p.id}, headers=world.doctor)
    assert ids(ok(tasks)) == [str(ref["id"])]
    by_focus = await client.get(
        "/fhir/Task", params={"focus": f"ServiceRequest/{sid}"}, headers=world.doctor
    )
    assert ids(ok(by_focus)) == [str(ref["id"])]
    filtered = await client.get(
        "/fhir/Task",
        params={"patient": p.id, "business-status": "offered"},
        headers=world.doctor,
    )
    assert ids(ok(filtered)) == []


async def test_search_refusals_name_the_parameter(client, world):
    p = await world.make_patient()
    await _refer(client, world, p)
    cases = [
        ("/fhir/ServiceRequest", {"code": "sanatorium"}, {"patient"}),
        ("/fhir/ServiceRequest", {"code": "sanatorium", "patient": "Group/1"}, {"patient"}),
        (
            "/fhir/ServiceRequest",
            {"code": "sanatorium", "patient": p.id, "status": "x"},
            {"status"},
        ),
        ("/fhir/ServiceRequest", {"code": "sanatorium", "colour": "x"}, {"colour"}),
        ("/fhir/Task", {}, {"patient"}),
        ("/fhir/Task", {"focus": "ServiceRequest/12"}, {"focus"}),
        ("/fhir/Appointment", {"patient": p.id, "status": "proposed"}, {"status"}),
        ("/fhir/Encounter", {"type": "sanatorium-stay"}, {"patient"}),
        ("/fhir/Slot", {"start": "ne2026-01-01"}, {"start"}),
        ("/fhir/Slot", {"schedule": "Schedule/x"}, {"schedule"}),
        ("/fhir/HealthcareService", {"active": "yes"}, {"active"}),
    ]
    for path, params, named in cases:
        r = await client.get(path, params=params, headers=world.doctor)
        assert issues(r, 422) == named, (path, params)


async def test_out_of_scope_reads_answer_404_and_are_audited(
    client, db, world, make_facility, make_user, login
):
    p = await world.make_patient()
    ref = await _refer(client, world, p)
    sid = f"sanatorium-{ref['id']}"
    elsewhere = await make_facility()
    stranger = await login(await make_user("family_doctor", facility_code=elsewhere.code))
    denied = await _audit(db, p.id, "denied")
    for path in (f"/fhir/ServiceRequest/{sid}", f"/fhir/Task/{ref['id']}"):
        r = await client.get(path, headers=stranger)
        issues(r, 404)
        assert ref["number"] not in r.text
    r = await client.get(
        "/fhir/ServiceRequest", params={"patient": p.id, "code": "sanatorium"}, headers=stranger
    )
    issues(r, 404)
    # by its number: as if there were no such referral
    r = await client.get(
        "/fhir/ServiceRequest",
        params={"identifier": f"{mapper.number_system()}|{ref['number']}"},
        headers=stranger,
    )
    assert ok(r)["total"] == 0
    assert await _audit(db, p.id, "denied") == denied + 4


async def test_roles_without_the_permission_get_403(client, world, make_user, login):
    p = await world.make_patient()
    ref = await _refer(client, world, p)
    registrar = await login(await make_user("registrar"))
    for who in (world.admin, registrar):
        for path in (
            f"/fhir/ServiceRequest/sanatorium-{ref['id']}",
            f"/fhir/Task/{ref['id']}",
            f"/fhir/Appointment?patient={p.id}",
            f"/fhir/Encounter?subject={p.id}&type=sanatorium-stay",
        ):
            r = await client.get(path, headers=who)
            assert r.status_code == 403, (path, r.text)
        r = await client.post("/fhir/ServiceRequest", json=referral(p.id), headers=who)
        assert r.status_code == 403, r.text


# ---- offers, bookings and stays ---------------------------------------------------------------


async def test_an_offer_becomes_a_booking_an_arrival_and_a_discharge(
    client, world, make_user, login
):
    period = await _period(client, world, beds=1, starts_in=0)
    p = await world.make_patient()
    ref = await _refer(client, world, p)
    me = await _citizen(world, p, make_user, login)
    await _sweep()
    mine = (await client.get("/api/v1/me/sanatorium-referrals", headers=me)).json()[0]
    offer = mine["offer"]
    aid = f"offer-{offer['id']}"

    async def appointment() -> dict:
        return ok(await client.get(f"/fhir/Appointment/{aid}", headers=world.doctor))

    a = await appointment()
    assert a["status"] == "pending"
    assert a["slot"] == [{"reference": f"Slot/{period['id']}"}]
    assert a["basedOn"] == [{"reference": f"ServiceRequest/sanatorium-{ref['id']}"}]
    patient, place = a["participant"]
    assert (patient["actor"]["reference"], patient["status"]) == (f"Patient/{p.id}", "needs-action")
    assert place["actor"]["reference"] == f"HealthcareService/{world.sanatorium.id}-cardiology"
    [expires] = ext(a, mapper.OFFER_EXPIRES_EXT)
    assert datetime.fromisoformat(expires) == datetime.fromisoformat(offer["expires_at"])
    task = ok(await client.get(f"/fhir/Task/{ref['id']}", headers=world.doctor))
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
        "in-progress",
        "offered",
    )
    assert output(task, "appointment") == {"reference": f"Appointment/{aid}"}
    assert "end" in task["restriction"]["period"]
    slot = ok(await client.get(f"/fhir/Slot/{period['id']}"))
    assert slot["status"] == "busy-tentative"  # the only place is held by the offer
    # accepted: a booked bed
    r = await client.post(f"/api/v1/me/sanatorium-offers/{offer['id']}/accept", headers=me)
    assert r.status_code == 200, r.text
    stay = r.json()["stay"]
    eid = f"sanatorium-{stay['id']}"
    assert (await appointment())["status"] == "booked"
    assert ok(await client.get(f"/fhir/Slot/{period['id']}"))["status"] == "busy"
    enc = ok(await client.get(f"/fhir/Encounter/{eid}", headers=world.doctor))
    assert enc["status"] == "planned"
    assert enc["appointment"] == [{"reference": f"Appointment/{aid}"}]
    assert enc["serviceProvider"]["reference"] == f"Organization/{world.sanatorium.id}"
    sr = ok(await client.get(f"/fhir/ServiceRequest/sanatorium-{ref['id']}", headers=world.doctor))
    assert sr["status"] == "active"
    assert sr["occurrencePeriod"] == {"start": period["starts_on"], "end": period["ends_on"]}
    # arrived, then discharged with a summary for the referring doctor
    r = await client.post(
        f"/api/v1/sanatorium/stays/{stay['id']}/arrive", json={}, headers=world.admin
    )
    assert r.status_code == 200, r.text
    assert (await appointment())["status"] == "arrived"
    enc = ok(await client.get(f"/fhir/Encounter/{eid}", headers=world.doctor))
    assert (enc["status"], enc["period"]) == ("in-progress", {"start": TODAY.isoformat()})
    r = await client.post(
        f"/api/v1/sanatorium/stays/{stay['id']}/discharge",
        json={"summary": "Course completed; walks 2 km."},
        headers=world.admin,
    )
    assert r.status_code == 200, r.text
    assert (await appointment())["status"] == "fulfilled"
    enc = ok(await client.get(f"/fhir/Encounter/{eid}", headers=world.doctor))
    assert enc["status"] == "finished"
    assert enc["period"] == {"start": TODAY.isoformat(), "end": TODAY.isoformat()}
    assert ext(enc, mapper.SUMMARY_EXT) == ["Course completed; walks 2 km."]
    sr = ok(await client.get(f"/fhir/ServiceRequest/sanatorium-{ref['id']}", headers=world.doctor))
    assert sr["status"] == "completed"
    task = ok(await client.get(f"/fhir/Task/{ref['id']}", headers=world.doctor))
    assert (task["status"], task["businessStatus"]["coding"][0]["code"]) == (
        "completed",
        "discharged",
    )
    # found by the patient, the referral and their ids
    for path, params in (
        ("/fhir/Appointment", {"patient": p.id, "status": "fulfilled"}),
        ("/fhir/Appointment", {"based-on": f"ServiceRequest/sanatorium-{ref['id']}"}),
        ("/fhir/Appointment", {"_id": aid}),
        ("/fhir/Encounter", {"subject": f"Patient/{p.id}", "type": "sanatorium-stay"}),
        ("/fhir/Encounter", {"patient": p.id, "type": "sanatorium-stay", "status": "finished"}),
        ("/fhir/Encounter", {"_id": eid}),
        ("/fhir/Encounter", {"based-on": f"ServiceRequest/sanatorium-{ref['id']}"}),
    ):
        r = await client.get(path, params=params, headers=world.doctor)
        assert len(ids(ok(r))) == 1, (path, params)
    r = await client.get(
        "/fhir/Encounter",
        params={"patient": p.id, "type": "sanatorium-stay", "status": "planned"},
        headers=world.doctor,
    )
    assert ids(ok(r)) == []


async def test_a_declined_offer_is_a_cancelled_appointment(client, world, make_user, login):
    await _period(client, world, beds=1)
    p = await world.make_patient()
    await _refer(client, world, p)
    me = await _citizen(world, p, make_user, login)
    await _sweep()
    offer = (await client.get("/api/v1/me/sanatorium-referrals", headers=me)).json()[0]["offer"]
    r = await client.post(
        f"/api/v1/me/sanatorium-offers/{offer['id']}/decline", json={}, headers=me
    )
    assert r.status_code == 200, r.text
    a = ok(await client.get(f"/fhir/Appointment/offer-{offer['id']}", headers=world.doctor))
    assert a["status"] == "cancelled"
    assert a["cancelationReason"]["coding"][0]["code"] == "declined"
    assert a["participant"][0]["status"] == "declined"


async def test_a_no_show_revokes_the_referral(client, world, make_user, login):
    period = await _period(client, world, beds=1, starts_in=0)
    p = await world.make_patient()
    ref = await _refer(client, world, p)
    me = await _citizen(world, p, make_user, login)
    await _sweep()
    offer = (await client.get("/api/v1/me/sanatorium-referrals", headers=me)).json()[0]["offer"]
    r = await client.post(f"/api/v1/me/sanatorium-offers/{offer['id']}/accept", headers=me)
    assert r.status_code == 200, r.text
    stay = r.json()["stay"]
    await _sweep(today=date.fromisoformat(period["starts_on"]) + timedelta(days=5))
    a = ok(await client.get(f"/fhir/Appointment/offer-{offer['id']}", headers=world.doctor))
    assert a["status"] == "noshow"
    enc = ok(await client.get(f"/fhir/Encounter/sanatorium-{stay['id']}", headers=world.doctor))
    assert enc["status"] == "cancelled"
    sr = ok(await client.get(f"/fhir/ServiceRequest/sanatorium-{ref['id']}", headers=world.doctor))
    assert (sr["status"], ext(sr, mapper.STATUS_EXT)) == ("revoked", ["noshow"])


async def test_a_direct_booking_has_no_queue_entry(client, world):
    period = await _period(client, world, beds=1)
    p = await world.make_patient()
    ref = await _refer(client, world, p, category="aftercare")
    r = await client.post(
        f"/api/v1/sanatorium-referrals/{ref['id']}/book",
        json={"period_id": period["id"]},
        headers=world.doctor,
    )
    assert r.status_code == 200, r.text
    stay = r.json()["stay"]
    issues(await client.get(f"/fhir/Task/{ref['id']}", headers=world.doctor), 404)
    sr = ok(await client.get(f"/fhir/ServiceRequest/sanatorium-{ref['id']}", headers=world.doctor))
    assert sr["priority"] == "asap"
    a = ok(await client.get(f"/fhir/Appointment/stay-{stay['id']}", headers=world.doctor))
    assert a["status"] == "booked"
    assert ext(a, mapper.BED_EXT) == [stay["bed"]]


# ---- the catalogue ------------------------------------------------------------------------------


async def test_the_catalogue_is_public_and_holds_no_person(client, world, make_user, login):
    period = await _period(client, world, beds=3)
    p = await world.make_patient()
    ref = await _refer(client, world, p)
    await _sweep()
    hs_id = f"{world.sanatorium.id}-cardiology"
    found = ok(
        await client.get(
            "/fhir/HealthcareService",
            params={"organization": f"Organization/{world.sanatorium.id}"},
        )
    )
    [hs] = [e["resource"] for e in found["entry"]]
    assert hs["id"] == hs_id
    assert hs["active"] is True
    assert hs["providedBy"]["reference"] == f"Organization/{world.sanatorium.id}"
    assert hs["specialty"][0]["coding"][0]["code"] == "cardiology"
    assert hs["characteristic"][0]["coding"][0]["code"] == "beds"
    assert ext(hs["characteristic"][0], mapper.BEDS_EXT) == [3]
    assert ok(await client.get(f"/fhir/HealthcareService/{hs_id}"))["id"] == hs_id
    sched = ok(await client.get(f"/fhir/Schedule/{hs_id}"))
    assert sched["actor"][0]["reference"] == f"HealthcareService/{hs_id}"
    assert sched["planningHorizon"]["start"] == period["starts_on"]
    assert ids(
        ok(await client.get("/fhir/Schedule", params={"actor": f"HealthcareService/{hs_id}"}))
    ) == [hs_id]
    slots = ok(await client.get("/fhir/Slot", params={"schedule": f"Schedule/{hs_id}"}))
    [slot] = [e["resource"] for e in slots["entry"]]
    assert slot["id"] == str(period["id"])
    assert slot["status"] == "free"  # one place of three is held by the offer
    assert ext(slot, mapper.PLACES_EXT) == [{"capacity": 3, "booked": 0, "held": 1, "free": 2}]
    for params, hit in (
        ({"status": "free"}, True),
        ({"status": "busy,busy-tentative"}, False),
        ({"start": f"ge{period['starts_on']}"}, True),
        ({"start": f"gt{period['starts_on']}"}, False),
        ({"start": period["starts_on"]}, True),
        ({"service-type": "digestive"}, False),
    ):
        r = await client.get("/fhir/Slot", params={"schedule": f"Schedule/{hs_id}", **params})
        assert ids(ok(r)) == ([slot["id"]] if hit else []), params
    for r in (found, sched, slots):
        text = str(r)
        # no referral number, diagnosis or reference to a person (the bare id's digits
        # could be part of any date or count, so the reference is what is looked for)
        for private in (ref["number"], "I25.1", f"Patient/{p.id}", "Patient/"):
            assert private not in text
    issues(await client.get("/fhir/Slot/999999999"), 404)
    issues(await client.get("/fhir/HealthcareService/1-nosuchprofile"), 404)
    issues(await client.get("/fhir/Schedule/x"), 404)


# ---- a referral another system submits ----------------------------------------------------------


async def test_another_system_refers_a_person(client, db, world):
    p = await world.make_patient()
    r = await client.post("/fhir/ServiceRequest", json=referral(p.id), headers=world.doctor)
    sr = ok(r, 201)
    assert sr["id"].startswith("sanatorium-")
    assert r.headers["location"].endswith(f"/fhir/ServiceRequest/{sr['id']}/_history/1")
    assert r.headers["etag"] == 'W/"1"'
    assert ext(sr, mapper.SOURCE_EXT) == ["fhir"]
    assert sr["status"] == "active"
    listed = await client.get(f"/api/v1/persons/{p.id}/sanatorium-referrals", headers=world.doctor)
    [stored] = listed.json()
    assert (stored["source"], stored["status"], stored["profile"]) == (
        "fhir",
        "queued",
        "cardiology",
    )
    assert f"sanatorium-{stored['id']}" == sr["id"]
    assert await _audit(db, p.id, "create") >= 1
    # a second referral while this one is in progress
    r = await client.post("/fhir/ServiceRequest", json=referral(p.id), headers=world.doctor)
    assert r.status_code == 409, r.text
    assert stored["number"] in r.text


async def test_bad_referrals_are_refused_naming_the_element_and_store_nothing(client, world):
    p = await world.make_patient()
    condition = {"url": mapper.CONDITION_EXT, "valueCoding": {"system": ICD10, "code": "J18.9"}}
    cases: list[tuple[dict[str, Any], int, set[str]]] = [
        (referral(p.id, indication="J11.1"), 422, {"ServiceRequest.reasonCode"}),
        (referral(p.id, reasonCode=None), 422, {"ServiceRequest.reasonCode"}),
        (referral(p.id, profile="digestive"), 422, {"ServiceRequest.performerType"}),
        (
            referral(p.id, category="astronaut"),
            422,
            {f"ServiceRequest.extension('{mapper.CATEGORY_EXT}')"},
        ),
        (
            {**referral(p.id), "extension": []},
            422,
            {f"ServiceRequest.extension('{mapper.CATEGORY_EXT}')"},
        ),
        # a contraindication nobody attested
        (referral(p.id, extension=[condition]), 422, {"ServiceRequest.extension[1]"}),
        (referral(p.id, status="draft"), 422, {"ServiceRequest.status"}),
        (referral(p.id, subject={"reference": "Group/1"}), 422, {"ServiceRequest.subject"}),
        (
            referral(p.id, identifier=[{"system": mapper.number_system(), "value": "1"}]),
            422,
            {"ServiceRequest.identifier"},
        ),
        (
            referral(
                p.id, code={"coding": [{"system": mapper.REFERRAL_KIND, "code": "perinatal"}]}
            ),
            422,
            {"ServiceRequest.code"},
        ),
        (
            referral(p.id, extension=[{"url": mapper.TIER_EXT, "valueUnsignedInt": 1}]),
            422,
            {"ServiceRequest.extension[1]"},
        ),
        (
            {"resourceType": "ServiceRequest", "status": "active", "intent": "order"},
            400,
            {"ServiceRequest.subject"},
        ),
    ]
    for body, status, named in cases:
        body = {k: v for k, v in body.items() if v is not None}
        r = await client.post("/fhir/ServiceRequest", json=body, headers=world.doctor)
        assert issues(r, status) == named, (body, r.text)
    listed = await client.get(f"/api/v1/persons/{p.id}/sanatorium-referrals", headers=world.doctor)
    assert listed.json() == []
    # with the clinician's attestation the contraindication is let through, and says so
    attestation = {"url": mapper.ATTESTATION_EXT, "valueString": "Pneumonia resolved, X-ray clear"}
    r = await client.post(
        "/fhir/ServiceRequest",
        json=referral(p.id, extension=[condition, attestation]),
        headers=world.doctor,
    )
    sr = ok(r, 201)
    assert ext(sr, mapper.ATTESTATION_EXT) == ["Pneumonia resolved, X-ray clear"]
    [warning] = ext(sr, mapper.WARNING_EXT)
    assert (warning["kind"], warning["condition"]["code"]) == ("override", "J18.9")


# ---- the capability statement -------------------------------------------------------------------


async def test_metadata_lists_the_sanatorium_resources_and_every_parameter_works(client, world):
    p = await world.make_patient()
    ref = await _refer(client, world, p)
    await _period(client, world, beds=1)
    cs = (await client.get("/fhir/metadata")).json()
    CapabilityStatement.model_validate(cs)
    listed = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert {i["code"] for i in listed["ServiceRequest"]["interaction"]} == {
        "read",
        "search-type",
        "create",
    }
    hs = f"{world.sanatorium.id}-cardiology"
    sid = f"sanatorium-{ref['id']}"
    samples = {
        "patient": str(p.id),
        "subject": f"Patient/{p.id}",
        "code": "sanatorium",
        "type": "sanatorium-stay",
        "identifier": f"{mapper.number_system()}|{ref['number']}",
        "status": None,
        "performer-type": "cardiology",
        "focus": f"ServiceRequest/{sid}",
        "based-on": f"ServiceRequest/{sid}",
        "business-status": "in-queue",
        "organization": f"Organization/{world.sanatorium.id}",
        "specialty": "cardiology",
        "service-type": "cardiology",
        "active": "true",
        "actor": f"HealthcareService/{hs}",
        "schedule": f"Schedule/{hs}",
        "start": f"ge{TODAY}",
    }
    id_samples = {
        "ServiceRequest": sid,
        "Task": str(ref["id"]),
        "Appointment": "offer-1",
        "Encounter": "sanatorium-1",
        "HealthcareService": hs,
        "Schedule": hs,
        "Slot": "1",
    }
    statuses = {
        "ServiceRequest": "active",
        "Task": "ready",
        "Appointment": "booked",
        "Encounter": "planned",
        "Slot": "free",
    }
    for t, params in SEARCH_PARAMS.items():
        names = {x["name"] for x in listed[t]["searchParam"]}
        assert set(params) | {"_count"} <= names, t
        selector = {
            "ServiceRequest": {"code": "sanatorium"},
            "Encounter": {"type": "sanatorium-stay"},
        }
        base = {
            "ServiceRequest": {"patient": str(p.id)},
            "Task": {"patient": str(p.id)},
            "Appointment": {"patient": str(p.id)},
            "Encounter": {"patient": str(p.id)},
        }.get(t, {})
        for name in params:
            value = id_samples[t] if name == "_id" else samples[name] or statuses[t]
            query = {**base, **selector.get(t, {}), name: value}
            r = await client.get(f"/fhir/{t}", params=query, headers=world.doctor)
            ok(r)
