"""Sick-leave certificates as FHIR DocumentReference: read, search, open and ``$extend``.

The limits are the deployed pack's (``sick_leave.yaml``); every resource the server
answers is validated with its ``fhir.resources`` R4B model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import RelationIn
from salomat.domains.sickleave import service
from salomat.fhir import sick_leave as mapper

pytestmark = pytest.mark.anyio

TODAY = date.today()
FHIR_JSON = "application/fhir+json"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
CLERK = Principal(user_id=0, username="t", role="registrar", session_id="t")
EXTEND_ENDS_ON = "Parameters.parameter.where(name='ends_on')"


@dataclass
class Clinic:
    facility: Any
    worker: Any
    doctor: dict[str, str]
    citizen: dict[str, str]
    employer: dict[str, str]


async def make_clinic(make_facility, make_person, make_user, login) -> Clinic:  # type: ignore[no-untyped-def]
    """A polyclinic, a worker attached there, its family doctor, the worker's citizen
    account and an employer's account."""
    fac = await make_facility()
    worker = await make_person(facility_code=fac.code, birth_date=date(1988, 4, 9), sex="male")
    return Clinic(
        fac,
        worker,
        await login(await make_user("family_doctor", facility_code=fac.code)),
        await login(await make_user("citizen", person_id=worker.id)),
        await login(await make_user("employer")),
    )


@pytest.fixture
async def clinic(make_facility, make_person, make_user, login) -> Clinic:
    return await make_clinic(make_facility, make_person, make_user, login)


def ok(r, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            DocumentReference.model_validate(e["resource"])
    else:
        DocumentReference.model_validate(body)
    return body


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def entries(b: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in b.get("entry", [])]


def ext(res: dict[str, Any], url: str) -> list[dict[str, str | Any]]:
    """Each extension of ``url`` as {sub-extension url: its value}."""
    out = []
    for e in res.get("extension", []):
        if e["url"] == url:
            out.append(
                {
                    s["url"]: next(v for k, v in s.items() if k.startswith("value"))
                    for s in e["extension"]
                }
            )
    return out


def vkk(until: date) -> dict[str, Any]:
    return {
        "decided_on": TODAY.isoformat(),
        "decision": "extend",
        "extend_until": until.isoformat(),
        "protocol_number": "VKK-17/2026",
        "chair": "Karimov A.",
        "members": ["Karimov A.", "Yusupova D.", "Rashidov B."],
    }


async def open_flu(client, c: Clinic, person_id: int | None = None, days: int = 5) -> dict:
    r = await client.post(
        f"/api/v1/persons/{person_id or c.worker.id}/sick-leave",
        json={"reason": "own_illness", "diagnosis": "J11.1", "days": days},
        headers=c.doctor,
    )
    assert r.status_code == 201, r.text
    return r.json()


def document(person_id: int, **kw: Any) -> dict[str, Any]:
    """A new certificate as another system sends it: 5 days of influenza from today."""
    start = kw.pop("start", TODAY)
    end = kw.pop("end", TODAY + timedelta(days=4))
    period = [{"url": "start", "valueDate": start.isoformat()}]
    if end is not None:
        period.append({"url": "end", "valueDate": end.isoformat()})
    res: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "status": "current",
        "extension": [{"url": mapper.PERIOD_EXT, "extension": period}],
        "type": {
            "coding": [
                {"system": mapper.KIND_SYSTEM, "code": "illness"},
                {"system": mapper.REASON_SYSTEM, "code": kw.pop("reason", "own_illness")},
            ]
        },
        "subject": {"reference": f"Patient/{person_id}"},
        "contained": [
            {
                "resourceType": "Condition",
                "id": "dx",
                "subject": {"reference": f"Patient/{kw.pop('sick', person_id)}"},
                "code": {"coding": [{"system": ICD10, "code": kw.pop("diagnosis", "J11.1")}]},
            }
        ],
        "context": {"related": [{"reference": "#dx"}]},
        # required by R4; the server replaces it with its own link
        "content": [{"attachment": {"contentType": "application/pdf"}}],
    }
    res.update(kw)
    return res


