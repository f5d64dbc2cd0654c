"""The citizen's "who opened my record": names, facilities, local time, reasons, paging,
and none of her own doings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.domains.accounts import service
from tests.domains.accounts.audit_support import (
    audit_row,
    named_facility,
    named_user,
    web_login,
)

pytestmark = pytest.mark.anyio

#: 21:30 UTC on 8 March is 02:30 on 9 March in Tashkent (UTC+5, the UZ pack's zone)
INSTANT = datetime(2026, 3, 8, 21, 30, tzinfo=UTC)


async def _her(db, make_person, make_user):
    fac = await named_facility(
        db, uz="Qoʻqon 3-son oilaviy poliklinikasi", ru="Семейная поликлиника № 3 города Коканда"
    )
    person = await make_person(fac.code)
    citizen = await make_user("citizen", person_id=person.id)
    doctor = await named_user(db, "family_doctor", "Rasulova Malika Anvarovna", fac.code)
    return fac, person, citizen, doctor


async def test_she_sees_the_doctor_by_name_the_facility_and_the_local_time(
    client, db, make_person, make_user, login
):
    fac, person, citizen, doctor = await _her(db, make_person, make_user)
    await audit_row(
        INSTANT,
        doctor,
        facility_id=fac.id,
        patient_id=person.id,
        purpose="attached to the user's facility",
    )
    body = (await client.get("/api/v1/me/access-log", headers=await login(citizen))).json()
    # the newest first: the doctor's read, then her registration at the front desk
    entry, registered = body["items"]
    assert registered["purpose"] == "registration"
    assert entry["full_name"] == "Rasulova Malika Anvarovna"
    assert entry["role"] == "family_doctor"
    assert entry["facility_name"] == "Qoʻqon 3-son oilaviy poliklinikasi"
    assert entry["occurred_at_local"] == "2026-03-09T02:30:00+05:00"
    assert datetime.fromisoformat(entry["occurred_at"]) == INSTANT
    assert body["time_zone"] == "Asia/Tashkent"
    assert "client_address" not in entry  # a workstation's address is not hers to see

    await web_login(client, citizen, lang="ru")
    page = await client.get("/access-log")
    assert page.status_code == 200
    html = page.text
    assert "Rasulova Malika Anvarovna" in html
    assert "Семейная поликлиника № 3 города Коканда" in html  # the facility's Russian name
    assert "Qoʻqon 3-son oilaviy poliklinikasi" not in html
    assert "2026-03-09 02:30" in html
    assert "2026-03-08 21:30" not in html
    assert "UTC+05:00" in html
    # labels, not codes: the role, the action and the reason in Russian
    assert "семейный врач" in html.lower()
    assert "family_doctor" not in html
    assert "attached to the user&#39;s facility" not in html
    assert "прикреплён к учреждению пользователя" in html


async def test_her_own_reads_and_logins_are_left_out(client, db, make_person, make_user, login):
    fac, person, citizen, doctor = await _her(db, make_person, make_user)
    auth = await login(citizen)  # her login: a row of hers
    assert (await client.get(f"/api/v1/persons/{person.id}", headers=auth)).status_code == 200
    async with session_factory()() as s:
        own = await s.scalar(
            select(AuditEvent.id).where(
                AuditEvent.patient_id == person.id, AuditEvent.user_id == citizen.id
            )
        )
    assert own is not None  # she did read her record, and it was audited
    await audit_row(INSTANT, doctor, facility_id=fac.id, patient_id=person.id)

    body = (await client.get("/api/v1/me/access-log", headers=auth)).json()
    # the doctor's read and her registration (by the registry); nothing of hers
    assert [e["username"] for e in body["items"]] == [doctor.username, "fixture"]
    assert body["total"] == 2
    # reading the list is audited too, and is hers: not on the list either
    again = (await client.get("/api/v1/me/access-log", headers=auth)).json()
    assert again["total"] == 2
    async with session_factory()() as s:
        reads = await s.scalar(
            select(AuditEvent.id).where(
                AuditEvent.user_id == citizen.id, AuditEvent.resource_type == "AccessLog"
            )
        )
    assert reads is not None


async def test_someone_refused_is_shown_with_a_translated_outcome(
    client, db, make_person, make_user, login
):
    _fac, person, citizen, _doctor = await _her(db, make_person, make_user)
    stranger = await make_user("nurse")
    auth = await login(stranger)
    assert (await client.get(f"/api/v1/persons/{person.id}", headers=auth)).status_code == 404
    body = (await client.get("/api/v1/me/access-log", headers=await login(citizen))).json()
    entry = body["items"][0]
    assert (entry["username"], entry["action"], entry["outcome"]) == (
        stranger.username,
        "denied",
        "failure",
    )
    await web_login(client, citizen, lang="uz")
    html = (await client.get("/access-log")).text
    assert stranger.username in html
    assert ">failure<" not in html
    assert ">denied<" not in html


async def test_paging_by_id_has_exact_boundaries(db, make_person, make_user):
    _fac, person, citizen, doctor = await _her(db, make_person, make_user)
    me = Principal(
        user_id=citizen.id,
        username=citizen.username,
        role="citizen",
        session_id="t",
        person_id=person.id,
    )
    ids = [
        await audit_row(INSTANT + timedelta(minutes=i), doctor, patient_id=person.id)
        for i in range(4)
    ]
    newest_first = ids[::-1]

    # her registration is the oldest entry: four rows and it make five
    full = await service.access_log_of_self(db, me, limit=5)
    assert [e.id for e in full.items][:4] == newest_first
    assert full.next_before is None  # exactly a page: no next page
    assert full.total == 5
    short = await service.access_log_of_self(db, me, limit=4)
    assert short.next_before == newest_first[3]  # one more than a page: a next page

    first = await service.access_log_of_self(db, me, limit=3)
    assert [e.id for e in first.items] == newest_first[:3]
    assert first.next_before == newest_first[2]
    second = await service.access_log_of_self(db, me, before=first.next_before, limit=3)
    assert [e.id for e in second.items][:1] == newest_first[3:]
    assert len(second.items) == 2  # the fourth row and her registration
    assert second.next_before is None
    await db.commit()  # the readings wrote audit rows
    # a row written meanwhile does not shift the later page
    await audit_row(INSTANT + timedelta(hours=1), doctor, patient_id=person.id)
    again = await service.access_log_of_self(db, me, before=first.next_before, limit=3)
    assert [e.id for e in again.items] == [e.id for e in second.items]


async def test_the_page_links_to_older_entries(client, db, make_person, make_user):
    _fac, person, citizen, doctor = await _her(db, make_person, make_user)
    ids = [
        await audit_row(INSTANT + timedelta(minutes=i), doctor, patient_id=person.id)
        for i in range(50)
    ]
    await web_login(client, citizen)
    first = await client.get("/access-log")  # 50 rows and her registration: 51
    assert first.text.count('data-testid="access-entry"') == 50
    assert f'href="?before={ids[0]}"' in first.text
    second = await client.get(f"/access-log?before={ids[0]}")
    assert second.text.count('data-testid="access-entry"') == 1
    assert f'data-id="{ids[0]}"' not in second.text
    assert 'data-testid="next-page"' not in second.text
    assert 'href="/access-log"' in second.text
    assert (await client.get("/access-log?before=0")).status_code == 422
    assert (await client.get("/access-log?before=abc")).status_code == 422


async def test_break_glass_reason_is_shown_as_typed_and_flagged(client, db, make_person, make_user):
    _fac, person, citizen, doctor = await _her(db, make_person, make_user)
    await audit_row(
        INSTANT,
        doctor,
        patient_id=person.id,
        purpose="break-the-glass: brought unconscious to the emergency room",
        break_glass=True,
    )
    await web_login(client, citizen)
    html = (await client.get("/access-log")).text
    assert 'class="break-glass"' in html
    assert "Emergency access" in html
    assert "brought unconscious to the emergency room" in html
    assert "break-the-glass:" not in html


async def test_only_a_citizen_has_the_list(client, make_user, login):
    doctor = await make_user("family_doctor")
    r = await client.get("/api/v1/me/access-log", headers=await login(doctor))
    assert r.status_code == 403


@pytest.fixture
def in_kazakhstan(monkeypatch):
    from salomat.core.config import get_settings

    monkeypatch.setenv("SALOMAT_COUNTRY", "KZ")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_kazakhstan_shows_almaty_time(
    client, db, make_person, make_user, login, in_kazakhstan
):
    """Kazakhstan's one zone is UTC+5 since March 2024 (it was +6 in Almaty before)."""
    _fac, person, citizen, doctor = await _her(db, make_person, make_user)
    await audit_row(datetime(2025, 6, 1, 19, 5, tzinfo=UTC), doctor, patient_id=person.id)
    await audit_row(datetime(2023, 6, 1, 19, 5, tzinfo=UTC), doctor, patient_id=person.id)
    body = (await client.get("/api/v1/me/access-log", headers=await login(citizen))).json()
    assert body["time_zone"] == "Asia/Almaty"
    # newest first by id: the row written last (the 2023 one) comes first
    then, now = (e["occurred_at_local"] for e in body["items"][:2])
    assert now == "2025-06-02T00:05:00+05:00"
    assert then == "2023-06-02T01:05:00+06:00"  # the offset of the day, from the tz database


