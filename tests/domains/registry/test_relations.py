"""A child's mother, father or guardian in the registry, and what it opens in the portal."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.domains.child import service as child_service
from salomat.domains.registry.models import PersonRelation
from tests.factories import unique_name

pytestmark = pytest.mark.anyio
TODAY = date.today()
CERT = "birth certificate I-SM 0412345"


@pytest.fixture
async def registrar(make_user, login):
    return await login(await make_user("registrar"))


def years_ago(years: int, days: int = 0) -> date:
    """The date ``years`` ago today (1 March for 29 February), minus ``days``."""
    try:
        day = TODAY.replace(year=TODAY.year - years)
    except ValueError:
        day = date(TODAY.year - years, 3, 1)
    return day - timedelta(days=days)


async def relate(client, headers, child_id: int, parent_id: int, kind: str = "father", **kw):
    body = {"related_person_id": parent_id, "kind": kind, "document": CERT, **kw}
    return await client.post(f"/api/v1/persons/{child_id}/relations", json=body, headers=headers)


def fields(r) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json()["errors"]}


async def stored(child_id: int) -> list[tuple[int, str, date | None]]:
    async with session_factory()() as s:
        rows = await s.scalars(select(PersonRelation).where(PersonRelation.person_id == child_id))
        return sorted((r.related_person_id, r.kind, r.ends_on) for r in rows.all())


async def test_the_registrar_links_a_father_and_both_sides_list_it(client, registrar, make_person):
    child = await make_person(birth_date=years_ago(3), sex="female")
    father = await make_person(birth_date=date(1990, 2, 3), sex="male")

    r = await relate(client, registrar, child.id, father.id)
    assert r.status_code == 201, r.text
    rel = r.json()
    assert (rel["person_id"], rel["related_person_id"], rel["kind"]) == (
        child.id,
        father.id,
        "father",
    )
    # a father's relation starts at the birth unless the document says otherwise
    assert rel["starts_on"] == child.birth_date.isoformat()
    assert rel["ends_on"] is None
    assert rel["document"] == CERT
    assert rel["recorded_by"].startswith("registrar-")

    r = await client.get(f"/api/v1/persons/{child.id}/relations", headers=registrar)
    assert r.status_code == 200, r.text
    (seen,) = r.json()
    assert (seen["side"], seen["related_person_id"]) == ("child", father.id)
    assert seen["other_name"].startswith(father.family_name)
    r = await client.get(f"/api/v1/persons/{father.id}/relations", headers=registrar)
    (seen,) = r.json()
    assert (seen["side"], seen["person_id"]) == ("parent", child.id)


async def test_refusals_name_their_field_and_store_nothing(client, registrar, make_person):
    child = await make_person(birth_date=years_ago(5), sex="male")
    father = await make_person(birth_date=date(1985, 6, 1), sex="male")
    mother = await make_person(birth_date=date(1987, 1, 9), sex="female")
    boy = await make_person(birth_date=years_ago(16), sex="male")
    teenager = await make_person(birth_date=years_ago(15), sex="female")
    dead = await make_person(birth_date=date(1980, 1, 1), sex="male")
    r = await client.post(
        f"/api/v1/persons/{dead.id}/death",
        json={"deceased_on": "2024-01-05", "cause": "I21.9"},
        headers={**registrar, "If-Match": 'W/"1"'},
    )
    assert r.status_code == 200, r.text

    cases = [
        ({"parent_id": 999_999_999}, 422, "related_person_id", "no person"),
        ({"parent_id": child.id}, 422, "related_person_id", "child"),
        ({"parent_id": dead.id}, 422, "related_person_id", "died on"),
        # 11 years older: not a father
        ({"parent_id": boy.id}, 422, "related_person_id", "12 years"),
        ({"parent_id": mother.id, "kind": "father"}, 422, "kind", "male"),
        ({"parent_id": father.id, "kind": "mother"}, 422, "kind", "female"),
        ({"parent_id": teenager.id, "kind": "guardian"}, 422, "related_person_id", "adult"),
        (
            {"parent_id": father.id, "starts_on": (TODAY + timedelta(days=1)).isoformat()},
            422,
            "starts_on",
            "future",
        ),
        (
            {"parent_id": father.id, "starts_on": years_ago(6).isoformat()},
            422,
            "starts_on",
            "before the child's birth",
        ),
        ({"parent_id": father.id, "document": ""}, 422, "document", ""),
        ({"parent_id": father.id, "kind": "uncle"}, 422, "kind", ""),
    ]
    for case, status, field, words in cases:
        kw = {k: v for k, v in case.items() if k != "parent_id"}
        r = await relate(client, registrar, child.id, case["parent_id"], **kw)
        assert r.status_code == status, (case, r.text)
        assert words in fields(r)[field], (case, r.json())
    assert await stored(child.id) == []

    # a dead child takes no new relation
    r = await relate(client, registrar, dead.id, father.id)
    assert r.status_code == 422, r.text
    assert "died on" in fields(r)["person_id"]
    # an unknown child is a missing record
    r = await relate(client, registrar, 999_999_999, father.id)
    assert r.status_code == 404

    assert (await relate(client, registrar, child.id, father.id)).status_code == 201
    # the same father twice, and a second open father
    r = await relate(client, registrar, child.id, father.id)
    assert r.status_code == 409
    assert "already" in fields(r)["related_person_id"]
    other = await make_person(birth_date=date(1979, 4, 4), sex="male")
    r = await relate(client, registrar, child.id, other.id)
    assert r.status_code == 409
    assert "already has a father" in fields(r)["kind"]
    # but a guardian beside the father is fine
    r = await relate(client, registrar, child.id, other.id, kind="guardian")
    assert r.status_code == 201, r.text
    assert await stored(child.id) == sorted(
        [(father.id, "father", None), (other.id, "guardian", None)]
    )


async def test_the_unique_indexes_hold_without_the_service(db, make_person):
    """The race the service check cannot see: two open fathers are refused by the database."""
    from sqlalchemy.exc import IntegrityError

    from salomat.core.db import utcnow

    child = await make_person(birth_date=years_ago(2), sex="female")
    one = await make_person(birth_date=date(1990, 1, 1), sex="male")
    two = await make_person(birth_date=date(1991, 1, 1), sex="male")

    def row(parent: int, kind: str = "father") -> PersonRelation:
        return PersonRelation(
            person_id=child.id,
            related_person_id=parent,
            kind=kind,
            starts_on=child.birth_date,
            document=CERT,
            recorded_by="t",
            recorded_at=utcnow(),
        )

    db.add(row(one.id))
    await db.commit()
    db.add(row(two.id))
    with pytest.raises(IntegrityError):
        await db.commit()
    await db.rollback()
    db.add(row(one.id, "guardian"))
    await db.commit()
    db.add(row(one.id, "guardian"))
    with pytest.raises(IntegrityError):
        await db.commit()
    await db.rollback()


async def test_ending_a_relation(client, registrar, make_person):
    child = await make_person(birth_date=years_ago(8), sex="male")
    guardian = await make_person(birth_date=date(1970, 1, 1), sex="female")
    r = await relate(
        client, registrar, child.id, guardian.id, kind="guardian", document="court 2-123/2025"
    )
    assert r.status_code == 201, r.text
    rel = r.json()
    assert rel["starts_on"] == TODAY.isoformat()

    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    r = await client.post(
        f"/api/v1/relations/{rel['id']}/end", json={"ends_on": tomorrow}, headers=registrar
    )
    assert r.status_code == 422
    assert "future" in fields(r)["ends_on"]
    r = await client.post(
        f"/api/v1/relations/{rel['id']}/end",
        json={"document": "court 2-999/2026: guardianship ended"},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    assert r.json()["ends_on"] == TODAY.isoformat()
    assert r.json()["end_document"] == "court 2-999/2026: guardianship ended"
    r = await client.post(f"/api/v1/relations/{rel['id']}/end", json={}, headers=registrar)
    assert r.status_code == 409
    r = await client.post("/api/v1/relations/999999999/end", json={}, headers=registrar)
    assert r.status_code == 404
    # ended, a new guardianship may start
    r = await relate(client, registrar, child.id, guardian.id, kind="guardian")
    assert r.status_code == 201, r.text


async def test_a_registrar_cannot_link_herself_as_parent_or_guardian(
    client, db, make_person, make_user, login
):
    from salomat.core.errors import Invalid
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import RelationIn

    child = await make_person(birth_date=years_ago(4), sex="male")
    herself = await make_person(birth_date=date(1985, 5, 5), sex="female")
    acct = await make_user("registrar")
    # staff accounts carry no person through the API today; the service refuses anyway
    me = Principal(
        user_id=acct.id,
        username=acct.username,
        role="registrar",
        session_id="s",
        person_id=herself.id,
    )
    for kind in ("mother", "guardian"):
        with pytest.raises(Invalid) as e:
            await service.add_relation(
                db, me, child.id, RelationIn(related_person_id=herself.id, kind=kind, document=CERT)
            )
        assert [f.field for f in e.value.errors] == ["related_person_id"]
    await db.rollback()
    assert await stored(child.id) == []
    # another registrar may
    other = await login(await make_user("registrar"))
    assert (await relate(client, other, child.id, herself.id, kind="mother")).status_code == 201


async def test_only_the_registrar_relates(client, make_user, login, make_person):
    child = await make_person(birth_date=years_ago(1), sex="male")
    father = await make_person(birth_date=date(1990, 1, 1), sex="male")
    doctor = await login(await make_user("family_doctor"))
    r = await relate(client, doctor, child.id, father.id)
    assert r.status_code == 403
    citizen = await login(await make_user("citizen", person_id=father.id))
    r = await relate(client, citizen, child.id, father.id)
    assert r.status_code == 403
    assert await stored(child.id) == []


async def citizen_sees(client, headers, person_id: int) -> dict[str, int]:
    """The status of the child's record, vaccination card page and passport page."""
    paths = {
        "record": f"/api/v1/persons/{person_id}",
        "card": f"/patients/{person_id}/immunizations",
        "passport": f"/children/{person_id}",
    }
    return {k: (await client.get(p, headers=headers)).status_code for k, p in paths.items()}


