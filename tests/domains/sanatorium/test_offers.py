"""Free places, offers, bookings and stays, end to end through the API (the sweep, the
one job that moves time on, is called as the worker calls it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.errors import InvalidState
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.service.rules import local_today
from tests.domains.sanatorium.conftest import fields, set_applied_at

pytestmark = pytest.mark.anyio

TODAY = local_today()  # the pack's day (Tashkent/Almaty), as the service counts days
NOW = datetime.now(UTC)


async def _sweep(now: datetime | None = None, today: date | None = None):  # type: ignore[no-untyped-def]
    """The sweep over the whole test database, bounded: one that waits on a lock another
    test left behind fails here instead of hanging the suite."""

    async def run():  # type: ignore[no-untyped-def]
        async with session_factory()() as s:
            result = await service.sweep(s, now=now, today=today)
            await s.commit()
        return result

    return await asyncio.wait_for(run(), timeout=120)


async def _period(client, world, *, beds=2, capacity=None, starts_in=10, profile="cardiology"):  # type: ignore[no-untyped-def]
    r = await client.put(
        "/api/v1/sanatorium/beds", json={"profile": profile, "beds": beds}, headers=world.admin
    )
    assert r.status_code == 200, r.text
    body = {"profile": profile, "starts_on": (TODAY + timedelta(days=starts_in)).isoformat()}
    if capacity is not None:
        body["capacity"] = capacity
    r = await client.post("/api/v1/sanatorium/periods", json=body, headers=world.admin)
    assert r.status_code == 201, r.text
    return r.json()


async def _queued(client, world, make_user, login, n, *, category="disability_1_2"):  # type: ignore[no-untyped-def]
    """n patients referred in order (application times a minute apart), with their logins."""
    out = []
    for i in range(n):
        p = await world.make_patient()
        r = await client.post(
            f"/api/v1/persons/{p.id}/sanatorium-referrals",
            json={"indication": "I25.1", "category": category},
            headers=world.doctor,
        )
        assert r.status_code == 201, r.text
        await set_applied_at(r.json()["id"], NOW - timedelta(days=30, minutes=-i))
        me = await login(await make_user("citizen", person_id=p.id))
        out.append((r.json(), me))
    return out


async def _mine(client, me):  # type: ignore[no-untyped-def]
    return (await client.get("/api/v1/me/sanatorium-referrals", headers=me)).json()[0]


async def test_the_public_free_places_need_no_login_and_hold_no_person(
    client, world, make_user, login
):
    period = await _period(client, world, beds=3)
    [(ref, _me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    r = await client.get("/api/v1/public/sanatorium/free-places?profile=cardiology")
    assert r.status_code == 200
    row = next(x for x in r.json() if x["period_id"] == period["id"])
    assert (row["capacity"], row["free"]) == (3, 2)  # one place held by the offer
    text = r.text
    for private in (ref["number"], "I25.1", world.doctor_account.username):
        assert private not in text
    assert set(row) == {
        "period_id",
        "facility_code",
        "facility_name",
        "region",
        "profile",
        "profile_name",
        "starts_on",
        "ends_on",
        "capacity",
        "free",
    }


async def test_the_first_in_line_is_offered_and_accepting_books_a_bed(
    client, world, make_user, login
):
    period = await _period(client, world, beds=1)
    (first, me1), (_second, me2) = await _queued(client, world, make_user, login, 2)
    assert (await _sweep()).offered >= 1  # the test database is shared: other regions too
    mine = await _mine(client, me1)
    assert mine["status"] == "offered"
    assert mine["offer"]["period"]["id"] == period["id"]
    assert (await _mine(client, me2))["offer"] is None
    r = await client.post(f"/api/v1/me/sanatorium-offers/{mine['offer']['id']}/accept", headers=me1)
    assert r.status_code == 200, r.text
    stay = r.json()["stay"]
    assert r.json()["status"] == "booked"
    assert stay["starts_on"] == period["starts_on"]
    assert stay["ends_on"] == period["ends_on"]
    voucher = await client.get(
        "/api/v1/public/sanatorium/vouchers/check",
        params={"number": first["number"], "code": stay["voucher_code"]},
    )
    assert voucher.json()["valid"] is True
    assert "person" not in voucher.text
    wrong = await client.get(
        "/api/v1/public/sanatorium/vouchers/check",
        params={"number": first["number"], "code": "AAAAAA"},
    )
    assert wrong.json() == {
        "valid": False,
        "facility_name": None,
        "profile": None,
        "starts_on": None,
        "ends_on": None,
        "status": None,
    }


async def test_a_lapsed_offer_passes_to_the_next_whose_portal_shows_it(
    client, world, make_user, login
):
    await _period(client, world, beds=1)
    queued = await _queued(client, world, make_user, login, 3)
    (first, me1), (_second, me2), _ = queued
    await _sweep()
    offer = (await _mine(client, me1))["offer"]
    later = datetime.fromisoformat(offer["expires_at"]) + timedelta(minutes=1)
    result = await _sweep(now=later)
    assert result.lapsed >= 1
    assert result.offered >= 1
    theirs = await _mine(client, me2)
    assert theirs["status"] == "offered"
    assert theirs["offer"]["status"] == "open"
    mine = await _mine(client, me1)
    assert mine["offer"] is None
    rule = service.sanatorium_rules().offer.on_lapse
    if rule == "end_of_queue":  # UZ: to the end of the line, with a new application time
        assert mine["position"]["position"] == 3
        assert mine["applied_at"] > first["applied_at"]
    else:  # KZ: keeps her place (and is not offered the same period again)
        assert rule == "keep"
        assert mine["position"]["position"] == 1
    # the lapsed offer cannot be accepted afterwards
    r = await client.post(f"/api/v1/me/sanatorium-offers/{offer['id']}/accept", headers=me1)
    assert r.status_code == 409


async def test_accepting_an_expired_offer_is_refused_and_stores_nothing(
    client, world, make_user, login
):
    await _period(client, world, beds=1)
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    offer = (await _mine(client, me))["offer"]
    async with session_factory()() as s:
        from salomat.core.security import Principal

        holder = Principal(
            user_id=1, username="x", role="citizen", session_id="t", person_id=ref["person_id"]
        )
        expires = datetime.fromisoformat(offer["expires_at"])
        with pytest.raises(InvalidState, match="expired"):
            await service.accept_offer(s, holder, offer["id"], now=expires)
        await s.rollback()
    assert (await _mine(client, me))["status"] == "offered"


async def test_declining_keeps_or_loses_the_place_as_the_pack_says(client, world, make_user, login):
    await _period(client, world, beds=1)
    (_first, me1), (_second, me2) = await _queued(client, world, make_user, login, 2)
    await _sweep()
    offer = (await _mine(client, me1))["offer"]
    r = await client.post(
        f"/api/v1/me/sanatorium-offers/{offer['id']}/decline", json={"reason": "ill"}, headers=me1
    )
    assert r.status_code == 200
    await _sweep()
    assert (await _mine(client, me2))["status"] == "offered"
    mine = await _mine(client, me1)
    assert service.sanatorium_rules().offer.on_decline == "keep"
    assert mine["position"]["position"] == 1
    assert mine["offer"] is None  # the same period is not offered to her again


async def test_not_yet_entitled_is_not_offered_a_period_before_the_date(
    client, world, make_user, login
):
    # the note's vector: entitled from 20.09.2025, an offer for 01.08.2025 must be refused;
    # here the same rule shifted to today's calendar
    period = await _period(client, world, beds=1, starts_in=10)
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    from sqlalchemy import update

    from salomat.domains.sanatorium.models import SanatoriumReferral

    starts = date.fromisoformat(period["starts_on"])
    async with session_factory()() as s:
        await s.execute(
            update(SanatoriumReferral)
            .where(SanatoriumReferral.id == ref["id"])
            .values(entitled_from=starts + timedelta(days=1))
        )
        await s.commit()
    await _sweep()
    assert (await _mine(client, me))["offer"] is None
    async with session_factory()() as s:
        await s.execute(
            update(SanatoriumReferral)
            .where(SanatoriumReferral.id == ref["id"])
            .values(entitled_from=starts)
        )
        await s.commit()
    await _sweep()
    assert (await _mine(client, me))["offer"]["period"]["id"] == period["id"]


async def test_arrival_discharge_and_the_summary_back_to_the_doctor(
    client, world, make_user, login
):
    period = await _period(client, world, beds=1, starts_in=0)
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    offer = (await _mine(client, me))["offer"]
    stay = (
        await client.post(f"/api/v1/me/sanatorium-offers/{offer['id']}/accept", headers=me)
    ).json()["stay"]
    arrivals = (await client.get("/api/v1/sanatorium/arrivals", headers=world.admin)).json()
    assert [a["id"] for a in arrivals] == [stay["id"]]
    assert arrivals[0]["person_name"]
    future = await client.post(
        f"/api/v1/sanatorium/stays/{stay['id']}/arrive",
        json={"arrived_on": (TODAY + timedelta(days=1)).isoformat()},
        headers=world.admin,
    )
    assert future.status_code == 422
    assert "arrived_on" in fields(future)
    r = await client.post(
        f"/api/v1/sanatorium/stays/{stay['id']}/arrive", json={}, headers=world.admin
    )
    assert r.status_code == 200, r.text
    before = await client.post(
        f"/api/v1/sanatorium/stays/{stay['id']}/discharge",
        json={"discharged_on": (TODAY - timedelta(days=1)).isoformat(), "summary": "x"},
        headers=world.admin,
    )
    assert before.status_code == 422
    assert "discharged_on" in fields(before)
    done = await client.post(
        f"/api/v1/sanatorium/stays/{stay['id']}/discharge",
        json={"summary": "Course completed; BP 130/80; continue statins."},
        headers=world.admin,
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "fulfilled"
    seen = (
        await client.get(f"/api/v1/sanatorium-referrals/{ref['id']}", headers=world.doctor)
    ).json()
    assert seen["status"] == "discharged"
    assert seen["stay"]["summary"] == "Course completed; BP 130/80; continue statins."
    # the next entitlement counts from this stay: 2 years for disability group II
    again = await client.post(
        f"/api/v1/persons/{ref['person_id']}/sanatorium-referrals",
        json={"indication": "I25.1", "category": "disability_1_2"},
        headers=world.doctor,
    )
    assert again.status_code == 422
    assert "category" in fields(again)
    assert period["id"] == seen["stay"]["period_id"]


async def test_a_noshow_after_the_grace_releases_the_place_to_the_next(
    client, world, make_user, login
):
    period = await _period(client, world, beds=1, starts_in=0)
    (_first, me1), (_second, me2) = await _queued(client, world, make_user, login, 2)
    await _sweep()
    offer = (await _mine(client, me1))["offer"]
    await client.post(f"/api/v1/me/sanatorium-offers/{offer['id']}/accept", headers=me1)
    grace = service.sanatorium_rules().noshow_grace_days
    start = date.fromisoformat(period["starts_on"])
    await _sweep(today=start + timedelta(days=grace))
    assert (await _mine(client, me1))["status"] == "booked"
    result = await _sweep(today=start + timedelta(days=grace + 1))
    assert result.noshows >= 1
    assert (await _mine(client, me1))["status"] == "noshow"
    assert (await _mine(client, me2))["offer"]["period"]["id"] == period["id"]


async def test_a_period_over_the_beds_or_in_the_past_is_refused(client, world):
    await client.put(
        "/api/v1/sanatorium/beds", json={"profile": "cardiology", "beds": 2}, headers=world.admin
    )
    over = await client.post(
        "/api/v1/sanatorium/periods",
        json={
            "profile": "cardiology",
            "starts_on": (TODAY + timedelta(days=5)).isoformat(),
            "capacity": 3,
        },
        headers=world.admin,
    )
    assert over.status_code == 422
    assert "capacity" in fields(over)
    past = await client.post(
        "/api/v1/sanatorium/periods",
        json={"profile": "cardiology", "starts_on": (TODAY - timedelta(days=1)).isoformat()},
        headers=world.admin,
    )
    assert past.status_code == 422
    assert "starts_on" in fields(past)
    backwards = await client.post(
        "/api/v1/sanatorium/periods",
        json={
            "profile": "cardiology",
            "starts_on": (TODAY + timedelta(days=5)).isoformat(),
            "ends_on": (TODAY + timedelta(days=5)).isoformat(),
        },
        headers=world.admin,
    )
    assert backwards.status_code == 422
    assert "ends_on" in fields(backwards)


async def test_a_direct_referral_is_booked_by_the_doctor_and_not_outside_a_period(
    client, world, make_user, login
):
    period = await _period(client, world, beds=1)
    p = await world.make_patient()
    ref = (
        await client.post(
            f"/api/v1/persons/{p.id}/sanatorium-referrals",
            json={"indication": "I21.9", "category": "aftercare"},
            headers=world.doctor,
        )
    ).json()
    assert ref["status"] == "referred"
    assert ref["direct"] is True
    outside = await client.post(
        f"/api/v1/sanatorium-referrals/{ref['id']}/book",
        json={"period_id": 10**12},
        headers=world.doctor,
    )
    assert outside.status_code == 422
    assert "period_id" in fields(outside)
    ok = await client.post(
        f"/api/v1/sanatorium-referrals/{ref['id']}/book",
        json={"period_id": period["id"]},
        headers=world.doctor,
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "booked"
    q = await _period(client, world, beds=1, starts_in=40)
    other = await world.make_patient()
    ref2 = (
        await client.post(
            f"/api/v1/persons/{other.id}/sanatorium-referrals",
            json={"indication": "I21.9", "category": "aftercare"},
            headers=world.doctor,
        )
    ).json()
    full = await client.post(
        f"/api/v1/sanatorium-referrals/{ref2['id']}/book",
        json={"period_id": period["id"]},
        headers=world.doctor,
    )
    assert full.status_code == 409
    assert "period_id" in fields(full)
    assert q["free"] == 1


async def test_the_public_queue_is_in_order_and_pseudonymous(client, world, make_user, login):
    queued = await _queued(client, world, make_user, login, 3)
    region = queued[0][0]["region"]
    r = await client.get("/api/v1/public/sanatorium/queues/cardiology", params={"region": region})
    assert r.status_code == 200
    rows = r.json()
    mine = [(await _mine(client, me))["position"]["pseudonym"] for _, me in queued]
    listed = [row["pseudonym"] for row in rows]
    assert [listed.index(p) for p in mine] == sorted(listed.index(p) for p in mine)
    for ref, _ in queued:
        assert ref["number"] not in r.text
    assert int(r.headers["X-Total-Count"]) >= 3
    assert get_settings().country in ("UZ", "KZ")
