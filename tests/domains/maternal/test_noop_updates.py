"""The birth plan or a referral step sent again with the values already stored answers 200
with the record as it is, whatever version was read; different values at a stale version
are still refused."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.domains.maternal.test_pregnancy import clinic, open_pregnancy
from tests.domains.maternal.test_referrals import facility, net, refer, register_hypertensive
from tests.domains.maternal.test_standing import clinic as standing_clinic
from tests.domains.maternal.test_worklists import register

__all__ = ["clinic", "net", "standing_clinic"]

TODAY = date.today()

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


# ---- referral steps ----------------------------------------------------------------------


async def _step(client, headers, ref_id: int, what: str, version: int, **body: Any):
    return await client.post(
        f"/api/v1/referrals/{ref_id}/{what}",
        json=body or None,
        headers={**headers, "If-Match": f'W/"{version}"'},
    )


async def test_a_referral_step_sent_again_answers_the_referral_as_it_is(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    mob = net.maternity_obstetrician
    accepted = await _step(client, mob, ref["id"], "accept", ref["version"])
    assert accepted.status_code == 200, accepted.text
    # the retry of the accept still carries the version read before it
    again = await _step(client, mob, ref["id"], "accept", ref["version"])
    assert again.status_code == 200, again.text
    assert again.json() == accepted.json()
    assert again.headers["etag"] == accepted.headers["etag"]

    now = accepted.json()["version"]
    seen = await _step(client, mob, ref["id"], "seen", now)
    back = await _step(client, mob, ref["id"], "return", seen.json()["version"], conclusion="ok")
    assert back.status_code == 200, back.text
    same = await _step(client, mob, ref["id"], "return", now, conclusion="ok")
    assert (same.status_code, same.json()) == (200, back.json())
    # another conclusion is a change: stale, refused, and the first one stands
    other = await _step(client, mob, ref["id"], "return", now, conclusion="deliver at level 3")
    assert other.status_code == 412, other.text
    read = await client.get(f"/api/v1/referrals/{ref['id']}", headers=net.doctor)
    assert read.json()["conclusion"] == "ok"


async def test_a_step_not_taken_yet_still_needs_the_current_version(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    stale = await _step(client, net.maternity_obstetrician, ref["id"], "accept", 99)
    assert stale.status_code == 412, stale.text
    read = await client.get(f"/api/v1/referrals/{ref['id']}", headers=net.maternity_obstetrician)
    assert read.json()["status"] == "sent"


# ---- closing and resolving ---------------------------------------------------------------


async def test_closing_again_with_the_same_outcome_answers_the_pregnancy_as_it_is(client, clinic):
    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=10))
    url = f"/api/v1/pregnancies/{preg['id']}/close"
    read = {**clinic.doctor, "If-Match": f'W/"{preg["version"]}"'}
    closed = await client.post(url, json={"outcome": "termination"}, headers=read)
    assert closed.status_code == 200, closed.text
    for body in ({"outcome": "termination"}, {"outcome": "termination", "closed_on": str(TODAY)}):
        again = await client.post(url, json=body, headers=read)
        assert again.status_code == 200, again.text
        assert again.headers["etag"] == closed.headers["etag"]
        assert again.json()["version"] == closed.json()["version"]
    other = await client.post(url, json={"outcome": "miscarriage"}, headers=read)
    assert other.status_code == 412, other.text
    earlier = str(TODAY - timedelta(days=1))
    moved = await client.post(
        url, json={"outcome": "termination", "closed_on": earlier}, headers=read
    )
    assert moved.status_code == 412, moved.text


async def test_resolving_again_with_the_same_reason_answers_the_pregnancy_as_it_is(
    client, standing_clinic
):
    pid, doctor = standing_clinic["pid"], standing_clinic["doctor"]
    body = await standing_clinic["contact"](0, haemoglobin_g_l=65)
    (d,) = [x for x in body["diagnoses"] if x["family"] == "anaemia"]
    url = f"/api/v1/pregnancies/{pid}/diagnoses/{d['id']}/resolve"
    read = {**doctor, "If-Match": f'W/"{body["version"]}"'}
    ok = {"reason": "resolved", "note": "iron for three months"}
    first = await client.post(url, json=ok, headers=read)
    assert first.status_code == 200, first.text
    again = await client.post(url, json={**ok, "note": " iron for three months "}, headers=read)
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == first.headers["etag"]
    other = await client.post(url, json={**ok, "note": "treated"}, headers=read)
    assert other.status_code == 412, other.text
