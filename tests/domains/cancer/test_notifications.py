"""Notifications through the API: what is refused (nothing stored), what is kept, how
several reports become one tumour or two (IARC/IACR 2004), rare combinations waiting for
the registrar, and the death certificate that makes a DCO case."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.domains.cancer.conftest import fields, register_death

pytestmark = pytest.mark.anyio

PATH = "/api/v1/persons/{}/cancer-notifications"


def report(**kw):  # type: ignore[no-untyped-def]
    body = {
        "topography": "C18.2",
        "morphology": "8140/3",
        "basis": 7,
        "diagnosed_on": "2025-03-10",
        "date_kind": "microscopic",
    }
    body.update(kw)
    return body


async def tumours(client, headers, person_id):  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/v1/persons/{person_id}/tumours", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_two_adenocarcinomas_of_the_colon_are_one_primary(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1955, 1, 1))
    first = await client.post(PATH.format(p.id), json=report(), headers=cancer.doctor)
    assert first.status_code == 201, first.text
    assert first.json()["new_primary"] is True
    assert first.json()["reason"] == "first_tumour"
    second = await client.post(
        PATH.format(p.id),
        json=report(topography="C18.7", diagnosed_on="2025-09-01", basis=5),
        headers=cancer.doctor,
    )
    assert second.status_code == 201, second.text
    body = second.json()
    assert body["new_primary"] is False
    assert body["tumour"]["id"] == first.json()["tumour"]["id"]
    assert body["message"]
    [t] = await tumours(client, cancer.doctor, p.id)
    # the date of incidence: the earliest microscopic confirmation (ENCR level 1)
    assert t["incidence_date"] == "2025-03-10"
    assert t["basis"] == 7
    assert t["microscopically_verified"] is True
    assert t["icd10"].startswith("C18")


async def test_squamous_then_adenocarcinoma_of_the_lung_are_two(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1950, 6, 1), sex="male")
    a = await client.post(
        PATH.format(p.id), json=report(topography="C34.1", morphology="8070/3"),
        headers=cancer.doctor,
    )  # fmt: skip
    b = await client.post(
        PATH.format(p.id), json=report(topography="C34.1", morphology="8140/3"),
        headers=cancer.doctor,
    )  # fmt: skip
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert b.json()["new_primary"] is True
    assert b.json()["reason"] == "different_histology"
    assert len(await tumours(client, cancer.doctor, p.id)) == 2


async def test_a_male_with_a_cervical_primary_is_refused_and_nothing_stored(client, cancer) -> None:
    p = await cancer.make_patient(sex="male")
    r = await client.post(
        PATH.format(p.id), json=report(topography="C53.9", morphology="8070/3"),
        headers=cancer.doctor,
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert "topography" in fields(r)
    assert await tumours(client, cancer.doctor, p.id) == []


async def test_a_metastasis_is_never_registered_as_a_primary(client, cancer) -> None:
    p = await cancer.make_patient()
    r = await client.post(
        PATH.format(p.id), json=report(morphology="8140/6"), headers=cancer.doctor
    )
    assert r.status_code == 422
    assert "morphology" in fields(r)
    assert await tumours(client, cancer.doctor, p.id) == []


async def test_dates_before_birth_after_death_or_in_the_future_are_refused(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1960, 3, 1))
    before = await client.post(
        PATH.format(p.id), json=report(diagnosed_on="1960-02-29"), headers=cancer.doctor
    )
    assert before.status_code == 422, before.text
    assert before.json()["errors"]
    future = (date.today() + timedelta(days=1)).isoformat()
    ahead = await client.post(
        PATH.format(p.id), json=report(diagnosed_on=future), headers=cancer.doctor
    )
    assert ahead.status_code == 422
    assert "diagnosed_on" in fields(ahead)
    died = await register_death(
        client, cancer.doctor, p.id, **{"deceased_on": "2024-05-01", "cause": "I21.9"}
    )
    assert died.status_code == 200, died.text
    after = await client.post(
        PATH.format(p.id), json=report(diagnosed_on="2024-05-02"), headers=cancer.doctor
    )
    assert after.status_code == 422, after.text
    on_the_day = await client.post(
        PATH.format(p.id), json=report(diagnosed_on="2024-05-01"), headers=cancer.doctor
    )
    assert on_the_day.status_code == 201, on_the_day.text


async def test_age_3_with_prostate_waits_for_the_registrars_confirmation(client, cancer) -> None:
    p = await cancer.make_patient(born=date(2021, 1, 1), sex="male")
    r = await client.post(
        PATH.format(p.id),
        json=report(topography="C61.9", morphology="8140/3", diagnosed_on="2024-06-01"),
        headers=cancer.doctor,
    )
    assert r.status_code == 201, r.text
    t = r.json()["tumour"]
    assert t["status"] == "to_confirm"
    assert "age_site" in t["pending_checks"]
    q = await client.get("/api/v1/cancer-registry/queue", headers=cancer.registrar)
    assert any(i["tumour_id"] == t["id"] for i in q.json())
    # a clinician may not confirm; the registrar does, and it is kept
    no = await client.post(
        f"/api/v1/tumours/{t['id']}/confirmations", json={"rules": ["age_site"]},
        headers=cancer.doctor,
    )  # fmt: skip
    assert no.status_code == 403
    yes = await client.post(
        f"/api/v1/tumours/{t['id']}/confirmations",
        json={"rules": ["age_site"], "note": "histology reviewed"},
        headers=cancer.registrar,
    )
    assert yes.status_code == 200, yes.text
    done = yes.json()
    assert done["status"] == "registered"
    assert done["pending_checks"] == []
    [c] = done["confirmations"]
    assert c["rule"] == "age_site"
    assert c["note"] == "histology reviewed"


async def test_in_situ_in_the_brain_needs_confirmation(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1980, 1, 1))
    r = await client.post(
        PATH.format(p.id), json=report(topography="C71.0", morphology="9380/2"),
        headers=cancer.doctor,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert "behaviour_site" in r.json()["tumour"]["pending_checks"]


async def test_a_death_naming_lung_cancer_makes_a_dco_case(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1948, 2, 2), sex="male")
    died = await register_death(
        client, cancer.doctor, p.id, **{"deceased_on": "2025-01-15", "cause": "C34.9"}
    )
    assert died.status_code == 200, died.text
    [t] = await tumours(client, cancer.doctor, p.id)
    assert t["death_certificate_only"] is True
    assert t["basis"] == 0
    assert t["incidence_date"] == "2025-01-15"
    assert t["vital_status"] == "dead"
    assert t["topography"] == "C34.9"
    assert t["icd10"] == "C34.9"


async def test_a_cancer_on_another_line_of_the_certificate_is_notified(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1948, 2, 2), sex="female")
    died = await register_death(
        client,
        cancer.doctor,
        p.id,
        **{"deceased_on": "2025-01-15", "cause": "J18.9", "other_causes": ["C50.9"]},
    )
    assert died.status_code == 200, died.text
    [t] = await tumours(client, cancer.doctor, p.id)
    assert t["icd10"].startswith("C50")
    assert t["basis"] == 0


async def test_a_death_of_a_registered_patient_joins_her_tumour(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1948, 2, 2), sex="female")
    made = await client.post(
        PATH.format(p.id), json=report(topography="C50.4", morphology="8500/3"),
        headers=cancer.doctor,
    )  # fmt: skip
    assert made.status_code == 201
    died = await register_death(
        client, cancer.doctor, p.id, **{"deceased_on": "2025-11-01", "cause": "C50.9"}
    )
    assert died.status_code == 200, died.text
    [t] = await tumours(client, cancer.doctor, p.id)
    assert t["basis"] == 7
    assert t["death_certificate_only"] is False
    assert t["vital_status"] == "dead"
    assert t["death_date"] == "2025-11-01"
    assert t["next_follow_up_on"] is None


async def test_the_same_report_sent_twice_by_a_system_is_one_notification(client, cancer) -> None:
    p = await cancer.make_patient()
    body = report(source="pathology", external_system="urn:lab:1", external_id="HX-77")
    a = await client.post(PATH.format(p.id), json=body, headers=cancer.doctor)
    b = await client.post(PATH.format(p.id), json=body, headers=cancer.doctor)
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert a.json()["notification"]["id"] == b.json()["notification"]["id"]
    assert len(await tumours(client, cancer.doctor, p.id)) == 1


async def test_out_of_scope_and_wrong_roles(client, cancer, make_user, login) -> None:
    p = await cancer.make_patient()
    stranger = await login(await make_user("family_doctor"))
    r = await client.post(PATH.format(p.id), json=report(), headers=stranger)
    assert r.status_code == 404
    pharmacist = await login(await make_user("pharmacist"))
    r = await client.post(PATH.format(p.id), json=report(), headers=pharmacist)
    assert r.status_code == 403


async def test_unknown_primary_beside_a_known_cancer_waits_for_the_registrar(
    client, cancer
) -> None:
    p = await cancer.make_patient(born=date(1950, 1, 1))
    first = await client.post(PATH.format(p.id), json=report(), headers=cancer.doctor)
    tumour_id = first.json()["tumour"]["id"]
    r = await client.post(
        PATH.format(p.id), json=report(topography="C80.9", morphology="8140/3", basis=6),
        headers=cancer.doctor,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    n = r.json()["notification"]
    assert n["status"] == "to_review"
    assert r.json()["tumour"] is None
    q = await client.get("/api/v1/cancer-registry/queue", headers=cancer.registrar)
    assert any(i["notification_id"] == n["id"] for i in q.json())
    d = await client.post(
        f"/api/v1/cancer-notifications/{n['id']}/decision",
        json={"action": "attach", "tumour_id": tumour_id, "note": "metastasis"},
        headers=cancer.registrar,
    )
    assert d.status_code == 200, d.text
    assert d.json()["tumour"]["id"] == tumour_id
    again = await client.post(
        f"/api/v1/cancer-notifications/{n['id']}/decision",
        json={"action": "reject"}, headers=cancer.registrar,
    )  # fmt: skip
    assert again.status_code == 409


async def test_follow_up_moves_the_next_contact_by_the_schedule(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1950, 1, 1))
    t = (await client.post(PATH.format(p.id), json=report(), headers=cancer.registrar)).json()
    tid = t["tumour"]["id"]
    # the registry names the centre that follows her up: its oncologists may then see her
    moved = await client.patch(
        f"/api/v1/tumours/{tid}", json={"followed_by_facility_code": cancer.centre.code},
        headers=cancer.registrar,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    # UZ schedule: every 3 months in the first year after incidence (2025-03-10)
    r = await client.post(
        f"/api/v1/tumours/{tid}/follow-ups",
        json={"contact_on": "2025-06-10", "disease_status": "no_evidence"},
        headers=cancer.oncologist,
    )
    assert r.status_code == 201, r.text
    detail = (await client.get(f"/api/v1/tumours/{tid}", headers=cancer.oncologist)).json()
    assert detail["last_contact_on"] == "2025-06-10"
    assert detail["next_follow_up_on"] == "2025-09-10"
    w = await client.get(
        "/api/v1/cancer-follow-up/worklist", params={"due_by": "2025-09-10"},
        headers=cancer.oncologist,
    )  # fmt: skip
    assert [i["tumour_id"] for i in w.json()] == [tid]
    w = await client.get(
        "/api/v1/cancer-follow-up/worklist", params={"due_by": "2025-09-09"},
        headers=cancer.oncologist,
    )  # fmt: skip
    assert tid not in [i["tumour_id"] for i in w.json()]
