"""Maternity leave from the pregnancy register, by the pack's week and days.

Expectations from the sources (../shared/domain/sick-leave.md): from 30 weeks,
126 days at once; 140 after a complicated birth or two or more babies (the
extension added from the birth record); UZ: a birth before 30 weeks gives 126
days if the baby is born alive, 70 if stillborn.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from salomat.domains.sickleave import service
from tests.domains.sickleave.conftest import fields

pytestmark = pytest.mark.anyio

TODAY = date.today()


@pytest.fixture
async def woman(client, clinic, make_person, make_user, login) -> dict[str, Any]:
    """A woman attached to the clinic; her doctor; a helper to register a pregnancy."""
    w = await make_person(facility_code=clinic.facility.code, birth_date=date(1995, 2, 3))
    return {"person": w}


async def register(client, clinic, woman, ga_days_today: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    lmp = TODAY - timedelta(days=ga_days_today)
    r = await client.post(
        f"/api/v1/persons/{woman['person'].id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 1, "parity": 0},
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def maternity(client, clinic, woman, **body):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/persons/{woman['person'].id}/sick-leave/maternity",
        json=body,
        headers=clinic.doctor,
    )


async def birth(
    client,
    clinic,
    preg,
    *,
    mode: str,
    babies: int,
    ga_days: int | None = None,
    born_on: date | None = None,
):  # type: ignore[no-untyped-def]
    etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=clinic.doctor)).headers[
        "etag"
    ]
    body: dict[str, Any] = {
        "born_on": (born_on or TODAY).isoformat(),
        "mode": mode,
        "babies": [
            {
                "outcome": "live",
                "sex": "female",
                "given_name": ["Malika", "Madina", "Zarina"][i],
                "birth_weight_g": 2900,
            }
            for i in range(babies)
        ],
    }
    if ga_days is not None:
        body["ga_days"] = ga_days
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/birth",
        json=body,
        headers={**clinic.doctor, "If-Match": etag},
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("offset", [-1, 0, 1])
async def test_from_the_packs_week_one_day_below_at_and_above(client, clinic, woman, offset):
    week = service.sick_leave_rules().maternity.start_week
    await register(client, clinic, woman, week * 7 + offset)
    r = await maternity(client, clinic, woman)
    if offset < 0:
        assert r.status_code == 422, r.text
        assert "starts_on" in fields(r)
    else:
        assert r.status_code == 201, r.text


async def test_126_days_then_a_complicated_birth_makes_140(client, clinic, woman):
    rules = service.sick_leave_rules().maternity
    preg = await register(client, clinic, woman, 30 * 7)
    r = await maternity(client, clinic, woman)
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["kind"], c["reason"], c["diagnosis"], c["days"]) == (
        "maternity",
        "maternity",
        None,
        126,
    )
    assert c["ends_on"] == (TODAY + timedelta(days=125)).isoformat()
    assert c["pregnancy_id"] == preg["id"]
    # a second maternity leave for the same pregnancy is refused
    assert (await maternity(client, clinic, woman)).status_code == 409
    await birth(client, clinic, preg, mode="caesarean_emergency", babies=1)
    c = (await client.get(f"/api/v1/sick-leave/{c['id']}", headers=clinic.doctor)).json()
    assert c["days"] == 126 + rules.extension_days == 140
    assert [p["granted_as"] for p in c["periods"]] == ["doctor", "birth_record"]
    assert c["periods"][1]["starts_on"] == (TODAY + timedelta(days=126)).isoformat()


async def test_twins_extend_a_normal_birth_does_not(client, clinic, woman, make_person):
    preg = await register(client, clinic, woman, 31 * 7)
    c = (await maternity(client, clinic, woman)).json()
    await birth(client, clinic, preg, mode="spontaneous_vaginal", babies=2)
    assert (await client.get(f"/api/v1/sick-leave/{c['id']}", headers=clinic.doctor)).json()[
        "days"
    ] == 140

    other = {"person": await make_person(facility_code=clinic.facility.code)}
    preg = await register(client, clinic, other, 31 * 7)
    c = (await maternity(client, clinic, other)).json()
    await birth(client, clinic, preg, mode="spontaneous_vaginal", babies=1)
    assert (await client.get(f"/api/v1/sick-leave/{c['id']}", headers=clinic.doctor)).json()[
        "days"
    ] == 126


async def test_an_early_live_birth_gives_the_packs_early_days(client, clinic, woman):
    rules = service.sick_leave_rules().maternity
    preg = await register(client, clinic, woman, 28 * 7)
    await birth(client, clinic, preg, mode="spontaneous_vaginal", babies=1, ga_days=28 * 7)
    r = await maternity(client, clinic, woman, pregnancy_id=preg["id"])
    assert r.status_code == 201, r.text
    assert r.json()["days"] == rules.before_start_week_live
    assert r.json()["starts_on"] == TODAY.isoformat()


async def test_no_pregnancy_and_a_nurse_are_refused(client, clinic, woman, make_user, login):
    r = await maternity(client, clinic, woman)
    assert r.status_code == 422
    assert "pregnancy_id" in fields(r)
    nurse = await login(await make_user("nurse", facility_code=clinic.facility.code))
    await register(client, clinic, woman, 32 * 7)
    r = await client.post(
        f"/api/v1/persons/{woman['person'].id}/sick-leave/maternity", json={}, headers=nurse
    )
    assert r.status_code == 403
