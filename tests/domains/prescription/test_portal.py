"""The citizen portal's prescriptions: hers, with where they were dispensed; never another's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.domains.prescription.claim_rows import dispense, make_rx
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio


@pytest.fixture
async def rx_of_citizen(db, make_facility, make_person, make_user, login) -> dict[str, Any]:
    clinic = await make_facility()
    pharmacy = await make_facility("pharmacy")
    woman, other = await make_person(), await make_person()
    rx = await make_rx(db, woman.id, clinic.id, quantity=60)
    await dispense(db, rx, pharmacy.id, units=20)
    rx_other = await make_rx(db, other.id, clinic.id)
    await db.commit()
    return {
        "woman": woman,
        "pharmacy": pharmacy,
        "code": rx.prescription.code,
        "other_code": rx_other.prescription.code,
        "her": await login(await make_user("citizen", person_id=woman.id)),
        "neighbour": await login(await make_user("citizen", person_id=other.id)),
    }


async def test_the_patient_sees_her_prescription_and_where_it_was_dispensed(client, rx_of_citizen):
    s = rx_of_citizen
    r = await client.get("/api/v1/me/prescriptions", headers=s["her"])
    assert r.status_code == 200, r.text
    items = r.json()
    assert [p["code"] for p in items] == [s["code"]]
    p = items[0]
    assert (p["quantity_units"], p["dispensed_units"], p["remaining_units"]) == (60, 20, 40)
    assert p["status"] == "active"
    assert [d["pharmacy"] for d in p["dispensings"]] == [s["pharmacy"].name]
    assert p["dispensings"][0]["units"] == 20


async def test_another_citizen_never_sees_it(client, rx_of_citizen):
    s = rx_of_citizen
    r = await client.get("/api/v1/me/prescriptions", headers=s["neighbour"])
    assert r.status_code == 200
    codes = [p["code"] for p in r.json()]
    assert s["code"] not in codes
    assert codes == [s["other_code"]]
    assert r.json()[0]["dispensings"] == []


async def test_the_portal_page_shows_the_pharmacy(client, rx_of_citizen, make_user):
    s = rx_of_citizen
    await web_login(client, await make_user("citizen", person_id=s["woman"].id))
    page = await client.get("/my/prescriptions")
    assert page.status_code == 200, page.text
    assert s["code"] in page.text
    assert s["pharmacy"].name in page.text
    assert s["other_code"] not in page.text


async def test_staff_have_no_portal(client, make_user, login):
    doctor = await login(await make_user("family_doctor"))
    assert (await client.get("/api/v1/me/prescriptions", headers=doctor)).status_code == 403