async def test_the_facility_is_named_in_the_language_spoken(db, make_person, make_user):
    """The registry's name in that language where the facility has one, else its main name."""
    from salomat.core import i18n

    fac, person, citizen, doctor = await _her(db, make_person, make_user)
    await audit_row(INSTANT, doctor, facility_id=fac.id, patient_id=person.id)
    me = Principal(
        user_id=citizen.id,
        username=citizen.username,
        role="citizen",
        session_id="t",
        person_id=person.id,
    )

    async def named_in(lang: str) -> str | None:
        token = i18n.set_language(lang)
        try:
            page = await service.access_log_of_self(db, me, limit=1)
        finally:
            i18n.reset_language(token)
        assert page.items[0].facility_code == fac.code
        return page.items[0].facility_name

    assert await named_in("ru") == "Семейная поликлиника № 3 города Коканда"
    assert await named_in("uz") == "Qoʻqon 3-son oilaviy poliklinikasi"
    assert await named_in("kk") == "Qoʻqon 3-son oilaviy poliklinikasi"  # no Kazakh name
    assert await named_in("en") == "Qoʻqon 3-son oilaviy poliklinikasi"


async def test_the_auditors_csv_names_the_facility_in_the_pages_language(
    client, db, make_person, make_user
):
    fac, person, _citizen, doctor = await _her(db, make_person, make_user)
    await audit_row(INSTANT, doctor, facility_id=fac.id, patient_id=person.id)
    auditor = await make_user("auditor")
    query = {"facility": fac.code, "person": str(person.id)}

    await web_login(client, auditor, lang="ru")
    ru = await client.get("/audit/export.csv", params=query)
    assert ru.status_code == 200
    assert "Семейная поликлиника № 3 города Коканда" in ru.text
    assert "Qoʻqon 3-son oilaviy poliklinikasi" not in ru.text

    client.cookies.set("salomat_lang", "uz")
    uz = await client.get("/audit/export.csv", params=query)
    assert "Qoʻqon 3-son oilaviy poliklinikasi" in uz.text
    assert "Семейная поликлиника" not in uz.text