async def certificates_of(db, person_id: int) -> int:  # type: ignore[no-untyped-def]
    from salomat.domains.sickleave.models import SickLeaveCertificate

    return await db.scalar(
        select(func.count())
        .select_from(SickLeaveCertificate)
        .where(SickLeaveCertificate.person_id == person_id)
    )


# ---- read and search --------------------------------------------------------------------


async def test_the_doctor_reads_a_certificate_with_its_diagnosis(client, clinic):
    c = await open_flu(client, clinic)
    r = await client.get(f"/fhir/DocumentReference/{c['id']}", headers=clinic.doctor)
    doc = ok(r)
    assert r.headers["etag"] == 'W/"1"'
    assert doc["identifier"] == [{"system": mapper.number_system(), "value": c["number"]}]
    assert (doc["status"], doc["docStatus"]) == ("current", "preliminary")
    assert {(x["system"], x["code"]) for x in doc["type"]["coding"]} == {
        (mapper.KIND_SYSTEM, "illness"),
        (mapper.REASON_SYSTEM, "own_illness"),
    }
    assert doc["subject"] == {"reference": f"Patient/{clinic.worker.id}"}
    assert doc["author"][0]["reference"] == f"Organization/{clinic.facility.id}"
    assert doc["context"]["period"] == {
        "start": TODAY.isoformat(),
        "end": (TODAY + timedelta(days=4)).isoformat(),
    }
    [period] = ext(doc, mapper.PERIOD_EXT)
    assert (period["start"], period["end"], period["grantedAs"]) == (
        TODAY.isoformat(),
        (TODAY + timedelta(days=4)).isoformat(),
        "doctor",
    )
    # the diagnosis: a contained Condition in ICD-10, referenced from the context
    [condition] = doc["contained"]
    assert condition["resourceType"] == "Condition"
    assert condition["code"]["coding"][0]["system"] == ICD10
    assert condition["code"]["coding"][0]["code"] == "J11.1"
    assert condition["subject"] == {"reference": f"Patient/{clinic.worker.id}"}
    assert {"reference": f"#{condition['id']}"} in doc["context"]["related"]
    # the links name the certificate, and nothing of her health
    pdf, json_ = doc["content"]
    assert pdf["attachment"]["contentType"] == "application/pdf"
    assert pdf["attachment"]["url"].endswith(
        f"/patients/{clinic.worker.id}/sick-leave/{c['id']}.pdf"
    )
    assert json_["attachment"]["url"].endswith(f"/api/v1/sick-leave/{c['id']}")
    for content in doc["content"]:
        assert "J11" not in content["attachment"]["title"]
        assert "illness" not in content["attachment"]["title"].lower()


async def test_the_links_open_with_the_readers_own_token(client, clinic):
    """The PDF (the holder's copy: 503 where the system has no Pango) and the JSON open
    for the doctor and for the holder alike; the employer's token opens neither."""
    c = await open_flu(client, clinic)
    doc = ok(await client.get(f"/fhir/DocumentReference/{c['id']}", headers=clinic.doctor))
    for content in doc["content"]:
        url = content["attachment"]["url"].removeprefix("http://testserver")
        for who in (clinic.doctor, clinic.citizen):
            r = await client.get(url, headers=who)
            if r.status_code == 200:
                assert r.headers["content-type"].startswith(content["attachment"]["contentType"])
            else:
                assert (content["attachment"]["contentType"], r.status_code) == (
                    "application/pdf",
                    503,
                ), r.text
        r = await client.get(url, headers=clinic.employer)
        assert r.status_code in (403, 404), r.text


