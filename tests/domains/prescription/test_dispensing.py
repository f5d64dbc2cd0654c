"""Dispensing: lookup by code and national id, partial visits, substitution, refusals, money."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from salomat.core import events
from salomat.core.audit import AuditEvent
from salomat.domains.prescription.models import Dispensing, Prescription
from salomat.domains.prescription.service import MedicineDispensed, dispensing_amounts
from salomat.domains.registry.models import Person
from tests.domains.prescription.dispensing_data import make_case, make_medicine, pharmacist

pytestmark = pytest.mark.anyio


async def _lookup(client, auth, case, national_id=None):  # type: ignore[no-untyped-def]
    return await client.post(
        "/api/v1/dispensing/lookup",
        json={"code": case.rx.code, "national_id": national_id or case.national_id},
        headers=auth,
    )


async def _dispense(client, auth, rx_id, **body):  # type: ignore[no-untyped-def]
    body.setdefault("price", 30_000)
    return await client.post(f"/api/v1/prescriptions/{rx_id}/dispensings", json=body, headers=auth)


async def test_two_partial_visits_at_two_pharmacies_then_refused_when_exhausted(
    client, db, make_facility, make_person, make_user, login
):
    case = await make_case(db, make_facility, make_person, quantity=60)
    first = await login(await pharmacist(make_facility, make_user))
    second = await login(await pharmacist(make_facility, make_user))

    found = await _lookup(client, first, case)
    assert found.status_code == 200, found.text
    view = found.json()
    assert (view["quantity_units"], view["dispensed_units"], view["remaining_units"]) == (60, 0, 60)
    assert view["refusal"] is None
    one = await _dispense(client, first, case.rx.id, packages=1)
    assert one.status_code == 201, one.text
    assert (one.json()["units"], one.json()["remaining_units"]) == (30, 30)

    # the second pharmacy must look it up itself before it may dispense
    blind = await _dispense(client, second, case.rx.id, units=20)
    assert blind.status_code == 404, blind.text
    assert (await _lookup(client, second, case)).json()["remaining_units"] == 30
    two = await _dispense(client, second, case.rx.id, units=20)
    assert two.status_code == 201, two.text
    assert two.json()["remaining_units"] == 10

    too_many = await _dispense(client, second, case.rx.id, units=20)
    assert too_many.status_code == 409, too_many.text
    problem = too_many.json()
    assert problem["errors"][0]["field"] == "units"
    assert "Only 10 units remain" in problem["detail"]
    assert problem["remaining_units"] == 10

    last = await _dispense(client, second, case.rx.id, units=10)
    assert last.status_code == 201, last.text
    assert last.json()["remaining_units"] == 0
    done = await _dispense(client, first, case.rx.id, units=1)
    assert done.status_code == 409
    assert "already fully dispensed" in done.json()["detail"]
    assert (await _lookup(client, first, case)).json()["refusal"]

    listed = await client.get(f"/api/v1/prescriptions/{case.rx.id}/dispensings", headers=second)
    assert listed.status_code == 200
    assert [d["units"] for d in listed.json()] == [30, 20, 10]
    assert len({d["facility_id"] for d in listed.json()}) == 2
    await db.refresh(case.rx)
    assert (case.rx.dispensed_units, case.rx.status) == (60, "dispensed")


async def test_substitution_within_the_inn_only(
    client, db, make_facility, make_person, make_user, login
):
    case = await make_case(db, make_facility, make_person, quantity=60)
    generic = await make_medicine(
        db, inn=case.medicine.inn, units_per_package=28, reference_price=21_000
    )
    other = await make_medicine(db, inn="metformin")
    stronger = await make_medicine(db, inn=case.medicine.inn, strength="10 mg")
    auth = await login(await pharmacist(make_facility, make_user))
    view = (await _lookup(client, auth, case)).json()
    codes = {p["code"]: p for p in view["packages"]}
    assert generic.code in codes
    assert case.medicine.code in codes
    assert other.code not in codes
    assert stronger.code not in codes
    assert codes[case.medicine.code]["prescribed"] is True

    refused = await _dispense(client, auth, case.rx.id, units=10, medicine_code=other.code)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "medicine_code"
    assert "metformin" in refused.json()["errors"][0]["message"]
    dose = await _dispense(client, auth, case.rx.id, units=10, medicine_code=stronger.code)
    assert dose.status_code == 422
    assert dose.json()["errors"][0]["field"] == "medicine_code"

    given = await _dispense(
        client, auth, case.rx.id, packages=2, medicine_code=generic.code, price=21_000
    )
    assert given.status_code == 201, given.text
    out = given.json()
    assert (out["substituted"], out["units"], out["medicine_code"]) == (True, 56, generic.code)
    # 2 packages at 21 000 = 42 000; the fund pays 50 % of the reference: 21 000
    assert (out["price"], out["reimbursed_amount"], out["copayment"]) == (42_000, 21_000, 21_000)


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        ({"valid_until": date.today() - timedelta(days=1)}, "expired"),
        ({"status": "cancelled"}, "cancelled"),
    ],
)
async def test_expired_and_cancelled_are_refused(
    client, db, make_facility, make_person, make_user, login, arrange, message
):
    kw = dict(arrange)
    if "valid_until" in kw:
        kw["issued_on"] = date.today() - timedelta(days=31)
    case = await make_case(db, make_facility, make_person, **kw)
    auth = await login(await pharmacist(make_facility, make_user))
    view = await _lookup(client, auth, case)
    assert view.status_code == 200
    assert message in view.json()["refusal"]
    r = await _dispense(client, auth, case.rx.id, units=1)
    assert r.status_code == 409, r.text
    assert message in r.json()["detail"]
    assert (
        await db.scalar(select(Dispensing.id).where(Dispensing.prescription_id == case.rx.id))
        is None
    )


async def test_a_patient_who_died_gets_nothing(
    client, db, make_facility, make_person, make_user, login
):
    case = await make_case(db, make_facility, make_person)
    auth = await login(await pharmacist(make_facility, make_user))
    assert (await _lookup(client, auth, case)).status_code == 200
    await db.execute(
        update(Person)
        .where(Person.id == case.person.id)
        .values(deceased_on=date.today() - timedelta(days=1))
    )
    await db.commit()
    r = await _dispense(client, auth, case.rx.id, units=1)
    assert r.status_code == 409, r.text
    assert "died" in r.json()["detail"]
    assert "died" in (await _lookup(client, auth, case)).json()["refusal"]


async def test_wrong_national_id_answers_like_a_missing_code_and_is_audited(
    client, db, make_facility, make_person, make_user, login
):
    case = await make_case(db, make_facility, make_person)
    other = await make_case(db, make_facility, make_person)
    account = await pharmacist(make_facility, make_user)
    auth = await login(account)
    wrong = await _lookup(client, auth, case, national_id=other.national_id)
    missing = await client.post(
        "/api/v1/dispensing/lookup",
        json={"code": "ZZZZ-ZZZZ-ZZ", "national_id": case.national_id},
        headers=auth,
    )
    assert wrong.status_code == missing.status_code == 404
    assert wrong.json()["detail"] == missing.json()["detail"]
    rows = (
        (
            await db.execute(
                select(AuditEvent).where(
                    AuditEvent.username == account.username, AuditEvent.action == "denied"
                )
            )
        )
        .scalars()
        .all()
    )
    assert len(rows) == 2
    assert {r.resource_type for r in rows} == {"MedicationRequest"}
    assert case.person.id in {r.patient_id for r in rows}


async def test_the_pharmacist_sees_no_diagnosis_and_the_read_is_audited(
    client, db, make_facility, make_person, make_user, login
):
    case = await make_case(db, make_facility, make_person, diagnosis="I10")
    account = await pharmacist(make_facility, make_user)
    r = await _lookup(client, await login(account), case)
    assert r.status_code == 200
    body = r.json()
    assert "diagnosis" not in body
    assert "I10" not in r.text
    assert body["patient_birth_year"] == 1961
    assert case.person.family_name in body["patient_name"]
    assert case.national_id not in r.text
    read = await db.scalar(
        select(AuditEvent).where(
            AuditEvent.username == account.username, AuditEvent.action == "read"
        )
    )
    assert read is not None
    assert read.patient_id == case.person.id


async def test_amounts_partial_and_above_the_reference_price(
    client, db, make_facility, make_person, make_user, login
):
    case = await make_case(db, make_facility, make_person, quantity=60, pct=50)
    auth = await login(await pharmacist(make_facility, make_user))
    await _lookup(client, auth, case)
    # 7 tablets of a 30-tablet package priced 35 000 (reference 30 000)
    r = await _dispense(client, auth, case.rx.id, units=7, price=35_000)
    out = r.json()
    # price 35 000 × 7 / 30 = 8 166.67 -> 8 167; fund 50 % × 30 000 × 7 / 30 = 3 500
    assert (out["price"], out["reimbursed_amount"], out["copayment"]) == (8_167, 3_500, 4_667)
    assert out["reimbursement_pct"] == 50


def test_amounts_round_exactly():
    # cheaper than the reference: the fund's share follows the pharmacy's price
    assert dispensing_amounts(20_000, 30_000, 30, 30, 90) == (20_000, 18_000, 2_000)
    # not reimbursed: the patient pays everything
    assert dispensing_amounts(30_000, 30_000, 10, 30, 0) == (10_000, 0, 10_000)
    # the fund rounds down, the price half up, and they always add up
    for units in range(1, 31):
        price, fund, copay = dispensing_amounts(33_333, 31_111, units, 30, 75)
        assert price == fund + copay
        assert fund <= price
        assert copay >= 0


async def test_units_or_packages_exactly_one(
    client, db, make_facility, make_person, make_user, login
):
    case = await make_case(db, make_facility, make_person)
    auth = await login(await pharmacist(make_facility, make_user))
    await _lookup(client, auth, case)
    both = await _dispense(client, auth, case.rx.id, units=2, packages=1)
    neither = await _dispense(client, auth, case.rx.id)
    for r in (both, neither):
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "units"


async def test_retried_post_with_the_same_key_dispenses_once_and_publishes_the_event(
    client, db, make_facility, make_person, make_user, login
):
    seen: list[MedicineDispensed] = []

    @events.subscribe(MedicineDispensed)
    async def remember(session, event):  # type: ignore[no-untyped-def]
        seen.append(event)

    case = await make_case(db, make_facility, make_person, quantity=60)
    auth = await login(await pharmacist(make_facility, make_user))
    await _lookup(client, auth, case)
    headers = {**auth, "Idempotency-Key": f"disp-{case.rx.id}"}
    url = f"/api/v1/prescriptions/{case.rx.id}/dispensings"
    a = await client.post(url, json={"units": 5, "price": 30_000}, headers=headers)
    b = await client.post(url, json={"units": 5, "price": 30_000}, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    assert b.headers.get("idempotent-replayed") == "true"
    await db.refresh(case.rx)
    assert case.rx.dispensed_units == 5
    mine = [e for e in seen if e.prescription_id == case.rx.id]
    assert len(mine) == 1
    assert mine[0].amount == a.json()["reimbursed_amount"] == 2_500


async def test_only_a_pharmacy_dispenses(client, db, make_facility, make_person, make_user, login):
    case = await make_case(db, make_facility, make_person)
    clinic_pharmacist = await make_user("pharmacist", facility_code=case.clinic.code)
    r = await _lookup(client, await login(clinic_pharmacist), case)
    assert r.status_code == 403
    doctor = await make_user("family_doctor", facility_code=case.clinic.code)
    assert (await _lookup(client, await login(doctor), case)).status_code == 403
    status = await db.scalar(
        select(Prescription.dispensed_units).where(Prescription.id == case.rx.id)
    )
    assert status == 0


async def test_a_stale_read_is_stopped_by_the_conditional_update(
    db, make_facility, make_person, make_user, monkeypatch
):
    """Two pharmacies read 1 unit left; the second's UPDATE finds none and says so (409)."""
    from salomat.domains.prescription.service import dispensing

    explained: list[int] = []
    explain = dispensing._explain_refusal

    async def counted(session, prescription_id, units):  # type: ignore[no-untyped-def]
        explained.append(prescription_id)
        await explain(session, prescription_id, units)

    monkeypatch.setattr(dispensing, "_explain_refusal", counted)
    from salomat.core.db import session_factory
    from salomat.core.errors import Conflict
    from salomat.core.security import Principal
    from salomat.domains.prescription import service
    from salomat.domains.prescription.schemas import DispenseIn
    from salomat.domains.registry import service as registry

    case = await make_case(db, make_facility, make_person, quantity=30, dispensed=29)
    principals = []
    for _ in range(2):
        account = await pharmacist(make_facility, make_user)
        fac_id = await registry.facility_id_by_code(db, account.facility_code)
        principals.append(
            Principal(
                user_id=account.id,
                username=account.username,
                role="pharmacist",
                session_id="t",
                facility_id=fac_id,
                facility_code=account.facility_code,
            )
        )
    held = []  # the identity map holds objects weakly: keep the stale rows alive
    async with session_factory()() as a, session_factory()() as b:
        for s, who in ((a, principals[0]), (b, principals[1])):
            view = await service.find_for_dispensing(s, who, case.rx.code, case.national_id)
            assert view.remaining_units == 1
            await s.commit()
            # the prescription stays loaded (and stale) in each session's identity map
            held.append(await s.get(Prescription, case.rx.id))
            assert held[-1].dispensed_units == 29
        await service.dispense(a, principals[0], case.rx.id, DispenseIn(units=1, price=100))
        await a.commit()
        with pytest.raises(Conflict) as refused:
            await service.dispense(b, principals[1], case.rx.id, DispenseIn(units=1, price=100))
        await b.rollback()
    assert explained == [case.rx.id]  # refused by the UPDATE, not by the Python check
    assert refused.value.extensions["remaining_units"] == 0
    assert "0 units remain" in refused.value.detail
    await db.refresh(case.rx)
    assert case.rx.dispensed_units == 30


