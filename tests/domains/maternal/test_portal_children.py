"""A mother opens her baby's record in the citizen portal; nobody else's child."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import update

from tests.domains.maternal.test_birth import post_birth, twins
from tests.domains.maternal.test_pregnancy import clinic, open_pregnancy

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio

TODAY = date.today()


async def test_the_mother_opens_her_babys_record_and_another_citizen_cannot(
    client, clinic, db, make_person, make_user, login
):
    from salomat.domains.maternal import service
    from salomat.domains.maternal.models import BirthRecord

    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=39))
    r = await post_birth(client, clinic, preg, twins())
    assert r.status_code == 201, r.text
    baby = r.json()["babies"][0]["person_id"]
    mother = await login(await make_user("citizen", person_id=clinic.woman.id))
    stranger = await login(await make_user("citizen", person_id=(await make_person()).id))

    seen = await client.get(f"/api/v1/persons/{baby}", headers=mother)
    assert seen.status_code == 200, seen.text
    assert seen.json()["birth_date"] == r.json()["born_on"]
    assert (await client.get(f"/api/v1/persons/{baby}", headers=stranger)).status_code == 404
    # her own record still opens; the baby cannot open hers through the link
    assert (
        await client.get(f"/api/v1/persons/{clinic.woman.id}", headers=mother)
    ).status_code == 200

    from salomat.core.security import Principal

    as_mother = Principal(
        user_id=0, username="m", role="citizen", session_id="s", person_id=clinic.woman.id
    )
    assert await service.children_of(db, as_mother) == [baby]

    # at 18 the child's record is the child's own
    await db.execute(
        update(BirthRecord)
        .where(BirthRecord.pregnancy_id == preg["id"])
        .values(born_on=TODAY - timedelta(days=18 * 366))
    )
    await db.commit()
    assert (await client.get(f"/api/v1/persons/{baby}", headers=mother)).status_code == 404
    assert await service.children_of(db, as_mother) == []


async def test_an_ended_mother_relation_revokes_the_birth_record_link(
    client, clinic, db, make_user, login
):
    """Parental rights withdrawn or the child adopted: the birth record no longer opens it."""
    from salomat.core.security import Principal
    from salomat.domains.maternal import service

    preg = await open_pregnancy(client, clinic, lmp=TODAY - timedelta(weeks=39))
    r = await post_birth(client, clinic, preg, twins())
    assert r.status_code == 201, r.text
    baby = r.json()["babies"][0]["person_id"]
    mother = await login(await make_user("citizen", person_id=clinic.woman.id))
    registrar = await login(await make_user("registrar"))
    as_mother = Principal(
        user_id=0, username="m", role="citizen", session_id="s", person_id=clinic.woman.id
    )
    assert (await client.get(f"/api/v1/persons/{baby}", headers=mother)).status_code == 200

    rel = await client.post(
        f"/api/v1/persons/{baby}/relations",
        json={"related_person_id": clinic.woman.id, "kind": "mother", "document": "birth cert"},
        headers=registrar,
    )
    assert rel.status_code == 201, rel.text
    # an open relation changes nothing
    assert (await client.get(f"/api/v1/persons/{baby}", headers=mother)).status_code == 200
    ended = await client.post(
        f"/api/v1/relations/{rel.json()['id']}/end",
        json={"document": "court 3-77/2026: parental rights withdrawn"},
        headers=registrar,
    )
    assert ended.status_code == 200, ended.text

    assert (await client.get(f"/api/v1/persons/{baby}", headers=mother)).status_code == 404
    assert await service.children_of(db, as_mother) == []
