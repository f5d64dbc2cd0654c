"""The platform administrator's page of client systems: list, register, add and remove a
key, disable; each wrong field named; in Chromium too, and in the country's languages."""

from __future__ import annotations

import json
import re

import pytest

from tests.domains.accounts.client_systems_support import assertion, es384_key, jwks, token_form
from tests.domains.accounts.test_admin_web import web_login
from tests.ui.conftest import in_chromium, open_browser

pytestmark = pytest.mark.anyio
HX = {"HX-Request": "true"}


async def test_register_rotate_and_disable_from_the_page(client, make_user, make_facility):
    admin = await make_user("admin")
    fac = await make_facility()
    csrf = await web_login(client, admin)
    page = await client.get("/admin/client-systems")
    assert page.status_code == 200
    assert 'href="/admin/client-systems"' in page.text  # in the admin's menu
    assert fac.code in page.text
    assert "http://testserver/auth/token" in page.text
    key = es384_key("k-1")
    r = await client.post(
        "/admin/client-systems",
        headers=HX,
        data={
            "csrf_token": csrf,
            "name": "Perinatal centre HIS",
            "client_id": "perinatal-his-web",
            "role": "obstetrician",
            "facility_code": fac.code,
            "scopes": "system/Patient.read\nsystem/ServiceRequest.read",
            "jwks": jwks(key),
            "origins": "https://his.perinatal.example.uz",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["hx-retarget"] == "#client-rows"
    assert "perinatal-his-web" in r.text
    assert "k-1" in r.text
    got = await client.post("/auth/token", data=token_form(assertion("perinatal-his-web", key)))
    assert got.status_code == 200, got.text

    # a second key, then the first removed: the old key no longer logs in
    new = es384_key("k-2")
    r = await client.post(
        "/admin/client-systems/perinatal-his-web/keys",
        headers=HX,
        data={"csrf_token": csrf, "jwks": json.dumps(new.public_jwk())},
    )
    assert r.status_code == 200, r.text
    row = re.search(r'id="(client-\d+)"', r.text).group(1)
    assert r.headers["hx-retarget"] == f"#{row}"
    r = await client.post(
        "/admin/client-systems/perinatal-his-web/keys/k-1/remove",
        headers=HX,
        data={"csrf_token": csrf},
    )
    assert r.status_code == 200
    assert "k-1" not in r.text
    old = await client.post("/auth/token", data=token_form(assertion("perinatal-his-web", key)))
    assert old.status_code == 401
    ok = await client.post("/auth/token", data=token_form(assertion("perinatal-his-web", new)))
    assert ok.status_code == 200

    r = await client.post(
        "/admin/client-systems/perinatal-his-web/disable", headers=HX, data={"csrf_token": csrf}
    )
    assert r.status_code == 200
    assert "Enable" in r.text
    late = await client.post("/auth/token", data=token_form(assertion("perinatal-his-web", new)))
    assert late.status_code == 401


async def test_the_form_names_each_wrong_field(client, make_user):
    csrf = await web_login(client, await make_user("admin"))
    r = await client.post(
        "/admin/client-systems",
        headers=HX,
        data={
            "csrf_token": csrf,
            "name": "Robot",
            "role": "obstetrician",
            "scopes": "system/Patient.read user/x",
            "jwks": '{"kty": "EC", "crv": "P-384", "x": "a", "y": "b", "d": "c", "kid": "p"}',
            "origins": "ftp://x",
        },
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    for field in ("facility code", "scopes", "keys[0]", "origins"):
        assert f"<strong>{field}</strong>" in r.text, field
    assert "register only the public key" in r.text


async def test_only_the_platform_administrator(client, make_user, login):
    for role in ("auditor", "registrar", "family_doctor"):
        account = await make_user(role)
        csrf = await web_login(client, account)
        assert (await client.get("/admin/client-systems")).status_code == 403
        r = await client.post(
            "/admin/client-systems", headers=HX, data={"csrf_token": csrf, "name": "x"}
        )
        assert r.status_code == 403
        headers = await login(account)
        assert (await client.get("/api/v1/client-systems", headers=headers)).status_code == 403
        client.cookies.clear()


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_page_speaks_the_language(client, make_user, lang):
    from salomat.core import i18n

    await web_login(client, await make_user("admin"))
    client.cookies.set("salomat_lang", lang)
    page = await client.get("/admin/client-systems")
    assert page.status_code == 200
    token = i18n.set_language(lang)
    try:
        for msgid in ("Client systems", "Register a client system", "Add public keys"):
            translated = i18n.gettext(msgid)
            assert translated in page.text
    finally:
        i18n._lang.reset(token)  # type: ignore[attr-defined]


@in_chromium
async def test_in_chromium_the_admin_registers_and_disables_a_client(
    live_server, make_user, make_facility
):
    admin = await make_user("admin")
    fac = await make_facility()
    key = es384_key("chromium-1")
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(admin.username)
        await page.get_by_test_id("nav").get_by_role("link", name="Client systems").click()
        await page.wait_for_url("**/admin/client-systems")
        form = page.get_by_test_id("new-client")
        await form.get_by_label("Name").fill("Pharmacy chain system")
        await form.get_by_label("Client id (made up when empty)").fill("pharmacy-chromium")
        await form.get_by_label("Role it acts in").select_option("pharmacist")
        await form.get_by_label("Facility").select_option(fac.code)
        await form.get_by_label("Scopes (one per line, e.g. system/Patient.read)").fill(
            "system/MedicationDispense.write"
        )
        await form.get_by_label(
            "Public keys (a JWKS or one JWK; RS384 or ES384, each with a kid)"
        ).fill(jwks(key))
        await form.get_by_role("button", name="Register").click()
        row = page.get_by_test_id("client-pharmacy-chromium")
        await row.wait_for()
        assert "chromium-1 (ES384)" in await row.inner_text()
        # a wrong key is refused, naming the field; the row stays as it was
        await row.get_by_label("Add public keys").fill("not json")
        await row.get_by_role("button", name="Add key").click()
        await page.get_by_test_id("error").get_by_text("is not JSON").wait_for()
        assert "chromium-1 (ES384)" in await row.inner_text()
        await row.get_by_role("button", name="Disable").click()
        await (
            page.get_by_test_id("client-pharmacy-chromium")
            .get_by_role("button", name="Enable")
            .wait_for()
        )
        await browser.screenshot("client-systems")
