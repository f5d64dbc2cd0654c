"""Employer accounts: bound to exactly one active employer organisation by its business id;
the principal carries it; the citizen sees an employer's views under the organisation's name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import EmployerPatch
from tests.domains.accounts.audit_support import audit_row, web_login
from tests.factories import PASSWORD, business_id_for, unique

pytestmark = pytest.mark.anyio


def _user(role: str = "employer", **kw):
    return {"username": unique("emp-"), "password": PASSWORD, "role": role, **kw}


async def test_an_employer_account_is_bound_to_its_organisation(
    client, admin_headers, make_employer, login
):
    from tests.factories import Account

    employer = await make_employer("Ipak Yoʻli MChJ")
    number = employer.business_id
    typed = f"{number[:3]} {number[3:]}"
    r = await client.post(
        "/api/v1/users",
        json=_user(employer_business_id=typed, full_name="Tursunova Malika"),
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert (user["employer_id"], user["facility_id"], user["person_id"]) == (
        employer.id,
        None,
        None,
    )
    headers = await login(Account(user["id"], user["username"], "employer", None, None))
    me = (await client.get("/api/v1/me", headers=headers)).json()
    assert (me["role"], me["employer_id"]) == ("employer", employer.id)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({}, "an employer account acts for one employer organisation"),
        ({"employer_business_id": "12345"}, "a STIR has exactly 9 digits"),
        ({"employer_business_id": "NEW"}, "no employer is registered with the number"),
    ],
)
async def test_an_employer_account_without_a_registered_organisation_is_422(
    client, admin_headers, body, why
):
    if body.get("employer_business_id") == "NEW":
        body = {"employer_business_id": business_id_for("UZ")}
    r = await client.post("/api/v1/users", json=_user(**body), headers=admin_headers)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "employer_business_id"
    assert why in error["message"]


async def test_an_inactive_organisation_takes_no_new_accounts(
    client, admin_headers, db, make_employer
):
    employer = await make_employer("Yopilgan MChJ")
    await registry.update_employer(
        db, employer.id, EmployerPatch(active=False), expected_version=1, by="test"
    )
    await db.commit()
    r = await client.post(
        "/api/v1/users",
        json=_user(employer_business_id=employer.business_id),
        headers=admin_headers,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "employer_business_id"
    assert "Yopilgan MChJ" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize("role", ["admin", "analyst", "citizen"])
async def test_no_other_role_is_bound_to_an_employer(client, admin_headers, make_employer, role):
    employer = await make_employer()
    r = await client.post(
        "/api/v1/users",
        json=_user(role, employer_business_id=employer.business_id),
        headers=admin_headers,
    )
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert "employer_business_id" in fields


async def test_the_employer_logs_in_on_the_web_and_lands_on_its_start_page(client, make_user):
    account = await make_user("employer")
    await web_login(client, account)
    home = await client.get("/")
    assert home.status_code == 200
    assert account.employer.name in home.text
    assert 'href="/employer/sick-leave"' in home.text
    # not staff: the registries stay closed
    assert 'href="/facilities"' not in home.text
    assert (await client.get("/facilities")).status_code == 403


async def test_she_sees_an_employers_view_under_the_organisations_name(
    client, db, make_person, make_user, make_employer, login
):
    employer = await make_employer("Samarqand Tekstil MChJ")
    await registry.update_employer(
        db,
        employer.id,
        EmployerPatch(names={"ru": "ООО «Самарканд Текстиль»"}),
        expected_version=1,
        by="test",
    )
    await db.commit()
    person = await make_person()
    citizen = await make_user("citizen", person_id=person.id)
    clerk = await make_user("employer", employer=employer)
    await audit_row(
        datetime(2026, 3, 9, 6, 0, tzinfo=UTC),
        clerk,
        resource_type="Patient",
        patient_id=person.id,
        purpose="registration",
    )
    body = (await client.get("/api/v1/me/access-log", headers=await login(citizen))).json()
    entry = body["items"][0]
    assert (entry["role"], entry["employer_name"], entry["facility_name"]) == (
        "employer",
        "Samarqand Tekstil MChJ",
        None,
    )
    await web_login(client, citizen, lang="ru")
    page = await client.get("/access-log")
    assert "ООО «Самарканд Текстиль»" in page.text
