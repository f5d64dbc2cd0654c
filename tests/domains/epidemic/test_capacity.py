"""Hospital capacity: beds registered by facility and profile from a day on, the daily
occupancy refused above the registered beds (occupied == beds accepted, beds + 1 refused,
naming ``occupied`` and the number), negative counts, a future day, an unknown profile;
a day reported again replaces it; a region's sum; who may report and read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salomat.domains.epidemic.service.notifications import today

pytestmark = pytest.mark.anyio

API = "/api/v1/epidemic"


def fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    return {e["field"] for e in r.json().get("errors", [])}


@pytest.fixture
async def hospital(client, make_user, login):  # type: ignore[no-untyped-def]
    nurse = await make_user("nurse")
    auth = await login(nurse)
    day = today() - timedelta(days=1)
    r = await client.post(
        f"{API}/beds",
        json={
            "facility": nurse.facility_code,
            "profile": "infectious",
            "beds": 40,
            "valid_from": (day - timedelta(days=30)).isoformat(),
        },
        headers=auth,
    )
    assert r.status_code == 201, r.text
    return nurse, auth, day


def _occ(facility: str, day, occupied: int, profile: str = "infectious", **kw):  # type: ignore[no-untyped-def]
    return {
        "facility": facility,
        "day": day.isoformat(),
        "profile": profile,
        "occupied": occupied,
        "admitted": kw.get("admitted", 3),
        "discharged": kw.get("discharged", 2),
    }


async def test_occupied_at_beds_ok_one_above_refused(client, hospital) -> None:  # type: ignore[no-untyped-def]
    nurse, auth, day = hospital
    r = await client.post(f"{API}/occupancy", json=_occ(nurse.facility_code, day, 40), headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["beds"] == 40
    r = await client.post(f"{API}/occupancy", json=_occ(nurse.facility_code, day, 41), headers=auth)
    assert r.status_code == 422
    assert fields(r) == {"occupied"}
    assert "40" in r.json()["errors"][0]["message"]


async def test_negative_future_and_unknown_profile(client, hospital) -> None:  # type: ignore[no-untyped-def]
    nurse, auth, day = hospital
    r = await client.post(
        f"{API}/occupancy", json=_occ(nurse.facility_code, day, -1, admitted=-1), headers=auth
    )
    assert r.status_code == 422
    assert fields(r) == {"occupied", "admitted"}
    t = today()
    r = await client.post(f"{API}/occupancy", json=_occ(nurse.facility_code, t, 1), headers=auth)
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/occupancy", json=_occ(nurse.facility_code, t + timedelta(days=1), 1), headers=auth
    )
    assert r.status_code == 422
    assert fields(r) == {"day"}
    r = await client.post(
        f"{API}/occupancy",
        json=_occ(nurse.facility_code, day, 1, profile="maternity"),
        headers=auth,
    )
    assert r.status_code == 422
    assert fields(r) == {"profile"}
    # icu is a known profile but none are registered here
    r = await client.post(
        f"{API}/occupancy", json=_occ(nurse.facility_code, day, 1, profile="icu"), headers=auth
    )
    assert r.status_code == 422
    assert fields(r) == {"profile"}
    r = await client.post(
        f"{API}/beds",
        json={
            "facility": nurse.facility_code,
            "profile": "icu",
            "beds": -1,
            "valid_from": day.isoformat(),
        },
        headers=auth,
    )
    assert r.status_code == 422
    assert fields(r) == {"beds"}


async def test_beds_valid_from_decides(client, hospital) -> None:  # type: ignore[no-untyped-def]
    nurse, auth, day = hospital
    r = await client.post(
        f"{API}/beds",
        json={
            "facility": nurse.facility_code,
            "profile": "infectious",
            "beds": 60,
            "valid_from": day.isoformat(),
        },
        headers=auth,
    )
    assert r.status_code == 201
    assert (
        await client.post(f"{API}/occupancy", json=_occ(nurse.facility_code, day, 60), headers=auth)
    ).status_code == 201
    before = day - timedelta(days=1)
    r = await client.post(
        f"{API}/occupancy", json=_occ(nurse.facility_code, before, 41), headers=auth
    )
    assert r.status_code == 422
    assert fields(r) == {"occupied"}


async def test_day_reported_again_replaces_and_reads(client, hospital, make_user, login) -> None:  # type: ignore[no-untyped-def]
    nurse, auth, day = hospital
    await client.post(f"{API}/occupancy", json=_occ(nurse.facility_code, day, 10), headers=auth)
    await client.post(f"{API}/occupancy", json=_occ(nurse.facility_code, day, 12), headers=auth)
    q = {"facility": nurse.facility_code, "day": day.isoformat()}
    r = await client.get(f"{API}/occupancy", params=q, headers=auth)
    assert r.status_code == 200, r.text
    [line] = r.json()["profiles"]
    assert (line["profile"], line["beds"], line["occupied"]) == ("infectious", 40, 12)
    epi = await login(await make_user("epidemiologist"))
    r = await client.get(f"{API}/occupancy", params={"day": day.isoformat()}, headers=epi)
    assert r.status_code == 200
    by = {p["profile"]: p for p in r.json()["profiles"]}
    assert by["infectious"]["occupied"] >= 12
    assert by["infectious"]["beds"] >= 40


async def test_capacity_permissions(client, hospital, make_user, login) -> None:  # type: ignore[no-untyped-def]
    nurse, auth, day = hospital
    # another facility's nurse may neither report nor read this one
    other = await login(await make_user("nurse"))
    r = await client.post(f"{API}/occupancy", json=_occ(nurse.facility_code, day, 1), headers=other)
    assert r.status_code == 422
    assert fields(r) == {"facility"}
    q = {"facility": nurse.facility_code, "day": day.isoformat()}
    assert (await client.get(f"{API}/occupancy", params=q, headers=other)).status_code == 403
    assert (
        await client.get(f"{API}/occupancy", params={"day": day.isoformat()}, headers=auth)
    ).status_code == 403
    for role in ("registrar", "pharmacist", "planner", "analyst", "epidemiologist"):
        a = await login(await make_user(role))
        r = await client.post(f"{API}/occupancy", json=_occ(nurse.facility_code, day, 1), headers=a)
        assert r.status_code == 403, role


@pytest.mark.skipif(
    __import__("tests.conftest", fromlist=["BACKEND"]).BACKEND != "postgresql",
    reason="SQLite serialises writers on one file lock (the barrier would wait on it)",
)
async def test_two_reports_of_one_day_at_once_keep_one_row(make_facility, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two first reports of one facility's day and profile, held together just before the
    write (a barrier): both succeed, one row stays, with one of the two figures."""
    import asyncio

    from sqlalchemy import func, select

    from salomat.core.db import session_factory
    from salomat.core.security import Principal
    from salomat.domains.epidemic.models import OccupancyReport
    from salomat.domains.epidemic.schemas import BedsIn, OccupancyIn
    from salomat.domains.epidemic.service import capacity

    fac = await make_facility()
    who = Principal(user_id=1, username="n", role="nurse", session_id="t", facility_id=fac.id)
    day = today() - timedelta(days=1)
    async with session_factory()() as s:
        await capacity.register_beds(
            s, who, BedsIn(facility=fac.code, profile="icu", beds=10, valid_from=day)
        )
        await s.commit()
    barrier = asyncio.Barrier(2)
    upsert = capacity._upsert_occupancy

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(barrier.wait(), 60)
        return await upsert(*args, **kwargs)

    monkeypatch.setattr(capacity, "_upsert_occupancy", held)

    async def one(occupied: int) -> int:
        async with session_factory()() as s:
            data = OccupancyIn(
                facility=fac.code, day=day, profile="icu", occupied=occupied, admitted=0,
                discharged=0,
            )  # fmt: skip
            out = await capacity.report_occupancy(s, who, data)
            await s.commit()
            return out.occupied

    async with asyncio.timeout(60):  # a safety net against a hang, not a timing bet
        got = await asyncio.gather(one(3), one(7))
    assert sorted(got) == [3, 7]
    async with session_factory()() as s:
        rows = (
            await s.execute(
                select(func.count(), func.max(OccupancyReport.occupied)).where(
                    OccupancyReport.facility_id == fac.id, OccupancyReport.day == day
                )
            )
        ).one()
    assert rows[0] == 1
    assert rows[1] in (3, 7)


