"""One active prescription per person and INN is a database constraint (DESIGN rule 9).

Two doctors prescribing the same medicine for one patient at the same moment
store one prescription; a lapsed prescription no longer blocks a new one.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from salomat.core.db import session_factory
from salomat.domains.prescription.models import Prescription
from tests.domains.prescription.test_prescribing import clinic, rx

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio


async def test_two_doctors_prescribing_the_same_inn_at_once_store_one(
    app, clinic, make_user, login
):
    second = await login(await make_user("family_doctor", facility_code=clinic.facility.code))
    transport = httpx.ASGITransport(app=app, client=("10.9.8.4", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answers = await asyncio.gather(
            *[
                c.post(
                    f"/api/v1/persons/{clinic.patient.id}/prescriptions",
                    json=rx(clinic.amlodipine),
                    headers=auth,
                )
                for auth in (clinic.doctor, second, clinic.doctor, second)
            ]
        )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    for a in answers:
        if a.status_code == 409:
            assert a.json()["errors"][0]["field"] == "medicine"
    async with session_factory()() as s:
        active = await s.scalar(
            select(func.count()).where(
                Prescription.person_id == clinic.patient.id,
                Prescription.inn == "amlodipine",
                Prescription.status == "active",
            )
        )
    assert active == 1


async def test_a_lapsed_prescription_is_marked_expired_and_does_not_block_a_new_one(client, clinic):
    url = f"/api/v1/persons/{clinic.patient.id}/prescriptions"
    first = await client.post(url, json=rx(clinic.amlodipine), headers=clinic.doctor)
    assert first.status_code == 201, first.text
    blocked = await client.post(url, json=rx(clinic.amlodipine), headers=clinic.doctor)
    assert blocked.status_code == 409
    async with session_factory()() as s:
        await s.execute(
            update(Prescription)
            .where(Prescription.id == first.json()["id"])
            .values(
                issued_on=date.today() - timedelta(days=40),
                valid_until=date.today() - timedelta(days=11),
            )
        )
        await s.commit()
    again = await client.post(url, json=rx(clinic.amlodipine), headers=clinic.doctor)
    assert again.status_code == 201, again.text
    old = await client.get(f"/api/v1/prescriptions/{first.json()['id']}", headers=clinic.doctor)
    assert old.json()["status"] == "expired"
