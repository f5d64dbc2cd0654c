"""Care of a sick child: the child is the holder's child in the registry, under the pack's
age limit, for at most the pack's days; and a merge moves the certificates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import RelationIn
from salomat.domains.sickleave import service
from tests.domains.sickleave.conftest import fields

pytestmark = pytest.mark.anyio

TODAY = date.today()
CLERK = Principal(user_id=0, username="t", role="registrar", session_id="t")


def birthday(age: int, days: int = 0) -> date:
    """The birth date of a child exactly ``age`` years old today, ``days`` later."""
    try:
        d = TODAY.replace(year=TODAY.year - age)
    except ValueError:  # 29 February
        d = TODAY.replace(year=TODAY.year - age, day=28)
    return d + timedelta(days=days)


async def child_of(db, make_person, clinic, born: date):  # type: ignore[no-untyped-def]
    child = await make_person(facility_code=clinic.facility.code, birth_date=born, sex="female")
    await registry.add_relation(
        db,
        CLERK,
        child.id,
        RelationIn(related_person_id=clinic.worker.id, kind="father", document="Birth cert 123"),
    )
    await db.commit()
    return child


async def care(client, clinic, child_id: int, days: int = 3):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave",
        json={"reason": "care", "diagnosis": "J06.9", "days": days, "cared_person_id": child_id},
        headers=clinic.doctor,
    )


@pytest.mark.parametrize(("days", "ok"), [(1, True), (0, False), (-1, False)])
async def test_the_age_limit_one_day_before_on_and_after_the_birthday(
    client, clinic, db, make_person, days, ok
):
    """``child_max_age_years`` L: a child under L years (the day before the L-th birthday)
    may be cared for; on the birthday she is L and may not."""
    limit = service.sick_leave_rules().reasons["care"].child_max_age_years
    child = await child_of(db, make_person, clinic, birthday(limit, days))
    r = await care(client, clinic, child.id)
    if ok:
        assert r.status_code == 201, r.text
        assert (r.json()["kind"], r.json()["cared_person_id"]) == ("care", child.id)
    else:
        assert r.status_code == 422, r.text
        assert "cared_person_id" in fields(r)


async def test_someone_elses_child_is_refused(client, clinic, make_person):
    stranger = await make_person(facility_code=clinic.facility.code, birth_date=birthday(5))
    r = await care(client, clinic, stranger.id)
    assert r.status_code == 422
    assert "cared_person_id" in fields(r)
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave",
        json={"reason": "care", "diagnosis": "J06.9", "days": 3},
        headers=clinic.doctor,
    )
    assert r.status_code == 422
    assert "cared_person_id" in fields(r)


@pytest.mark.parametrize("extra", [0, 1])
async def test_the_packs_care_days(client, clinic, db, make_person, extra):
    """At the pack's care maximum (allowed by the VKK, so the doctor's own limit does not
    decide) the certificate opens; one day more is refused naming the maximum."""
    rule = service.sick_leave_rules().reasons["care"]
    child = await child_of(db, make_person, clinic, birthday(4))
    days = rule.max_days + extra
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave",
        json={
            "reason": "care",
            "diagnosis": "J06.9",
            "days": days,
            "cared_person_id": child.id,
            "vkk": {
                "decided_on": TODAY.isoformat(),
                "extend_until": (TODAY + timedelta(days=days - 1)).isoformat(),
                "protocol_number": "VKK-3",
                "chair": "Karimov A.",
                "members": ["Karimov A.", "Yusupova D.", "Rashidov B."],
            },
        },
        headers=clinic.doctor,
    )
    if extra == 0:
        assert r.status_code == 201, r.text
        assert r.json()["days"] == rule.max_days
    else:
        assert r.status_code == 422
        assert "ends_on" in fields(r)
        assert str(rule.max_days) in fields(r)["ends_on"]


async def test_a_merge_moves_the_certificates_to_the_survivor(client, clinic, db, make_person):
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave",
        json={"reason": "own_illness", "diagnosis": "J11.1", "days": 2},
        headers=clinic.doctor,
    )
    c = r.json()
    survivor = await make_person(
        facility_code=clinic.facility.code,
        family_name=clinic.worker.family_name,
        given_name=clinic.worker.given_name,
        birth_date=clinic.worker.birth_date,
        sex=clinic.worker.sex,
        duplicate_reason="test: the same man registered twice",
    )
    await registry.merge_persons(
        db, CLERK, survivor.id, clinic.worker.id, "the same man registered twice"
    )
    await db.commit()
    moved = (await client.get(f"/api/v1/sick-leave/{c['id']}", headers=clinic.doctor)).json()
    assert moved["person_id"] == survivor.id
    assert all(p for p in moved["periods"])
