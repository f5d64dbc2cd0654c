"""A region-limited epidemiologist (``salomat epidemic reader-region``) reads the case
notifications of their region only, as they see its alerts only: a case of another region
is missing to them (404) and left out of their search; an unlimited one reads both."""

from __future__ import annotations

import pytest

from salomat.domains.epidemic.service import alerts

pytestmark = pytest.mark.anyio

BASE = "/api/v1/epidemic/notifications"


async def test_reader_limited_to_region_a_does_not_read_region_b(
    client, db, scene, make_place, make_user, login
) -> None:  # type: ignore[no-untyped-def]
    other = await make_place()
    r = await client.post(BASE, json=scene.body(), headers=scene.doctor_auth)
    assert r.status_code == 201, r.text
    in_a = r.json()["id"]
    r = await client.post(BASE, json=scene.body(district=other.district), headers=scene.doctor_auth)
    assert r.status_code == 201, r.text
    in_b = r.json()["id"]

    user = await make_user("epidemiologist")
    await alerts.set_reader_region(db, user.id, scene.place.region)
    await db.commit()
    limited = await login(user)

    assert (await client.get(f"{BASE}/{in_a}", headers=limited)).status_code == 200
    assert (await client.get(f"{BASE}/{in_b}", headers=limited)).status_code == 404
    r = await client.get(BASE, params={"district": other.region}, headers=limited)
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    assert r.json()["total"] == 0
    r = await client.get(BASE, params={"district": other.district}, headers=limited)
    assert in_b not in {n["id"] for n in r.json()["items"]}
    r = await client.get(BASE, params={"district": scene.place.region}, headers=limited)
    assert {n["id"] for n in r.json()["items"]} == {in_a}
    # over FHIR too
    r = await client.get(f"/fhir/Condition/epi-{in_b}", headers=limited)
    assert r.status_code == 404
    # the unlimited epidemiologist reads both
    for n in (in_a, in_b):
        assert (await client.get(f"{BASE}/{n}", headers=scene.epi_auth)).status_code == 200
    r = await client.get(BASE, params={"district": other.region}, headers=scene.epi_auth)
    assert {n["id"] for n in r.json()["items"]} == {in_b}
    # limited again to every region: reads both
    await alerts.set_reader_region(db, user.id, None)
    await db.commit()
    assert (await client.get(f"{BASE}/{in_b}", headers=limited)).status_code == 200
