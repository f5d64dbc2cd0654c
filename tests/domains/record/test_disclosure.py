"""What a sender learns of resources it may not see: a conditional create, an identifier
already taken and a reference answer alike whether the other resource is missing, another
person's or out of the sender's sight; and the inputs that once made the database (or
Python) fail answer 422 or an empty search instead."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.errors import Conflict, Invalid
from salomat.core.policy import person_scope
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery
from tests.domains.record.conftest import principal
from tests.domains.record.helpers import encounter, fields, interval, observation
from tests.factories import unique

pytestmark = pytest.mark.anyio


async def _hospital(make_user, make_facility):
    place = await make_facility("district_hospital")
    return principal(await make_user("family_doctor", facility_code=place.code), "family_doctor",
                     place)  # fmt: skip


async def test_a_conditional_create_never_answers_another_patients_resource(db, shr):
    a, b = await shr.make_patient(), await shr.make_patient()
    value = unique("e")
    ident = [{"system": shr.system, "value": value}]
    first, _ = await record.create_resource(
        db, shr.hospital_doctor, encounter(a.id, identifier=ident)
    )
    await db.commit()
    # the same identifier sent for another patient: the plain duplicate's 409 (naming
    # A's resource only to its sender, who may see it), never A's resource as the answer
    with pytest.raises(Conflict) as e:
        await record.create_resource(
            db,
            shr.hospital_doctor,
            encounter(b.id, identifier=ident),
            if_none_exist=[("identifier", f"{shr.system}|{value}")],
        )
    assert list(fields(e.value)) == ["identifier[0]"]
    await db.rollback()
    # an _id of another patient's resource matches nothing: a new resource for B
    out, created = await record.create_resource(
        db, shr.hospital_doctor, encounter(b.id), if_none_exist=[("_id", first.fhir_id)]
    )
    assert (created, out.person_id, out.id != first.id) == (True, b.id, True)


async def test_a_taken_identifier_answers_the_same_in_and_out_of_sight(
    db, shr, make_user, make_facility
):
    p = await shr.make_patient()
    value = unique("o")
    ident = [{"system": shr.system, "value": value}]
    first, _ = await record.create_resource(
        db, shr.hospital_doctor, observation(p.id, identifier=ident)
    )
    await db.commit()
    stranger = await _hospital(make_user, make_facility)
    answers = []
    for condition in (None, [("identifier", f"{shr.system}|{value}")]):
        with pytest.raises(Conflict) as e:
            await record.create_resource(
                db, stranger, observation(p.id, identifier=ident), if_none_exist=condition
            )
        answers.append((e.value.status, str(e.value), fields(e.value)))
        await db.rollback()
    assert answers[0] == answers[1]
    assert first.fhir_id not in answers[0][1]
    assert "outside your area" not in answers[0][1]
    # an _id out of sight is no match: a new resource, nothing of the other shown
    out, created = await record.create_resource(
        db, stranger, observation(p.id), if_none_exist=[("_id", first.fhir_id)]
    )
    assert (created, out.id != first.id) == (True, True)
    # the sender itself is answered with its resource
    again, created = await record.create_resource(
        db,
        shr.hospital_doctor,
        observation(p.id, identifier=ident),
        if_none_exist=[("identifier", f"{shr.system}|{value}")],
    )
    assert (again.id, created) == (first.id, False)


async def test_a_reference_answers_alike_missing_another_patients_or_out_of_sight(
    db, shr, make_user, make_facility
):
    p, q = await shr.make_patient(), await shr.make_patient()
    mine, _ = await record.create_resource(db, shr.hospital_doctor, encounter(p.id))
    other_patients, _ = await record.create_resource(db, shr.hospital_doctor, encounter(q.id))
    await db.commit()
    stranger = await _hospital(make_user, make_facility)
    assert await person_scope(db, stranger, p.id) is None
    messages = set()
    for who, ref in (
        (stranger, f"Encounter/{mine.fhir_id}"),  # p's, sent by another hospital
        (shr.hospital_doctor, f"Encounter/{other_patients.fhir_id}"),  # q's
        (shr.hospital_doctor, "Encounter/shr-999999999"),  # none
    ):
        with pytest.raises(Invalid) as e:
            await record.create_resource(db, who, observation(p.id, encounter={"reference": ref}))
        messages.add(fields(e.value)["encounter"].replace(ref, "<ref>"))
        await db.rollback()
    assert messages == {"<ref> is not in the shared record."}


async def test_an_absolute_or_versioned_reference_is_checked_as_a_relative_one(db, shr):
    p, q = await shr.make_patient(), await shr.make_patient()
    mine, _ = await record.create_resource(db, shr.hospital_doctor, encounter(p.id))
    other_patients, _ = await record.create_resource(db, shr.hospital_doctor, encounter(q.id))
    await db.commit()
    base = "http://testserver/fhir"
    for ref in (
        f"{base}/Encounter/{other_patients.fhir_id}",
        f"https://salomat.example.uz/fhir/Encounter/{other_patients.fhir_id}/_history/1",
        f"Encounter/{mine.fhir_id}/_history/9",
        f"{base}/Encounter/{mine.fhir_id}/_history/2",
    ):
        with pytest.raises(Invalid) as e:
            await record.create_resource(
                db, shr.hospital_doctor, observation(p.id, encounter={"reference": ref})
            )
        assert "encounter" in fields(e.value), ref
        await db.rollback()
    for ref in (f"{base}/Encounter/{mine.fhir_id}", f"{base}/Encounter/{mine.fhir_id}/_history/1"):
        out, _ = await record.create_resource(
            db, shr.hospital_doctor, observation(p.id, encounter={"reference": ref})
        )
        assert out.resource["encounter"] == {"reference": ref}  # kept as sent
        page = await record.search_resources(
            db, shr.hospital_doctor, "Observation", RecordQuery(ids=[out.id], encounter_id=mine.id)
        )
        assert [s.id for s in page.items] == [out.id], ref


@pytest.mark.parametrize("value", ["0001", "9999", "0001-01-01", "9999-12-31"])
async def test_an_approximate_date_at_the_ends_of_time_is_a_search_like_any(db, shr, value):
    p = await shr.make_patient()
    await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    q = RecordQuery(
        person_id=p.id, date=[interval("ap", value)], last_updated=[interval("ap", value)]
    )
    page = await record.search_resources(db, shr.doctor, "Observation", q)
    assert page.total == 0


async def test_a_nul_in_a_conditions_identifier_is_refused_by_name(db, shr):
    p = await shr.make_patient()
    with pytest.raises(Invalid) as e:
        await record.create_resource(
            db,
            shr.hospital_doctor,
            observation(p.id, identifier=[{"system": shr.system, "value": "ab"}]),
            if_none_exist=[("identifier", f"{shr.system}|a\x00b")],
        )
    assert "If-None-Exist.identifier" in fields(e.value)


@pytest.mark.parametrize("char", ["a", "ж", "𝔸"])
async def test_an_identifier_too_long_for_the_index_is_refused_by_name(db, shr, char):
    p = await shr.make_patient()
    value = char * 500  # 500 characters; in UTF-8 500, 1000 or 2000 bytes
    body = observation(p.id, identifier=[{"system": shr.system, "value": value}])
    if len((shr.system + value).encode()) <= record.MAX_IDENTIFIER_BYTES:
        out, _ = await record.create_resource(db, shr.hospital_doctor, body)
        assert out.resource["identifier"][0]["value"] == value
        return
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, body)
    assert "bytes" in fields(e.value)["identifier[0]"]


async def test_the_timeline_is_audited_under_the_readers_scope(db, shr):
    p = await shr.make_patient()
    await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    await db.commit()
    scope = await person_scope(db, shr.doctor, p.id)
    assert scope is not None
    await record.timeline(db, shr.doctor, p.id)
    await db.commit()
    purpose = await db.scalar(
        select(AuditEvent.purpose)
        .where(AuditEvent.username == shr.doctor.username, AuditEvent.patient_id == p.id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    assert purpose == scope.reason


async def test_a_history_page_reads_only_its_versions(db, shr):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    p = await shr.make_patient()
    first, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    for status in ("amended", "corrected", "final", "amended"):
        await record.update_resource(
            db, shr.hospital_doctor, "Observation", first.fhir_id, observation(p.id, status=status)
        )
    await db.commit()
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement.lower())

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        page = await record.resource_history_page(
            db, shr.doctor, "Observation", first.fhir_id, offset=1, limit=2
        )
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert ([v.version for v in page.items], page.total) == ([4, 3], 5)
    assert [v.resource["status"] for v in page.items] == ["final", "corrected"]
    bodies = [s for s in statements if "record_version.body" in s]
    assert len(bodies) == 1
    assert "limit" in bodies[0]
    for offset, limit, versions in ((0, 0, []), (5, 2, []), (3, None, [2, 1])):
        page = await record.resource_history_page(
            db, shr.doctor, "Observation", first.fhir_id, offset=offset, limit=limit
        )
        assert ([v.version for v in page.items], page.total) == (versions, 5)
    everything = await record.resource_history(db, shr.doctor, "Observation", first.fhir_id)
    assert [v.version for v in everything] == [5, 4, 3, 2, 1]
