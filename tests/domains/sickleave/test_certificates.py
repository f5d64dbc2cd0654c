"""Sick-leave certificates through REST: open, extend past the limit with the VKK, close.

The limits are the deployed pack's (``sick_leave.yaml``); the expectations are
written from the issue's example (influenza J11.1, 5 days from a family doctor)
and the pack's numbers, at one below, at and one above each limit.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from salomat.domains.sickleave import service
from tests.domains.sickleave.conftest import fields

pytestmark = pytest.mark.anyio

TODAY = date.today()


def flu(**kw):  # type: ignore[no-untyped-def]
    return {"reason": "own_illness", "diagnosis": "J11.1", "days": 5, **kw}


def vkk(until: date, **kw):  # type: ignore[no-untyped-def]
    return {
        "decided_on": TODAY.isoformat(),
        "decision": "extend",
        "extend_until": until.isoformat(),
        "protocol_number": "VKK-17/2026",
        "chair": "Karimov A.",
        "members": ["Karimov A.", "Yusupova D.", "Rashidov B."],
        **kw,
    }


async def open_flu(client, c, **kw):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/persons/{c.worker.id}/sick-leave", json=flu(**kw), headers=c.doctor
    )


async def counts(db) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeavePeriod

    return (
        await db.scalar(select(func.count()).select_from(SickLeaveCertificate)),
        await db.scalar(select(func.count()).select_from(SickLeavePeriod)),
    )


async def test_influenza_five_days_then_the_vkk_then_back_to_work(client, clinic):
    """The issue's example, end to end."""
    alone = service.sick_leave_rules().practitioners["doctor"].alone_days
    r = await open_flu(client, clinic)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["diagnosis"] == "J11.1"
    assert c["kind"] == "illness"
    assert c["status"] == "open"
    assert c["starts_on"] == TODAY.isoformat()
    assert c["ends_on"] == (TODAY + timedelta(days=4)).isoformat()
    assert c["days"] == 5
    assert [p["days"] for p in c["periods"]] == [5]
    assert len(c["number"]) == 14
    assert c["number"][4] == "-"
    url = f"/api/v1/sick-leave/{c['id']}"

    # past the one doctor's limit: refused, naming the field, until the VKK decides
    past = TODAY + timedelta(days=alone)  # day alone + 1 of the certificate
    r = await client.post(
        f"{url}/extend", json={"ends_on": past.isoformat()}, headers=clinic.doctor
    )
    assert r.status_code == 422, r.text
    assert "ends_on" in fields(r)
    assert "VKK" in fields(r)["ends_on"]

    r = await client.post(f"{url}/vkk", json=vkk(past + timedelta(days=5)), headers=clinic.doctor)
    assert r.status_code == 201, r.text
    assert r.json()["vkk_decisions"][0]["members"][0] == "Karimov A."

    r = await client.post(
        f"{url}/extend", json={"ends_on": past.isoformat()}, headers=clinic.doctor
    )
    assert r.status_code == 200, r.text
    c = r.json()
    assert [(p["seq"], p["granted_as"]) for p in c["periods"]] == [(1, "doctor"), (2, "vkk")]
    assert c["periods"][1]["starts_on"] == (TODAY + timedelta(days=5)).isoformat()
    assert c["periods"][1]["vkk_decision_id"] == c["vkk_decisions"][0]["id"]

    back = past + timedelta(days=1)
    r = await client.post(
        f"{url}/close",
        json={"closure": "return_to_work", "return_to_work_on": back.isoformat()},
        headers={**clinic.doctor, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["status"], c["closure"], c["return_to_work_on"]) == (
        "closed",
        "return_to_work",
        back.isoformat(),
    )
    assert c["closed_on"] == past.isoformat()
    assert c["days"] == alone + 1
    versions = (await client.get(f"{url}/versions", headers=clinic.doctor)).json()
    assert [v["change"] for v in versions] == ["opened", "vkk", "extended", "closed"]


@pytest.mark.parametrize("extra", [-1, 0, 1])
async def test_the_doctors_own_limit_one_below_at_and_above(client, clinic, extra):
    alone = service.sick_leave_rules().practitioners["doctor"].alone_days
    cosign = service.sick_leave_rules().practitioners["doctor"].cosign_after_days
    body = flu(days=alone + extra)
    if cosign is not None:
        body["cosigned_by"] = "Head of department Sobirov"
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave", json=body, headers=clinic.doctor
    )
    if extra <= 0:
        assert r.status_code == 201, r.text
    else:
        assert r.status_code == 422, r.text
        assert "ends_on" in fields(r)


@pytest.mark.parametrize("back", [0, 1])
async def test_backdating_up_to_the_packs_limit(client, clinic, db, back):
    limit = service.sick_leave_rules().backdate_days
    start = TODAY - timedelta(days=limit + back)
    before = await counts(db)
    r = await open_flu(client, clinic, starts_on=start.isoformat(), days=2)
    if back == 0:
        assert r.status_code == 201, r.text
    else:
        assert r.status_code == 422, r.text
        assert "starts_on" in fields(r)
        assert await counts(db) == before


