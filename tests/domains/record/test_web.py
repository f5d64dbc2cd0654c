"""The family doctor's page of the shared health record: what a hospital sent for her
patient, newest first, a visit's diagnosis and measurements under it, the hospital named
in the page's language; an empty record says so; a patient outside her scope is a 404
like every person page; the patient card links to it for those allowed to read it; in
Chromium she follows the link from the card, in English and in Russian."""

from __future__ import annotations

import re
from typing import Any

import pytest

from salomat.core.security import Principal
from tests.domains.registry.test_web import web_login
from tests.factories import unique
from tests.ui.conftest import in_chromium, open_browser

pytestmark = pytest.mark.anyio

HOSPITAL_NAMES = {
    "en": "Urgut central district hospital",
    "ru": "Центральная больница Ургутского района",
    "uz": "Urgut tuman markaziy shifoxonasi",
}
LOINC = "http://loinc.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


async def hospital(db: Any) -> Any:
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import FacilityIn

    fac = await registry.create_facility(
        db,
        FacilityIn(
            code=unique("H"), name=HOSPITAL_NAMES["uz"], kind="district_hospital",
            names=HOSPITAL_NAMES,
        ),
    )  # fmt: skip
    await db.commit()
    return fac


def clinician(fac: Any, username: str = "urgut-therapist") -> Principal:
    return Principal(
        user_id=0,
        username=username,
        role="family_doctor",
        session_id="t",
        facility_id=fac.id,
        facility_code=fac.code,
    )


def observation(
    person_id: int,
    code: str,
    text: str,
    value: float,
    unit: str,
    when: str,
    *,
    category: str = "vital-signs",
    encounter: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit,
        },
    }  # fmt: skip
    if encounter:
        body["encounter"] = {"reference": f"Encounter/{encounter}"}
    return body


async def send_stay(db: Any, sender: Principal, person_id: int) -> dict[str, str]:
    """A hospital stay as the hospital's system sends it: the encounter, its diagnosis
    and two measurements under it; and a laboratory result a month before, on its own."""
    from salomat.domains.record import service as record

    async def send(body: dict[str, Any]) -> str:
        stored, created = await record.create_resource(db, sender, body)
        assert created
        return stored.fhir_id

    ids = {
        "lab": await send(
            observation(
                person_id,
                "4548-4",
                "HbA1c",
                6.1,
                "%",
                "2026-10-01T09:00:00+05:00",
                category="laboratory",
            )
        )
    }
    ids["visit"] = await send(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "IMP",
                "display": "inpatient encounter",
            },
            "type": [{"text": "Therapy department stay"}],
            "subject": {"reference": f"Patient/{person_id}"},
            "period": {"start": "2026-11-02T10:30:00+05:00", "end": "2026-11-09T12:00:00+05:00"},
        }
    )
    ids["diagnosis"] = await send(
        {
            "resourceType": "Condition",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I11.9"}],
                "text": "Hypertensive heart disease",
            },
            "subject": {"reference": f"Patient/{person_id}"},
            "encounter": {"reference": f"Encounter/{ids['visit']}"},
            "recordedDate": "2026-11-02T11:00:00+05:00",
        }
    )
    ids["pulse"] = await send(
        observation(
            person_id, "8867-4", "Heart rate", 88, "/min", "2026-11-02T10:45:00+05:00",
            encounter=ids["visit"],
        )
    )  # fmt: skip
    await db.commit()
    return ids


async def doctor_and_patient(db: Any, make_person: Any, make_user: Any) -> tuple[Any, Any]:
    doctor = await make_user("family_doctor")
    patient = await make_person(doctor.facility_code, family_name="Abdullayev", sex="male")
    return doctor, patient


def entries(html: str) -> list[tuple[str, str]]:
    """(type, the visit it is under or '') of each line, in the page's order."""
    return [
        (m[1], m[2] or "")
        for m in re.finditer(
            r'data-testid="record-entry" data-type="(\w+)" data-id="[^"]+"'
            r'(?: data-visit="([^"]+)")?',
            html,
        )
    ]


