"""Two doctors extending one certificate at once: one period n+1, never two (PostgreSQL).

A barrier holds both requests after they have read the certificate and before
either writes, so the race happens every run; the unique (certificate, seq)
index and the certificate's version decide it: one succeeds, the other is told
409 or 412.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from salomat.core.db import session_factory
from salomat.core.errors import Conflict, PreconditionFailed
from salomat.core.security import Principal
from salomat.domains.sickleave import service
from salomat.domains.sickleave.schemas import ExtendIn, OpenIn
from salomat.domains.sickleave.service import changes

pytestmark = pytest.mark.anyio

TODAY = date.today()


async def test_two_doctors_extending_at_once_store_one_period(
    backend, clinic, make_user, monkeypatch
):
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    second = await make_user("family_doctor", facility_code=clinic.facility.code)
    doctors = [
        Principal(
            user_id=a.id,
            username=a.username,
            role="family_doctor",
            session_id="t",
            facility_id=clinic.facility.id,
        )
        for a in (clinic.doctor_account, second)
    ]
    async with session_factory()() as s:
        c = await service.open_certificate(
            s, doctors[0], clinic.worker.id, OpenIn(reason="own_illness", diagnosis="J11.1", days=2)
        )
        await s.commit()

    barrier = asyncio.Barrier(2)
    read = changes.scoped

    async def both_have_read(*args, **kw):  # type: ignore[no-untyped-def]
        # both requests hold the certificate as read (version 1) before either writes;
        # then the person's row lock lets one write at a time
        found = await read(*args, **kw)
        await asyncio.wait_for(barrier.wait(), timeout=30)
        return found

    monkeypatch.setattr(changes, "scoped", both_have_read)

    async def extend(doctor: Principal, days: int) -> object:
        async with session_factory()() as s:
            try:
                out = await service.extend_certificate(
                    s, doctor, c.id, ExtendIn(days=days), expected_version=None
                )
                await s.commit()
                return out
            except (Conflict, PreconditionFailed) as e:
                await s.rollback()
                return e

    answers = await asyncio.gather(extend(doctors[0], 1), extend(doctors[1], 2))
    won = [a for a in answers if not isinstance(a, Exception)]
    lost = [a for a in answers if isinstance(a, Exception)]
    assert len(won) == 1, answers
    assert len(lost) == 1, answers
    assert isinstance(lost[0], (Conflict, PreconditionFailed))

    from salomat.domains.sickleave.models import SickLeavePeriod

    async with session_factory()() as s:
        periods = (
            await s.execute(
                select(SickLeavePeriod.seq, SickLeavePeriod.starts_on)
                .where(SickLeavePeriod.certificate_id == c.id)
                .order_by(SickLeavePeriod.seq)
            )
        ).all()
    assert [p.seq for p in periods] == [1, 2]
    assert periods[1].starts_on == TODAY + timedelta(days=2)


async def test_two_doctors_opening_overlapping_certificates_at_once_store_one(
    backend, clinic, make_user, monkeypatch
):
    """Both have passed the scope check before either checks for overlaps; the person's
    row, held from the alive check to the commit, lets one open and refuses the other
    (409 naming the first certificate's number)."""
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    from salomat.domains.sickleave.models import SickLeaveCertificate
    from salomat.domains.sickleave.service import issuing

    second = await make_user("family_doctor", facility_code=clinic.facility.code)
    doctors = [
        Principal(
            user_id=a.id,
            username=a.username,
            role="family_doctor",
            session_id="t",
            facility_id=clinic.facility.id,
        )
        for a in (clinic.doctor_account, second)
    ]
    barrier = asyncio.Barrier(2)
    checked = issuing.open_person

    async def both_in_scope(*args, **kw):  # type: ignore[no-untyped-def]
        await checked(*args, **kw)
        await asyncio.wait_for(barrier.wait(), timeout=30)

    monkeypatch.setattr(issuing, "open_person", both_in_scope)

    async def open_one(doctor: Principal, days: int) -> object:
        async with session_factory()() as s:
            try:
                out = await service.open_certificate(
                    s,
                    doctor,
                    clinic.worker.id,
                    OpenIn(reason="own_illness", diagnosis="J11.1", days=days),
                )
                await s.commit()
                return out
            except Conflict as e:
                await s.rollback()
                return e

    answers = await asyncio.gather(open_one(doctors[0], 3), open_one(doctors[1], 2))
    won = [a for a in answers if not isinstance(a, Exception)]
    lost = [a for a in answers if isinstance(a, Exception)]
    assert len(won) == 1, answers
    assert len(lost) == 1, answers
    assert lost[0].errors[0].field == "starts_on"
    async with session_factory()() as s:
        stored = (
            await s.execute(
                select(SickLeaveCertificate.id).where(
                    SickLeaveCertificate.person_id == clinic.worker.id
                )
            )
        ).all()
    assert len(stored) == 1
