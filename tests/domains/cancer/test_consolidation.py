"""How a person's reports become her tumours when they disagree, arrive late or at once,
and what each sender reads back (the review of issue 16)."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from tests.domains.cancer.conftest import fields, register_death

pytestmark = pytest.mark.anyio

PATH = "/api/v1/persons/{}/cancer-notifications"


def report(**kw):  # type: ignore[no-untyped-def]
    body = {"topography": "C18.2", "morphology": "8140/3", "basis": 7,
            "diagnosed_on": "2025-03-10", "date_kind": "microscopic"}  # fmt: skip
    body.update(kw)
    return body


async def notify(client, headers, pid, **kw):  # type: ignore[no-untyped-def]
    r = await client.post(PATH.format(pid), json=report(**kw), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_metastasis_joined_to_its_primary_keeps_the_primary_site(client, cancer) -> None:
    p = await cancer.make_patient()
    first = await notify(client, cancer.doctor, p.id, basis=2, date_kind="diagnosis")
    tid = first["tumour"]["id"]
    # a liver biopsy of a metastasis (basis 6, more valid than the clinical 2), C80.9
    waiting = await notify(
        client, cancer.registrar, p.id, topography="C80.9", basis=6, source="pathology"
    )
    nid = waiting["notification"]["id"]
    d = await client.post(
        f"/api/v1/cancer-notifications/{nid}/decision",
        json={"action": "attach", "tumour_id": tid}, headers=cancer.registrar,
    )  # fmt: skip
    assert d.status_code == 200, d.text
    t = d.json()["tumour"]
    assert t["topography"] == "C18.2"
    assert t["icd10"].startswith("C18")
    assert t["basis"] == 6


async def test_the_registrar_cannot_register_an_impossible_certificate(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1950, 1, 1), sex="male")
    died = await register_death(
        client, cancer.doctor, p.id, deceased_on="2025-02-01", cause="C53.9"
    )
    assert died.status_code == 200, died.text
    q = (await client.get("/api/v1/cancer-registry/queue", headers=cancer.registrar)).json()
    [item] = [i for i in q if i["person_id"] == p.id]
    assert item["reason"] == "invalid_on_certificate"
    url = f"/api/v1/cancer-notifications/{item['notification_id']}/decision"
    new = await client.post(url, json={"action": "new_primary"}, headers=cancer.registrar)
    assert new.status_code == 422, new.text
    assert "topography" in fields(new)
    tumours = await client.get(f"/api/v1/persons/{p.id}/tumours", headers=cancer.registrar)
    assert tumours.json() == []
    aside = await client.post(url, json={"action": "reject"}, headers=cancer.registrar)
    assert aside.status_code == 200, aside.text


async def test_a_death_before_a_late_reports_date_is_still_registered(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1950, 1, 1))
    await notify(client, cancer.doctor, p.id, diagnosed_on="2025-03-10")
    died = await register_death(
        client, cancer.doctor, p.id, deceased_on="2025-03-01", cause="C18.2"
    )
    assert died.status_code == 200, died.text
    [t] = (await client.get(f"/api/v1/persons/{p.id}/tumours", headers=cancer.doctor)).json()
    assert t["vital_status"] == "dead"
    assert t["death_date"] == "2025-03-10"


async def test_every_cancer_on_a_certificate_is_notified_once_per_organ(client, cancer) -> None:
    p = await cancer.make_patient(born=date(1940, 1, 1), sex="male")
    died = await register_death(
        client, cancer.doctor, p.id, deceased_on="2025-04-01", cause="C34.9",
        other_causes=["C61", "C34.1", "I10"],
    )  # fmt: skip
    assert died.status_code == 200, died.text
    tumours = (await client.get(f"/api/v1/persons/{p.id}/tumours", headers=cancer.doctor)).json()
    assert sorted(t["topography"][:3] for t in tumours) == ["C34", "C61"]
    assert all(t["death_certificate_only"] for t in tumours)


async def test_a_corrected_stage_outlives_later_reports_and_grade_9_gives_way(
    client, cancer
) -> None:
    p = await cancer.make_patient()
    first = await notify(client, cancer.registrar, p.id, grade=9, stage={"group": "I"})
    tid = first["tumour"]["id"]
    r = await client.patch(
        f"/api/v1/tumours/{tid}", json={"stage": {"t": "T3", "group": "III"}},
        headers=cancer.registrar,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    later = await notify(client, cancer.doctor, p.id, basis=5, grade=2, diagnosed_on="2025-04-01")
    assert later["tumour"]["id"] == tid
    assert later["tumour"]["stage_group"] == "III"
    assert later["tumour"]["grade"] == 2
    staged = await notify(client, cancer.doctor, p.id, basis=5, stage={"group": "IV"})
    assert staged["tumour"]["stage_group"] == "IV"


async def test_a_microscopic_date_needs_a_microscopic_basis(client, cancer) -> None:
    p = await cancer.make_patient()
    r = await client.post(
        PATH.format(p.id), json=report(basis=1, date_kind="microscopic"), headers=cancer.doctor
    )
    assert r.status_code == 422
    assert "date_kind" in fields(r)
    ok = await client.post(
        PATH.format(p.id), json=report(basis=5, date_kind="microscopic"), headers=cancer.doctor
    )
    assert ok.status_code == 201, ok.text


async def test_a_notifier_without_registry_access_reads_back_no_diagnosis(
    client, cancer, make_user, login
) -> None:
    p = await cancer.make_patient()
    await notify(client, cancer.doctor, p.id, topography="C50.4", morphology="8500/3")
    obstetrician = await login(
        await make_user("obstetrician", facility_code=cancer.polyclinic.code)
    )
    r = await client.post(
        PATH.format(p.id), json=report(topography="C53.9", morphology="8070/3"),
        headers=obstetrician,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tumour"] is None
    assert body["notification"]["tumour_id"] is None
    assert body["reason"] == "received"
    assert "8500" not in r.text
    assert "C50" not in r.text


async def test_a_treatment_of_a_tumour_of_29_february(client, cancer) -> None:
    p = await cancer.make_patient()
    t = await notify(client, cancer.registrar, p.id, diagnosed_on="2024-02-29")
    tid = t["tumour"]["id"]
    for started, status in (("2023-02-27", 422), ("2023-02-28", 201)):
        r = await client.post(
            f"/api/v1/tumours/{tid}/treatments", json={"kind": "surgery", "started_on": started},
            headers=cancer.registrar,
        )  # fmt: skip
        assert r.status_code == status, (started, r.text)


async def test_a_rejected_reports_treatments_go_with_it(client, cancer) -> None:
    p = await cancer.make_patient()
    await notify(client, cancer.doctor, p.id)
    waiting = await notify(
        client, cancer.registrar, p.id, topography="C80.9", basis=6, source="pathology",
        treatments=[{"kind": "systemic", "started_on": "2025-04-01"}],
    )  # fmt: skip
    nid = waiting["notification"]["id"]
    r = await client.post(
        f"/api/v1/cancer-notifications/{nid}/decision", json={"action": "reject"},
        headers=cancer.registrar,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    from sqlalchemy import func, select

    from salomat.core.db import session_factory
    from salomat.domains.cancer.models import CancerTreatment

    async with session_factory()() as s:
        left = await s.scalar(select(func.count()).where(CancerTreatment.notification_id == nid))
    assert left == 0


async def test_only_the_registry_names_an_oncology_centre_to_follow_up(client, cancer) -> None:
    p = await cancer.make_patient()
    tid = (await notify(client, cancer.registrar, p.id))["tumour"]["id"]
    url = f"/api/v1/tumours/{tid}"
    bad = await client.patch(
        url, json={"followed_by_facility_code": cancer.polyclinic.code}, headers=cancer.registrar
    )
    assert bad.status_code == 422
    assert "followed_by_facility_code" in fields(bad)
    ok = await client.patch(
        url, json={"followed_by_facility_code": cancer.centre.code}, headers=cancer.registrar
    )
    assert ok.status_code == 200, ok.text
    moved = await client.patch(
        url, json={"followed_by_facility_code": cancer.centre.code}, headers=cancer.oncologist
    )
    assert moved.status_code == 403


async def test_reports_of_one_cancer_at_once_make_one_tumour(cancer, backend, monkeypatch) -> None:
    """Five reports of the same colon cancer, all let go together just before each takes
    the person: they are placed one after the other, into one tumour (PostgreSQL)."""
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    from sqlalchemy import func, select

    from salomat.core.db import session_factory
    from salomat.domains.cancer import service
    from salomat.domains.cancer.models import CancerTumour
    from salomat.domains.cancer.schemas import NotificationIn
    from salomat.domains.cancer.service import notifications
    from salomat.domains.registry import service as registry

    n = 5
    p = await cancer.make_patient()
    barrier = asyncio.Barrier(n)
    hold = registry.hold_person

    async def all_at_once(*args, **kw):  # type: ignore[no-untyped-def]
        await asyncio.wait_for(barrier.wait(), timeout=60)
        return await hold(*args, **kw)

    monkeypatch.setattr(notifications.registry, "hold_person", all_at_once)
    doctor = cancer.principal("doctor")

    async def one(i: int) -> int:
        async with session_factory()() as s:
            r = await service.notify(
                s, doctor, p.id,
                NotificationIn.model_validate(
                    report(external_system="urn:lab", external_id=f"R{i % 2}")
                ),
            )  # fmt: skip
            await s.commit()
            return r.notification.id

    ids = await asyncio.gather(*(one(i) for i in range(n)))
    # two distinct reports (R0, R1) sent five times: two notifications, one tumour
    assert len(set(ids)) == 2
    async with session_factory()() as s:
        made = await s.scalar(select(func.count()).where(CancerTumour.person_id == p.id))
    assert made == 1
