"""What changes the queue besides offers: a withdrawn period, a region's periods served
by another region's sanatorium, an offer's last hour, fewer beds, a corrected category,
a parent acting for her child, and races between them (PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import session_factory
from salomat.core.errors import Conflict
from salomat.core.security import Principal
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.models import SanatoriumReferral
from salomat.domains.sanatorium.service.rules import local_midnight, local_today
from tests.domains.sanatorium.conftest import fields
from tests.domains.sanatorium.test_offers import _mine, _period, _queued, _sweep

pytestmark = pytest.mark.anyio


async def test_a_withdrawn_period_puts_its_offered_people_back_in_line(
    client, world, make_user, login
):
    period = await _period(client, world, beds=1)
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    assert (await _mine(client, me))["status"] == "offered"
    r = await client.post(f"/api/v1/sanatorium/periods/{period['id']}/cancel", headers=world.admin)
    assert r.status_code == 200, r.text
    mine = await _mine(client, me)
    assert mine["status"] == "queued"
    assert mine["offer"] is None
    assert mine["position"]["position"] == 1
    await _period(client, world, beds=1, starts_in=30)
    await _sweep()
    assert (await _mine(client, me))["status"] == "offered"
    events = (
        await client.get(f"/api/v1/me/sanatorium-referrals/{ref['id']}/events", headers=me)
    ).json()
    assert "offer_withdrawn" in [e["kind"] for e in events]


async def test_a_period_may_serve_another_regions_queue(
    client, world, make_user, login, make_place
):
    if not service.sanatorium_rules().queue_by_region:
        pytest.skip("the pack keeps one national queue")
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    assert ref["status"] == "queued"
    elsewhere = await make_place()
    await client.put(
        "/api/v1/sanatorium/beds", json={"profile": "cardiology", "beds": 2}, headers=world.admin
    )
    start = (local_today() + timedelta(days=12)).isoformat()
    bad = await client.post(
        "/api/v1/sanatorium/periods",
        json={"profile": "cardiology", "starts_on": start, "region": elsewhere.settlement},
        headers=world.admin,
    )
    assert bad.status_code == 422
    assert "region" in fields(bad)
    theirs = await client.post(
        "/api/v1/sanatorium/periods",
        json={
            "profile": "cardiology",
            "starts_on": start,
            "capacity": 1,
            "region": elsewhere.region,
        },
        headers=world.admin,
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["region"] == elsewhere.region
    await _sweep()
    assert (await _mine(client, me))["offer"] is None  # not her region's place
    ours = await client.post(
        "/api/v1/sanatorium/periods",
        json={"profile": "cardiology", "starts_on": start, "capacity": 1},
        headers=world.admin,
    )
    await _sweep()
    assert (await _mine(client, me))["offer"]["period"]["id"] == ours.json()["id"]
    assert ref["region"] == ours.json()["region"]


async def test_an_offer_never_outlives_the_last_day_its_place_can_be_taken(
    client, world, make_user, login
):
    rules = service.sanatorium_rules().offer
    period = await _period(client, world, beds=1, starts_in=0)
    [(_ref, me)] = await _queued(client, world, make_user, login, 1)
    last = date.fromisoformat(period["starts_on"]) + timedelta(
        days=rules.offer_until_days_after_start
    )
    end = local_midnight(last + timedelta(days=1))
    # late on the last bookable day, less than the minimum hold is left: no offer
    await _sweep(now=end - timedelta(hours=rules.min_hold_hours - 1), today=last)
    assert (await _mine(client, me))["offer"] is None
    # with just the minimum left, the offer ends with the last bookable day, not 72 h later
    now = end - timedelta(hours=rules.min_hold_hours)
    await _sweep(now=now, today=last)
    offer = (await _mine(client, me))["offer"]
    assert datetime.fromisoformat(offer["expires_at"]) == end.astimezone(UTC)


async def test_fewer_beds_than_the_published_periods_need_are_refused(client, world):
    await _period(client, world, beds=2, capacity=2)
    r = await client.put(
        "/api/v1/sanatorium/beds", json={"profile": "cardiology", "beds": 1}, headers=world.admin
    )
    assert r.status_code == 409
    assert "beds" in fields(r)
    assert "2" in r.json()["detail"]


async def test_a_guest_stays_on_the_arrivals_list_until_discharged(client, world, make_user, login):
    period = await _period(client, world, beds=1, starts_in=0)
    [(_ref, me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    offer = (await _mine(client, me))["offer"]
    stay = (
        await client.post(f"/api/v1/me/sanatorium-offers/{offer['id']}/accept", headers=me)
    ).json()["stay"]
    await client.post(f"/api/v1/sanatorium/stays/{stay['id']}/arrive", json={}, headers=world.admin)
    for day in (
        period["ends_on"],
        (date.fromisoformat(period["ends_on"]) + timedelta(days=3)).isoformat(),
    ):
        listed = await client.get(
            "/api/v1/sanatorium/arrivals", params={"from": day}, headers=world.admin
        )
        assert stay["id"] in [s["id"] for s in listed.json()], day


async def test_the_clerk_corrects_a_category_without_seeing_the_diagnosis_and_the_date_follows(
    client, world, make_user, login
):
    clerk = await login(await make_user("registrar", facility_code=world.polyclinic.code))
    p = await world.make_patient()
    ended = local_today() - timedelta(days=400)
    ref = (
        await client.post(
            f"/api/v1/persons/{p.id}/sanatorium-referrals",
            json={
                "indication": "I25.1",
                "category": "chernobyl"
                if service.sanatorium_rules().country == "UZ"
                else "disabled_child",
                "last_stay_ended_on": ended.isoformat(),
            },
            headers=world.doctor,
        )
    ).json()
    slower = "old_age_pensioner" if service.sanatorium_rules().country == "UZ" else "disability"
    r = await client.post(
        f"/api/v1/sanatorium-referrals/{ref['id']}/reorder",
        json={"category": slower, "reason": "pension certificate, not a Chernobyl one"},
        headers=clerk,
    )
    assert r.status_code == 200, r.text
    assert "I25" not in r.text
    every = service.sanatorium_rules().categories[slower].every_years
    expected = ended.replace(year=ended.year + every)
    assert r.json()["entitled_from"] == (expected.isoformat() if expected > ended else None)


async def test_the_voucher_is_no_longer_valid_once_the_stay_is_over(
    client, world, make_user, login
):
    await _period(client, world, beds=1, starts_in=0)
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    offer = (await _mine(client, me))["offer"]
    stay = (
        await client.post(f"/api/v1/me/sanatorium-offers/{offer['id']}/accept", headers=me)
    ).json()["stay"]
    check = {"number": ref["number"], "code": stay["voucher_code"]}
    assert (await client.get("/api/v1/public/sanatorium/vouchers/check", params=check)).json()[
        "valid"
    ]
    await client.post(f"/api/v1/sanatorium/stays/{stay['id']}/arrive", json={}, headers=world.admin)
    await client.post(
        f"/api/v1/sanatorium/stays/{stay['id']}/discharge", json={}, headers=world.admin
    )
    used = (await client.get("/api/v1/public/sanatorium/vouchers/check", params=check)).json()
    assert used["valid"] is False
    assert used["status"] == "fulfilled"


@pytest.mark.parametrize(
    "path", ["/api/v1/public/sanatorium/free-places", "/api/v1/sanatorium/arrivals"]
)
async def test_a_date_at_the_end_of_the_calendar_is_refused_not_a_500(client, world, path):
    r = await client.get(path, params={"from": "9999-12-31"}, headers=world.admin)
    assert r.status_code == 422
    assert "from" in fields(r)


async def test_a_parent_applies_for_her_child_and_answers_its_offer(
    client, world, make_user, login, make_person, db
):
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import RelationIn

    mother = await world.make_patient(born=date(1985, 1, 1))
    child = await world.make_patient(born=local_today() - timedelta(days=9 * 365))
    system = Principal(user_id=0, username="fixture", role="registrar", session_id="t")
    await registry.add_relation(
        db,
        system,
        child.id,
        RelationIn(kind="mother", related_person_id=mother.id, document="birth certificate"),
    )
    await db.commit()
    me = await login(await make_user("citizen", person_id=mother.id))
    r = await client.post(
        "/api/v1/me/sanatorium-referrals",
        json={
            "profile": "paediatric",
            "category": "disability_1_2"
            if service.sanatorium_rules().country == "UZ"
            else "disabled_child",
            "person_id": child.id,
        },
        headers=me,
    )
    assert r.status_code == 201, r.text
    assert r.json()["person_id"] == child.id
    ok = await client.post(
        f"/api/v1/sanatorium-referrals/{r.json()['id']}/confirm",
        json={"indication": "G80.0"},
        headers=world.doctor,
    )
    assert ok.status_code == 200, ok.text
    await _period(client, world, beds=1, profile="paediatric")
    await _sweep()
    mine = (await client.get("/api/v1/me/sanatorium-referrals", headers=me)).json()
    theirs = next(x for x in mine if x["person_id"] == child.id)
    accepted = await client.post(
        f"/api/v1/me/sanatorium-offers/{theirs['offer']['id']}/accept", headers=me
    )
    assert accepted.status_code == 200, accepted.text
    stranger = await login(await make_user("citizen", person_id=(await world.make_patient()).id))
    assert (
        await client.get(f"/api/v1/me/sanatorium-referrals/{theirs['id']}/events", headers=stranger)
    ).status_code == 404


# ---- races (PostgreSQL) ----------------------------------------------------------------


async def _blocked_by(holder_pid: int, task: asyncio.Task[Any]) -> None:
    """Until another backend waits on a lock the holder's backend keeps
    (``pg_blocking_pids``): the second request has reached the row the first holds.

    It must get there: the holder took the lock before the second request started and
    keeps it until this returns. So the only other way out is the second request ending
    without waiting, which is the defect this test looks for, reported with what it
    gave or raised (never as a timeout)."""
    async with session_factory()() as s:
        while True:
            if task.done():
                raise AssertionError(
                    "the second request ended without waiting on the first one's lock: "
                    f"{task.exception() or task.result()!r}"
                )
            waiting = await s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE :holder = ANY(pg_blocking_pids(pid))"
                ),
                {"holder": holder_pid},
            )
            await s.rollback()  # a fresh snapshot for the next look
            if waiting:
                return
            await asyncio.sleep(0.02)


async def _race(holder: AsyncSession, second: Any) -> Any:
    """Let ``second`` (a coroutine) run into the row lock ``holder`` (a session with an
    uncommitted write) keeps, then commit the holder, and return what ``second`` gave.

    Whatever happens, the holder's transaction ends and ``second`` ends (each wait is
    bounded): a failure fails this test only, and no lock outlives it to hang a later
    test's sweep (the PostgreSQL suite once hung so)."""
    holder_pid = await holder.scalar(text("SELECT pg_backend_pid()"))
    task = asyncio.create_task(second)
    try:
        await asyncio.wait_for(_blocked_by(holder_pid, task), timeout=300)
        await asyncio.wait_for(holder.commit(), timeout=60)
        return await asyncio.wait_for(task, timeout=120)
    finally:
        # the holder's transaction ends first (a rollback if it did not commit), so the
        # second request can finish on its own; only then is it cancelled if still stuck
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(holder.close(), timeout=30)
        if not task.done():
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), timeout=30)
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def _holder(person_id: int) -> Principal:
    return Principal(
        user_id=1, username="holder", role="citizen", session_id="t", person_id=person_id
    )