async def test_a_father_opens_his_childs_record_card_and_passport_and_a_stranger_does_not(
    client, registrar, make_person, make_user, login
):
    child = await make_person(birth_date=years_ago(2), sex="female")
    father = await make_person(birth_date=date(1990, 7, 7), sex="male")
    stranger = await make_person(birth_date=date(1991, 8, 8), sex="male")
    dad = await login(await make_user("citizen", person_id=father.id))
    other = await login(await make_user("citizen", person_id=stranger.id))
    # before the relation the father is a stranger too
    assert await citizen_sees(client, dad, child.id) == {
        "record": 404,
        "card": 404,
        "passport": 404,
    }

    assert (await relate(client, registrar, child.id, father.id)).status_code == 201
    assert await citizen_sees(client, dad, child.id) == {
        "record": 200,
        "card": 200,
        "passport": 200,
    }
    assert await citizen_sees(client, other, child.id) == {
        "record": 404,
        "card": 404,
        "passport": 404,
    }
    # the father's readings are audited on the child's record as a parent's
    async with session_factory()() as s:
        rows = (
            await s.scalars(
                select(AuditEvent).where(
                    AuditEvent.patient_id == child.id, AuditEvent.outcome == "success"
                )
            )
        ).all()
    assert "parent" in {e.purpose for e in rows if e.role == "citizen"}
    # the relation goes one way: the child's account would not open the father's record
    kid = await login(await make_user("citizen", person_id=child.id))
    assert (await client.get(f"/api/v1/persons/{father.id}", headers=kid)).status_code == 404


