"""The citizen's "who opened my record" names what was opened: a resource of her shared
health record by its kind ("Result", "Visit"), not by what another domain keeps under the
same FHIR type (an Observation is a child's growth measurement there, an Encounter an
antenatal contact); the record's reasons in her language, never as codes."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core import i18n
from salomat.domains.accounts.service.labels import (
    PURPOSES,
    SCOPE_REASONS,
    purpose_label,
    resource_label,
)
from tests.domains.accounts.audit_support import web_login

pytestmark = pytest.mark.anyio

LOINC = "http://loinc.org"
#: the words of the catalogue (msgid -> ru, uz): the record page's names of its kinds, and
#: the other domains' names that must stay theirs
WORDS = {
    "Result": ("Результат", "Natija"),
    "Antenatal contact": ("Антенатальное посещение", "Antenatal koʻrik"),
    "Growth measurement": ("Измерение роста и веса", "Boʻy-vazn oʻlchovi"),
}


def _observation(person_id: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "718-7"}], "text": "Haemoglobin"},
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": "2026-03-01T09:15:00+05:00",
        "valueQuantity": {
            "value": 118,
            "unit": "g/L",
            "system": "http://unitsofmeasure.org",
            "code": "g/L",
        },
    }


def _rows(page: str) -> list[dict[str, str]]:
    """Each entry of the list: who, what and why as the page shows them."""
    out = []
    for row in re.findall(r'<tr data-testid="access-entry".*?</tr>', page, re.S):
        cells = {
            k: html_lib.unescape(re.sub(r"<[^>]+>", "", v)).strip()
            for k, v in re.findall(r'data-testid="(who|what|why)"[^>]*>(.*?)</td>', row, re.S)
        }
        out.append(cells)
    return out


def _in(lang: str, msgid: str) -> str:
    """The catalogue's words for ``msgid`` in ``lang``."""
    return i18n.translations(lang).gettext(msgid)


async def test_a_hospitals_read_of_her_shared_record_result_says_so_in_her_language(
    client, make_facility, make_person, make_user, login
):
    poly = await make_facility()
    hospital = await make_facility()
    woman = await make_person(facility_code=poly.code)
    citizen = await make_user("citizen", person_id=woman.id)
    doctor_account = await make_user("family_doctor", facility_code=poly.code)
    hospital_account = await make_user("family_doctor", facility_code=hospital.code)
    doctor, from_hospital = await login(doctor_account), await login(hospital_account)

    # her antenatal contact, opened by her family doctor (a numeric Encounter id)
    lmp = date.today() - timedelta(weeks=20)
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 1, "parity": 0},
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    preg = r.json()
    etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=doctor)).headers["etag"]
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/contacts",
        json={"on": date.today().isoformat(), "systolic_1": 112, "diastolic_1": 72},
        headers={**doctor, "If-Match": etag},
    )
    assert r.status_code == 201, r.text
    contact_id = r.json()["contacts"][-1]["id"]
    r = await client.get(f"/fhir/Encounter/{contact_id}", headers=doctor)
    assert r.status_code == 200, r.text

    # a hospital sends a result to her shared record, and opens it again
    r = await client.post(
        "/fhir/Observation",
        json=_observation(woman.id),
        headers={**from_hospital, "Content-Type": "application/fhir+json"},
    )
    assert r.status_code == 201, r.text
    shr_id = r.json()["id"]
    assert shr_id.startswith("shr-")
    r = await client.get(f"/fhir/Observation/{shr_id}", headers=from_hospital)
    assert r.status_code == 200, r.text
    # her family doctor finds it by a search (audited once per person shown)
    r = await client.get(
        "/fhir/Observation", params={"patient": woman.id, "code": "718-7"}, headers=doctor
    )
    assert r.status_code == 200, r.text
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [shr_id]

    for k, lang in enumerate(("ru", "uz")):
        await web_login(client, citizen, lang=lang)
        page = (await client.get("/access-log")).text
        rows = _rows(page)
        theirs = [r for r in rows if r["who"] == hospital_account.username]
        # sent and read again: each says a result of her record, not a growth measurement
        assert len(theirs) == 2, rows
        assert {r["what"] for r in theirs} == {WORDS["Result"][k]}
        whys = {r["why"] for r in theirs}
        assert _in(lang, "shared health record") in whys  # the hospital's sending
        assert "record-sender" not in page
        # the reasons are the catalogue's words in her language
        assert whys <= {_in(lang, m) for m in ("shared health record", *SCOPE_REASONS.values())}
        # her doctor's: the antenatal contact still so, the search a result (the same FHIR
        # search read the child domain's growth measurements too: those rows stay theirs)
        ours = {r["what"] for r in rows if r["who"] == doctor_account.username}
        assert {WORDS["Antenatal contact"][k], WORDS["Result"][k]} <= ours

    # the auditor's page and CSV name the rows the same way
    await web_login(client, await make_user("auditor"), lang="ru")
    query = {"person": str(woman.id), "actor": hospital_account.username}
    page = await client.get("/audit", params=query)
    assert page.status_code == 200, page.text
    # (the type filter's list names every label: the rows' cells are label + <small>id)
    assert page.text.count(f"Результат <small>{shr_id}</small>") == 2
    assert "Измерение роста и веса <small>shr-" not in page.text
    csv_rows = (await client.get("/audit/export.csv", params=query)).text.splitlines()[1:]
    theirs = [row for row in csv_rows if hospital_account.username in row]
    assert len(theirs) == 2, csv_rows
    assert all("Результат" in row and "Измерение роста" not in row for row in theirs)


@pytest.mark.parametrize(
    ("code", "resource_id", "action", "ru"),
    [
        # the shared record's resources, by their kind
        ("Encounter", "shr-3", "read", "Осмотр"),
        ("Observation", "shr-4", "update", "Результат"),
        ("Procedure", "shr-5", "create", "Процедура"),
        ("Condition", "shr-6", "read", "Диагноз"),
        ("AllergyIntolerance", "shr-7", "read", "Аллергия"),
        ("DiagnosticReport", "shr-8", "denied", "Заключение"),
        ("DocumentReference", "shr-9", "read", "Документ"),
        ("Observation", "12", "search", "Результат"),  # the record's search, per person
        ("DocumentReference", "12", "search", "Документ"),
        # the other domains' rows as they were (numeric ids: the person's)
        ("Encounter", "12", "read", "Антенатальное посещение"),
        ("Observation", "12", "read", "Измерение роста и веса"),
        ("Procedure", "12", "create", "Роды"),
        ("Condition", "12", "read", "Диагноз"),
        ("EpisodeOfCare", "12", "search", "Беременность"),
        ("Patient", "12", "read", "Персональная запись"),
        ("Encounter", None, None, "Антенатальное посещение"),  # called with the code only
    ],
)
def test_each_row_is_named_by_what_it_is(code, resource_id, action, ru):
    token = i18n.set_language("ru")
    try:
        assert resource_label(code, resource_id, action) == ru
    finally:
        i18n.reset_language(token)


@pytest.mark.parametrize("purpose", ["shared health record", "record-sender"])
def test_the_records_reasons_go_through_the_catalogue(purpose):
    msgid = SCOPE_REASONS.get(purpose, purpose)
    assert purpose in PURPOSES or purpose in SCOPE_REASONS
    for lang in ("ru", "uz"):
        token = i18n.set_language(lang)
        try:
            assert purpose_label(purpose) == _in(lang, msgid)
        finally:
            i18n.reset_language(token)
