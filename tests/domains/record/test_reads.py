"""Reading and searching the shared record: every RecordQuery criterion, FHIR date
prefixes at their boundaries, paging and counting; people out of the caller's scope
answer like missing ones and are left out of searches; every person shown audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from salomat.core.audit import AuditEvent
from salomat.core.errors import Invalid, NotFound
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery
from tests.domains.record.conftest import principal
from tests.domains.record.helpers import document, encounter, fields, interval, observation
from tests.factories import unique

pytestmark = pytest.mark.anyio


async def _ids(db, who, q: RecordQuery, rtype: str = "Observation") -> list[str]:
    page = await record.search_resources(db, who, rtype, q)
    return [s.fhir_id for s in page.items]


async def test_a_search_needs_a_patient_ids_or_identifiers(db, shr):
    with pytest.raises(Invalid) as e:
        await record.search_resources(db, shr.doctor, "Observation", RecordQuery(statuses=["x"]))
    assert "patient" in fields(e.value)


async def test_search_by_each_criterion(db, shr):
    p = await shr.make_patient()
    enc, _ = await record.create_resource(db, shr.hospital_doctor, encounter(p.id))
    value = unique("o")
    a, _ = await record.create_resource(
        db,
        shr.hospital_doctor,
        observation(
            p.id,
            identifier=[{"system": shr.system, "value": value}],
            encounter={"reference": f"Encounter/{enc.fhir_id}"},
        ),
    )
    b, _ = await record.create_resource(
        db,
        shr.hospital_doctor,
        observation(
            p.id,
            status="preliminary",
            category="laboratory",
            code={"coding": [{"system": "http://loinc.org", "code": "2345-7"}], "text": "Glucose"},
            effective="2026-04-01",
        ),
    )
    await db.commit()
    doc = shr.doctor
    assert await _ids(db, doc, RecordQuery(person_id=p.id)) == [a.fhir_id, b.fhir_id]
    assert await _ids(db, doc, RecordQuery(ids=[b.id])) == [b.fhir_id]
    assert await _ids(db, doc, RecordQuery(person_id=p.id, ids=[a.id, b.id])) == [
        a.fhir_id,
        b.fhir_id,
    ]
    # identifiers: with its system, without one, under another system
    assert await _ids(db, doc, RecordQuery(identifiers=[(shr.system, value)])) == [a.fhir_id]
    assert await _ids(db, doc, RecordQuery(identifiers=[(None, value)])) == [a.fhir_id]
    assert await _ids(db, doc, RecordQuery(identifiers=[("urn:other", value)])) == []
    # codes: any coding of the resource, with or without its system; OR of several
    q = RecordQuery(person_id=p.id, codes=[("urn:local:codes", "HR")])
    assert await _ids(db, doc, q) == [a.fhir_id]
    q = RecordQuery(person_id=p.id, codes=[(None, "8867-4")])
    assert await _ids(db, doc, q) == [a.fhir_id]
    q = RecordQuery(person_id=p.id, codes=[("urn:local:codes", "8867-4")])
    assert await _ids(db, doc, q) == []
    q = RecordQuery(person_id=p.id, codes=[(None, "8867-4"), ("http://loinc.org", "2345-7")])
    assert await _ids(db, doc, q) == [a.fhir_id, b.fhir_id]
    q = RecordQuery(person_id=p.id, categories=[(None, "laboratory")])
    assert await _ids(db, doc, q) == [b.fhir_id]
    q = RecordQuery(person_id=p.id, statuses=["final", "amended"])
    assert await _ids(db, doc, q) == [a.fhir_id]
    q = RecordQuery(person_id=p.id, encounter_id=enc.id)
    assert await _ids(db, doc, q) == [a.fhir_id]
    # the encounter itself: class as its category
    q = RecordQuery(person_id=p.id, categories=[(None, "IMP")])
    assert await _ids(db, doc, q, "Encounter") == [enc.fhir_id]
    # sort, paging, count only
    q = RecordQuery(person_id=p.id, sort=[("date", True)])
    assert await _ids(db, doc, q) == [b.fhir_id, a.fhir_id]
    q = RecordQuery(person_id=p.id, sort=[("_id", True)], offset=1, limit=1)
    page = await record.search_resources(db, doc, "Observation", q)
    assert ([s.fhir_id for s in page.items], page.total) == ([a.fhir_id], 2)
    page = await record.search_resources(
        db, doc, "Observation", RecordQuery(person_id=p.id, limit=0)
    )
    assert (page.items, page.total) == ([], 2)
    q = RecordQuery(person_id=p.id, last_updated=[interval("ge", "2000-01-01")])
    assert len(await _ids(db, doc, q)) == 2
    q = RecordQuery(person_id=p.id, last_updated=[interval("lt", "2000-01-01")])
    assert await _ids(db, doc, q) == []


# the resource's time: [2026-03-05T10:00:00Z, +1 s) (a dateTime to the second)
@pytest.mark.parametrize(
    ("prefix", "value", "found"),
    [
        ("eq", "2026-03-05", True),
        ("eq", "2026-03-04", False),
        ("eq", "2026-03", True),
        ("eq", "2026-03-05T10:00:00Z", True),
        ("eq", "2026-03-05T10:00:01Z", False),
        ("ne", "2026-03-05T10:00:00Z", False),
        ("ne", "2026-03-05T09:59:59Z", True),
        ("gt", "2026-03-05T09:59:59Z", True),
        ("gt", "2026-03-05T10:00:00Z", False),
        ("ge", "2026-03-05T10:00:00Z", True),
        ("ge", "2026-03-05T10:00:01Z", False),
        ("lt", "2026-03-05T10:00:01Z", True),
        ("lt", "2026-03-05T10:00:00Z", False),
        ("le", "2026-03-05T10:00:00Z", True),
        ("le", "2026-03-05T09:59:59Z", False),
        ("sa", "2026-03-05T09:59:59Z", True),
        ("sa", "2026-03-05T10:00:00Z", False),
        ("eb", "2026-03-05T10:00:01Z", True),
        ("eb", "2026-03-05T10:00:00Z", False),
        ("ap", "2026-03-05", True),
        ("ap", "2020-01-01", False),
        # a zone moves the value, not the resource
        ("eq", "2026-03-05T15:00:00+05:00", True),
    ],
)
async def test_date_prefixes_at_their_boundaries(db, shr, prefix, value, found):
    p = await shr.make_patient()
    a, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    q = RecordQuery(person_id=p.id, date=[interval(prefix, value)])
    assert await _ids(db, shr.doctor, q) == ([a.fhir_id] if found else [])


async def test_a_period_and_an_open_period_compare_as_intervals(db, shr):
    p = await shr.make_patient()
    stay, _ = await record.create_resource(db, shr.hospital_doctor, encounter(p.id))
    open_, _ = await record.create_resource(
        db, shr.hospital_doctor, encounter(p.id, period={"start": "2026-03-06T00:00:00Z"})
    )
    doc = shr.doctor

    async def found(*items: tuple) -> list[str]:
        q = RecordQuery(person_id=p.id, date=list(items))
        return await _ids(db, doc, q, "Encounter")

    # the stay: 1 March 08:00 to 7 March 12:00 (its end to the second: + 1 s)
    assert await found(interval("eq", "2026-03")) == [stay.fhir_id]
    assert await found(interval("eq", "2026-03-05")) == []
    assert await found(interval("ge", "2026-03-07")) == [stay.fhir_id, open_.fhir_id]
    assert await found(interval("gt", "2026-03-07")) == [open_.fhir_id]
    assert await found(interval("lt", "2026-03-06")) == [stay.fhir_id]
    assert await found(interval("sa", "2026-03-05")) == [open_.fhir_id]
    assert await found(interval("eb", "2026-03-08")) == [stay.fhir_id]
    assert await found(interval("ge", "2026-03-02"), interval("le", "2026-03-04")) == [stay.fhir_id]


async def test_out_of_scope_reads_are_404_and_searches_leave_them_out(db, shr, make_person):
    p = await shr.make_patient()
    stranger = await make_person()  # attached nowhere the doctor works
    mine, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    theirs, _ = await record.create_resource(db, shr.hospital_doctor, observation(stranger.id))
    await db.commit()
    for read in (
        record.read_resource(db, shr.doctor, "Observation", theirs.fhir_id),
        record.resource_history(db, shr.doctor, "Observation", theirs.fhir_id),
        record.timeline(db, shr.doctor, stranger.id),
    ):
        with pytest.raises(NotFound):
            await read
    await db.rollback()
    # a missing id answers the same
    with pytest.raises(NotFound):
        await record.read_resource(db, shr.doctor, "Observation", "shr-999999999")
    await db.rollback()
    q = RecordQuery(ids=[mine.id, theirs.id])
    page = await record.search_resources(db, shr.doctor, "Observation", q)
    assert ([s.fhir_id for s in page.items], page.total) == ([mine.fhir_id], 1)
    q = RecordQuery(person_id=stranger.id)
    page = await record.search_resources(db, shr.doctor, "Observation", q)
    assert (page.items, page.total) == ([], 0)
    await db.commit()
    denied = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.username == shr.doctor.username,
            AuditEvent.patient_id == stranger.id,
            AuditEvent.action == "denied",
        )
    )
    assert denied == 2  # the two searches; the refused reads rolled back with their request


async def test_each_person_shown_is_audited_once_per_search(db, shr):
    p = await shr.make_patient()
    for _ in range(3):
        await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    await db.commit()
    start = await db.scalar(select(func.max(AuditEvent.id)))
    await record.search_resources(db, shr.doctor, "Observation", RecordQuery(person_id=p.id))
    await record.read_resource(
        db,
        shr.doctor,
        "Observation",
        (await record.search_resources(db, shr.doctor, "Observation", RecordQuery(person_id=p.id)))
        .items[0]
        .fhir_id,
    )
    await db.commit()
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type, AuditEvent.patient_id)
            .where(AuditEvent.id > start, AuditEvent.username == shr.doctor.username)
            .order_by(AuditEvent.id)
        )
    ).all()
    assert rows == [
        ("search", "Observation", p.id),
        ("search", "Observation", p.id),
        ("read", "Observation", p.id),
    ]


async def test_the_sending_facility_finds_and_reads_what_it_sent_and_nothing_more(
    db, shr, make_user, make_facility
):
    from salomat.core.policy import person_scope
    from salomat.domains.record.models import RecordResource

    p = await shr.make_patient()
    other_hospital = await make_facility("district_hospital")
    other = principal(
        await make_user("family_doctor", facility_code=other_hospital.code),
        "family_doctor",
        other_hospital,
    )
    sent, _ = await record.create_resource(db, other, observation(p.id))
    theirs, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    await db.commit()
    colleague = principal(
        await make_user("nurse", facility_code=other_hospital.code), "nurse", other_hospital
    )
    # sending opens nothing of the person beyond the record's own resources
    assert await person_scope(db, colleague, p.id) is None
    # a colleague at the sending hospital reads, finds and sees on the timeline what it sent
    assert (await record.read_resource(db, colleague, "Observation", sent.fhir_id)).id == sent.id
    assert [v.version for v in await record.resource_history(
        db, colleague, "Observation", sent.fhir_id
    )] == [1]  # fmt: skip
    for q in (RecordQuery(person_id=p.id), RecordQuery(ids=[sent.id, theirs.id])):
        page = await record.search_resources(db, colleague, "Observation", q)
        assert ([s.fhir_id for s in page.items], page.total) == ([sent.fhir_id], 1)
    assert [e.fhir_id for e in await record.timeline(db, colleague, p.id)] == [sent.fhir_id]
    # ... a year and more later too (what it sent stays its statement)
    await db.execute(
        update(RecordResource)
        .where(RecordResource.id == sent.id)
        .values(created_at=datetime.now(UTC) - timedelta(days=800))
    )
    await db.commit()
    assert (await record.read_resource(db, colleague, "Observation", sent.fhir_id)).id == sent.id
    # but not what another facility sent for her
    with pytest.raises(NotFound):
        await record.read_resource(db, colleague, "Observation", theirs.fhir_id)
    await db.rollback()
    # and a hospital that sent nothing for her sees nothing of hers
    stranger_place = await make_facility("district_hospital")
    stranger = principal(
        await make_user("family_doctor", facility_code=stranger_place.code),
        "family_doctor",
        stranger_place,
    )
    with pytest.raises(NotFound):
        await record.timeline(db, stranger, p.id)
    await db.rollback()
    await db.commit()
    purposes = (
        await db.scalars(
            select(AuditEvent.purpose)
            .where(AuditEvent.username == colleague.username, AuditEvent.action != "denied")
            .order_by(AuditEvent.id)
        )
    ).all()
    assert set(purposes) == {"record-sender"}


async def test_the_timeline_names_the_sender_in_the_readers_language(db, shr):
    from salomat.core import i18n

    p = await shr.make_patient()
    enc, _ = await record.create_resource(
        db,
        shr.hospital_doctor,
        encounter(p.id, meta={"source": "urn:his:dh-1"}, reasonCode=[{"text": "Pneumonia"}]),
    )
    bp = observation(
        p.id,
        code={"text": "Blood pressure"},
        effective="2026-03-06T09:00:00Z",
        encounter={"reference": f"Encounter/{enc.fhir_id}"},
        component=[
            {"code": {"text": "systolic"}, "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
            {"code": {"text": "diastolic"}, "valueQuantity": {"value": 80, "unit": "mm[Hg]"}},
        ],
    )
    del bp["valueQuantity"]
    obs, _ = await record.create_resource(db, shr.hospital_doctor, bp)
    await db.commit()
    token = i18n.set_language("ru")
    try:
        entries = await record.timeline(db, shr.doctor, p.id)
    finally:
        i18n.reset_language(token)
    assert [e.fhir_id for e in entries] == [obs.fhir_id, enc.fhir_id]
    first, second = entries
    assert (first.text, first.value, first.category) == (
        "Blood pressure",
        "120/80 mm[Hg]",
        "vital-signs",
    )
    assert first.encounter_fhir_id == enc.fhir_id
    assert (first.sender, first.sender_facility_code) == (
        shr.hospital_doctor.username,
        shr.hospital.code,
    )
    assert first.sender_facility_name == "Районная больница"
    assert (second.resource_type, second.value, second.source) == (
        "Encounter",
        "Pneumonia",
        "urn:his:dh-1",
    )
    assert second.start == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert second.end == datetime(2026, 3, 7, 12, tzinfo=UTC)
    token = i18n.set_language("kk")
    try:
        entries = await record.timeline(db, shr.doctor, p.id)
    finally:
        i18n.reset_language(token)
    assert entries[0].sender_facility_name == "District hospital"  # no Kazakh name: the main one


async def test_the_timeline_shows_a_large_document_without_reading_its_body(db, shr):
    """What the timeline shows is taken when the resource is written: reading it selects
    no body (a document's attachment may be megabytes)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    p = await shr.make_patient()
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * (4 * 4096)  # 4 MiB and a bit
    doc = document(p.id, pdf, title="Discharge summary, ward 3")
    doc["description"] = "Pneumonia, treated"
    sent, _ = await record.create_resource(db, shr.hospital_doctor, doc)
    await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    await db.commit()
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        entries = await record.timeline(db, shr.doctor, p.id)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    shown = {e.resource_type: e for e in entries}
    assert (shown["DocumentReference"].attachment_title, shown["DocumentReference"].value) == (
        "Discharge summary, ward 3",
        "Pneumonia, treated",
    )
    assert shown["Observation"].value == "72 /min"
    assert any("record_resource.value_text" in s for s in statements)
    assert not any("record_resource.body" in s or "record_version" in s for s in statements)
    # an update describes the resource anew
    doc["content"][0]["attachment"]["title"] = "Discharge summary (corrected)"
    await record.update_resource(db, shr.hospital_doctor, "DocumentReference", sent.fhir_id, doc)
    await db.commit()
    entries = await record.timeline(db, shr.doctor, p.id)
    assert [e.attachment_title for e in entries if e.fhir_id == sent.fhir_id] == [
        "Discharge summary (corrected)"
    ]


async def test_a_merge_brings_the_records_to_the_survivor_and_an_unmerge_takes_them_back(
    db, shr, make_user
):
    from salomat.domains.registry import service as registry

    survivor, duplicate = await shr.make_patient(), await shr.make_patient()
    sent, _ = await record.create_resource(db, shr.hospital_doctor, observation(duplicate.id))
    await db.commit()
    clerk = principal(await make_user("registrar"), "registrar", None)
    merged = await registry.merge_persons(
        db, clerk, survivor.id, duplicate.id, "one woman registered twice at two polyclinics"
    )
    await db.commit()
    assert [e.fhir_id for e in await record.timeline(db, shr.doctor, survivor.id)] == [sent.fhir_id]
    page = await record.search_resources(
        db, shr.doctor, "Observation", RecordQuery(person_id=survivor.id)
    )
    assert [s.fhir_id for s in page.items] == [sent.fhir_id]
    # the body stays as the sender sent it
    assert page.items[0].resource["subject"] == {"reference": f"Patient/{duplicate.id}"}
    await registry.unmerge(db, clerk, merged.id, "two women after all: different mothers")
    await db.commit()
    assert await record.timeline(db, shr.doctor, survivor.id) == []


@pytest.mark.parametrize(("offset", "limit", "field"), [(-1, 10, "_offset"), (0, -1, "_count")])
async def test_a_negative_page_is_refused(db, shr, offset, limit, field):
    p = await shr.make_patient()
    with pytest.raises(Invalid) as e:
        await record.search_resources(
            db, shr.doctor, "Observation", RecordQuery(person_id=p.id, offset=offset, limit=limit)
        )
    assert list(fields(e.value)) == [field]


@pytest.mark.parametrize(
    ("criterion", "field"),
    [
        ({"identifiers": [(None, "a\x00")]}, "identifier"),
        ({"codes": [("\ud800", "x")]}, "code"),
        ({"statuses": ["\x00"]}, "status"),
    ],
)
async def test_a_search_for_what_cannot_be_stored_is_refused(db, shr, criterion, field):
    p = await shr.make_patient()
    with pytest.raises(Invalid) as e:
        await record.search_resources(
            db, shr.doctor, "Observation", RecordQuery(person_id=p.id, **criterion)
        )
    assert list(fields(e.value)) == [field]


async def test_ids_no_row_can_have_find_nothing(db, shr):
    p = await shr.make_patient()
    a, _ = await record.create_resource(db, shr.hospital_doctor, observation(p.id))
    for q in (
        RecordQuery(person_id=2**63),
        RecordQuery(ids=[2**64]),
        RecordQuery(person_id=p.id, encounter_id=-1),
    ):
        page = await record.search_resources(db, shr.doctor, "Observation", q)
        assert (page.items, page.total) == ([], 0)
    page = await record.search_resources(
        db, shr.doctor, "Observation", RecordQuery(ids=[2**64, a.id])
    )
    assert [s.id for s in page.items] == [a.id]
    for version in (0, -1, 2**40):
        with pytest.raises(NotFound):
            await record.read_resource(db, shr.doctor, "Observation", a.fhir_id, version=version)
