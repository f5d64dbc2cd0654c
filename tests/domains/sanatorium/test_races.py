"""No bed ever holds two overlapping stays, by the database's own rule, and 50 bookings of
the last place at once make exactly one booking (PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from salomat.core.db import session_factory, utcnow
from salomat.core.errors import Conflict
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.models import SanatoriumBed, SanatoriumStay
from salomat.domains.sanatorium.schemas import BedsIn, BookIn, PeriodIn, ReferralIn
from salomat.domains.sanatorium.service import offers
from salomat.domains.sanatorium.service.rules import local_today

pytestmark = pytest.mark.anyio

TODAY = local_today()  # the pack's day (Tashkent/Almaty), as the service counts days


async def _stay(s, referral_id, person_id, period_id, bed_id, facility_id, start, end):  # type: ignore[no-untyped-def]
    now = utcnow()
    await s.execute(
        insert(SanatoriumStay.__table__),
        [
            {
                "referral_id": referral_id,
                "person_id": person_id,
                "period_id": period_id,
                "bed_id": bed_id,
                "facility_id": facility_id,
                "starts_on": start,
                "ends_on": end,
                "status": "booked",
                "voucher_code": "TEST23",
                "booked_at": now,
                "booked_by": "test",
                "updated_at": now,
                "version": 1,
            }
        ],
    )


async def test_the_database_refuses_an_overlapping_stay_on_one_bed(world):
    """The note's vector: bed 12 holds [01.06, 19.06) (18 nights); [18.06, 06.07) is
    refused (the night of 18.06 overlaps); [19.06, 07.07) is accepted. Written past the
    service, straight into the table: the rule is the database's."""
    doctor = world.doctor_principal()
    admin = world.admin_principal()
    a, b, c = [await world.make_patient() for _ in range(3)]
    async with session_factory()() as s:
        await service.set_beds(s, admin, BedsIn(profile="cardiology", beds=1))
        period = await service.publish_period(
            s, admin, PeriodIn(profile="cardiology", starts_on=TODAY + timedelta(days=400))
        )
        refs = [
            await service.refer(
                s, doctor, p.id, ReferralIn(indication="I21.9", category="aftercare")
            )
            for p in (a, b, c)
        ]
        bed = await s.scalar(
            select(SanatoriumBed.id).where(SanatoriumBed.facility_id == world.sanatorium.id)
        )
        await s.commit()
    june = date(2031, 6, 1)
    args = (period.id, bed, world.sanatorium.id)
    async with session_factory()() as s:
        await _stay(s, refs[0].id, a.id, *args, june, june + timedelta(days=18))
        await s.commit()
    async with session_factory()() as s:
        with pytest.raises(IntegrityError, match="sanatorium_stay_no_overlap"):
            await _stay(s, refs[1].id, b.id, *args, date(2031, 6, 18), date(2031, 7, 6))
        await s.rollback()
    async with session_factory()() as s:
        await _stay(s, refs[2].id, c.id, *args, date(2031, 6, 19), date(2031, 7, 7))
        await s.commit()
    # a cancelled stay holds nothing: its days may be booked again
    async with session_factory()() as s:
        await s.execute(
            text("UPDATE sanatorium_stay SET status = 'cancelled' WHERE referral_id = :r"),
            {"r": refs[0].id},
        )
        await _stay(s, refs[1].id, b.id, *args, date(2031, 6, 1), date(2031, 6, 19))
        await s.commit()
    # moving a stay onto another's days is refused too
    async with session_factory()() as s:
        with pytest.raises(IntegrityError, match="sanatorium_stay_no_overlap"):
            await s.execute(
                text("UPDATE sanatorium_stay SET ends_on = :d WHERE referral_id = :r"),
                {"d": date(2031, 6, 20), "r": refs[1].id},
            )
        await s.rollback()


async def test_the_queue_log_is_append_only(world, backend):
    doctor = world.doctor_principal()
    p = await world.make_patient()
    async with session_factory()() as s:
        await service.refer(
            s, doctor, p.id, ReferralIn(indication="I25.1", category="disability_1_2")
        )
        await s.commit()
    for sql in (
        "UPDATE sanatorium_queue_event SET reason = 'rewritten'",
        "DELETE FROM sanatorium_queue_event",
    ):
        async with session_factory()() as s:
            with pytest.raises(Exception, match="append-only"):
                await s.execute(text(sql))
            await s.rollback()


N = 50


async def test_fifty_bookings_of_the_last_place_make_one(world, backend, monkeypatch):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    doctor = world.doctor_principal()
    admin = world.admin_principal()
    people = [await world.make_patient() for _ in range(N)]
    async with session_factory()() as s:
        await service.set_beds(s, admin, BedsIn(profile="cardiology", beds=3))
        period = await service.publish_period(
            s, admin, PeriodIn(profile="cardiology", starts_on=TODAY + timedelta(days=20))
        )
        refs = [
            await service.refer(
                s, doctor, p.id, ReferralIn(indication="I21.9", category="aftercare")
            )
            for p in people
        ]
        extra = [await world.make_patient() for _ in range(2)]
        for p in extra:  # two of the three places are taken already
            r = await service.refer(
                s, doctor, p.id, ReferralIn(indication="I21.9", category="aftercare")
            )
            await service.book_direct(s, doctor, r.id, BookIn(period_id=period.id))
        await s.commit()

    # every booking has read its referral and is about to hold the period when all 50
    # are let go at once: the race happens on every run
    barrier = asyncio.Barrier(N)
    book = offers._book

    async def all_at_once(*args, **kw):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(barrier.wait(), timeout=60)
        return await book(*args, **kw)

    monkeypatch.setattr(offers, "_book", all_at_once)

    async def one(ref_id: int) -> str:
        async with session_factory()() as s:
            try:
                await service.book_direct(s, doctor, ref_id, BookIn(period_id=period.id))
                await s.commit()
                return "booked"
            except Conflict as e:
                await s.rollback()
                return "refused" if e.errors[0].field == "period_id" else "other conflict"

    results = await asyncio.gather(*(one(r.id) for r in refs))
    assert results.count("booked") == 1
    assert results.count("refused") == N - 1
    async with session_factory()() as s:
        held = await s.scalar(
            select(func.count()).where(
                SanatoriumStay.period_id == period.id,
                SanatoriumStay.status.in_(("booked", "arrived", "fulfilled")),
            )
        )
        overlaps = await s.scalar(
            text(
                "SELECT count(*) FROM sanatorium_stay a JOIN sanatorium_stay b "
                "ON a.bed_id = b.bed_id AND a.id < b.id "
                "AND a.status IN ('booked', 'arrived', 'fulfilled') "
                "AND b.status IN ('booked', 'arrived', 'fulfilled') "
                "AND a.starts_on < b.ends_on AND b.starts_on < a.ends_on"
            )
        )
    assert held == 3
    assert overlaps == 0
