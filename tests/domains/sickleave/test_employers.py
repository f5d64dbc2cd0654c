"""The holder shares, the employer sees dates and status (never the diagnosis), the public
verifies a number and its check code."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.domains.sickleave.conftest import fields

pytestmark = pytest.mark.anyio

TODAY = date.today()
FLU = {"reason": "own_illness", "diagnosis": "J11.1", "days": 5}


async def open_flu(client, clinic):  # type: ignore[no-untyped-def]
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave", json=FLU, headers=clinic.doctor
    )
    assert r.status_code == 201, r.text
    return r.json()


async def share(client, clinic, c):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/me/sick-leave/{c['id']}/shares",
        json={"employer_business_id": clinic.employer_account.employer.business_id},
        headers=clinic.citizen,
    )


def no_clinical_bytes(raw: bytes) -> None:
    for needle in (b"J11.1", b"J11", b"own_illness", b"influenza", b"diagnosis", b"reason"):
        assert needle not in raw, needle


async def test_the_employer_sees_a_shared_certificate_without_the_diagnosis(client, clinic):
    c = await open_flu(client, clinic)
    r = await client.get("/api/v1/employer/sick-leave", headers=clinic.employer)
    assert r.status_code == 200
    assert r.json() == []
    r = await share(client, clinic, c)
    assert r.status_code == 201, r.text
    assert r.json()["employer_name"] == clinic.employer_account.employer.name
    again = await share(client, clinic, c)
    assert again.status_code == 201
    assert again.json()["shared_at"] == r.json()["shared_at"]

    r = await client.get("/api/v1/employer/sick-leave", headers=clinic.employer)
    assert r.status_code == 200
    [seen] = r.json()
    assert seen["number"] == c["number"]
    assert (seen["kind"], seen["status"], seen["days"]) == ("illness", "open", 5)
    assert seen["issuing_facility"] == clinic.facility.name
    assert seen["periods"] == [{"starts_on": c["starts_on"], "ends_on": c["ends_on"]}]
    no_clinical_bytes(r.content)
    r = await client.get(
        "/api/v1/employer/sick-leave/by-number",
        params={"number": c["number"].replace("-", " ")},
        headers=clinic.employer,
    )
    assert r.status_code == 200
    no_clinical_bytes(r.content)


async def test_by_number_and_national_id_and_another_employer_gets_404(
    client, clinic, make_user, login
):
    c = await open_flu(client, clinic)
    body = {"number": c["number"], "national_id": clinic.worker.national_id}
    r = await client.post("/api/v1/employer/sick-leave/lookup", json=body, headers=clinic.employer)
    assert r.status_code == 200, r.text
    no_clinical_bytes(r.content)
    # the number with another person's id, or a number that does not exist: 404 alike
    r = await client.post(
        "/api/v1/employer/sick-leave/lookup",
        json={**body, "number": "2600-0000-0000"},
        headers=clinic.employer,
    )
    assert r.status_code == 404
    other = await login(await make_user("employer"))
    r = await client.get(
        "/api/v1/employer/sick-leave/by-number", params={"number": c["number"]}, headers=other
    )
    assert r.status_code == 404
    assert (await client.get("/api/v1/employer/sick-leave", headers=other)).json() == []
    # the employer may not read the clinical view at all
    r = await client.get(f"/api/v1/sick-leave/{c['id']}", headers=clinic.employer)
    assert r.status_code == 403
    no_clinical_bytes(r.content)


async def test_the_citizen_sees_the_employers_view_in_who_opened_my_record(client, clinic):
    c = await open_flu(client, clinic)
    await share(client, clinic, c)
    assert (
        await client.get("/api/v1/employer/sick-leave", headers=clinic.employer)
    ).status_code == 200
    r = await client.get("/api/v1/me/access-log", headers=clinic.citizen)
    assert r.status_code == 200
    names = [e.get("employer_name") for e in r.json()["items"]]
    assert clinic.employer_account.employer.name in names


async def test_withdrawn_share_hides_it_again(client, clinic):
    c = await open_flu(client, clinic)
    await share(client, clinic, c)
    bid = clinic.employer_account.employer.business_id
    r = await client.delete(f"/api/v1/me/sick-leave/{c['id']}/shares/{bid}", headers=clinic.citizen)
    assert r.status_code == 204
    assert (await client.get("/api/v1/employer/sick-leave", headers=clinic.employer)).json() == []


async def test_a_citizen_shares_only_her_own_and_only_with_a_registered_employer(
    client, clinic, make_person, make_user, login
):
    c = await open_flu(client, clinic)
    stranger = await login(await make_user("citizen", person_id=(await make_person()).id))
    r = await client.post(
        f"/api/v1/me/sick-leave/{c['id']}/shares",
        json={"employer_business_id": clinic.employer_account.employer.business_id},
        headers=stranger,
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/me/sick-leave/{c['id']}/shares",
        json={"employer_business_id": "000000000"},
        headers=clinic.citizen,
    )
    assert r.status_code == 422
    assert "employer_business_id" in fields(r)
    mine = (await client.get("/api/v1/me/sick-leave", headers=clinic.citizen)).json()
    assert [m["number"] for m in mine] == [c["number"]]


async def test_public_verification_valid_invalid_cancelled_and_a_duplicate(client, clinic):
    c = await open_flu(client, clinic)
    url = "/api/v1/public/sick-leave/verify"
    r = await client.get(url, params={"number": c["number"], "code": c["check_code"].lower()})
    assert r.status_code == 200
    assert r.json() == {
        "status": "valid",
        "starts_on": c["starts_on"],
        "ends_on": c["ends_on"],
        "closed_on": None,
    }
    no_clinical_bytes(r.content)
    wrong = await client.get(url, params={"number": c["number"], "code": "AAAAAA"})
    assert wrong.json() == {
        "status": "invalid",
        "starts_on": None,
        "ends_on": None,
        "closed_on": None,
    }
    dup = await client.post(
        f"/api/v1/sick-leave/{c['id']}/duplicate", json={"reason": "lost"}, headers=clinic.doctor
    )
    assert dup.status_code == 200
    assert dup.json()["duplicate_no"] == 1
    old = await client.get(url, params={"number": c["number"], "code": c["check_code"]})
    assert old.json()["status"] == "invalid"
    new = await client.get(url, params={"number": c["number"], "code": dup.json()["check_code"]})
    assert new.json()["status"] == "valid"
    r = await client.post(
        f"/api/v1/sick-leave/{c['id']}/cancel",
        json={"reason": "issued in error"},
        headers=clinic.doctor,
    )
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    cancelled = await client.get(
        url, params={"number": c["number"], "code": dup.json()["check_code"]}
    )
    assert cancelled.json()["status"] == "cancelled"
    versions = (
        await client.get(f"/api/v1/sick-leave/{c['id']}/versions", headers=clinic.doctor)
    ).json()
    assert [v["change"] for v in versions] == ["opened", "duplicate", "cancelled"]
    assert json.dumps(versions).count("issued in error") == 1