async def test_the_auditors_page_names_the_facility_in_its_language(
    client, db, make_person, make_user
):
    fac, person, _citizen, doctor = await _her(db, make_person, make_user)
    await audit_row(INSTANT, doctor, facility_id=fac.id, patient_id=person.id)
    await web_login(client, await make_user("auditor"), lang="ru")
    query = {"facility": fac.code, "person": str(person.id)}
    ru = await client.get("/audit", params=query)
    assert ru.status_code == 200
    assert "Семейная поликлиника № 3 города Коканда" in ru.text
    client.cookies.set("salomat_lang", "kk")  # no Kazakh name: the main one
    kk = await client.get("/audit", params=query)
    assert "Qoʻqon 3-son oilaviy poliklinikasi" in kk.text
    assert "Семейная поликлиника" not in kk.text


@pytest.mark.parametrize(
    ("purpose", "ru"),
    [
        ("merge: the same woman, typo in the name", "записи объединены: the same woman, typo"),
        ("unmerge: two sisters", "объединение отменено: two sisters"),
        ("relation: mother of Patient 12", "записана семейная связь: мать"),
        ("claim line 7 rejected", "строка счёта отклонена"),
    ],
)
def test_the_registry_and_fund_reasons_are_shown_in_her_language(purpose, ru):
    """Merges, relations and claim decisions write their reason with values in it; the
    list shows the step in the page's language (a typed reason stays as typed)."""
    from salomat.core import i18n
    from salomat.domains.accounts.service.labels import purpose_label

    token = i18n.set_language("ru")
    try:
        shown = purpose_label(purpose)
    finally:
        i18n.reset_language(token)
    assert shown.startswith(ru)
    assert "Patient" not in shown
