"""Prescribing through REST: quantity, code, reimbursement rules, refusals, cancel, scope, audit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.domains.prescription import service
from tests.factories import unique

pytestmark = pytest.mark.anyio

TODAY = date.today()
HEADER = "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price"
CODE = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{2}$")


@dataclass
class Clinic:
    facility: Any
    patient: Any
    doctor: dict[str, str]
    amlodipine: str
    metformin: str
    paracetamol: str


@pytest.fixture
async def clinic(db, make_facility, make_person, make_user, login) -> Clinic:
    """A polyclinic, a patient attached there, its doctor and three formulary packages."""
    fac = await make_facility()
    patient = await make_person(facility_code=fac.code, birth_date=date(1960, 3, 1))
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    codes = [unique("AML"), unique("MET"), unique("PAR")]
    text = "\n".join(
        [
            HEADER,
            f"{codes[0]},amlodipine,C08CA01,,tablet,5 mg,tablet,30,1500000",
            f"{codes[1]},metformin,A10BA02,,tablet,500 mg,tablet,60,2000000",
            f"{codes[2]},paracetamol,N02BE01,,tablet,500 mg,tablet,20,300000",
        ]
    )
    report = await service.import_formulary(db, text)
    assert not report.errors
    await db.commit()
    return Clinic(fac, patient, doctor, *codes)


def rx(medicine: str, **kw: Any) -> dict[str, Any]:
    return {
        "medicine": medicine,
        "diagnosis": "I10",
        "kind": "reimbursed",
        "dose_units": 1,
        "times_per_day": 1,
        "days": 30,
        **kw,
    }


async def post(client, c: Clinic, body: dict[str, Any], headers: dict[str, str] | None = None):
    return await client.post(
        f"/api/v1/persons/{c.patient.id}/prescriptions", json=body, headers=headers or c.doctor
    )


def fields(r) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


async def test_a_reimbursed_amlodipine_for_hypertension(client, clinic):
    r = await post(client, clinic, rx(clinic.amlodipine, dose_units=1.5, times_per_day=1))
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["inn"] == "amlodipine"
    assert p["quantity_units"] == 45  # 1.5 x 1 x 30
    assert p["reimbursed"] is True
    assert p["reimbursement_pct"] == 100
    assert p["diagnosis"] == "I10"
    assert p["status"] == "active"
    assert p["issued_on"] == TODAY.isoformat()
    assert p["valid_until"] == (TODAY + timedelta(days=29)).isoformat()
    assert p["facility_id"] == clinic.facility.id
    assert p["medicine_code"] == clinic.amlodipine
    assert CODE.match(p["code"]), p["code"]
    assert r.headers["location"] == f"/api/v1/prescriptions/{p['id']}"
    got = await client.get(f"/api/v1/prescriptions/{p['id']}", headers=clinic.doctor)
    assert got.status_code == 200
    assert got.headers["etag"] == f'W/"{p["version"]}"'
    qr = await client.get(f"/api/v1/prescriptions/{p['id']}/qr.svg", headers=clinic.doctor)
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.text.lstrip().startswith("<svg")
    listed = await client.get(
        f"/api/v1/persons/{clinic.patient.id}/prescriptions", headers=clinic.doctor
    )
    assert [x["code"] for x in listed.json()] == [p["code"]]


def test_quantity_is_rounded_up_to_whole_units():
    assert service.quantity_units(1, 2, 10) == 20
    assert service.quantity_units(0.5, 3, 5) == 8  # 7.5 -> 8
    assert service.quantity_units(0.1, 3, 10) == 3  # no float noise: 3.0000000000000004
    assert service.quantity_units(0.25, 1, 1) == 1


def test_codes_avoid_look_alikes_and_read_back():
    codes = {service.new_code() for _ in range(500)}
    assert len(codes) == 500
    for c in codes:
        assert CODE.match(c)
        assert not set(c) & set("01OIL")
    c = next(iter(codes))
    assert service.normalise_code(c.replace("-", " ").lower()) == c


async def test_a_non_qualifying_diagnosis_is_refused_with_the_qualifying_ones(client, clinic):
    r = await post(client, clinic, rx(clinic.amlodipine, diagnosis="E11.9"))
    assert r.status_code == 422
    msg = fields(r)["diagnosis"]
    assert "E11.9 does not qualify amlodipine" in msg
    assert "I10-I15" in msg
    r = await post(client, clinic, rx(clinic.amlodipine, diagnosis=None))
    assert r.status_code == 422
    assert "required" in fields(r)["diagnosis"]
    r = await post(client, clinic, rx(clinic.paracetamol, diagnosis="R50.9"))
    assert r.status_code == 422
    assert "not on the reimbursement list" in fields(r)["medicine"]
    r = await post(client, clinic, rx(clinic.amlodipine, diagnosis="X99.99"))
    assert r.status_code == 422
    assert "not an ICD-10 code" in fields(r)["diagnosis"]
    listed = await client.get(
        f"/api/v1/persons/{clinic.patient.id}/prescriptions", headers=clinic.doctor
    )
    assert listed.json() == []


async def test_unknown_medicine_and_impossible_doses_name_each_field(client, clinic):
    r = await post(
        client,
        clinic,
        rx("NO-SUCH", dose_units=0, times_per_day=30, days=0, kind="magic"),
    )
    assert r.status_code == 422
    assert set(fields(r)) == {"medicine", "dose_units", "times_per_day", "days", "kind"}


async def test_a_regular_prescription_needs_no_diagnosis_and_is_not_reimbursed(client, clinic):
    r = await post(client, clinic, rx(clinic.paracetamol, kind="regular", diagnosis=None, days=3))
    assert r.status_code == 201, r.text
    assert r.json()["reimbursed"] is False
    assert r.json()["reimbursement_pct"] == 0


async def test_over_the_period_limit(client, clinic, db):
    # amlodipine: at most 90 units per 90 days on the demo list
    first = await post(client, clinic, rx(clinic.amlodipine, days=60))
    assert first.status_code == 201, first.text
    cancelled = await client.post(
        f"/api/v1/prescriptions/{first.json()['id']}/cancel",
        json={"reason": "dose changed"},
        headers=clinic.doctor,
    )
    assert cancelled.status_code == 200
    # a cancelled, undispensed prescription no longer counts: 90 fits
    second = await post(client, clinic, rx(clinic.amlodipine, days=60))
    assert second.status_code == 201, second.text
    await client.post(
        f"/api/v1/prescriptions/{second.json()['id']}/cancel",
        json={"reason": "x"},
        headers=clinic.doctor,
    )
    from salomat.domains.prescription.models import Prescription

    p = await db.get(Prescription, second.json()["id"])
    p.dispensed_units = 50  # as if 50 were dispensed before the cancel
    await db.commit()
    r = await post(client, clinic, rx(clinic.amlodipine, days=41))
    assert r.status_code == 422
    assert "over the limit of 90" in fields(r)["days"]
    assert "50 units of amlodipine" in fields(r)["days"]
    r = await post(client, clinic, rx(clinic.amlodipine, days=40))
    assert r.status_code == 201, r.text


async def test_a_second_active_prescription_of_the_same_inn_is_409(client, clinic):
    first = await post(client, clinic, rx(clinic.amlodipine, kind="regular", diagnosis=None))
    assert first.status_code == 201
    r = await post(client, clinic, rx(clinic.amlodipine, days=10))
    assert r.status_code == 409
    # the existing code is half of what a pharmacy needs: it is never echoed
    assert first.json()["code"] not in r.text
    assert "active prescription of amlodipine" in r.json()["detail"]
    assert fields(r)["medicine"] == "an active prescription of amlodipine exists"
    other = await post(client, clinic, rx(clinic.metformin, diagnosis="E11.9"))
    assert other.status_code == 201, other.text


async def test_a_lapsed_prescription_is_expired_everywhere(client, db, clinic, make_user):
    from sqlalchemy import update

    from salomat.domains.prescription.models import Prescription
    from tests.domains.registry.test_web import web_login

    p = (await post(client, clinic, rx(clinic.amlodipine))).json()
    await db.execute(
        update(Prescription)
        .where(Prescription.id == p["id"])
        .values(issued_on=TODAY - timedelta(days=30), valid_until=TODAY - timedelta(days=1))
    )
    await db.commit()
    r = await client.get(f"/api/v1/prescriptions/{p['id']}", headers=clinic.doctor)
    assert r.json()["status"] == "expired"
    url = f"/api/v1/persons/{clinic.patient.id}/prescriptions"
    active = await client.get(url, params={"status": "active"}, headers=clinic.doctor)
    assert active.json() == []
    lapsed = await client.get(url, params={"status": "expired"}, headers=clinic.doctor)
    assert [x["id"] for x in lapsed.json()] == [p["id"]]
    r = await client.post(
        f"/api/v1/prescriptions/{p['id']}/cancel", json={"reason": "x"}, headers=clinic.doctor
    )
    assert r.status_code == 409
    assert "expired" in r.json()["detail"]
    # the doctor's page shows it expired and offers no cancel
    await web_login(client, await make_user("family_doctor", facility_code=clinic.facility.code))
    page = await client.get(f"/patients/{clinic.patient.id}/prescriptions")
    assert page.status_code == 200, page.text
    assert f'data-id="{p["id"]}" data-status="expired"' in page.text
    assert 'data-testid="cancel-form"' not in page.text


async def test_a_dead_patient_gets_no_prescription(client, clinic):
    etag = (
        await client.get(f"/api/v1/persons/{clinic.patient.id}", headers=clinic.doctor)
    ).headers["etag"]
    died = await client.post(
        f"/api/v1/persons/{clinic.patient.id}/death",
        json={"deceased_on": (TODAY - timedelta(days=1)).isoformat(), "cause": "I21.9"},
        headers={**clinic.doctor, "If-Match": etag},
    )
    assert died.status_code in (200, 201), died.text
    r = await post(client, clinic, rx(clinic.amlodipine))
    assert r.status_code == 409
    assert "died" in r.json()["detail"]


async def test_cancel_by_the_facility_with_if_match(client, clinic, make_user, login):
    p = (await post(client, clinic, rx(clinic.amlodipine))).json()
    url = f"/api/v1/prescriptions/{p['id']}/cancel"
    stale = await client.post(
        url, json={"reason": "x"}, headers={**clinic.doctor, "If-Match": 'W/"9"'}
    )
    assert stale.status_code == 412
    colleague = await login(await make_user("family_doctor", facility_code=clinic.facility.code))
    r = await client.post(
        url,
        json={"reason": "allergy"},
        headers={**colleague, "If-Match": f'W/"{p["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert r.json()["cancel_reason"] == "allergy"
    assert r.headers["etag"] == f'W/"{p["version"] + 1}"'
    again = await client.post(url, json={"reason": "x"}, headers=clinic.doctor)
    assert again.status_code == 409
    # now a new one of the same INN may be written
    assert (await post(client, clinic, rx(clinic.amlodipine))).status_code == 201


async def test_out_of_scope_is_404_and_roles_are_403(client, clinic, make_user, login):
    p = (await post(client, clinic, rx(clinic.amlodipine))).json()
    elsewhere = await login(await make_user("family_doctor"))
    r = await post(client, clinic, rx(clinic.metformin, diagnosis="E11.9"), headers=elsewhere)
    assert r.status_code == 404
    assert (
        await client.get(f"/api/v1/prescriptions/{p['id']}", headers=elsewhere)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/prescriptions/{p['id']}/qr.svg", headers=elsewhere)
    ).status_code == 404
    r = await client.post(
        f"/api/v1/prescriptions/{p['id']}/cancel", json={"reason": "x"}, headers=elsewhere
    )
    assert r.status_code == 404
    nurse = await login(await make_user("nurse", facility_code=clinic.facility.code))
    assert (await post(client, clinic, rx(clinic.metformin), headers=nurse)).status_code == 403
    assert (await client.get(f"/api/v1/prescriptions/{p['id']}", headers=nurse)).status_code == 200
    pharmacist = await login(await make_user("pharmacist"))
    assert (
        await client.get(f"/api/v1/persons/{clinic.patient.id}/prescriptions", headers=pharmacist)
    ).status_code == 403


async def test_the_citizen_reads_her_own(client, clinic, make_user, login):
    p = (await post(client, clinic, rx(clinic.amlodipine))).json()
    me = await login(await make_user("citizen", person_id=clinic.patient.id))
    r = await client.get(f"/api/v1/persons/{clinic.patient.id}/prescriptions", headers=me)
    assert r.status_code == 200
    assert [x["code"] for x in r.json()] == [p["code"]]
    assert (await client.get(f"/api/v1/prescriptions/{p['id']}", headers=me)).status_code == 200
    assert (await post(client, clinic, rx(clinic.metformin), headers=me)).status_code == 403


async def test_reads_and_writes_are_audited_with_the_patient(client, clinic, db):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    p = (await post(client, clinic, rx(clinic.amlodipine))).json()
    await client.get(f"/api/v1/prescriptions/{p['id']}", headers=clinic.doctor)
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type, AuditEvent.resource_id).where(
                AuditEvent.patient_id == clinic.patient.id
            )
        )
    ).all()
    assert ("create", "MedicationRequest", str(p["id"])) in rows
    assert ("read", "MedicationRequest", str(clinic.patient.id)) in rows
