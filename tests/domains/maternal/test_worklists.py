"""The antenatal worklist of a primary-care facility (issue 4, item 4)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.domains.maternal.test_referrals import facility

pytestmark = pytest.mark.anyio

TODAY = date.today()


async def register(client, woman, headers, weeks: int, **kw: Any) -> dict[str, Any]:
    lmp = TODAY - timedelta(weeks=weeks)
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 1, "parity": 0, **kw},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def rows(client, headers) -> dict[int, dict[str, Any]]:
    r = await client.get("/api/v1/worklists/antenatal", headers=headers)
    assert r.status_code == 200, r.text
    return {row["person_id"]: row for row in r.json()}


def codes(row: dict[str, Any]) -> set[str]:
    return {x["code"] for x in row["reasons"]}


async def test_contact_due_and_no_birth_place_at_36_weeks_each_named(
    client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    maternity = await facility(db, "maternity_complex", place.settlement, 2)
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    late = await make_person(facility_code=poly.code)
    preg = await register(client, late, doctor, 37)

    listed = (await rows(client, nurse))[late.id]
    assert listed["pregnancy_id"] == preg["id"]
    assert listed["ga_weeks"] == "37w0d"
    assert "no_birth_place" in codes(listed)
    # registered at 37 weeks with no contact recorded: the 36-week contact is due or overdue
    assert codes(listed) & {"contact_due", "contact_overdue"}
    assert all(x["detail"] for x in listed["reasons"])

    etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=doctor)).headers["etag"]
    bad = await client.put(
        f"/api/v1/pregnancies/{preg['id']}/birth-plan",
        json={"facility_code": poly.code},
        headers={**doctor, "If-Match": etag},
    )
    assert bad.status_code == 422
    planned = await client.put(
        f"/api/v1/pregnancies/{preg['id']}/birth-plan",
        json={"facility_code": maternity.code},
        headers={**doctor, "If-Match": etag},
    )
    assert planned.status_code == 200, planned.text
    assert planned.json()["planned_birth_facility_id"] == maternity.id
    after = await rows(client, doctor)
    assert late.id not in after or "no_birth_place" not in codes(after[late.id])


async def test_a_low_risk_woman_up_to_date_is_not_listed_and_others_facilities_are_not_shown(
    client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    elsewhere = await facility(db, "family_polyclinic", place.settlement)
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    other_doctor = await login(await make_user("family_doctor", facility_code=elsewhere.code))
    fine = await make_person(facility_code=poly.code)
    # 8 weeks, registered today: the first contact is not due yet
    await register(client, fine, doctor, 8)
    theirs = await make_person(facility_code=elsewhere.code)
    await register(client, theirs, other_doctor, 37)

    mine = await rows(client, doctor)
    assert fine.id not in mine
    assert theirs.id not in mine
    assert theirs.id in await rows(client, other_doctor)


async def test_the_worklist_is_for_primary_care_roles(client, make_user, login):
    ob = await login(await make_user("obstetrician"))
    r = await client.get("/api/v1/worklists/antenatal", headers=ob)
    assert r.status_code == 403


async def test_a_woman_who_moves_here_is_on_this_worklist_though_registered_elsewhere(
    client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    before = await facility(db, "family_polyclinic", place.settlement)
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    their_doctor = await login(await make_user("family_doctor", facility_code=before.code))
    registrar = await login(await make_user("registrar", facility_code=poly.code))
    woman = await make_person(facility_code=before.code)
    await register(client, woman, their_doctor, 37)  # registered there; no birth place
    assert woman.id not in await rows(client, doctor)
    from sqlalchemy import update

    from salomat.domains.registry.models import Attachment

    await db.execute(
        update(Attachment)
        .where(Attachment.person_id == woman.id)
        .values(start_on=date.today() - timedelta(days=300))
    )
    await db.commit()

    etag = (await client.get(f"/api/v1/persons/{woman.id}", headers=registrar)).headers["etag"]
    moved = await client.post(
        f"/api/v1/persons/{woman.id}/attachment",
        json={"facility_code": poly.code, "reason": "moved house"},
        headers={**registrar, "If-Match": etag},
    )
    assert moved.status_code == 200, moved.text
    listed = (await rows(client, doctor))[woman.id]
    assert "no_birth_place" in codes(listed)
    # the facility she left no longer holds her: off its worklist (and her record is 404)
    assert woman.id not in await rows(client, their_doctor)