async def test_search_by_patient_status_type_identifier_date_and_period(client, clinic):
    c = await open_flu(client, clinic)
    last = TODAY + timedelta(days=4)

    async def found(**params: str) -> list[str]:
        r = await client.get(
            "/fhir/DocumentReference",
            params={"patient": f"Patient/{clinic.worker.id}", **params},
            headers=clinic.doctor,
        )
        return [d["id"] for d in entries(ok(r))]

    one = [str(c["id"])]
    assert await found() == one
    assert await found(status="current") == one
    assert await found(status="entered-in-error") == []
    assert await found(type="illness") == one
    assert await found(type=f"{mapper.KIND_SYSTEM}|care") == []
    assert await found(type=f"{mapper.REASON_SYSTEM}|own_illness") == one
    assert await found(type="http://other|illness") == []
    assert await found(identifier=c["number"]) == one
    assert await found(identifier=c["number"].replace("-", " ")) == one
    assert await found(identifier=f"{mapper.number_system()}|{c['number'].replace('-', '')}") == one
    assert await found(identifier=f"http://other|{c['number']}") == []
    # issued (DocumentReference.date, an instant in UTC): today give or take the zone
    since, until = TODAY - timedelta(days=1), TODAY + timedelta(days=2)
    assert await found(date=f"ge{since}") == one
    assert await found(date=[f"ge{since}", f"lt{until}"]) == one  # type: ignore[arg-type]
    assert await found(date="lt2000-01-01") == []
    # its days: the last day in, the day after out; the first day in, the day before out
    assert await found(period=TODAY.isoformat()) == one
    assert await found(period=f"ge{last}") == one
    assert await found(period=f"gt{last}") == []
    assert await found(period=f"le{TODAY}") == one
    assert await found(period=f"lt{TODAY}") == []
    # paging
    r = await client.get(
        "/fhir/DocumentReference",
        params={"patient": str(clinic.worker.id), "_count": "1"},
        headers=clinic.doctor,
    )
    assert ok(r)["total"] == 1


async def test_search_refusals_name_the_parameter(client, clinic):
    r = await client.get("/fhir/DocumentReference", headers=clinic.doctor)
    assert issues(r, 422) == {"patient"}
    r = await client.get(
        "/fhir/DocumentReference", params={"patient": "Group/1"}, headers=clinic.doctor
    )
    assert issues(r, 422) == {"patient"}
    base = {"patient": str(clinic.worker.id)}
    for name, value in (("status", "superseded"), ("colour", "x"), ("period", "ne2026-01-01")):
        r = await client.get(
            "/fhir/DocumentReference", params={**base, name: value}, headers=clinic.doctor
        )
        assert issues(r, 422) == {name}


async def test_docstatus_follows_close_correct_and_cancel(client, clinic):
    c = await open_flu(client, clinic)
    url = f"/api/v1/sick-leave/{c['id']}"
    back = TODAY + timedelta(days=3)
    r = await client.post(
        f"{url}/close",
        json={"closure": "return_to_work", "return_to_work_on": back.isoformat()},
        headers=clinic.doctor,
    )
    assert r.status_code == 200, r.text
    doc = ok(await client.get(f"/fhir/DocumentReference/{c['id']}", headers=clinic.doctor))
    assert (doc["status"], doc["docStatus"]) == ("current", "final")
    # the days run to the closing day; the period stays as granted
    assert doc["context"]["period"]["end"] == (back - timedelta(days=1)).isoformat()
    assert ext(doc, mapper.PERIOD_EXT)[0]["end"] == (TODAY + timedelta(days=4)).isoformat()
    assert ext(doc, mapper.CLOSURE_EXT) == [
        {"returnToWork": back.isoformat(), "closure": "return_to_work"}
    ]
    r = await client.post(
        f"{url}/correct", json={"reason": "typo", "diagnosis": "J10.1"}, headers=clinic.doctor
    )
    assert r.status_code == 200, r.text
    doc = ok(await client.get(f"/fhir/DocumentReference/{c['id']}", headers=clinic.doctor))
    assert doc["docStatus"] == "amended"
    assert doc["contained"][0]["code"]["coding"][0]["code"] == "J10.1"
    r = await client.post(
        f"{url}/cancel", json={"reason": "issued in error"}, headers=clinic.doctor
    )
    assert r.status_code == 200, r.text
    doc = ok(await client.get(f"/fhir/DocumentReference/{c['id']}", headers=clinic.doctor))
    assert (doc["status"], doc["docStatus"]) == ("entered-in-error", "entered-in-error")