async def test_bad_input_names_each_field_and_stores_nothing(client, clinic, db):
    before = await counts(db)
    r = await open_flu(client, clinic, days=None, ends_on=(TODAY - timedelta(days=1)).isoformat())
    assert r.status_code == 422
    assert "ends_on" in fields(r)
    r = await open_flu(client, clinic, diagnosis="J11.9X")
    assert r.status_code == 422
    assert "diagnosis" in fields(r)
    r = await open_flu(client, clinic, starts_on=(TODAY + timedelta(days=1)).isoformat())
    assert r.status_code == 422
    assert "starts_on" in fields(r)
    r = await open_flu(client, clinic, cared_person_id=clinic.worker.id)
    assert r.status_code == 422
    assert "cared_person_id" in fields(r)
    r = await open_flu(client, clinic, reason="holiday")
    assert r.status_code == 422
    assert await counts(db) == before


async def test_overlapping_certificates_are_refused(client, clinic, db):
    assert (await open_flu(client, clinic)).status_code == 201
    before = await counts(db)
    r = await open_flu(client, clinic, starts_on=(TODAY - timedelta(days=1)).isoformat(), days=2)
    assert r.status_code == 409, r.text
    assert "starts_on" in fields(r)
    assert await counts(db) == before


async def test_out_of_scope_is_404_and_a_dead_person_is_refused(
    client, clinic, make_person, make_facility, db
):
    elsewhere = await make_person(facility_code=(await make_facility()).code)
    r = await client.post(
        f"/api/v1/persons/{elsewhere.id}/sick-leave", json=flu(), headers=clinic.doctor
    )
    assert r.status_code == 404
    r = await client.post("/api/v1/persons/99999999/sick-leave", json=flu(), headers=clinic.doctor)
    assert r.status_code == 404
    from salomat.core.security import Principal
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import DeathIn

    clerk = Principal(user_id=0, username="t", role="registrar", session_id="t")
    await registry.register_death(
        db, clerk, clinic.worker.id, DeathIn(deceased_on=TODAY, cause="I21.9"), expected_version=1
    )
    await db.commit()
    r = await open_flu(client, clinic)
    assert r.status_code == 409, r.text


async def test_a_death_closes_the_open_certificate(client, clinic, db):
    c = (await open_flu(client, clinic)).json()
    from salomat.core.security import Principal
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import DeathIn

    clerk = Principal(user_id=0, username="t", role="registrar", session_id="t")
    await registry.register_death(
        db, clerk, clinic.worker.id, DeathIn(deceased_on=TODAY, cause="J11.1"), expected_version=1
    )
    await db.commit()
    c = (await client.get(f"/api/v1/sick-leave/{c['id']}", headers=clinic.doctor)).json()
    assert (c["status"], c["closure"], c["closed_on"]) == ("closed", "death", TODAY.isoformat())


async def test_the_database_keeps_the_periods_a_chain(clinic, client, db):
    """Written past the service: a gap, an overlap and a second period n+1 are refused by
    the database itself."""
    from sqlalchemy.exc import IntegrityError

    from salomat.core.db import utcnow
    from salomat.domains.sickleave.models import SickLeavePeriod

    c = (await open_flu(client, clinic)).json()
    end = date.fromisoformat(c["ends_on"])

    def period(seq: int, start: date, last: date, prev_end: date) -> SickLeavePeriod:
        return SickLeavePeriod(
            certificate_id=c["id"],
            person_id=c["person_id"],
            seq=seq,
            starts_on=start,
            ends_on=last,
            prev_seq=seq - 1,
            prev_ends_on=prev_end,
            granted_as="doctor",
            granted_by="t",
            created_at=utcnow(),
        )

    wrong = [
        period(2, end + timedelta(days=2), end + timedelta(days=4), end),  # a gap
        period(2, end, end + timedelta(days=4), end),  # an overlap
        period(2, end + timedelta(days=1), end + timedelta(days=4), end + timedelta(days=1)),
        period(3, end + timedelta(days=1), end + timedelta(days=4), end),  # skips seq 2
    ]
    # NULL keys of the previous period would pass a plain check and skip the foreign key
    unlinked = period(2, end + timedelta(days=9), end + timedelta(days=12), end)
    unlinked.prev_ends_on = None
    wrong.append(unlinked)
    for p in wrong:
        db.add(p)
        with pytest.raises(IntegrityError):
            await db.flush()
        await db.rollback()
    db.add(period(2, end + timedelta(days=1), end + timedelta(days=4), end))
    await db.commit()
    db.add(period(2, end + timedelta(days=1), end + timedelta(days=2), end))  # a second n+1
    with pytest.raises(IntegrityError):
        await db.flush()
    await db.rollback()