async def test_the_doctor_reads_what_the_hospital_sent_newest_first_under_its_visit(
    client, db, make_person, make_user
):
    doctor, patient = await doctor_and_patient(db, make_person, make_user)
    ids = await send_stay(db, clinician(await hospital(db)), patient.id)
    await web_login(client, doctor)
    r = await client.get(f"/patients/{patient.id}/record")
    assert r.status_code == 200, r.text
    assert entries(r.text) == [
        ("Encounter", ""),
        ("Condition", ids["visit"]),
        ("Observation", ids["visit"]),
        ("Observation", ""),
    ]
    rows = r.text.split('data-testid="record-entry"')[1:]
    visit, diagnosis, pulse, lab = rows
    assert ">Hospital stay<" in visit
    assert "02.11.2026 10:30 – 09.11.2026 12:00" in visit
    assert "finished" in visit
    assert "Diagnosis" in diagnosis
    assert "Hypertensive heart disease" in diagnosis
    assert "I11.9" in diagnosis
    assert ">active<" in diagnosis
    assert "Measurement" in pulse
    assert "Heart rate" in pulse
    assert "88" in pulse
    assert ">Result<" in lab
    assert "HbA1c" in lab
    assert "01.10.2026 09:00" in lab
    for row in rows:
        assert HOSPITAL_NAMES["en"] in row
        assert "urgut-therapist" in row


async def test_in_russian_the_kinds_and_the_hospital_are_named_in_russian(
    client, db, make_person, make_user
):
    doctor, patient = await doctor_and_patient(db, make_person, make_user)
    await send_stay(db, clinician(await hospital(db)), patient.id)
    await web_login(client, doctor)
    client.cookies.set("salomat_lang", "ru")
    r = await client.get(f"/patients/{patient.id}/record")
    assert r.status_code == 200, r.text
    assert '<html lang="ru"' in r.text
    assert r.text.count(HOSPITAL_NAMES["ru"]) == 4
    assert HOSPITAL_NAMES["en"] not in r.text
    for word in ("Общая медицинская карта", "Госпитализация", "Диагноз", "Измерение", "Результат"):
        assert word in r.text, word
    for english in ("Shared health record", "Measurement", ">Result<", "Sent by"):
        assert english not in r.text, english


async def test_an_empty_record_says_nothing_was_sent(client, db, make_person, make_user):
    doctor, patient = await doctor_and_patient(db, make_person, make_user)
    await web_login(client, doctor)
    r = await client.get(f"/patients/{patient.id}/record")
    assert r.status_code == 200, r.text
    assert 'data-testid="record-empty"' in r.text
    assert 'data-testid="record-entry"' not in r.text


async def test_a_patient_outside_her_scope_is_not_found_like_a_missing_one(
    client, db, make_person, make_user
):
    doctor = await make_user("family_doctor")
    elsewhere = await make_person((await make_user("family_doctor")).facility_code)
    await send_stay(db, clinician(await hospital(db)), elsewhere.id)
    await web_login(client, doctor)
    hidden = await client.get(f"/patients/{elsewhere.id}/record")
    missing = await client.get("/patients/999999999/record")
    assert hidden.status_code == missing.status_code == 404
    assert "Hypertensive" not in hidden.text


async def test_a_role_without_the_record_is_refused(client, db, make_person, make_user):
    pharmacist = await make_user("pharmacist")
    patient = await make_person(pharmacist.facility_code)
    await web_login(client, pharmacist)
    r = await client.get(f"/patients/{patient.id}/record")
    assert r.status_code in (403, 404)
    assert 'data-testid="shared-record"' not in r.text