async def test_withdrawing_a_period_while_a_place_is_being_accepted(
    backend, client, world, make_user, login
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL")
    period = await _period(client, world, beds=1)
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    offer = (await _mine(client, me))["offer"]
    accepting = session_factory()()
    await service.accept_offer(accepting, _holder(ref["person_id"]), offer["id"])  # not committed

    async def withdraw() -> str:
        async with session_factory()() as s:
            try:
                await service.cancel_period(s, world.admin_principal(), period["id"])
                await s.commit()
                return "withdrawn"
            except Conflict:
                await s.rollback()
                return "refused"

    assert await _race(accepting, withdraw()) == "refused"
    stays = (await client.get("/api/v1/sanatorium/periods", headers=world.admin)).json()
    mine = next(p for p in stays if p["id"] == period["id"])
    assert (mine["status"], mine["booked"]) == ("open", 1)


async def test_giving_up_a_referral_while_its_offer_is_being_accepted(
    backend, client, world, make_user, login
):
    """The two lock the referral first, then the offer: one waits, neither deadlocks."""
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL")
    await _period(client, world, beds=1)
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    offer = (await _mine(client, me))["offer"]
    accepting = session_factory()()
    await service.accept_offer(accepting, _holder(ref["person_id"]), offer["id"])

    async def give_up() -> str:
        async with session_factory()() as s:
            out = await service.withdraw_my_referral(
                s, _holder(ref["person_id"]), ref["id"], "moving abroad"
            )
            await s.commit()
            return out.status

    assert await _race(accepting, give_up()) == "cancelled"
    mine = await _mine(client, me)
    assert mine["stay"]["status"] == "cancelled"  # the booked bed was freed again


async def test_a_sweep_past_the_deadline_does_not_lapse_a_declined_offer(
    client, world, make_user, login
):
    """The sweep reads what is due without locks and re-checks each offer under its
    referral's lock: an offer declined meanwhile is left as declined. (Run one after the
    other: a sweep started while the decline was uncommitted could wait on a row the
    decline held, and the test then hung.)"""
    await _period(client, world, beds=1)
    [(ref, me)] = await _queued(client, world, make_user, login, 1)
    await _sweep()
    offer = (await _mine(client, me))["offer"]
    declined = await client.post(
        f"/api/v1/me/sanatorium-offers/{offer['id']}/decline", json={}, headers=me
    )
    assert declined.status_code == 200, declined.text
    await _sweep(now=datetime.fromisoformat(offer["expires_at"]) + timedelta(minutes=1))
    events = (
        await client.get(f"/api/v1/me/sanatorium-referrals/{ref['id']}/events", headers=me)
    ).json()
    kinds = [e["kind"] for e in events]
    assert kinds.count("declined") == 1
    assert "lapsed" not in kinds
    async with session_factory()() as s:
        await s.execute(
            update(SanatoriumReferral)
            .where(SanatoriumReferral.id == ref["id"])
            .values(status="cancelled")
        )
        await s.commit()
