"""A registration in few statements, with every guarantee of the one-by-one path.

On PostgreSQL one statement reads what the entry names (and draws the id), one finds
the candidates, one writes the person, the attachment, the version and both audit
rows; SQLite writes each table in turn. Every refusal still says what it said before.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from salomat.core.errors import Conflict, Invalid
from salomat.core.security import Principal
from salomat.domains.registry import service
from salomat.domains.registry.models import Attachment, Person, ResourceVersion
from salomat.domains.registry.schemas import PersonIn, SectionIn
from tests.conftest import BACKEND
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio

#: the statements of one registration: the lookups, the candidates, the writes
#: (on SQLite: the person, the attachment, the version, the audit rows, one by one)
MOST = 3 if BACKEND == "postgresql" else 6


class Statements:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(" ".join(statement.split()))

    def __enter__(self) -> Statements:
        event.listen(Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self)


@pytest.fixture
async def desk(db, make_facility, make_place):  # type: ignore[no-untyped-def]
    """A registrar at a polyclinic with a section, and a settlement."""
    fac = await make_facility()
    await service.create_section(db, fac.id, SectionIn(code="U1", name="Section one"))
    place = await make_place()
    await db.commit()
    clerk = Principal(
        user_id=1,
        username=unique_name("desk"),
        role="registrar",
        session_id="s",
        facility_id=fac.id,
        facility_code=fac.code,
    )
    return clerk, fac, place


def entry(fac, place, **kw):  # type: ignore[no-untyped-def]
    born = kw.pop("birth_date", date(1950, 1, 1) + timedelta(days=secrets.randbelow(20000)))
    return PersonIn(
        **{
            "national_id": national_id_for(born, "female"),
            "family_name": unique_name("Ka"),
            "given_name": unique_name("Ma"),
            "birth_date": born,
            "sex": "female",
            "settlement_code": place.settlement,
            "attached_facility_code": fac.code,
            "section_code": "U1",
            **kw,
        }
    )


async def test_a_registration_makes_at_most_three_statements_and_writes_every_row(db, desk):
    clerk, fac, place = desk
    data = entry(fac, place)
    with Statements() as statements:
        out = await service.register_person(db, clerk, data)
    assert len(statements.seen) <= MOST, statements.seen
    await db.commit()
    assert (out.attached_facility_code, out.section_code, out.settlement_code) == (
        fac.code,
        "U1",
        place.settlement,
    )
    async with session_factory()() as s:
        stored = await s.get(Person, out.id)
        assert stored is not None
        assert (stored.national_id, stored.family_name, stored.version) == (
            data.national_id,
            data.family_name,
            1,
        )
        assert stored.attached_facility_id == fac.id
        assert stored.section_id is not None
        attachment = (
            await s.scalars(select(Attachment).where(Attachment.person_id == out.id))
        ).one()
        assert (attachment.facility_id, attachment.section_id, attachment.end_on) == (
            fac.id,
            stored.section_id,
            None,
        )
        version = await s.get(ResourceVersion, ("Patient", out.id, 1))
        assert version is not None
        assert version.action == "create"
        assert version.data["id"] == out.id
        assert version.data["section_code"] == "U1"
        audited = (
            await s.execute(
                select(AuditEvent.action, AuditEvent.patient_id, AuditEvent.detail)
                .where(AuditEvent.username == clerk.username, AuditEvent.id > 0)
                .order_by(AuditEvent.id.desc())
                .limit(2)
            )
        ).all()
    # the candidate search (it found no one) and the creation, both committed with it
    assert sorted(audited, key=lambda r: r[0]) == [
        ("create", out.id, None),
        ("search", None, "no result"),
    ]


async def test_a_registration_despite_candidates_audits_each_one_shown(db, desk):
    clerk, fac, place = desk
    born = date(1971, 3, 9)
    first = await service.register_person(
        db, clerk, entry(fac, place, family_name="Xolmatova", given_name="Nilufar", birth_date=born)
    )
    await db.commit()
    second = entry(
        fac,
        place,
        family_name="Kholmatova",
        given_name="Nilufar",
        birth_date=born,
        national_id=national_id_for(born, "female"),
    )
    with pytest.raises(Conflict) as refused:
        await service.register_person(db, clerk, second)
    await db.rollback()
    assert first.id in [c["person"]["id"] for c in refused.value.extensions["candidates"]]
    again = second.model_copy(update={"duplicate_reason": "another woman: passport seen"})
    out = await service.register_person(db, clerk, again)
    await db.commit()
    async with session_factory()() as s:
        rows = (
            await s.execute(
                select(AuditEvent.action, AuditEvent.patient_id, AuditEvent.detail).where(
                    AuditEvent.username == clerk.username,
                    AuditEvent.patient_id.in_([first.id, out.id]),
                )
            )
        ).all()
        reason = await s.scalar(select(Person.duplicate_reason).where(Person.id == out.id))
    assert ("search", first.id, None) in rows  # the candidate shown, audited
    assert ("create", out.id, "despite 1 candidate(s)") in rows
    assert reason == "another woman: passport seen"


async def test_a_taken_national_id_is_refused_before_anything_is_written(db, desk):
    clerk, fac, place = desk
    data = entry(fac, place)
    first = await service.register_person(db, clerk, data)
    await db.commit()
    twin = entry(fac, place, national_id=data.national_id, birth_date=data.birth_date)
    with pytest.raises(Conflict) as refused:
        await service.register_person(db, clerk, twin)
    await db.rollback()
    assert refused.value.extensions["existing_id"] == first.id
    async with session_factory()() as s:
        count = await s.scalar(
            select(func.count()).select_from(Person).where(Person.family_name == twin.family_name)
        )
    assert count == 0


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"settlement_code": "NO-SUCH"}, "settlement_code", "no settlement has code"),
        ({"attached_facility_code": "NO-SUCH"}, "attached_facility_code", "no facility"),
        ({"section_code": "U9"}, "section_code", "has no section"),
        ({"attached_facility_code": None}, "section_code", "give the facility"),
    ],
)
async def test_a_wrong_place_is_refused_naming_its_field(db, desk, change, field, words):
    clerk, fac, place = desk
    data = entry(fac, place, **change)
    with pytest.raises(Invalid) as refused:
        await service.register_person(db, clerk, data)
    await db.rollback()
    assert [e.field for e in refused.value.errors] == [field]
    assert words in refused.value.errors[0].english


async def test_a_district_is_not_a_settlement_and_a_hospital_takes_no_attachment(
    db, desk, make_facility
):
    clerk, fac, place = desk
    with pytest.raises(Invalid) as refused:
        await service.register_person(db, clerk, entry(fac, place, settlement_code=place.district))
    await db.rollback()
    assert "not a settlement" in refused.value.errors[0].english
    hospital = await make_facility("district_hospital")
    with pytest.raises(Invalid) as refused:
        await service.register_person(
            db, clerk, entry(fac, place, attached_facility_code=hospital.code, section_code=None)
        )
    await db.rollback()
    assert "not a primary-care facility" in refused.value.errors[0].english


async def test_a_refusal_for_candidates_audits_each_one_shown_once(client, db, make_user, login):
    """A 409 that shows a registered look-alike writes one search row for her, not two
    (the listing was queued to outlive the failed request, and queued again when written;
    the failed request wrote every queued row)."""
    clerk = await make_user("registrar")
    headers = await login(clerk)
    born = date(1971, 3, 9)
    body = {
        "family_name": unique_name("Xolmatova"),
        "given_name": unique_name("Nilufar"),
        "birth_date": born.isoformat(),
        "sex": "female",
        "national_id": national_id_for(born, "female"),
    }
    r = await client.post("/api/v1/persons", json=body, headers=headers)
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    again = {**body, "national_id": national_id_for(born, "female")}
    r = await client.post("/api/v1/persons", json=again, headers=headers)
    assert r.status_code == 409, r.text
    assert [c["person"]["id"] for c in r.json()["candidates"]] == [first]
    await db.rollback()
    rows = (
        await db.execute(
            select(AuditEvent.patient_id).where(
                AuditEvent.username == clerk.username, AuditEvent.action == "search"
            )
        )
    ).all()
    assert [p for (p,) in rows].count(first) == 1, rows
