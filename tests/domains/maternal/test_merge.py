"""A registry merge moves every maternal row of the person; an unmerge moves exactly those back."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import or_, select

from salomat.core.db import session_factory
from tests.domains.maternal.test_birth import twins
from tests.domains.maternal.test_referrals import act, net

__all__ = ["net"]

pytestmark = pytest.mark.anyio

TODAY = date.today()
WHY = "the same person registered twice"
#: table -> the columns that name a person
PERSON_COLUMNS = {
    "Pregnancy": ("person_id",),
    "AntenatalContact": ("person_id",),
    "AdviceItem": ("person_id",),
    "Referral": ("person_id",),
    "BirthRecord": ("person_id",),
    "Baby": ("mother_person_id", "person_id"),
    "PostnatalContact": ("person_id", "baby_person_id"),
}


async def snapshot(ids: list[int]) -> dict[str, list[tuple[Any, ...]]]:
    """Every maternal row naming one of ``ids``: its id and its person columns."""
    from salomat.domains.maternal import models

    out: dict[str, list[tuple[Any, ...]]] = {}
    async with session_factory()() as s:
        for name, cols in PERSON_COLUMNS.items():
            model = getattr(models, name)
            found = await s.scalars(
                select(model).where(or_(*(getattr(model, c).in_(ids) for c in cols)))
            )
            out[name] = sorted(tuple(getattr(r, c) for c in ("id", *cols)) for r in found.all())
    return out


async def history(client, n) -> dict[str, Any]:
    """A pregnancy with a contact and an accepted referral, then twins and a postnatal check."""
    lmp = TODAY - timedelta(weeks=38)
    r = await client.post(
        f"/api/v1/persons/{n.woman.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 1, "parity": 0},
        headers=n.doctor,
    )
    assert r.status_code == 201, r.text
    preg = r.json()
    url = f"/api/v1/pregnancies/{preg['id']}"
    etag = (await client.get(url, headers=n.doctor)).headers["etag"]
    r = await client.post(
        f"{url}/contacts",
        json={"on": (TODAY - timedelta(days=5)).isoformat(), "systolic_1": 118, "diastolic_1": 76},
        headers={**n.doctor, "If-Match": etag},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{url}/referrals",
        json={"kind": "perinatal", "reason": "breech", "to_facility_code": n.maternity.code},
        headers=n.doctor,
    )
    assert r.status_code == 201, r.text
    ref = r.json()
    assert (await act(client, n.maternity_obstetrician, ref, "accept")).status_code == 200
    etag = (await client.get(url, headers=n.doctor)).headers["etag"]
    r = await client.post(f"{url}/birth", json=twins(), headers={**n.doctor, "If-Match": etag})
    assert r.status_code == 201, r.text
    baby = r.json()["babies"][0]["person_id"]
    r = await client.post(
        f"{url}/postnatal-contacts",
        json={"systolic": 118, "diastolic": 76, "baby_person_id": baby, "baby_weight_g": 2400},
        headers=n.doctor,
    )
    assert r.status_code == 201, r.text
    return {"pregnancy": preg, "referral": ref, "baby": baby}


async def merge(client, registrar, survivor: int, merged: int) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/persons/{survivor}/merge",
        json={"merged_id": merged, "reason": WHY},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    return r.json()


async def undo(client, registrar, merge_id: int) -> None:
    r = await client.post(
        f"/api/v1/merges/{merge_id}/undo",
        json={"reason": "they are two different people"},
        headers=registrar,
    )
    assert r.status_code == 200, r.text


async def test_a_merge_of_the_mother_moves_every_maternal_row_and_an_unmerge_restores_it(
    client, net, make_person, make_user, login
):
    h = await history(client, net)
    woman = net.woman.id
    duplicate = (await make_person(facility_code=net.polyclinic.code)).id
    ids = [woman, duplicate, h["baby"]]
    before = await snapshot(ids)
    assert all(before.values()), before  # a row in every table

    registrar = await login(await make_user("registrar"))
    m = await merge(client, registrar, duplicate, woman)
    domains = m["moved"]["domains"]
    assert set(domains) >= {
        "pregnancy",
        "antenatal_contact",
        "antenatal_advice",
        "antenatal_referral",
        "birth_record",
        "birth_baby",
        "postnatal_contact",
    }
    # the baby's own record was not merged
    assert "birth_baby.person_id" not in domains
    assert "postnatal_contact.baby_person_id" not in domains

    after = await snapshot(ids)
    for name, cols in PERSON_COLUMNS.items():
        for row in after[name]:
            named = dict(zip(cols, row[1:], strict=True))
            # the mother's columns now name the survivor; the baby's still the baby
            assert woman not in named.values(), (name, row)
            for c, v in named.items():
                assert v in (duplicate, h["baby"], None), (name, c, v)
    assert [r[0] for r in after["Baby"]] == [r[0] for r in before["Baby"]]

    # read through the API: the referral and the birth follow her
    ref = await client.get(f"/api/v1/referrals/{h['referral']['id']}", headers=net.doctor)
    assert ref.json()["person_id"] == duplicate
    birth = await client.get(
        f"/api/v1/pregnancies/{h['pregnancy']['id']}/birth", headers=net.doctor
    )
    assert {b["mother_person_id"] for b in birth.json()["babies"]} == {duplicate}

    await undo(client, registrar, m["id"])
    assert await snapshot(ids) == before


async def test_an_unmerge_moves_back_only_what_the_merge_moved(
    client, net, make_person, make_user, login
):
    """Rows recorded for the survivor after the merge stay with the survivor."""
    woman = net.woman.id
    dup = await make_person(facility_code=net.polyclinic.code)
    duplicate = dup.id
    registrar = await login(await make_user("registrar"))
    m = await merge(client, registrar, duplicate, woman)
    assert not m["moved"]["domains"]
    h = await history(client, replace(net, woman=dup))
    before = await snapshot([woman, duplicate, h["baby"]])
    await undo(client, registrar, m["id"])
    assert await snapshot([woman, duplicate, h["baby"]]) == before


async def test_merging_a_babys_duplicate_repoints_the_baby(
    client, net, make_person, make_user, login
):
    h = await history(client, net)
    baby = h["baby"]
    duplicate = (await make_person(facility_code=net.polyclinic.code, sex="male")).id
    ids = [net.woman.id, baby, duplicate]
    before = await snapshot(ids)

    registrar = await login(await make_user("registrar"))
    m = await merge(client, registrar, duplicate, baby)
    domains = m["moved"]["domains"]
    assert set(domains) == {"birth_baby.person_id", "postnatal_contact.baby_person_id"}
    after = await snapshot(ids)
    live = [r for r in after["Baby"] if r[2] is not None]
    assert [(r[1], r[2]) for r in live] == [(net.woman.id, duplicate)]
    assert [(r[1], r[2]) for r in after["PostnatalContact"]] == [(net.woman.id, duplicate)]
    # the mother's rows did not move
    assert after["Pregnancy"] == before["Pregnancy"]
    assert after["BirthRecord"] == before["BirthRecord"]

    await undo(client, registrar, m["id"])
    assert await snapshot(ids) == before
