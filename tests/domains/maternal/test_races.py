"""One current pregnancy per woman is a database constraint (DESIGN rule 9).

The requests run concurrently through the app on the suite's backend; on
PostgreSQL they truly interleave, each in its own transaction.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.domains.maternal.models import AntenatalContact, Pregnancy

pytestmark = pytest.mark.anyio


def _registration(weeks: int) -> dict[str, object]:
    return {"lmp": (date.today() - timedelta(weeks=weeks)).isoformat(), "gravida": 1, "parity": 0}


async def test_two_doctors_registering_her_at_once_make_one_pregnancy(
    app, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    doctors = [
        await login(await make_user(role, facility_code=fac.code))
        for role in ("family_doctor", "obstetrician")
    ]
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        answers = await asyncio.gather(
            *[
                c.post(
                    f"/api/v1/persons/{woman.id}/pregnancies",
                    json=_registration(8 + i),
                    headers=auth,
                )
                for i, auth in enumerate(doctors)
            ]
        )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    async with session_factory()() as s:
        current = await s.scalar(
            select(func.count()).where(
                Pregnancy.person_id == woman.id, Pregnancy.status == "current"
            )
        )
    assert current == 1


async def test_two_contacts_sent_with_the_same_version_record_one(
    app, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    auth = await login(await make_user("family_doctor", facility_code=fac.code))
    transport = httpx.ASGITransport(app=app, client=("10.9.8.6", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        opened = await c.post(
            f"/api/v1/persons/{woman.id}/pregnancies", json=_registration(12), headers=auth
        )
        assert opened.status_code == 201, opened.text
        pid, etag = opened.json()["id"], opened.headers["etag"]
        answers = await asyncio.gather(
            *[
                c.post(
                    f"/api/v1/pregnancies/{pid}/contacts",
                    json={"systolic_1": 110 + i, "diastolic_1": 70},
                    headers={**auth, "If-Match": etag},
                )
                for i in range(3)
            ]
        )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1, [a.text for a in answers]
    assert set(codes) <= {201, 409, 412}
    async with session_factory()() as s:
        n = await s.scalar(select(func.count()).where(AntenatalContact.pregnancy_id == pid))
    assert n == 1


async def test_two_evaluations_at_once_store_each_standing_diagnosis_once(
    app, make_facility, make_person, make_user, login
):
    """A clinician's evaluation holds the pregnancy while the nightly job evaluates it too:
    the job waits for it (PostgreSQL's row lock; on SQLite the file lock, or the unique
    index if it read before the clinician committed), never stores a diagnosis twice, and
    ends on a stale version (its batch is retried), not an error. Whichever of the job's
    reads comes before the clinician's commit, each of those paths ends the same way."""
    from salomat.core.errors import PreconditionFailed
    from salomat.domains.maternal.models import Diagnosis
    from salomat.domains.maternal.service import evaluate

    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    auth = await login(await make_user("family_doctor", facility_code=fac.code))
    transport = httpx.ASGITransport(app=app, client=("10.9.8.5", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        opened = await c.post(
            f"/api/v1/persons/{woman.id}/pregnancies", json=_registration(30), headers=auth
        )
        pid, etag = opened.json()["id"], opened.headers["etag"]
        r = await c.post(
            f"/api/v1/pregnancies/{pid}/contacts",
            json={"haemoglobin_g_l": 65, "fasting_glucose_mmol_l": 7.5},
            headers={**auth, "If-Match": etag},
        )
        assert r.status_code == 201, r.text
    factory = session_factory()
    async with factory() as s:  # as if the rows predated standing diagnoses
        await s.execute(Diagnosis.__table__.delete().where(Diagnosis.pregnancy_id == pid))
        await s.commit()

    job_read = asyncio.Event()
    first_done = asyncio.Event()

    async def clinician() -> None:
        await job_read.wait()  # the job has read the pregnancy as it was
        async with factory() as s:
            await evaluate(s, await s.get(Pregnancy, pid))
            first_done.set()  # holds the pregnancy until it commits
            await asyncio.sleep(0)
            await s.commit()

    async def job() -> str:
        async with factory() as s:
            p = await s.get(Pregnancy, pid)
            job_read.set()
            await first_done.wait()
            try:
                await evaluate(s, p)
                await s.commit()
            except PreconditionFailed:
                await s.rollback()
                return "stale"
            return "stored"

    _, outcome = await asyncio.gather(clinician(), job())
    assert outcome == "stale"
    async with factory() as s:
        rows = (
            await s.execute(
                select(Diagnosis.family, func.count())
                .where(Diagnosis.pregnancy_id == pid, Diagnosis.status == "active")
                .group_by(Diagnosis.family)
            )
        ).all()
    assert dict(rows) == {"anaemia": 1, "diabetes_in_pregnancy": 1}
