"""Who may do what beyond the role table: a parent sees her adolescent's certificate
without anything clinical, a nurse records no VKK decision, an extension may not run
into another certificate or start long after its end, and odd dates never answer 500."""

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
FLU = {"reason": "own_illness", "diagnosis": "J11.1", "days": 3}
CLERK = Principal(user_id=0, username="t", role="registrar", session_id="t")


async def test_a_parent_sees_her_adolescents_certificate_without_the_diagnosis(
    client, clinic, db, make_person, make_user, login
):
    mother = await make_person(facility_code=clinic.facility.code, birth_date=date(1980, 1, 5))
    teen = await make_person(
        facility_code=clinic.facility.code, birth_date=TODAY - timedelta(days=16 * 366)
    )
    await registry.add_relation(
        db, CLERK, teen.id, RelationIn(related_person_id=mother.id, kind="mother", document="BC-77")
    )
    await db.commit()
    r = await client.post(f"/api/v1/persons/{teen.id}/sick-leave", json=FLU, headers=clinic.doctor)
    assert r.status_code == 201, r.text
    c = r.json()
    parent = await login(await make_user("citizen", person_id=mother.id))
    for url in (f"/api/v1/sick-leave/{c['id']}", f"/api/v1/persons/{teen.id}/sick-leave"):
        r = await client.get(url, headers=parent)
        assert r.status_code == 200, r.text
        assert b"J11" not in r.content
        assert b"own_illness" not in r.content
    seen = (await client.get(f"/api/v1/sick-leave/{c['id']}", headers=parent)).json()
    assert (seen["reason"], seen["diagnosis"], seen["days"]) == (None, None, 3)
    # the doctor still sees it all
    full = (await client.get(f"/api/v1/sick-leave/{c['id']}", headers=clinic.doctor)).json()
    assert (full["reason"], full["diagnosis"]) == ("own_illness", "J11.1")


async def test_a_nurse_may_not_record_a_vkk_decision_while_opening(
    client, clinic, make_user, login, db
):
    nurse = await login(await make_user("nurse", facility_code=clinic.facility.code))
    before = await client.get(f"/api/v1/persons/{clinic.worker.id}/sick-leave", headers=nurse)
    body = {
        "reason": "sanatorium_aftercare",
        "diagnosis": "I21.9",
        "days": 20,
        "vkk": {
            "decided_on": TODAY.isoformat(),
            "extend_until": (TODAY + timedelta(days=19)).isoformat(),
            "protocol_number": "7",
            "chair": "A",
            "members": ["A", "B", "C"],
        },
    }
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave", json=body, headers=nurse
    )
    assert r.status_code == 403
    after = await client.get(f"/api/v1/persons/{clinic.worker.id}/sick-leave", headers=nurse)
    assert after.json() == before.json()


async def test_an_extension_may_not_run_into_the_next_certificate(client, clinic):
    """The first certificate ends three days ago, the second starts yesterday: extending
    the first by three days would cover yesterday twice."""
    url = f"/api/v1/persons/{clinic.worker.id}/sick-leave"
    first = await client.post(
        url,
        json={**FLU, "starts_on": (TODAY - timedelta(days=3)).isoformat(), "days": 1},
        headers=clinic.doctor,
    )
    assert first.status_code == 201, first.text
    second = await client.post(
        url,
        json={**FLU, "starts_on": (TODAY - timedelta(days=1)).isoformat(), "days": 2},
        headers=clinic.doctor,
    )
    assert second.status_code == 201, second.text
    ext = f"/api/v1/sick-leave/{first.json()['id']}/extend"
    r = await client.post(ext, json={"days": 3}, headers=clinic.doctor)
    assert r.status_code == 409, r.text
    assert second.json()["number"] in r.json()["detail"]
    # up to the day before the second one it is fine
    r = await client.post(ext, json={"days": 1}, headers=clinic.doctor)
    assert r.status_code == 200, r.text


async def test_a_long_ended_certificate_is_not_extended(client, clinic, db):
    """Past the pack's backdating limit an extension's first day is refused (open a new
    certificate instead); the certificate is moved back in time past the service."""
    from sqlalchemy import update

    from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeavePeriod

    limit = service.sick_leave_rules().backdate_days
    c = (
        await client.post(
            f"/api/v1/persons/{clinic.worker.id}/sick-leave", json=FLU, headers=clinic.doctor
        )
    ).json()
    back = timedelta(days=limit + 4)  # the day after its end is limit + 1 days ago
    start, end = TODAY - back, TODAY - back + timedelta(days=2)
    await db.execute(
        update(SickLeavePeriod)
        .where(SickLeavePeriod.certificate_id == c["id"])
        .values(starts_on=start, ends_on=end)
    )
    await db.execute(
        update(SickLeaveCertificate)
        .where(SickLeaveCertificate.id == c["id"])
        .values(starts_on=start, ends_on=end)
    )
    await db.commit()
    r = await client.post(
        f"/api/v1/sick-leave/{c['id']}/extend", json={"days": 3}, headers=clinic.doctor
    )
    assert r.status_code == 422, r.text
    assert "ends_on" in fields(r)


async def test_a_start_far_in_the_future_is_a_field_error_not_a_500(client, clinic):
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave",
        json={**FLU, "starts_on": "9999-12-30", "days": 10},
        headers=clinic.doctor,
    )
    assert r.status_code == 422
    assert "starts_on" in fields(r)


async def test_an_ended_pregnancy_without_a_birth_gives_no_maternity_leave(
    client, clinic, make_person, db
):
    """A miscarriage at 10 weeks, a year ago: her due date has long passed, but the
    pregnancy gives no maternity leave (it was counted from the due date)."""
    from sqlalchemy import update

    from salomat.domains.maternal.models import Pregnancy

    woman = await make_person(facility_code=clinic.facility.code, birth_date=date(1994, 1, 1))
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={"lmp": (TODAY - timedelta(weeks=10)).isoformat(), "gravida": 1, "parity": 0},
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    preg = r.json()
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/close",
        json={"outcome": "miscarriage", "closed_on": TODAY.isoformat()},
        headers={**clinic.doctor, "If-Match": f'W/"{preg["version"]}"'},
    )
    assert r.status_code == 200, r.text
    a_year = timedelta(days=365)
    await db.execute(
        update(Pregnancy)
        .where(Pregnancy.id == preg["id"])
        .values(
            lmp=date.fromisoformat(preg["lmp"]) - a_year,
            edd=date.fromisoformat(preg["edd"]) - a_year,
            closed_on=TODAY - a_year,
        )
    )
    await db.commit()
    r = await client.post(
        f"/api/v1/persons/{woman.id}/sick-leave/maternity", json={}, headers=clinic.doctor
    )
    assert r.status_code == 422
    assert "pregnancy_id" in fields(r)


async def test_a_closed_employer_organisations_accounts_see_nothing_more(client, clinic, db):
    from sqlalchemy import update

    from salomat.domains.registry.models import Employer

    r = await client.get("/api/v1/employer/sick-leave", headers=clinic.employer)
    assert r.status_code == 200
    await db.execute(
        update(Employer)
        .where(Employer.id == clinic.employer_account.employer.id)
        .values(active=False)
    )
    await db.commit()
    r = await client.get("/api/v1/employer/sick-leave", headers=clinic.employer)
    assert r.status_code == 403