async def test_the_card_links_to_the_record_for_a_clinician_only(
    client, db, make_person, make_user
):
    doctor, patient = await doctor_and_patient(db, make_person, make_user)
    await web_login(client, doctor)
    card = await client.get(f"/patients/{patient.id}")
    assert card.status_code == 200
    assert f'href="/patients/{patient.id}/record" data-testid="record-link"' in card.text
    clerk = await make_user("registrar", facility_code=doctor.facility_code)
    client.cookies.clear()
    await web_login(client, clerk)
    card = await client.get(f"/patients/{patient.id}")
    assert card.status_code == 200
    assert 'data-testid="record-link"' not in card.text


@in_chromium
async def test_in_chromium_the_doctor_follows_the_card_to_the_hospital_stay(
    live_server, db, make_person, make_user
):
    doctor, patient = await doctor_and_patient(db, make_person, make_user)
    await send_stay(db, clinician(await hospital(db)), patient.id)
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(doctor.username)
        await page.goto(browser.url(f"/patients/{patient.id}"))
        async with page.expect_navigation():
            await page.get_by_test_id("record-link").click()
        assert page.url.endswith(f"/patients/{patient.id}/record")
        lines = page.get_by_test_id("record-entry")
        assert await lines.count() == 4
        kinds = [k.strip() for k in await page.get_by_test_id("entry-kind").all_inner_texts()]
        assert kinds == ["Hospital stay", "↳ Diagnosis", "↳ Measurement", "Result"]
        diagnosis = page.locator('[data-testid="record-entry"][data-type="Condition"]')
        assert "Hypertensive heart disease" in await diagnosis.inner_text()
        facilities = await page.get_by_test_id("entry-facility").all_inner_texts()
        assert facilities == [HOSPITAL_NAMES["en"]] * 4
        await browser.screenshot("record-timeline-en")

        await browser.context.add_cookies(
            [{"name": "salomat_lang", "value": "ru", "url": browser.url("/")}]
        )
        await page.reload()
        assert await page.locator("html").get_attribute("lang") == "ru"
        kinds = [k.strip() for k in await page.get_by_test_id("entry-kind").all_inner_texts()]
        assert kinds == ["Госпитализация", "↳ Диагноз", "↳ Измерение", "Результат"]
        facilities = await page.get_by_test_id("entry-facility").all_inner_texts()
        assert facilities == [HOSPITAL_NAMES["ru"]] * 4
        assert "Hypertensive heart disease" in await diagnosis.inner_text()
        await browser.screenshot("record-timeline-ru")