async def test_the_guardian_loses_access_when_the_guardianship_ends(
    client, registrar, make_person, make_user, login
):
    child = await make_person(birth_date=years_ago(10), sex="male")
    aunt = await make_person(birth_date=date(1975, 3, 3), sex="female")
    guardian = await login(await make_user("citizen", person_id=aunt.id))
    r = await relate(client, registrar, child.id, aunt.id, kind="guardian", document="court 1/2026")
    assert r.status_code == 201, r.text
    r2 = await client.get(f"/api/v1/persons/{child.id}", headers=guardian)
    assert r2.status_code == 200
    async with session_factory()() as s:
        purpose = await s.scalar(
            select(AuditEvent.purpose)
            .where(AuditEvent.patient_id == child.id, AuditEvent.role == "citizen")
            .order_by(AuditEvent.id.desc())
        )
    assert purpose == "guardian"

    r = await client.post(f"/api/v1/relations/{r.json()['id']}/end", json={}, headers=registrar)
    assert r.status_code == 200, r.text
    assert await citizen_sees(client, guardian, child.id) == {
        "record": 404,
        "card": 404,
        "passport": 404,
    }


async def test_at_18_the_child_is_no_longer_the_parents_to_open(
    client, registrar, make_person, make_user, login
):
    adult = await make_person(birth_date=years_ago(18), sex="male")
    almost = await make_person(birth_date=years_ago(18, days=-1), sex="female")
    father = await make_person(birth_date=date(1970, 5, 5), sex="male")
    dad = await login(await make_user("citizen", person_id=father.id))
    for c in (adult, almost):
        assert (await relate(client, registrar, c.id, father.id)).status_code == 201
    assert (await client.get(f"/api/v1/persons/{almost.id}", headers=dad)).status_code == 200
    assert (await client.get(f"/api/v1/persons/{adult.id}", headers=dad)).status_code == 404

    principal = Principal(
        user_id=0, username="t", role="citizen", session_id="t", person_id=father.id
    )
    async with session_factory()() as s:
        from salomat.domains.registry import service as registry

        assert await registry.children_of(s, principal) == [almost.id]