@pytest.mark.skipif(
    __import__("tests.conftest", fromlist=["BACKEND"]).BACKEND != "postgresql",
    reason="SQLite serialises writers on one file lock (the barrier would wait on it)",
)
async def test_two_first_bed_registrations_at_once_keep_one_row(make_facility, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two first registrations of one facility's profile and day, held together after the
    facility is checked and before anything is read or written (a barrier): both succeed
    (no 409), one row stays, with one of the two numbers."""
    import asyncio

    from sqlalchemy import func, select

    from salomat.core.db import session_factory
    from salomat.core.security import Principal
    from salomat.domains.epidemic.models import BedCapacity
    from salomat.domains.epidemic.schemas import BedsIn
    from salomat.domains.epidemic.service import capacity

    fac = await make_facility()
    who = Principal(user_id=1, username="n", role="nurse", session_id="t", facility_id=fac.id)
    day = today() - timedelta(days=1)
    barrier = asyncio.Barrier(2)
    check = capacity._facility

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        fid = await check(*args, **kwargs)
        await asyncio.wait_for(barrier.wait(), 60)
        return fid

    monkeypatch.setattr(capacity, "_facility", held)

    async def one(beds: int) -> int:
        async with session_factory()() as s:
            data = BedsIn(facility=fac.code, profile="icu", beds=beds, valid_from=day)
            out = await capacity.register_beds(s, who, data)
            await s.commit()
            return out.beds

    async with asyncio.timeout(60):  # a safety net against a hang, not a timing bet
        got = await asyncio.gather(one(10), one(12))
    assert sorted(got) == [10, 12]
    async with session_factory()() as s:
        rows = (
            await s.execute(
                select(func.count(), func.max(BedCapacity.beds)).where(
                    BedCapacity.facility_id == fac.id, BedCapacity.valid_from == day
                )
            )
        ).one()
    assert rows[0] == 1
    assert rows[1] in (10, 12)


async def test_read_capacity_decides_who_reads_what(db, make_facility) -> None:  # type: ignore[no-untyped-def]
    """One service decision for the REST and FHIR reads: a reporter (epidemic:capacity
    without epidemic:read) reads their own facility only; an epidemiologist or analyst reads
    any facility, a region and the country; a facility and a region at once are refused."""
    from salomat.core.errors import Forbidden, Invalid
    from salomat.core.security import Principal
    from salomat.domains.epidemic.service import capacity

    own, other = await make_facility(), await make_facility()
    day = today() - timedelta(days=1)
    nurse = Principal(user_id=1, username="n", role="nurse", session_id="t", facility_id=own.id)
    epi = Principal(user_id=2, username="e", role="epidemiologist", session_id="t")
    assert (await capacity.read_capacity(db, nurse, own.code, None, day)).area == own.code
    for facility in (other.code, None):
        with pytest.raises(Forbidden):
            await capacity.read_capacity(db, nurse, facility, None, day)
    assert (await capacity.read_capacity(db, epi, other.code, None, day)).area == other.code
    assert (await capacity.read_capacity(db, epi, None, None, day)).area == "country"
    with pytest.raises(Invalid):
        await capacity.read_capacity(db, epi, own.code, "R", day)