async def test_every_kind_is_named_and_a_day_sent_without_a_time_is_the_day(
    client, db, make_person, make_user
):
    from salomat.domains.record import service as record

    doctor, patient = await doctor_and_patient(db, make_person, make_user)
    sender = clinician(await hospital(db), "lab-system")
    subject = {"reference": f"Patient/{patient.id}"}
    for body in (
        {
            "resourceType": "AllergyIntolerance",
            "patient": subject,
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"text": "Penicillin"},
            "recordedDate": "2026-09-01",
        },
        {
            "resourceType": "Procedure",
            "status": "completed",
            "code": {"text": "Appendectomy"},
            "subject": subject,
            "performedDateTime": "2026-08-01T09:00:00+05:00",
        },
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "code": {"text": "Chest X-ray"},
            "subject": subject,
            "effectiveDateTime": "2026-07-01",
            "conclusion": "No pathology found",
        },
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {"text": "Discharge summary"},
            "subject": subject,
            "date": "2026-06-01T10:00:00+05:00",
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": "SGVsbG8=",
                        "title": "Epicrisis",
                    }
                }
            ],
        },
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "EMER",
            },
            "subject": subject,
            "period": {"start": "2026-05-01", "end": "2026-05-03"},
        },
    ):
        await record.create_resource(db, sender, body)
    await db.commit()
    await web_login(client, doctor)
    r = await client.get(f"/patients/{patient.id}/record")
    assert r.status_code == 200, r.text
    rows = dict(
        zip(
            (t for t, _ in entries(r.text)),
            r.text.split('data-testid="record-entry"')[1:],
            strict=True,
        )
    )
    assert list(rows) == [
        "AllergyIntolerance",
        "Procedure",
        "DiagnosticReport",
        "DocumentReference",
        "Encounter",
    ]
    allergy = rows["AllergyIntolerance"]
    assert ">Allergy<" in allergy
    assert "Penicillin" in allergy
    assert ">01.09.2026<" in allergy
    assert ">active<" in allergy
    assert ">Procedure<" in rows["Procedure"]
    assert "01.08.2026 09:00" in rows["Procedure"]
    assert ">completed<" in rows["Procedure"]
    report = rows["DiagnosticReport"]
    assert ">Report<" in report
    assert ">01.07.2026<" in report
    assert "No pathology found" in report
    document = rows["DocumentReference"]
    assert ">Document<" in document
    assert "Discharge summary" in document
    assert ">in force<" in document
    assert ">Emergency visit<" in rows["Encounter"]
    assert "01.05.2026 – 03.05.2026" in rows["Encounter"]


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        ("2026-11-02", None, ("02.11.2026", None)),
        ("2026-11-02", "2026-11-09", ("02.11.2026", "09.11.2026")),
        ("2026-11-02", "2026-11-02", ("02.11.2026", None)),
        ("2026-11-02T10:30:00+05:00", None, ("02.11.2026 10:30", None)),
        (
            "2026-11-02T10:30:00+05:00",
            "2026-11-09T12:00:00+05:00",
            ("02.11.2026 10:30", "09.11.2026 12:00"),
        ),
        ("2026-11-02T23:30:00Z", None, ("03.11.2026 04:30", None)),
    ],
)
def test_a_time_is_shown_as_the_pack_writes_it_in_the_countrys_time(start, end, shown):
    from salomat.domains.record.service.tokens import fhir_interval
    from salomat.domains.record.web import span

    first = fhir_interval(start)[0]
    last = fhir_interval(end)[0] if end else None
    assert span(first, last) == shown


@pytest.mark.parametrize(("country", "lang"), [("UZ", "uz"), ("UZ", "ru"), ("KZ", "kk")])
async def test_the_page_speaks_the_language_without_raw_codes(
    client, db, make_person, make_user, monkeypatch, country, lang
):
    from salomat.core.config import get_settings
    from tests.ui.test_languages import findings

    doctor, patient = await doctor_and_patient(db, make_person, make_user)
    await send_stay(db, clinician(await hospital(db)), patient.id)
    await web_login(client, doctor)
    monkeypatch.setenv("SALOMAT_COUNTRY", country)
    get_settings.cache_clear()
    try:
        client.cookies.set("salomat_lang", lang)
        r = await client.get(f"/patients/{patient.id}/record")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert r.status_code == 200, r.text
    assert f'lang="{lang}"' in r.text
    assert findings(r.text, lang, data=frozenset({"urgut-therapist"}), country=country) == []
    for english in ("Shared health record", "Measurement", "Hospital stay", "Sent by"):
        assert english not in r.text, english


async def test_a_long_record_shows_the_newest_and_says_so(
    client, db, make_person, make_user, monkeypatch
):
    from salomat.domains.record import web

    doctor, patient = await doctor_and_patient(db, make_person, make_user)
    await send_stay(db, clinician(await hospital(db)), patient.id)
    await web_login(client, doctor)
    monkeypatch.setattr(web, "LIMIT", 3)
    r = await client.get(f"/patients/{patient.id}/record")
    assert r.status_code == 200, r.text
    assert [t for t, _ in entries(r.text)] == ["Encounter", "Condition", "Observation"]
    assert "The newest 3 entries are shown" in r.text
    monkeypatch.setattr(web, "LIMIT", 4)
    r = await client.get(f"/patients/{patient.id}/record")
    assert len(entries(r.text)) == 4
    assert "HbA1c" in r.text
    assert 'data-testid="record-limited"' not in r.text