# ---- who sees what -------------------------------------------------------------------


async def test_the_citizen_reads_her_own_certificate_with_its_diagnosis(
    client, clinic, make_person, make_user, login
):
    c = await open_flu(client, clinic)
    doc = ok(await client.get(f"/fhir/DocumentReference/{c['id']}", headers=clinic.citizen))
    assert doc["contained"][0]["code"]["coding"][0]["code"] == "J11.1"
    r = await client.get(
        "/fhir/DocumentReference",
        params={"patient": f"Patient/{clinic.worker.id}"},
        headers=clinic.citizen,
    )
    assert [d["id"] for d in entries(ok(r))] == [str(c["id"])]
    # another citizen: as if there were no such certificate
    stranger = await make_person(birth_date=date(1990, 1, 1))
    other = await login(await make_user("citizen", person_id=stranger.id))
    r = await client.get(f"/fhir/DocumentReference/{c['id']}", headers=other)
    issues(r, 404)
    r = await client.get(
        "/fhir/DocumentReference", params={"patient": str(clinic.worker.id)}, headers=other
    )
    issues(r, 404)


async def test_an_employer_reaches_nothing_under_fhir(client, clinic):
    c = await open_flu(client, clinic)
    for method, path, body in (
        ("GET", f"/fhir/DocumentReference/{c['id']}", None),
        ("GET", f"/fhir/DocumentReference?patient={clinic.worker.id}", None),
        ("POST", "/fhir/DocumentReference", document(clinic.worker.id)),
        (
            "POST",
            f"/fhir/DocumentReference/{c['id']}/$extend",
            {"resourceType": "Parameters", "parameter": [{"name": "days", "valueInteger": 1}]},
        ),
        ("GET", f"/fhir/Patient/{clinic.worker.id}", None),
        ("GET", f"/fhir/Condition?patient={clinic.worker.id}", None),
    ):
        r = await client.request(method, path, json=body, headers=clinic.employer)
        assert r.status_code == 403, (method, path, r.text)
        assert "J11" not in r.text


async def test_a_non_clinical_reader_never_sees_the_diagnosis(
    client, db, clinic, make_person, make_user, login
):
    """A mother (citizen) reads her 16-year-old son's certificate: the dates and the kind,
    never the reason, the diagnosis or who granted the days; roles outside care get 403."""
    mother = await make_person(birth_date=date(1980, 2, 2), sex="female")
    teen = await make_person(
        facility_code=clinic.facility.code,
        birth_date=date(TODAY.year - 16, 1, 1) - timedelta(days=40),
        sex="male",
    )
    await registry.add_relation(
        db, CLERK, teen.id, RelationIn(related_person_id=mother.id, kind="mother", document="BC-1")
    )
    await db.commit()
    c = await open_flu(client, clinic, person_id=teen.id)
    parent = await login(await make_user("citizen", person_id=mother.id))
    r = await client.get(f"/fhir/DocumentReference/{c['id']}", headers=parent)
    doc = ok(r)
    assert "J11" not in r.text
    assert "own_illness" not in r.text
    assert "contained" not in doc
    assert "related" not in doc["context"]
    assert [x["system"] for x in doc["type"]["coding"]] == [mapper.KIND_SYSTEM]
    assert ext(doc, mapper.PERIOD_EXT) == [
        {"start": TODAY.isoformat(), "end": (TODAY + timedelta(days=4)).isoformat()}
    ]
    r = await client.get(
        "/fhir/DocumentReference",
        params={"patient": str(teen.id), "type": f"{mapper.REASON_SYSTEM}|own_illness"},
        headers=parent,
    )
    assert ok(r)["total"] == 0  # no search reveals the reason either
    r = await client.get(
        "/fhir/DocumentReference", params={"patient": str(teen.id)}, headers=parent
    )
    assert "J11" not in r.text
    assert ok(r)["total"] == 1
    for role in ("registrar", "analyst", "auditor", "pharmacist"):
        other = await login(await make_user(role))
        r = await client.get(f"/fhir/DocumentReference/{c['id']}", headers=other)
        assert r.status_code == 403, (role, r.text)
        assert "J11" not in r.text


