"""Zones by day and alerts (issue 23, Done-when): a region whose intensive-care beds are
projected to be exceeded within 14 days raises an alert its own epidemiologist sees and
another region's does not; projected on day 14 alerts, on day 15 does not (the beds set
from the forecast's formulas computed here by hand); a zone change is recorded once
however often the day is recorded; two recordings of one day at once keep one row per
region (PostgreSQL, a barrier)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from salomat.domains.epidemic.models_situation import Alert, ZoneDay
from salomat.domains.epidemic.service import alerts
from salomat.domains.epidemic.service.notifications import today
from tests.domains.epidemic.situation_support import (
    icu_beds,
    icu_by_hand,
    region_with_cases,
    simple_pack,
)

pytestmark = pytest.mark.anyio

API = "/api/v1/epidemic"
C = 20  # cases a day


async def scoped_epidemiologist(db, make_user, login, region: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """An epidemiologist of ``region``'s service (``salomat epidemic reader-region``)."""
    user = await make_user("epidemiologist")
    await alerts.set_reader_region(db, user.id, region)
    await db.commit()
    return await login(user)


async def test_icu_within_14_days_alerts_own_region_only_day_15_does_not(
    db, make_place, make_person, make_user, login, client
) -> None:  # type: ignore[no-untyped-def]
    day = today() - timedelta(days=1)
    person = await make_person()
    occ = icu_by_hand(C)  # forecast days 1..14 at index 0..13
    on_14 = math.ceil(occ[12])  # day 13 at or below the beds, day 14 above
    on_15 = math.ceil(occ[13])  # day 14 at or below: passed on day 15 at the earliest
    assert occ[12] <= on_14 < occ[13]
    assert on_15 >= occ[13]
    a = await region_with_cases(db, make_place, person.id, day, C)
    b = await region_with_cases(db, make_place, person.id, day, C)
    await icu_beds(db, a, on_14, day)
    await icu_beds(db, b, on_15, day)
    done = await alerts.record_day(db, day, ep=simple_pack())
    await db.commit()
    assert done["alerts"] >= 1

    epi_a = await scoped_epidemiologist(db, make_user, login, a.code)
    epi_b = await scoped_epidemiologist(db, make_user, login, b.code)
    r = await client.get(f"{API}/alerts", headers=epi_a)
    assert r.status_code == 200, r.text
    got = [x for x in r.json() if x["kind"] == "icu_beds"]
    assert [(x["region"], x["exceeds_on"], x["beds"]) for x in got] == [
        (a.code, (day + timedelta(days=14)).isoformat(), on_14)
    ]
    assert "14" in got[0]["message"]
    r = await client.get(f"{API}/alerts", headers=epi_b)
    assert r.status_code == 200, r.text
    assert {x["region"] for x in r.json()} <= {b.code}
    assert not [x for x in r.json() if x["kind"] == "icu_beds"]  # day 15: no alert

    national = await login(await make_user("epidemiologist"))
    r = await client.get(f"{API}/alerts", headers=national)
    mine = {(x["region"], x["kind"]) for x in r.json()}
    assert (a.code, "icu_beds") in mine
    assert (b.code, "icu_beds") not in mine


