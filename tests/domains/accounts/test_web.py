"""The web shell without a browser: login form, session cookie, CSRF, logout, language."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.anyio

SESSION = "salomat_session"
PRE_CSRF = "salomat_login_csrf"


def _set_cookie(response, name: str) -> str:
    """The Set-Cookie header that sets ``name`` (not one that deletes it)."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}=") and not header.startswith(f'{name}=""'):
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


def _attrs(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")[1:]]
    return {k.lower(): v for k, _, v in (p.partition("=") for p in parts)}


async def _login_form(client) -> str:
    r = await client.get("/login")
    assert r.status_code == 200
    return re.search(r'name="login_csrf" value="([^"]+)"', r.text).group(1)


async def _web_login(client, account, password: str = PASSWORD):
    token = await _login_form(client)
    return await client.post(
        "/login",
        data={"username": account.username, "password": password, "login_csrf": token},
    )


def _page_csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_the_login_form_sets_an_httponly_samesite_session_cookie(client, make_user):
    doctor = await make_user("family_doctor")
    form = await client.get("/login")
    pre = _attrs(_set_cookie(form, PRE_CSRF))
    assert "httponly" in pre
    assert pre["samesite"].lower() == "lax"

    r = await _web_login(client, doctor)
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    flags = _attrs(_set_cookie(r, SESSION))
    assert "httponly" in flags
    assert flags["samesite"].lower() == "lax"
    assert flags["path"] == "/"
    assert "secure" not in flags  # plain http in tests; production sets Secure

    home = await client.get("/")
    assert home.status_code == 200
    assert doctor.username in home.text
    assert doctor.facility_code in home.text


async def test_login_goes_back_to_the_page_asked_for(client, make_user):
    doctor = await make_user("family_doctor")
    form = await client.get("/login", params={"next": "/admin/users"})
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    assert 'name="next" value="/admin/users"' in form.text
    r = await client.post(
        "/login",
        data={
            "username": doctor.username,
            "password": PASSWORD,
            "login_csrf": token,
            "next": "/admin/users",
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/users"


async def test_a_wrong_password_shows_the_form_again_without_a_session(client, make_user):
    doctor = await make_user("family_doctor")
    client.cookies.set("salomat_lang", "en")
    r = await _web_login(client, doctor, password="not the password")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    assert 'data-testid="login-error"' in r.text
    assert "Wrong username or password." in r.text
    assert all(not h.startswith(f"{SESSION}=") for h in r.headers.get_list("set-cookie"))
    assert (await client.get("/")).status_code == 303


async def test_the_login_error_is_in_the_chosen_language(client, make_user):
    doctor = await make_user("family_doctor")
    client.cookies.set("salomat_lang", "ru")
    r = await _web_login(client, doctor, password="not the password")
    assert r.status_code == 401
    assert "Неверное имя пользователя или пароль." in r.text
    assert '<html lang="ru">' in r.text


async def test_without_a_choice_the_country_language_is_used(client):
    page = await client.get("/login")  # the test deployment is SALOMAT_COUNTRY=UZ
    assert '<html lang="uz">' in page.text
    assert ">Kirish</button>" in page.text
    page = await client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru">' in page.text


async def test_login_without_the_pre_login_csrf_cookie_is_refused(client, make_user):
    doctor = await make_user("family_doctor")
    r = await client.post(
        "/login",
        data={"username": doctor.username, "password": PASSWORD, "login_csrf": "forged"},
    )
    assert r.status_code == 403
    assert all(not h.startswith(f"{SESSION}=") for h in r.headers.get_list("set-cookie"))

    await _login_form(client)  # the cookie is there now, but the form field does not match
    r = await client.post(
        "/login",
        data={"username": doctor.username, "password": PASSWORD, "login_csrf": "forged"},
    )
    assert r.status_code == 403
    assert (await client.get("/")).status_code == 303


async def test_the_start_page_sends_an_anonymous_visitor_to_the_login_form(client):
    r = await client.get("/")
    assert r.status_code == 303
    assert r.headers["location"] == "/login"


async def test_a_protected_page_sends_an_anonymous_visitor_to_login_and_back(client):
    r = await client.get("/access-log")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/access-log"


async def test_logout_needs_the_csrf_token(client, make_user):
    doctor = await make_user("family_doctor")
    assert (await _web_login(client, doctor)).status_code == 303
    old_cookie = client.cookies.get(SESSION)
    csrf = _page_csrf((await client.get("/")).text)

    refused = await client.post("/logout")
    assert refused.status_code == 403
    assert (await client.get("/")).status_code == 200  # still logged in

    r = await client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    assert any(h.startswith(f"{SESSION}=") for h in r.headers.get_list("set-cookie"))

    client.cookies.set(SESSION, old_cookie)  # a copy kept by someone else
    again = await client.get("/")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


async def test_logout_with_the_token_in_the_htmx_header(client, make_user):
    doctor = await make_user("nurse")
    assert (await _web_login(client, doctor)).status_code == 303
    csrf = _page_csrf((await client.get("/")).text)
    r = await client.post("/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 303


async def test_the_language_link_sets_the_cookie_and_goes_back(client):
    r = await client.get("/language", params={"lang": "kk", "next": "/login?next=/access-log"})
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/access-log"
    flags = _attrs(_set_cookie(r, "salomat_lang"))
    assert flags["samesite"].lower() == "lax"
    assert client.cookies.get("salomat_lang") == "kk"

    page = await client.get("/login")
    assert '<html lang="kk">' in page.text
    assert "Кіру" in page.text


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "//evil.example", "http:/evil.example", "evil.example", ""],
)
async def test_the_language_link_only_goes_back_to_this_site(client, target):
    r = await client.get("/language", params={"lang": "ru", "next": target})
    assert r.status_code == 303
    assert r.headers["location"] == "/"


@pytest.mark.parametrize("target", ["/\\evil.example", "/\t/evil.example", "/%2F/evil.example"])
async def test_odd_local_paths_stay_on_this_site(client, target):
    """A browser reads a backslash as a slash; the redirect percent-encodes it."""
    r = await client.get("/language", params={"lang": "ru", "next": target})
    location = r.headers["location"]
    assert location.startswith("/")
    assert not location.startswith("//")
    assert "\\" not in location
    assert "\t" not in location
    assert urlsplit(location).netloc == ""


async def test_an_unknown_language_is_refused(client):
    r = await client.get("/language", params={"lang": "xx", "next": "/"})
    assert r.status_code == 422
    assert "salomat_lang" not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("lang", "button", "role"),
    [
        ("en", "Log out", "family doctor"),
        ("ru", "Выйти", "семейный врач"),
        ("uz", "Chiqish", "oilaviy shifokor"),
        ("kk", "Шығу", "отбасылық дәрігер"),
    ],
)
async def test_the_shell_speaks_each_language(client, make_user, lang, button, role):
    doctor = await make_user("family_doctor")
    assert (await _web_login(client, doctor)).status_code == 303
    client.cookies.set("salomat_lang", lang)
    home = await client.get("/")
    assert f'<html lang="{lang}">' in home.text
    assert button in home.text
    assert role in home.text


async def test_a_nurse_has_no_citizen_pages(client, make_user):
    nurse = await make_user("nurse")
    assert (await _web_login(client, nurse)).status_code == 303
    home = await client.get("/")
    assert 'href="/access-log"' not in home.text
    assert (await client.get("/access-log")).status_code == 403
