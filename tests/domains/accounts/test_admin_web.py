"""The administrator manages accounts on a page: list, create, disable."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.anyio


async def web_login(client, account) -> str:
    """Logs in through the real form; returns the page's CSRF token."""
    client.cookies.set("salomat_lang", "en")
    form = await client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    r = await client.post(
        "/login",
        data={"username": account.username, "password": account.password, "login_csrf": token},
    )
    assert r.status_code == 303, r.text
    home = await client.get("/")
    return re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)


async def test_admin_creates_and_disables_a_user_from_the_page(client, make_user, make_facility):
    admin = await make_user("admin")
    fac = await make_facility()
    csrf = await web_login(client, admin)
    page = await client.get("/admin/users")
    assert page.status_code == 200
    assert admin.username in page.text
    assert fac.code in page.text  # offered in the facility list

    r = await client.post(
        "/admin/users",
        headers={"HX-Request": "true"},
        data={
            "csrf_token": csrf,
            "username": "dr.web-made",
            "password": "long enough pw",
            "role": "family_doctor",
            "facility_code": fac.code,
            "full_name": "Web Made",
        },
    )
    assert r.status_code == 200, r.text
    assert "dr.web-made" in r.text
    assert fac.code in r.text
    uid = re.search(r'id="user-(\d+)"', r.text).group(1)

    token = await client.post(
        "/auth/token", data={"username": "dr.web-made", "password": "long enough pw"}
    )
    assert token.status_code == 200

    r = await client.post(
        f"/admin/users/{uid}/disable", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 200
    assert "Enable" in r.text
    token = await client.post(
        "/auth/token", data={"username": "dr.web-made", "password": "long enough pw"}
    )
    assert token.status_code == 401


async def test_the_form_says_which_fields_are_wrong(client, make_user):
    csrf = await web_login(client, await make_user("admin"))
    r = await client.post(
        "/admin/users",
        headers={"HX-Request": "true"},
        data={"csrf_token": csrf, "username": "X", "password": "short", "role": "nurse"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    for field in ("username", "password"):
        assert f"<strong>{field}</strong>" in r.text


async def test_without_csrf_token_nothing_is_created(client, make_user):
    await web_login(client, await make_user("admin"))
    r = await client.post(
        "/admin/users",
        data={"username": "no.csrf.user", "password": "long enough pw", "role": "analyst"},
    )
    assert r.status_code == 403
    assert (
        await client.post(
            "/auth/token", data={"username": "no.csrf.user", "password": "long enough pw"}
        )
    ).status_code == 401


async def test_other_roles_cannot_open_the_page(client, make_user):
    await web_login(client, await make_user("nurse"))
    assert (await client.get("/admin/users")).status_code == 403
    auditor_client = client
    auditor_client.cookies.clear()
    await web_login(auditor_client, await make_user("auditor"))
    page = await auditor_client.get("/admin/users")
    assert page.status_code == 200
    assert 'data-testid="new-user"' not in page.text  # may look, may not change