async def test_zone_change_recorded_once(
    db, make_place, make_person, make_user, login, client
) -> None:  # type: ignore[no-untyped-def]
    day = today() - timedelta(days=2)
    person = await make_person()
    c = await region_with_cases(db, make_place, person.id, day, C)
    db.add(ZoneDay(country="UZ", region_id=c.id, day=day - timedelta(days=1), edition="t-rt",
                   zone="green", rule=1, missing=""))  # fmt: skip
    await db.commit()
    for _ in range(2):
        await alerts.record_day(db, day, ep=simple_pack())
        await db.commit()
    zones = (
        await db.execute(select(ZoneDay.zone, ZoneDay.rule).where(
            ZoneDay.region_id == c.id, ZoneDay.day == day))
    ).all()  # fmt: skip
    assert zones == [("red", 0)]  # Rt's posterior mean (1+7c)/(0.2+7c) > 1: the first rule
    changes = (
        await db.execute(select(Alert.zone_from, Alert.zone_to).where(
            Alert.region_id == c.id, Alert.kind == "zone_change"))
    ).all()  # fmt: skip
    assert changes == [("green", "red")]

    epi = await scoped_epidemiologist(db, make_user, login, c.code)
    r = await client.get(
        f"{API}/zones",
        params={
            "area": c.code,
            "from": (day - timedelta(days=1)).isoformat(),
            "to": day.isoformat(),
        },
        headers=epi,
    )
    assert r.status_code == 200, r.text
    assert [(z["day"], z["zone"]) for z in r.json()] == [
        ((day - timedelta(days=1)).isoformat(), "green"),
        (day.isoformat(), "red"),
    ]
    assert r.json()[1]["rt"] is not None
    # a recorded Rt's mean is (1 + the window's cases) / (b + Λ): beside the shown days it
    # gives a "<5" day back, so a reader without epidemic:cases gets the zones without it
    analyst = await login(await make_user("analyst"))
    r = await client.get(
        f"{API}/zones", params={"area": c.code, "from": day.isoformat()}, headers=analyst
    )
    assert r.status_code == 200, r.text
    assert [(z["zone"], z["rt"], z["incidence_per_100k"]) for z in r.json()] == [
        ("red", None, None)
    ]


async def test_same_zone_no_alert_and_no_beds_no_bed_alert(db, make_place, make_person) -> None:  # type: ignore[no-untyped-def]
    day = today() - timedelta(days=3)
    person = await make_person()
    c = await region_with_cases(db, make_place, person.id, day, C)
    db.add(ZoneDay(country="UZ", region_id=c.id, day=day - timedelta(days=5), edition="t-rt",
                   zone="red", rule=0, missing=""))  # fmt: skip
    await db.commit()
    await alerts.record_day(db, day, ep=simple_pack())
    await db.commit()
    n = await db.scalar(select(func.count()).select_from(Alert).where(Alert.region_id == c.id))
    assert n == 0


@pytest.mark.skipif(
    __import__("tests.conftest", fromlist=["BACKEND"]).BACKEND != "postgresql",
    reason="SQLite serialises writers on one file lock (the barrier would wait on it)",
)
async def test_two_recordings_of_one_day_at_once_keep_one_row(
    db, make_place, make_person, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Two recordings of one day, held together just before their writes (a barrier):
    both succeed and each region keeps one row for the day, one zone-change alert."""
    import asyncio

    from salomat.core.db import session_factory

    day = today() - timedelta(days=4)
    person = await make_person()
    c = await region_with_cases(db, make_place, person.id, day, C)
    db.add(ZoneDay(country="UZ", region_id=c.id, day=day - timedelta(days=1), edition="t-rt",
                   zone="green", rule=1, missing=""))  # fmt: skip
    await db.commit()
    barrier = asyncio.Barrier(2)
    previous = alerts._previous_zones

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        got = await previous(*args, **kwargs)
        await asyncio.wait_for(barrier.wait(), 60)
        return got

    monkeypatch.setattr(alerts, "_previous_zones", held)

    async def one() -> None:
        async with session_factory()() as s:
            await alerts.record_day(s, day, ep=simple_pack())
            await s.commit()

    async with asyncio.timeout(120):  # a safety net against a hang, not a timing bet
        await asyncio.gather(one(), one())
    rows = await db.scalar(
        select(func.count())
        .select_from(ZoneDay)
        .where(ZoneDay.region_id == c.id, ZoneDay.day == day)
    )
    assert rows == 1
    n = await db.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.region_id == c.id, Alert.kind == "zone_change")
    )
    assert n == 1