async def test_my_children_lists_registry_children_once_oldest_first(
    client, registrar, make_person
):
    father = await make_person(birth_date=date(1975, 5, 5), sex="male")
    young = await make_person(birth_date=years_ago(1), sex="female")
    old = await make_person(birth_date=years_ago(9), sex="male")
    assert (await relate(client, registrar, young.id, father.id)).status_code == 201
    assert (await relate(client, registrar, old.id, father.id)).status_code == 201
    # father and guardian of the same child: listed once
    r = await relate(client, registrar, old.id, father.id, kind="guardian")
    assert r.status_code == 201, r.text
    principal = Principal(
        user_id=0, username="t", role="citizen", session_id="t", person_id=father.id
    )
    async with session_factory()() as s:
        children = await child_service.my_children(s, principal)
    assert [c.id for c in children] == [old.id, young.id]


async def test_merge_moves_the_relation_and_unmerge_moves_it_back(
    client, registrar, make_person, make_user, login
):
    family, given = unique_name("Yo"), unique_name("Ay")
    born = years_ago(4)
    kept = await make_person(family_name=family, given_name=given, birth_date=born, sex="female")
    twin = await make_person(
        family_name=family,
        given_name=given,
        birth_date=born,
        sex="female",
        duplicate_reason="test: the same girl registered twice",
    )
    father = await make_person(birth_date=date(1988, 8, 8), sex="male")
    mother = await make_person(birth_date=date(1990, 9, 9), sex="female")
    other_mother = await make_person(birth_date=date(1989, 1, 1), sex="female")
    dad = await login(await make_user("citizen", person_id=father.id))
    assert (await relate(client, registrar, twin.id, father.id)).status_code == 201
    assert (await relate(client, registrar, twin.id, mother.id, kind="mother")).status_code == 201
    # the survivor has a mother already: the merged record's one cannot stay open beside her
    r = await relate(client, registrar, kept.id, other_mother.id, kind="mother")
    assert r.status_code == 201
    assert (await client.get(f"/api/v1/persons/{kept.id}", headers=dad)).status_code == 404

    r = await client.post(
        f"/api/v1/persons/{kept.id}/merge",
        json={"merged_id": twin.id, "reason": "the same girl registered twice"},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    merge = r.json()
    assert await stored(twin.id) == []
    assert await stored(kept.id) == sorted(
        [
            (father.id, "father", None),
            (mother.id, "mother", TODAY),
            (other_mother.id, "mother", None),
        ]
    )
    assert (await client.get(f"/api/v1/persons/{kept.id}", headers=dad)).status_code == 200

    r = await client.post(
        f"/api/v1/merges/{merge['id']}/undo",
        json={"reason": "two different girls after all"},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    assert await stored(twin.id) == sorted(
        [(father.id, "father", None), (mother.id, "mother", None)]
    )
    assert await stored(kept.id) == [(other_mother.id, "mother", None)]
    assert (await client.get(f"/api/v1/persons/{kept.id}", headers=dad)).status_code == 404
    assert (await client.get(f"/api/v1/persons/{twin.id}", headers=dad)).status_code == 200


async def test_merging_the_parents_record_moves_the_parent_side(
    client, registrar, make_person, make_user, login
):
    family, given = unique_name("Tu"), unique_name("Bo")
    kept = await make_person(
        family_name=family, given_name=given, birth_date=date(1980, 2, 2), sex="male"
    )
    twin = await make_person(
        family_name=family,
        given_name=given,
        birth_date=date(1980, 2, 2),
        sex="male",
        duplicate_reason="test: the same man registered twice",
    )
    child = await make_person(birth_date=years_ago(6), sex="male")
    assert (await relate(client, registrar, child.id, twin.id)).status_code == 201
    dad = await login(await make_user("citizen", person_id=kept.id))
    assert (await client.get(f"/api/v1/persons/{child.id}", headers=dad)).status_code == 404
    r = await client.post(
        f"/api/v1/persons/{kept.id}/merge",
        json={"merged_id": twin.id, "reason": "the same man registered twice"},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    assert r.json()["moved"]["person_relation_related"]
    assert await stored(child.id) == [(kept.id, "father", None)]
    assert (await client.get(f"/api/v1/persons/{child.id}", headers=dad)).status_code == 200