async def test_only_the_lookup_opens_the_window_not_a_page_reload(
    client, db, make_facility, make_person, make_user, login, monkeypatch
):
    from sqlalchemy import insert

    from salomat.core.db import utcnow
    from salomat.core.security import Principal
    from salomat.domains.prescription import service
    from salomat.domains.prescription.service import dispensing
    from salomat.domains.registry import service as registry

    case = await make_case(db, make_facility, make_person, quantity=60)
    account = await pharmacist(make_facility, make_user)
    auth = await login(account)
    facility_id = await registry.facility_id_by_code(db, account.facility_code)
    # the database sets each audit row's time and never changes a row: the lookup made
    # 11 hours ago is written with that time, as only the database's owner could
    now = utcnow()
    await db.execute(
        insert(AuditEvent.__table__).values(
            occurred_at=now - timedelta(hours=11),
            user_id=account.id,
            username=account.username,
            role="pharmacist",
            facility_id=facility_id,
            facility_code=account.facility_code,
            action="read",
            resource_type=dispensing.RX,
            resource_id=str(case.rx.id),
            patient_id=case.rx.person_id,
            purpose=dispensing.LOOKUP_PURPOSE,
            outcome="success",
            break_glass=False,
        )
    )
    await db.commit()
    # now, 11 hours after the lookup, the pharmacist's page is reloaded: a read, not a lookup
    who = Principal(
        user_id=account.id,
        username=account.username,
        role="pharmacist",
        session_id="t",
        facility_id=facility_id,
        facility_code=account.facility_code,
    )
    await service.dispensing_view(db, who, case.rx.id)
    await db.commit()
    # 13 hours after the lookup the window has closed, whatever was reloaded since
    monkeypatch.setattr(dispensing, "utcnow", lambda: now + timedelta(hours=2))
    r = await _dispense(client, auth, case.rx.id, units=1)
    assert r.status_code == 404, r.text
    # a fresh lookup opens it again
    assert (await _lookup(client, auth, case)).status_code == 200
    assert (await _dispense(client, auth, case.rx.id, units=1)).status_code == 201


@pytest.mark.parametrize("price", ["inf", "Infinity", "-inf", "NaN", "sNaN"])
async def test_a_price_that_is_no_number_is_refused_on_the_page(
    client, db, make_facility, make_person, make_user, price
):
    import re

    from tests.domains.registry.test_web import web_login

    case = await make_case(db, make_facility, make_person, quantity=60)
    csrf = await web_login(client, await pharmacist(make_facility, make_user))
    found = await client.post(
        "/pharmacy",
        data={"code": case.rx.code, "national_id": case.national_id, "csrf_token": csrf},
    )
    assert found.status_code == 200, found.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', found.text).group(1)
    r = await client.post(
        f"/pharmacy/prescriptions/{case.rx.id}/dispense",
        data={"units": "1", "price": price, "csrf_token": csrf},
    )
    assert r.status_code == 422, r.text[:500]
    assert 'id="d-price-error"' in r.text or 'aria-invalid="true"' in r.text
    q = select(Dispensing).where(Dispensing.prescription_id == case.rx.id)
    assert (await db.execute(q)).first() is None