def test_the_mapper_leaves_every_clinical_detail_out_of_the_non_clinical_view():
    from datetime import UTC, datetime

    from salomat.domains.sickleave.schemas import CertificateOut, PeriodOut, VkkOut

    c = CertificateOut(
        id=7,
        number="2612-3456-7890",
        check_code="ABCDEF",
        person_id=3,
        kind="care",
        reason="care",
        diagnosis="J06.9",
        cared_person_id=4,
        pregnancy_id=None,
        zone_document=None,
        status="closed",
        starts_on=TODAY,
        ends_on=TODAY + timedelta(days=2),
        closed_on=TODAY + timedelta(days=2),
        closure="return_to_work",
        return_to_work_on=TODAY + timedelta(days=3),
        facility_id=1,
        issued_by="dr",
        duplicate_no=1,
        cancel_reason=None,
        source="local",
        version=3,
        periods=[
            PeriodOut(
                seq=1,
                starts_on=TODAY,
                ends_on=TODAY + timedelta(days=2),
                days=3,
                granted_as="vkk",
                granted_by="dr",
                facility_id=1,
                vkk_decision_id=9,
                cosigned_by="Head Sobirov",
            )
        ],
        vkk_decisions=[
            VkkOut(
                id=9,
                decided_on=TODAY,
                decision="extend",
                extend_until=TODAY + timedelta(days=2),
                protocol_number="P-1",
                chair="A",
                members=["A", "B", "C"],
                facility_id=1,
                recorded_by="dr",
            )
        ],
    )
    now = datetime.now(UTC)
    rec = service.CertificateRecord(c, now, now, corrected=False)
    public = mapper.document_reference(rec, clinical=False, api_base="https://x")
    DocumentReference.model_validate(public)
    text = str(public)
    for secret in ("J06", mapper.REASON_SYSTEM, "vkk", "Sobirov", "P-1", "return_to_work"):
        assert secret not in text, secret
    assert "Patient/4" not in text
    assert "contained" not in public
    assert {"url": mapper.DUPLICATE_EXT, "valuePositiveInt": 1} in public["extension"]
    full = mapper.document_reference(rec, clinical=True, api_base="https://x")
    DocumentReference.model_validate(full)
    assert full["contained"][0]["subject"] == {"reference": "Patient/4"}
    assert ext(full, mapper.CLOSURE_EXT) == [
        {"returnToWork": (TODAY + timedelta(days=3)).isoformat(), "closure": "return_to_work"}
    ]


async def test_metadata_advertises_what_the_search_accepts(client, clinic):
    cs = (await client.get("/fhir/metadata")).json()
    [res] = [r for r in cs["rest"][0]["resource"] if r["type"] == "DocumentReference"]
    # the shared record's documents add vread, update, patch, history and $validate
    # (tests/fhir/test_record.py, test_record_http.py)
    assert {i["code"] for i in res["interaction"]} == {
        "read",
        "search-type",
        "create",
        "vread",
        "update",
        "patch",
        "history-instance",
        "history-type",
    }
    assert [o["name"] for o in res["operation"]] == ["extend", "validate"]
    samples = {
        "status": "current",
        "type": "illness",
        "identifier": "2612-3456-7890",
        "date": "ge2026-01-01",
        "period": "2026-01-01",
        "_count": "5",
    }
    for p in res["searchParam"]:
        # the shared record's parameters: tests/fhir/test_record.py
        if p["name"] == "patient" or p["name"] not in samples:
            continue
        r = await client.get(
            "/fhir/DocumentReference",
            params={"patient": str(clinic.worker.id), p["name"]: samples[p["name"]]},
            headers=clinic.doctor,
        )
        assert ok(r)["total"] == 0, p["name"]
