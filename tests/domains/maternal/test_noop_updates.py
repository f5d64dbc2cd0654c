"""The birth plan sent again with the place already planned answers 200 with the pregnancy
as it is, whatever version was read; a different place at a stale version is refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.domains.maternal.test_referrals import facility
from tests.domains.maternal.test_worklists import register

pytestmark = pytest.mark.anyio


@pytest.fixture
async def planned(client, db, make_place, make_person, make_user, login) -> dict[str, Any]:
    """A woman at 37 weeks whose birth is planned at a maternity (version 2)."""
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    maternity = await facility(db, "maternity_complex", place.settlement, 2)
    other = await facility(db, "maternity_complex", place.settlement, 2)
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    woman = await make_person(facility_code=poly.code)
    preg = await register(client, woman, doctor, 37)
    url = f"/api/v1/pregnancies/{preg['id']}"
    first = await client.put(
        f"{url}/birth-plan",
        json={"facility_code": maternity.code},
        headers={**doctor, "If-Match": f'W/"{preg["version"]}"'},
    )
    assert first.status_code == 200, first.text
    return {
        "url": url,
        "doctor": doctor,
        "maternity": maternity,
        "other": other,
        "read": preg["version"],
        "now": first.json()["version"],
    }


async def test_the_same_place_at_a_stale_version_answers_the_current_pregnancy(client, planned):
    assert planned["now"] > planned["read"]
    again = await client.put(
        f"{planned['url']}/birth-plan",
        json={"facility_code": planned["maternity"].code},
        headers={**planned["doctor"], "If-Match": f'W/"{planned["read"]}"'},
    )
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == f'W/"{planned["now"]}"'
    body = again.json()
    assert (body["version"], body["planned_birth_facility_id"]) == (
        planned["now"],
        planned["maternity"].id,
    )
    read = await client.get(planned["url"], headers=planned["doctor"])
    assert read.json()["version"] == planned["now"]


async def test_a_different_place_at_a_stale_version_is_still_refused(client, planned):
    stale = await client.put(
        f"{planned['url']}/birth-plan",
        json={"facility_code": planned["other"].code},
        headers={**planned["doctor"], "If-Match": f'W/"{planned["read"]}"'},
    )
    assert stale.status_code in (409, 412), stale.text
    read = await client.get(planned["url"], headers=planned["doctor"])
    assert read.json()["planned_birth_facility_id"] == planned["maternity"].id
    fresh = await client.put(
        f"{planned['url']}/birth-plan",
        json={"facility_code": planned["other"].code},
        headers={**planned["doctor"], "If-Match": f'W/"{planned["now"]}"'},
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["planned_birth_facility_id"] == planned["other"].id
