"""Merging two records of one person, and undoing it exactly; reviewing duplicate pairs."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import or_, select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory, utcnow
from salomat.country import names
from salomat.domains.accounts.models import BreakGlassGrant, User
from salomat.domains.registry import service
from salomat.domains.registry.models import (
    Attachment,
    CareRelationship,
    DuplicatePair,
    Merge,
    Person,
    ResourceVersion,
)
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio
BIRTH = date(1988, 3, 14)
WHY = "same woman registered twice at two polyclinics"
DUP = "test: a deliberate duplicate"


@pytest.fixture
async def registrar(make_user, login):
    return await login(await make_user("registrar"))


def family_of(p: Any) -> str:
    return str(p.family_name)


async def add_pair(a: int, b: int, probability: float = 0.97) -> int:
    a, b = min(a, b), max(a, b)
    async with session_factory()() as s:
        pair = DuplicatePair(
            person_a_id=a, person_b_id=b, probability=probability, run_id="t", found_at=utcnow()
        )
        s.add(pair)
        await s.commit()
        return pair.id


async def snapshot(ids: list[int]) -> dict[str, Any]:
    """Everything a merge touches, for the people ``ids`` (versions and times aside)."""
    skip = {"version", "updated_at"}
    async with session_factory()() as s:
        people = {
            p.id: {c.key: getattr(p, c.key) for c in Person.__table__.columns if c.key not in skip}
            for p in (await s.scalars(select(Person).where(Person.id.in_(ids)))).all()
        }

        async def rows(model: Any, *cols: str) -> list[tuple[Any, ...]]:
            found = await s.scalars(select(model).where(model.person_id.in_(ids)))
            return sorted(tuple(getattr(r, c) for c in ("id", *cols)) for r in found.all())

        pairs = await s.scalars(
            select(DuplicatePair).where(
                or_(DuplicatePair.person_a_id.in_(ids), DuplicatePair.person_b_id.in_(ids))
            )
        )
        return {
            "people": people,
            "attachment": await rows(Attachment, "person_id", "end_on"),
            "care": await rows(CareRelationship, "person_id", "closed_at"),
            "users": await rows(User, "person_id"),
            "grants": await rows(BreakGlassGrant, "person_id"),
            "pairs": sorted(
                (p.id, p.person_a_id, p.person_b_id, p.status, p.reviewed_by) for p in pairs.all()
            ),
        }


async def arrange(client, make_facility, make_person, make_user, login) -> dict[str, Any]:
    """A survivor with little on it; a merged record with an id, phone, attachment and more."""
    home, other = await make_facility(), await make_facility()
    family = unique_name("Us")
    survivor = await make_person(
        family_name=family, given_name="Dilnoza", birth_date=BIRTH, duplicate_reason=DUP
    )
    merged = await make_person(
        other.code,
        family_name=family,
        given_name="Dilnoza",
        patronymic="Baxtiyor qizi",
        birth_date=BIRTH,
        national_id=national_id_for(BIRTH, "female"),
        phone="+998901234567",
        duplicate_reason=DUP,
    )
    third = await make_person(family_name=family, given_name="Dildora", duplicate_reason=DUP)
    async with session_factory()() as s:
        await service.open_care_relationship(s, merged.id, home.id, kind="referral", source="t")
        await s.commit()
    citizen = await make_user("citizen", person_id=merged.id)
    doctor = await make_user("family_doctor")
    r = await client.post(
        "/api/v1/break-glass",
        json={"person_id": merged.id, "reason": "unconscious, brought in by ambulance"},
        headers=await login(doctor),
    )
    assert r.status_code == 201, r.text
    pair = await add_pair(survivor.id, merged.id)
    side_pair = await add_pair(merged.id, third.id, 0.91)
    return {
        "survivor": survivor,
        "merged": merged,
        "third": third,
        "citizen": citizen,
        "grant": r.json()["id"],
        "pair": pair,
        "side_pair": side_pair,
        "other": other,
    }


async def test_merge_repoints_every_row_and_unmerge_restores_exactly(
    client, registrar, make_facility, make_person, make_user, login
):
    a = await arrange(client, make_facility, make_person, make_user, login)
    survivor, merged, third = a["survivor"], a["merged"], a["third"]
    ids = [survivor.id, merged.id, third.id]
    before = await snapshot(ids)

    r = await client.post(
        f"/api/v1/persons/{survivor.id}/merge",
        json={"merged_id": merged.id, "reason": WHY, "survivor_version": 1, "merged_version": 1},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    merge = r.json()
    moved = merge["moved"]
    assert moved["national_id"] == merged.national_id
    assert set(moved["fields"]) == {
        "patronymic", "patronymic_alt", "name_key", "phone", "attached_facility_id", "section_id",
    }  # fmt: skip
    assert moved["domains"] == {"app_user": [a["citizen"].id], "break_glass_grant": [a["grant"]]}

    after = await snapshot(ids)
    s_now, m_now = after["people"][survivor.id], after["people"][merged.id]
    assert s_now["national_id"] == merged.national_id
    assert m_now["national_id"] is None
    assert s_now["phone"] == "+998901234567"
    assert s_now["patronymic"] == "Baxtiyor qizi"
    assert s_now["attached_facility_id"] == a["other"].id
    assert s_now["name_key"] == names.name_key(family_of(survivor), "Dilnoza", "Baxtiyor qizi")
    assert s_now["family_name"] == survivor.family_name  # the survivor's own values stay
    assert m_now["merged_into_id"] == survivor.id
    assert {row[1] for row in after["attachment"] + after["care"]} == {survivor.id}
    assert after["users"] == [(a["citizen"].id, survivor.id)]
    assert after["grants"] == [(a["grant"], survivor.id)]
    pairs = {p[0]: p for p in after["pairs"]}
    assert pairs[a["pair"]][3] == "merged"
    lo, hi = sorted((survivor.id, third.id))
    assert pairs[a["side_pair"]][1:4] == (lo, hi, "open")

    # one new version of each, recorded for FHIR history; both patients audited
    async with session_factory()() as s:
        for pid in (survivor.id, merged.id):
            assert (await s.get(Person, pid)).version == 2
            assert await s.get(ResourceVersion, ("Patient", pid, 2)) is not None
        audited = (
            await s.scalars(
                select(AuditEvent).where(
                    AuditEvent.patient_id.in_([survivor.id, merged.id]),
                    AuditEvent.action == "update",
                )
            )
        ).all()
    assert {e.patient_id for e in audited} == {survivor.id, merged.id}
    assert all(WHY in e.purpose and f"merge {merge['id']}" in e.detail for e in audited)

    # the tombstone answers and names the survivor; new care on it is refused
    r = await client.get(f"/api/v1/persons/{merged.id}", headers=registrar)
    assert r.json()["merged_into_id"] == survivor.id

    r = await client.post(
        f"/api/v1/merges/{merge['id']}/undo",
        json={"reason": "not the same woman after all: checked the passports"},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    assert r.json()["undone_at"] is not None
    assert await snapshot(ids) == before
    async with session_factory()() as s:
        assert (await s.get(Person, survivor.id)).version == 3
        assert await s.get(ResourceVersion, ("Patient", merged.id, 3)) is not None

    r = await client.post(
        f"/api/v1/merges/{merge['id']}/undo", json={"reason": "once more, by mistake"},
        headers=registrar,
    )  # fmt: skip
    assert r.status_code == 409


async def test_the_national_id_moves_whichever_record_has_the_lower_id(
    client, registrar, make_person
):
    family = unique_name("Ka")
    first = await make_person(
        family_name=family, birth_date=BIRTH, national_id=national_id_for(BIRTH, "female"),
        duplicate_reason=DUP,
    )  # fmt: skip
    second = await make_person(family_name=family, birth_date=BIRTH, duplicate_reason=DUP)
    r = await client.post(
        f"/api/v1/persons/{second.id}/merge",
        json={"merged_id": first.id, "reason": WHY},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"/api/v1/persons/{second.id}", headers=registrar)
    assert r.json()["national_id"] == first.national_id


async def test_a_dead_survivor_closes_what_the_merged_record_had_open(
    client, registrar, make_facility, make_person
):
    fac = await make_facility()
    family = unique_name("Ol")
    dead = await make_person(family_name=family, birth_date=BIRTH, duplicate_reason=DUP)
    alive = await make_person(fac.code, family_name=family, birth_date=BIRTH, duplicate_reason=DUP)
    r = await client.post(
        f"/api/v1/persons/{dead.id}/death",
        json={"deceased_on": "2024-02-01", "cause": "I21.9"},
        headers={**registrar, "If-Match": 'W/"1"'},
    )
    assert r.status_code == 200, r.text
    before = await snapshot([dead.id, alive.id])
    r = await client.post(
        f"/api/v1/persons/{dead.id}/merge",
        json={"merged_id": alive.id, "reason": WHY},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    moved = r.json()["moved"]
    assert len(moved["attachment_closed"]) == 1
    after = await snapshot([dead.id, alive.id])
    assert all(end is not None for _, _, end in after["attachment"])
    # a dead survivor takes no attachment from the living record
    assert after["people"][dead.id]["attached_facility_id"] == fac.id
    r = await client.post(
        f"/api/v1/merges/{r.json()['id']}/undo", json={"reason": "undo the test merge"},
        headers=registrar,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert await snapshot([dead.id, alive.id]) == before


async def test_unmerge_is_refused_when_a_filled_field_changed_since(client, registrar, make_person):
    family = unique_name("Ha")
    survivor = await make_person(family_name=family, birth_date=BIRTH, duplicate_reason=DUP)
    merged = await make_person(
        family_name=family, birth_date=BIRTH, phone="+998901112233", duplicate_reason=DUP
    )
    r = await client.post(
        f"/api/v1/persons/{survivor.id}/merge",
        json={"merged_id": merged.id, "reason": WHY},
        headers=registrar,
    )
    merge_id = r.json()["id"]
    r = await client.patch(
        f"/api/v1/persons/{survivor.id}",
        json={"phone": "+998907778899"},
        headers={**registrar, "If-Match": 'W/"2"'},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/merges/{merge_id}/undo", json={"reason": "wrong merge, undo it"},
        headers=registrar,
    )  # fmt: skip
    assert r.status_code == 409
    assert "phone" in r.json()["detail"]


@pytest.mark.parametrize("case", ["self", "ids", "sex", "merged", "dead", "stale", "missing"])
async def test_refusals_change_nothing(client, registrar, make_person, case):
    family = unique_name("Re")
    a = await make_person(
        family_name=family, birth_date=BIRTH, national_id=national_id_for(BIRTH, "female"),
        duplicate_reason=DUP,
    )  # fmt: skip
    kw: dict[str, Any] = {"family_name": family, "birth_date": BIRTH, "duplicate_reason": DUP}
    if case == "ids":
        kw["national_id"] = national_id_for(BIRTH, "female")
    if case == "sex":
        kw["sex"] = "male"
    b = await make_person(**kw)
    body: dict[str, Any] = {"merged_id": b.id, "reason": WHY}
    target = a.id
    expected = 409
    if case == "self":
        body["merged_id"], expected = a.id, 422
    elif case == "merged":
        c = await make_person(family_name=family, birth_date=BIRTH, duplicate_reason=DUP)
        r = await client.post(
            f"/api/v1/persons/{c.id}/merge", json={"merged_id": b.id, "reason": WHY},
            headers=registrar,
        )  # fmt: skip
        assert r.status_code == 200, r.text
    elif case == "dead":
        r = await client.post(
            f"/api/v1/persons/{b.id}/death",
            json={"deceased_on": "2024-02-01", "cause": "I21.9"},
            headers={**registrar, "If-Match": 'W/"1"'},
        )
        assert r.status_code == 200, r.text
    elif case == "stale":
        body["merged_version"], expected = 7, 412
    elif case == "missing":
        body["merged_id"], expected = 10**9, 404
    before = await snapshot([a.id, b.id])
    r = await client.post(f"/api/v1/persons/{target}/merge", json=body, headers=registrar)
    assert r.status_code == expected, r.text
    assert await snapshot([a.id, b.id]) == before


async def test_only_a_registrar_merges(client, make_user, make_person, login):
    doctor = await login(await make_user("family_doctor"))
    a = await make_person()
    b = await make_person()
    r = await client.post(
        f"/api/v1/persons/{a.id}/merge", json={"merged_id": b.id, "reason": WHY}, headers=doctor
    )
    assert r.status_code == 403
    assert (await client.get("/api/v1/duplicates", headers=doctor)).status_code == 403


async def test_pairs_are_listed_with_both_people_and_can_be_marked_distinct(
    client, registrar, make_person
):
    family = unique_name("Ti")
    a = await make_person(family_name=family, given_name="Jasur", birth_date=BIRTH,
                          sex="male", duplicate_reason=DUP)  # fmt: skip
    b = await make_person(family_name=family, given_name="Jasur", birth_date=BIRTH,
                          sex="male", duplicate_reason=DUP)  # fmt: skip
    pair_id = await add_pair(a.id, b.id, 0.999)
    r = await client.get("/api/v1/duplicates", params={"limit": 100}, headers=registrar)
    assert r.status_code == 200, r.text
    mine = next(p for p in r.json()["items"] if p["id"] == pair_id)
    assert {mine["person_a"]["id"], mine["person_b"]["id"]} == {a.id, b.id}
    assert mine["probability"] == 0.999
    assert mine["score"] == 1.0
    assert "same birth date" in mine["reasons"]

    r = await client.post(f"/api/v1/duplicates/{pair_id}/distinct", headers=registrar)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "distinct"
    assert r.json()["reviewed_by"]
    r = await client.post(f"/api/v1/duplicates/{pair_id}/distinct", headers=registrar)
    assert r.status_code == 409
    r = await client.get(
        "/api/v1/duplicates", params={"status": "distinct", "limit": 100}, headers=registrar
    )
    assert pair_id in {p["id"] for p in r.json()["items"]}
    async with session_factory()() as s:
        rows = (
            await s.scalars(
                select(AuditEvent).where(
                    AuditEvent.resource_type == "DuplicatePair",
                    AuditEvent.resource_id == str(pair_id),
                )
            )
        ).all()
    assert {e.patient_id for e in rows} == {a.id, b.id}


async def test_a_merge_is_stored_with_what_it_moved(client, registrar, make_person):
    family = unique_name("Mo")
    a = await make_person(family_name=family, birth_date=BIRTH, duplicate_reason=DUP)
    b = await make_person(family_name=family, birth_date=BIRTH, duplicate_reason=DUP)
    r = await client.post(
        f"/api/v1/persons/{a.id}/merge", json={"merged_id": b.id, "reason": WHY},
        headers=registrar,
    )  # fmt: skip
    async with session_factory()() as s:
        row = await s.get(Merge, r.json()["id"])
    assert row.survivor_id == a.id
    assert row.merged_id == b.id
    assert row.reason == WHY
    r = await client.get(f"/api/v1/merges/{row.id}", headers=registrar)
    assert r.json()["moved"] == row.moved


async def test_merging_two_attached_people_keeps_one_current_attachment_and_unmerge_restores(
    client, registrar, make_facility, make_person
):
    from salomat.domains.registry.models import Attachment

    here, there = await make_facility(), await make_facility()
    family = unique_name("Ot")
    survivor = await make_person(here.code, family_name=family, given_name="Malika")
    merged = await make_person(
        there.code,
        family_name=family,
        given_name="Malika",
        duplicate_reason="test: the same woman registered twice",
    )

    async def current() -> dict[int, list[int]]:
        async with session_factory()() as s:
            rows = await s.execute(
                select(Attachment.person_id, Attachment.facility_id).where(
                    Attachment.person_id.in_([survivor.id, merged.id]),
                    Attachment.end_on.is_(None),
                )
            )
            out: dict[int, list[int]] = {}
            for pid, fid in rows:
                out.setdefault(pid, []).append(fid)
            return out

    before = await current()
    r = await client.post(
        f"/api/v1/persons/{survivor.id}/merge",
        json={"merged_id": merged.id, "reason": WHY},
        headers=registrar,
    )
    assert r.status_code == 200, r.text
    assert await current() == {survivor.id: [here.id]}
    undo = await client.post(
        f"/api/v1/merges/{r.json()['id']}/undo", json={"reason": WHY}, headers=registrar
    )
    assert undo.status_code == 200, undo.text
    assert await current() == before
