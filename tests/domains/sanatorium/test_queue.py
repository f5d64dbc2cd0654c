"""The queue in the database: the note's ordering vector gives its positions through the
API, and the waiting range is computed from the queue's own releases of the last three
whole months (the note's waiting vector, scaled down)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from salomat.core.db import session_factory
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.models import SanatoriumReferral, SanatoriumStay
from salomat.domains.sanatorium.schemas import BedsIn, BookIn, PeriodIn, ReferralIn
from salomat.domains.sanatorium.service.rules import local_today
from tests.domains.sanatorium.conftest import set_applied_at

pytestmark = pytest.mark.anyio

CATEGORY_OF_TIER = {1: "war_invalid_equivalent", 2: "disability_1_2", 3: "old_age_pensioner"}


@pytest.fixture(autouse=True)
def _uz(monkeypatch):
    from salomat.core.config import get_settings

    monkeypatch.setenv("SALOMAT_COUNTRY", "UZ")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_the_ordering_vector_gives_the_notes_positions(client, world):
    # B t1 2025-02-01; C t2 2025-01-05 08:00 (seq first); D t2 the same time (seq next);
    # E t3 2024-12-20; A t3 2025-01-10 -> B=1, C=2, D=3, E=4, A=5
    vector = [
        ("A", 3, datetime(2025, 1, 10, tzinfo=UTC)),
        ("C", 2, datetime(2025, 1, 5, 8, 0, tzinfo=UTC)),
        ("D", 2, datetime(2025, 1, 5, 8, 0, tzinfo=UTC)),
        ("E", 3, datetime(2024, 12, 20, tzinfo=UTC)),
        ("B", 1, datetime(2025, 2, 1, tzinfo=UTC)),
    ]
    ids = {}
    for name, tier, at in vector:  # C is referred before D: its sequence number is lower
        p = await world.make_patient()
        r = await client.post(
            f"/api/v1/persons/{p.id}/sanatorium-referrals",
            json={"indication": "I25.1", "category": CATEGORY_OF_TIER[tier]},
            headers=world.doctor,
        )
        assert r.status_code == 201, r.text
        await set_applied_at(r.json()["id"], at)
        ids[name] = r.json()["id"]
    positions = {}
    for name, rid in ids.items():
        got = await client.get(f"/api/v1/sanatorium-referrals/{rid}", headers=world.doctor)
        positions[name] = got.json()["position"]["position"]
    assert positions == {"B": 1, "C": 2, "D": 3, "E": 4, "A": 5}
    region = (
        await client.get(f"/api/v1/sanatorium-referrals/{ids['A']}", headers=world.doctor)
    ).json()["region"]
    public = await client.get(
        "/api/v1/public/sanatorium/queues/cardiology", params={"region": region}
    )
    assert [e["tier"] for e in public.json()] == [1, 2, 2, 3, 3]
    assert [e["applied_on"] for e in public.json()][3:] == ["2024-12-20", "2025-01-10"]


def _month_start(day: date, back: int) -> date:
    y, m = day.year, day.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


async def test_the_waiting_range_comes_from_the_last_three_whole_months(world):
    """1, 2 and 3 places released in the three months before this one (and one this month,
    and one direct after-care booking, neither counted): the 5th in line waits
    5/2 months at the mean pace, 5/3 at the best and 5/1 at the worst (× 30.4375 days)."""
    doctor, admin = world.doctor_principal(), world.admin_principal()
    today = local_today()
    people = [await world.make_patient() for _ in range(13)]
    async with session_factory()() as s:
        await service.set_beds(s, admin, BedsIn(profile="cardiology", beds=9))
        period = await service.publish_period(
            s, admin, PeriodIn(profile="cardiology", starts_on=today + timedelta(days=30))
        )
        booked = []
        for i in range(8):
            p = people[i]
            category = "aftercare" if i == 7 else "disability_1_2"
            r = await service.refer(
                s, doctor, p.id, ReferralIn(indication="I25.1", category=category)
            )
            await s.execute(
                update(SanatoriumReferral)
                .where(SanatoriumReferral.id == r.id)
                .values(direct=True, status="referred")
            )
            await service.book_direct(s, doctor, r.id, BookIn(period_id=period.id))
            await s.execute(
                update(SanatoriumReferral)
                .where(SanatoriumReferral.id == r.id)
                .values(direct=i == 7)
            )
            booked.append(r.id)
        # months back: 3, 2, 2, 1, 1, 1, this month, and the direct one 1 month back
        backs = [3, 2, 2, 1, 1, 1, 0, 1]
        for rid, back in zip(booked, backs, strict=True):
            at = datetime.combine(
                _month_start(today, back) + timedelta(days=1), datetime.min.time(), UTC
            )
            await s.execute(
                update(SanatoriumStay).where(SanatoriumStay.referral_id == rid).values(booked_at=at)
            )
        queued = []
        for p in people[8:]:
            queued.append(
                await service.refer(
                    s, doctor, p.id, ReferralIn(indication="I25.1", category="disability_1_2")
                )
            )
        await s.commit()
    async with session_factory()() as s:
        got = await service.get_referral(s, doctor, queued[-1].id)
        await s.commit()
    pos = got.position
    assert pos.position == 5
    assert pos.monthly_releases == [1, 2, 3]
    assert pos.wait_days_expected == round(5 / 2 * 30.4375, 1)
    assert pos.wait_days_shortest == round(5 / 3 * 30.4375, 1)
    assert pos.wait_days_longest == round(5 / 1 * 30.4375, 1)


# ---- the counts per day the database keeps ----------------------------------------------


async def _recount(region: str) -> tuple[dict, dict]:
    """The kept counts and a recount from the referrals, for one region's queues."""
    from sqlalchemy import func, select

    from salomat.domains.sanatorium.models import SanatoriumQueueDay

    async with session_factory()() as s:
        kept = {
            (p, t, d): n
            for p, t, d, n in await s.execute(
                select(
                    SanatoriumQueueDay.profile,
                    SanatoriumQueueDay.tier,
                    SanatoriumQueueDay.day,
                    SanatoriumQueueDay.n,
                ).where(SanatoriumQueueDay.region == region, SanatoriumQueueDay.n > 0)
            )
        }
        refs = (
            await s.execute(
                select(
                    SanatoriumReferral.profile,
                    SanatoriumReferral.tier,
                    SanatoriumReferral.applied_at,
                ).where(
                    SanatoriumReferral.region == region,
                    SanatoriumReferral.status.in_(("queued", "offered")),
                )
            )
        ).all()
    recount: dict = {}
    for p, t, at in refs:
        key = (p, t, at.astimezone(UTC).date())
        recount[key] = recount.get(key, 0) + 1
    assert func is not None
    return kept, recount


