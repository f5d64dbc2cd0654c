"""Creating and updating shared-record resources: kept exactly as sent, every refusal
naming its element, versions and history, conditional creates."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from salomat.core import audit
from salomat.core.audit import AuditEvent
from salomat.core.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from salomat.domains.record import service as record
from tests.domains.record.helpers import document, encounter, fields, observation
from tests.factories import unique

pytestmark = pytest.mark.anyio


async def test_a_resource_is_kept_exactly_as_sent_but_its_id_and_meta(db, shr):
    p = await shr.make_patient()
    sent = observation(
        p.id,
        id="their-own-id",
        meta={"source": "urn:his:ward-3", "profile": ["http://example.org/p"], "versionId": "9"},
        identifier=[{"system": shr.system, "value": unique("o")}],
        note=[{"text": "Taken at rest; ʻoʼzbek harflar"}],
        performer=[{"reference": "Practitioner/77"}],
    )
    before = copy.deepcopy(sent)
    out, created = await record.create_resource(db, shr.hospital_doctor, sent)
    await db.commit()
    assert created
    assert sent == before  # the caller's dict is not changed
    assert out.fhir_id == f"shr-{out.id}"
    assert record.row_id(out.fhir_id) == out.id
    kept = dict(out.resource)
    assert kept.pop("id") == out.fhir_id
    meta = kept.pop("meta")
    assert meta["versionId"] == "1"
    assert meta["source"] == "urn:his:ward-3"
    assert meta["profile"] == ["http://example.org/p"]
    assert meta["lastUpdated"].endswith("Z")
    expected = {k: v for k, v in before.items() if k not in ("id", "meta")}
    assert kept == expected
    assert (out.person_id, out.version, out.sender) == (p.id, 1, shr.hospital_doctor.username)
    assert out.sender_facility_id == shr.hospital.id
    read = await record.read_resource(db, shr.doctor, "Observation", out.fhir_id)
    assert read.resource == out.resource


async def test_a_write_is_audited_as_a_create_of_that_resource(db, shr):
    p = await shr.make_patient()
    out, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    await db.commit()
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type, AuditEvent.patient_id).where(
                AuditEvent.resource_id == out.fhir_id,
                AuditEvent.username == shr.hospital_doctor.username,
            )
        )
    ).all()
    assert rows == [("create", "Observation", p.id)]


@pytest.mark.parametrize(
    ("change", "element"),
    [
        (lambda r, pid: r.update(resourceType="Patient"), "resourceType"),
        (lambda r, pid: r.pop("subject"), "subject"),
        (lambda r, pid: r.update(subject={"reference": "Group/4"}), "subject.reference"),
        (lambda r, pid: r.update(subject={"reference": "Patient/999999999"}), "subject"),
        (lambda r, pid: r.update(implicitRules="http://example.org/rules"), "implicitRules"),
        (
            lambda r, pid: r.update(modifierExtension=[{"url": "http://x", "valueBoolean": True}]),
            "modifierExtension",
        ),
        (
            lambda r, pid: r["valueQuantity"].update(
                modifierExtension=[{"url": "http://x", "valueBoolean": True}]
            ),
            "valueQuantity.modifierExtension",
        ),
        (lambda r, pid: r.update(identifier=[{"value": "1"}]), "identifier[0].system"),
        (lambda r, pid: r.update(note=[{"text": "a\x00b"}]), "note[0].text"),
        (lambda r, pid: r["code"].update(text="\ud800"), "code.text"),
        (lambda r, pid: r.update(effectiveDateTime="2026-03-05T10:00:00"), "effectiveDateTime"),
        (lambda r, pid: r.update(encounter={"reference": "Encounter/shr-999999999"}), "encounter"),
        (
            lambda r, pid: r.update(hasMember=[{"reference": "Observation/shr-999999999"}]),
            "hasMember[0]",
        ),
    ],
)
async def test_each_refusal_names_its_element_and_stores_nothing(db, shr, change, element):
    p = await shr.make_patient()
    body = observation(p.id)
    change(body, p.id)
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, body)
    assert element in fields(e.value), fields(e.value)
    await db.rollback()
    page = await record.search_resources(
        db, shr.doctor, "Observation", record_query(person_id=p.id)
    )
    assert page.total == 0


def record_query(**kw):  # type: ignore[no-untyped-def]
    from salomat.domains.record.schemas import RecordQuery

    return RecordQuery(**kw)


async def test_an_allergy_names_its_person_in_patient(db, shr):
    p = await shr.make_patient()
    allergy = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"text": "Penicillin"},
        "category": ["medication"],
        "criticality": "high",
        "patient": {"reference": f"Patient/{p.id}"},
    }
    out, _ = await record.create_resource(db, shr.hospital_doctor, allergy)
    assert out.person_id == p.id
    wrong = dict(allergy, patient={"reference": "Patient/999999999"})
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, wrong)
    assert "patient" in fields(e.value)
    subject_only = {k: v for k, v in allergy.items() if k != "patient"}
    subject_only["subject"] = {"reference": f"Patient/{p.id}"}
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, subject_only)
    assert "patient" in fields(e.value)


async def test_identifiers_of_an_unregistered_system_are_refused_naming_it(db, shr):
    p = await shr.make_patient()
    unknown = "https://his.example.uz/never-registered"
    body = observation(
        p.id,
        identifier=[
            {"system": shr.system, "value": unique("o")},
            {"system": unknown, "value": "7"},
        ],
    )
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, body)
    assert list(fields(e.value)) == ["identifier[1].system"]
    assert unknown in fields(e.value)["identifier[1].system"]


async def test_the_national_id_system_is_built_in_and_names_no_resource(db, shr):
    from salomat.core.config import get_settings
    from salomat.country import national_id

    p = await shr.make_patient()
    system = national_id.system_uri(get_settings().country)
    # a person's number as a resource's identifier: its uniqueness would answer whether
    # the person with that number has such a record
    body = observation(p.id, identifier=[{"system": system, "value": unique("n")}])
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, body)
    assert "national identification number" in fields(e.value)["identifier[0].system"]
    listed = await record.list_naming_systems(db, url=system)
    assert [(n.url, n.builtin, n.id) for n in listed] == [(system, True, None)]


async def test_a_reference_to_another_patients_encounter_is_refused(db, shr):
    p, q = await shr.make_patient(), await shr.make_patient()
    enc, _ = await record.create_resource(db, shr.hospital_doctor, encounter(q.id))
    with pytest.raises(Invalid) as e:
        await record.create_resource(
            db,
            shr.hospital_doctor,
            observation(p.id, encounter={"reference": f"Encounter/{enc.fhir_id}"}),
        )
    assert "encounter" in fields(e.value)
    # the same id named as another type is not that resource
    with pytest.raises(Invalid) as e:
        await record.create_resource(
            db,
            shr.hospital_doctor,
            observation(q.id, encounter={"reference": f"Observation/{enc.fhir_id}"}),
        )
    assert "encounter" in fields(e.value)
    own, _ = await record.create_resource(
        db,
        shr.hospital_doctor,
        observation(q.id, encounter={"reference": f"Encounter/{enc.fhir_id}"}),
    )
    assert own.resource["encounter"] == {"reference": f"Encounter/{enc.fhir_id}"}


@pytest.mark.parametrize(
    ("size", "ok"),
    [(record.MAX_ATTACHMENT_BYTES - 1, True), (record.MAX_ATTACHMENT_BYTES, True),
     (record.MAX_ATTACHMENT_BYTES + 1, False)],
)  # fmt: skip
async def test_an_attachment_is_at_most_five_megabytes(db, shr, size, ok):
    p = await shr.make_patient()
    body = document(p.id, b"%" * size)
    if ok:
        out, _ = await record.create_resource(db, shr.hospital_doctor, body)
        assert out.resource["content"] == body["content"]
        return
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, body)
    assert list(fields(e.value)) == ["content[0].attachment.size"]


@pytest.mark.parametrize(
    ("attachment", "element"),
    [
        ({"contentType": "application/zip"}, "content[0].attachment.contentType"),
        ({"contentType": "text/html"}, "content[0].attachment.contentType"),
        ({"size": 4}, "content[0].attachment.size"),
    ],
)
async def test_an_attachments_type_and_given_size_are_checked(db, shr, attachment, element):
    p = await shr.make_patient()
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, document(p.id, b"abc", **attachment))
    assert list(fields(e.value)) == [element]
    for ctype in ("application/pdf", "image/jpeg", "image/png", "text/plain"):
        out, _ = await record.create_resource(
            db, shr.hospital_doctor, document(p.id, b"abc", contentType=ctype, size=3)
        )
        assert out.resource["content"][0]["attachment"]["contentType"] == ctype


async def test_update_makes_a_version_and_keeps_the_history(db, shr):
    p = await shr.make_patient()
    first, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    await db.commit()
    changed = observation(p.id, status="amended")
    second = await record.update_resource(
        db, shr.hospital_doctor, "Observation", first.fhir_id, changed, if_match=1
    )
    await db.commit()
    assert second.version == 2
    assert second.resource["meta"]["versionId"] == "2"
    assert second.resource["status"] == "amended"
    history = await record.resource_history(db, shr.doctor, "Observation", first.fhir_id)
    assert [h.version for h in history] == [2, 1]
    assert history[1].resource == first.resource
    old = await record.read_resource(db, shr.doctor, "Observation", first.fhir_id, version=1)
    assert old.resource == first.resource
    with pytest.raises(NotFound):
        await record.read_resource(db, shr.doctor, "Observation", first.fhir_id, version=3)
    # the index follows the new version
    found = await record.search_resources(
        db, shr.doctor, "Observation", record_query(person_id=p.id, statuses=["final"])
    )
    assert found.total == 0


async def test_a_stale_if_match_is_refused_and_changes_nothing(db, shr):
    p = await shr.make_patient()
    first, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    await record.update_resource(
        db, shr.hospital_doctor, "Observation", first.fhir_id, observation(p.id), if_match=1
    )
    await db.commit()
    # 412 as FHIR R4 answers a stale If-Match (http.html, update), not 409
    with pytest.raises(PreconditionFailed) as e:
        await record.update_resource(
            db,
            shr.hospital_doctor,
            "Observation",
            first.fhir_id,
            observation(p.id, status="cancelled"),
            if_match=1,
        )
    assert e.value.status == 412
    assert e.value.extensions == {"current_version": 2}
    await db.rollback()
    now = await record.read_resource(db, shr.doctor, "Observation", first.fhir_id)
    assert (now.version, now.resource["status"]) == (2, "final")


async def test_an_update_may_not_move_a_resource_to_another_person_or_create_one(db, shr):
    p, q = await shr.make_patient(), await shr.make_patient()
    first, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    with pytest.raises(Invalid) as e:
        await record.update_resource(
            db, shr.hospital_doctor, "Observation", first.fhir_id, observation(q.id)
        )
    assert "subject" in fields(e.value)
    for missing in ("shr-999999999", "shr-x", "12"):
        with pytest.raises(NotFound):
            await record.update_resource(
                db, shr.hospital_doctor, "Observation", missing, observation(p.id)
            )
    with pytest.raises(NotFound):  # an Observation's id read as an Encounter's
        await record.update_resource(
            db, shr.hospital_doctor, "Encounter", first.fhir_id, encounter(p.id)
        )


async def test_one_identifier_names_one_resource_of_a_type(db, shr):
    p = await shr.make_patient()
    ident = [{"system": shr.system, "value": unique("o")}]
    first, _ = await record.create_resource(
        db, shr.hospital_doctor, observation(p.id, identifier=ident)
    )
    with pytest.raises(Conflict) as e:
        await record.create_resource(db, shr.hospital_doctor, observation(p.id, identifier=ident))
    assert first.fhir_id in str(e.value)
    assert "identifier[0]" in fields(e.value)
    # another type may carry the same identifier
    _enc, created = await record.create_resource(
        db, shr.hospital_doctor, encounter(p.id, identifier=ident)
    )
    assert created


async def test_a_conditional_create_answers_the_match(db, shr):
    p = await shr.make_patient()
    value = unique("o")
    ident = [{"system": shr.system, "value": value}]
    cond = [("identifier", f"{shr.system}|{value}")]
    first, created = await record.create_resource(
        db, shr.hospital_doctor, observation(p.id, identifier=ident), if_none_exist=cond
    )
    assert created
    again, created = await record.create_resource(
        db, shr.hospital_doctor, observation(p.id, identifier=ident), if_none_exist=cond
    )
    assert (again.id, created) == (first.id, False)
    by_id, created = await record.create_resource(
        db, shr.hospital_doctor, observation(p.id), if_none_exist=[("_id", first.fhir_id)]
    )
    assert (by_id.id, created) == (first.id, False)
    # the condition names one of the resource's own identifiers, in full (the unique key
    # then decides a race): without the system, or not in the body, it is refused
    elsewise = [{"system": shr.system, "value": unique("x")}]
    for condition, body in (
        (value, observation(p.id, identifier=ident)),
        (f"{shr.system}|{value}", observation(p.id)),
        (f"{shr.system}|{value}", observation(p.id, identifier=elsewise)),
    ):
        with pytest.raises(Invalid) as e:
            await record.create_resource(
                db, shr.hospital_doctor, body, if_none_exist=[("identifier", condition)]
            )
        assert "If-None-Exist.identifier" in fields(e.value)
    with pytest.raises(Invalid) as e:
        await record.create_resource(
            db, shr.hospital_doctor, observation(p.id), if_none_exist=[("code", "x")]
        )
    assert "If-None-Exist.code" in fields(e.value)


async def test_the_stored_body_is_the_json_of_the_resource(db, shr):
    from salomat.domains.record.models import RecordResource, RecordVersion

    p = await shr.make_patient()
    out, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    body = await db.scalar(select(RecordResource.body).where(RecordResource.id == out.id))
    version = await db.scalar(select(RecordVersion.body).where(RecordVersion.resource_id == out.id))
    assert json.loads(body) == out.resource == json.loads(version)


async def test_a_conditional_create_does_not_show_a_match_out_of_scope(
    db, shr, make_user, make_facility
):
    from tests.domains.record.conftest import principal

    p = await shr.make_patient()
    value = unique("o")
    ident = [{"system": shr.system, "value": value}]
    first, _ = await record.create_resource(
        db, shr.hospital_doctor, observation(p.id, identifier=ident)
    )
    await db.commit()
    elsewhere = await make_facility("district_hospital")
    stranger = principal(
        await make_user("family_doctor", facility_code=elsewhere.code), "family_doctor", elsewhere
    )
    with pytest.raises(Conflict) as e:
        await record.create_resource(
            db,
            stranger,
            observation(p.id, identifier=ident),
            if_none_exist=[("identifier", f"{shr.system}|{value}")],
        )
    assert first.fhir_id not in str(e.value)
    assert "status" not in str(e.value)


async def test_an_update_is_audited_and_needs_the_person_in_scope(
    db, shr, make_user, make_facility
):
    from tests.domains.record.conftest import principal

    p = await shr.make_patient()
    first, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    await db.commit()
    elsewhere = await make_facility("district_hospital")
    stranger = principal(
        await make_user("family_doctor", facility_code=elsewhere.code), "family_doctor", elsewhere
    )
    with pytest.raises(NotFound):
        await record.update_resource(db, stranger, "Observation", first.fhir_id, observation(p.id))
    # the refusal outlives the request's rollback, as the unit of work writes it
    await db.rollback()
    await audit.write_after_rollback(db)
    await db.commit()
    denied = await db.scalar(
        select(AuditEvent.action).where(
            AuditEvent.resource_id == first.fhir_id, AuditEvent.username == stranger.username
        )
    )
    assert denied == "denied"
    # the family doctor of the polyclinic she is attached to reads it but may not change
    # it: a resource is its sender's statement (403, audited)
    with pytest.raises(Forbidden):
        await record.update_resource(
            db, shr.doctor, "Observation", first.fhir_id, observation(p.id)
        )
    await db.rollback()
    await audit.write_after_rollback(db)
    await db.commit()
    # the sending hospital corrects it, audited under its right as the sender
    await record.update_resource(
        db, shr.hospital_doctor, "Observation", first.fhir_id, observation(p.id)
    )
    await db.commit()
    rows = (
        await db.execute(
            select(AuditEvent.username, AuditEvent.action, AuditEvent.purpose)
            .where(AuditEvent.resource_id == first.fhir_id, AuditEvent.action != "read")
            .order_by(AuditEvent.id)
        )
    ).all()
    assert rows == [
        (shr.hospital_doctor.username, "create", "shared health record"),
        (stranger.username, "denied", None),
        (shr.doctor.username, "denied", None),
        (shr.hospital_doctor.username, "update", "record-sender"),
    ]


async def test_a_dead_persons_record_is_taken(db, shr):
    from datetime import date

    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import DeathIn

    p = await shr.make_patient()
    await registry.register_death(
        db,
        shr.doctor,
        p.id,
        DeathIn(deceased_on=date(2026, 3, 8), cause="J18.9"),
        expected_version=p.version,
    )
    await db.commit()
    out, created = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    assert created
    assert out.person_id == p.id


async def test_a_record_for_a_merged_away_patient_is_refused_naming_the_survivor(db, shr):
    """Stored under the merged-away id the record would be nobody's: refused, and the
    refusal names the record that stands for the person now, along a chain of merges."""
    from salomat.core.security import Principal
    from salomat.domains.record.models import RecordResource
    from salomat.domains.registry import service as registry

    clerk = Principal(user_id=0, username="t", role="registrar", session_id="t")
    first, middle, last = [await shr.make_patient() for _ in range(3)]
    kept, _ = await record.create_resource(db, shr.hospital_doctor, observation(first.id))
    await registry.merge_persons(db, clerk, middle.id, first.id, "the same woman, twice")
    await db.commit()

    def count() -> object:
        return db.scalar(select(func.count()).select_from(RecordResource))

    before = await count()
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, observation(first.id))
    assert fields(e.value) == {
        "subject": f"Patient/{first.id} was merged into Patient/{middle.id}; "
        f"send the record for Patient/{middle.id}."
    }
    await db.rollback()
    # the one merged into is merged later: the refusal names the last survivor
    await registry.merge_persons(db, clerk, last.id, middle.id, "the same woman, thrice")
    await db.commit()
    allergy = {
        "resourceType": "AllergyIntolerance",
        "code": {"text": "Penicillin"},
        "patient": {"reference": f"Patient/{first.id}"},
    }
    for body, element in ((observation(first.id), "subject"), (allergy, "patient")):
        with pytest.raises(Invalid) as e:
            await record.create_resource(db, shr.hospital_doctor, body)
        assert fields(e.value) == {
            element: f"Patient/{first.id} was merged into Patient/{last.id}; "
            f"send the record for Patient/{last.id}."
        }
        await db.rollback()
    with pytest.raises(Invalid) as e:
        await record.create_resource(db, shr.hospital_doctor, observation(middle.id))
    assert f"into Patient/{last.id}" in fields(e.value)["subject"]
    await db.rollback()
    assert await count() == before
    # the resource kept before the merges followed the person; an update naming the
    # merged-away record is refused the same way, one naming the survivor is taken
    with pytest.raises(Invalid) as e:
        await record.update_resource(
            db, shr.hospital_doctor, "Observation", kept.fhir_id, observation(first.id)
        )
    assert f"into Patient/{last.id}" in fields(e.value)["subject"]
    await db.rollback()
    now = await record.update_resource(
        db, shr.hospital_doctor, "Observation", kept.fhir_id, observation(last.id)
    )
    assert (now.person_id, now.version) == (last.id, 2)