async def test_the_kept_counts_follow_every_change_of_the_queue(client, world, make_user, login):
    """Joining, an offer, a lapse sent to the end, a corrected tier, leaving, a booking:
    after each, the counts per day equal a recount and every position equals a count of
    everybody ahead."""
    from tests.domains.sanatorium.test_offers import _mine, _period, _queued, _sweep

    clerk = await login(await make_user("registrar", facility_code=world.polyclinic.code))
    queued = await _queued(client, world, make_user, login, 4)
    region = queued[0][0]["region"]
    await set_applied_at(queued[2][0]["id"], datetime(2025, 1, 5, 23, 59, tzinfo=UTC))
    await set_applied_at(queued[3][0]["id"], datetime(2025, 1, 5, 23, 59, tzinfo=UTC))

    async def check() -> None:
        kept, recount = await _recount(region)
        assert kept == recount
        mine = [await _mine(client, me) for _, me in queued]
        standing = sorted(
            (m for m in mine if m["status"] in ("queued", "offered")),
            key=lambda m: (m["tier"], m["applied_at"], m["seq"]),
        )
        for i, m in enumerate(standing):
            assert m["position"]["position"] == i + 1, (i, m["number"])

    await check()
    await _period(client, world, beds=1)
    await _sweep()
    await check()
    offer = (await _mine(client, queued[2][1]))["offer"]
    await _sweep(now=datetime.fromisoformat(offer["expires_at"]) + timedelta(minutes=1))
    await check()
    r = await client.post(
        f"/api/v1/sanatorium-referrals/{queued[0][0]['id']}/reorder",
        json={"category": CATEGORY_OF_TIER[1], "reason": "document shown"},
        headers=clerk,
    )
    assert r.status_code == 200, r.text
    await check()
    await client.post(
        f"/api/v1/me/sanatorium-referrals/{queued[1][0]['id']}/withdraw",
        json={"reason": "moved"},
        headers=queued[1][1],
    )
    await check()
    nxt = next((m for m in [await _mine(client, me) for _, me in queued] if m["offer"]), None)
    if nxt is not None:
        me = next(me for ref, me in queued if ref["id"] == nxt["id"])
        await client.post(f"/api/v1/me/sanatorium-offers/{nxt['offer']['id']}/accept", headers=me)
    await check()
