"""The web shell in a real browser: headless Chromium (Debian's) driven by Playwright
against the app served by uvicorn on a free local port and the test database; and,
without a browser, that every string of the shell is translated.

Set ``SALOMAT_SCREENSHOT_DIR`` to keep a screenshot of each page the tests look at.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import PASSWORD, unique
from tests.ui.conftest import Browser, in_chromium, open_browser

SESSION = "salomat_session"


@pytest.fixture
async def browser_without_js(live_server: str) -> AsyncIterator[Browser]:
    async with open_browser(live_server, java_script_enabled=False) as b:
        yield b


async def _nav_links(b: Browser) -> list[str]:
    nav = b.page.get_by_test_id("nav")
    return [t.strip() for t in await nav.get_by_role("link").all_inner_texts()]


# ---- tests ------------------------------------------------------------------------


@in_chromium
async def test_a_family_doctor_logs_in_and_sees_who_and_where_they_are(browser, make_user):
    doctor = await make_user("family_doctor")
    page = browser.page
    await page.goto(browser.url("/"))
    assert page.url == browser.url("/login")
    await browser.screenshot("login")

    await browser.log_in(doctor.username)
    await page.wait_for_url(browser.url("/"))
    assert await page.title() == "Start · Salomat"
    who = page.get_by_test_id("who")
    assert await page.get_by_test_id("who-username").inner_text() == doctor.username
    assert await page.get_by_test_id("who-role").inner_text() == "family doctor"
    facility = page.get_by_test_id("who-facility")
    assert await facility.inner_text() == "Test polyclinic"  # by name, the code as tooltip
    assert await facility.get_attribute("title") == doctor.facility_code
    assert await who.is_visible()
    heading = page.get_by_role("heading", level=1)
    assert await heading.inner_text() == f"Welcome, {doctor.username}"
    assert await _nav_links(browser) == [
        "Start",
        "Patients",
        "Antenatal worklist",
        "Immunization worklist",
        "Due for revaccination",
        "Notify an infectious disease",
        "Screening worklist",
        "Hospital beds report",
        "Insurance check",
        "Insurance claims",
        "Settlements",
        "Immunization coverage",
        "Revaccination coverage",
        "Deaths without a certificate",
        "Facilities",
    ]
    current = page.get_by_test_id("nav").get_by_role("link", name="Start")
    assert await current.get_attribute("aria-current") == "page"
    await browser.screenshot("home-family-doctor")


@in_chromium
@pytest.mark.parametrize(
    ("role", "sees", "does_not_see"),
    [
        (
            "citizen",
            [
                "Start",
                "My pregnancy",
                "My children",
                "My prescriptions",
                "My screenings",
                "My sick-leave certificates",
                "My revaccination",
                "My sanatorium referrals",
                "My insurance",
                "Who opened my record",
            ],
            ["Users"],
        ),
        (
            "nurse",
            [
                "Start",
                "Patients",
                "Antenatal worklist",
                "Immunization worklist",
                "Due for revaccination",
                "Notify an infectious disease",
                "Screening worklist",
                "Hospital beds report",
                "Insurance check",
                "Facilities",
            ],
            ["Who opened my record", "Users"],
        ),
        (
            "admin",
            [
                "Start",
                "Health indicators",
                "Hospital beds report",
                "Facilities",
                "Users",
                "Client systems",
                "Employers",
                "Background jobs",
                "Subscriptions",
                "Audit trail",
            ],
            ["Who opened my record", "Patients"],
        ),
        (
            "employer",
            ["Start", "Sick-leave certificates"],
            ["Facilities", "Patients", "Who opened my record"],
        ),
        (
            "planner",
            ["Start", "Network planning", "Facilities"],
            ["Patients", "Who opened my record", "Users"],
        ),
    ],
)
async def test_the_menu_follows_the_role(browser, make_user, make_person, role, sees, does_not_see):
    person_id = (await make_person()).id if role == "citizen" else None
    account = await make_user(role, person_id=person_id)
    await browser.log_in(account.username)
    await browser.page.wait_for_url(browser.url("/"))
    links = await _nav_links(browser)
    assert links == sees
    assert not set(links) & set(does_not_see)


@in_chromium
async def test_a_wrong_password_shows_the_error_and_lets_nobody_in(browser, make_user):
    doctor = await make_user("family_doctor")
    page = browser.page
    await browser.log_in(doctor.username, "not the password")
    error = page.get_by_test_id("login-error")
    assert await error.inner_text() == "Wrong username or password."
    assert await error.get_attribute("role") == "alert"
    assert page.url == browser.url("/login")
    assert await page.get_by_label("Username").input_value() == doctor.username
    assert await page.get_by_label("Password").input_value() == ""
    assert await page.get_by_test_id("who").count() == 0
    assert await browser.cookie(SESSION) is None
    await browser.screenshot("login-error")

    await page.goto(browser.url("/"))
    assert page.url == browser.url("/login")


LANGUAGES = [
    # lang, the login button, the page title, the password label
    ("ru", "Войти", "Войти · Salomat", "Пароль"),
    ("uz", "Kirish", "Kirish · Salomat", "Parol"),
    ("en", "Log in", "Log in · Salomat", "Password"),
]  # the test deployment is UZ: uz, ru and en (kk is offered by the KZ pack)


@in_chromium
async def test_switching_the_language_translates_the_page(browser, make_user):
    page = browser.page
    await page.goto(browser.url("/login"))
    assert await page.locator("html").get_attribute("lang") == "en"
    for lang, button, title, password in LANGUAGES:
        async with page.expect_navigation():
            await page.get_by_test_id("language").select_option(lang)  # salomat.js submits
        assert page.url == browser.url("/login")
        assert await page.locator("html").get_attribute("lang") == lang
        assert (await page.get_by_test_id("login-submit").inner_text()).strip() == button
        assert await page.title() == title
        assert await page.get_by_label(password).count() == 1
        assert (await browser.cookie("salomat_lang"))["value"] == lang
        await browser.screenshot(f"login-{lang}")

    # the choice holds after logging in: the shell in Russian
    async with page.expect_navigation():
        await page.get_by_test_id("language").select_option("ru")
    doctor = await make_user("family_doctor")
    await page.get_by_label("Имя пользователя").fill(doctor.username)
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url(browser.url("/"))
    assert await page.get_by_test_id("who-role").inner_text() == "семейный врач"
    assert await _nav_links(browser) == [
        "Главная",
        "Пациенты",
        "Рабочий список антенатального наблюдения",
        "Список прививок к проведению",
        "Подлежащие ревакцинации",
        "Извещение об инфекционном заболевании",
        "Рабочий список скрининга",
        "Отчёт о койках больницы",
        "Проверка страховки",
        "Страховые заявки",
        "Расчёты",
        "Охват иммунизацией",
        "Охват ревакцинацией",
        "Смерти без свидетельства",
        "Учреждения",
    ]
    assert (await page.get_by_test_id("logout").inner_text()).strip() == "Выйти"
    await browser.screenshot("home-ru")


@in_chromium
async def test_the_language_switch_works_without_javascript(browser_without_js):
    b = browser_without_js
    page = b.page
    await page.goto(b.url("/login"))
    await page.get_by_test_id("language").select_option("uz")
    assert page.url == b.url("/login")  # nothing submitted by itself
    await page.locator("form.lang").get_by_role("button").click()
    await page.wait_for_url(b.url("/login"))
    assert await page.locator("html").get_attribute("lang") == "uz"
    assert (await page.get_by_test_id("login-submit").inner_text()).strip() == "Kirish"


@in_chromium
async def test_logging_out_returns_to_the_login_page_and_ends_the_session(browser, make_user):
    nurse = await make_user("nurse")
    page = browser.page
    await browser.log_in(nurse.username)
    await page.wait_for_url(browser.url("/"))
    old = await browser.cookie(SESSION)
    assert old is not None

    await page.get_by_test_id("logout").click()
    await page.wait_for_url(browser.url("/login"))
    assert await page.get_by_test_id("login-submit").is_visible()
    assert await browser.cookie(SESSION) is None

    await browser.context.add_cookies([old])  # a copy of the cookie kept somewhere
    await page.goto(browser.url("/"))
    assert page.url == browser.url("/login")
    async with httpx.AsyncClient(base_url=browser.base, cookies={SESSION: old["value"]}) as http:
        r = await http.get("/")
    assert r.status_code == 303
    assert r.headers["location"] == "/login"


@in_chromium
async def test_the_session_cookie_is_httponly_and_samesite_lax(browser, make_user):
    doctor = await make_user("family_doctor")
    await browser.log_in(doctor.username)
    await browser.page.wait_for_url(browser.url("/"))
    cookie = await browser.cookie(SESSION)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert SESSION not in await browser.page.evaluate("document.cookie")


@in_chromium
async def test_a_citizen_sees_which_clinician_opened_their_record(browser, make_user, make_person):
    nurse = await make_user("nurse")
    person = await make_person(nurse.facility_code)
    citizen = await make_user("citizen", person_id=person.id)
    async with httpx.AsyncClient(base_url=browser.base) as http:
        token = await http.post(
            "/auth/token", data={"username": nurse.username, "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        r = await http.get(f"/api/v1/persons/{person.id}", headers=bearer)
        assert r.status_code == 200, r.text

    page = browser.page
    await browser.log_in(citizen.username)
    await page.wait_for_url(browser.url("/"))
    await page.get_by_test_id("nav").get_by_role("link", name="Who opened my record").click()
    await page.wait_for_url(browser.url("/access-log"))
    table = page.get_by_test_id("access-log")
    row = table.locator("tbody tr").filter(has_text=nurse.username)
    assert await row.count() >= 1
    cells = [c.strip() for c in await row.first.locator("td").all_inner_texts()]
    assert cells[1:5] == [nurse.username, "nurse", "Test polyclinic", "read"]  # its name
    assert "attached to the user's facility" in cells[5]
    assert await row.first.get_attribute("class") is None  # not an emergency access
    await browser.screenshot("access-log")

    # and in Russian
    async with page.expect_navigation():
        await page.get_by_test_id("language").select_option("ru")
    assert page.url == browser.url("/access-log")
    row = page.get_by_test_id("access-log").locator("tbody tr").filter(has_text=nurse.username)
    cells = [c.strip() for c in await row.first.locator("td").all_inner_texts()]
    assert cells[2] == "медсестра"
    assert cells[4] == "просмотр"
    assert await page.get_by_role("heading", level=1).inner_text() == "Кто открывал мою карту"
    await browser.screenshot("access-log-ru")


@in_chromium
async def test_htmx_sends_the_csrf_header_under_the_csp(browser, make_user):
    """The vendored htmx loads under the CSP and its requests carry the page's CSRF token."""
    admin = await make_user("admin")
    page = browser.page
    await browser.log_in(admin.username)
    await page.wait_for_url(browser.url("/"))
    await page.goto(browser.url("/admin/users"))
    assert await page.evaluate("typeof window.htmx") == "object"

    username = unique("analyst.htmx-")
    form = page.get_by_test_id("new-user")
    await form.get_by_label("Username").fill(username)
    await form.get_by_label("Role").select_option("analyst")
    await form.get_by_label("Initial password").fill("long enough pw")
    async with page.expect_response("**/admin/users") as answer:
        await form.get_by_role("button", name="Create user").click()
    response = await answer.value
    assert response.status == 200
    sent = await response.request.all_headers()
    assert sent.get("hx-request") == "true"
    assert sent.get("x-csrf-token")
    row = page.get_by_test_id("users").locator("tbody tr").filter(has_text=username)
    await row.wait_for()
    assert await form.get_by_label("Username").input_value() == ""  # ready for the next one

    async with page.expect_response("**/disable") as answer:
        await row.get_by_role("button", name="Disable").click()
    assert (await answer.value).status == 200
    await row.get_by_role("button", name="Enable").wait_for()
    assert page.url == browser.url("/admin/users")  # swapped in place, no navigation
    await browser.screenshot("users")


@in_chromium
async def test_a_refused_htmx_form_shows_the_error_and_keeps_what_was_typed(browser, make_user):
    """htmx 2 does not swap 4xx answers by default; the page config makes it show them."""
    admin = await make_user("admin")
    page = browser.page
    await browser.log_in(admin.username)
    await page.wait_for_url(browser.url("/"))
    await page.goto(browser.url("/admin/users"))
    form = page.get_by_test_id("new-user")
    listed = await page.get_by_test_id("users").locator("tbody tr").all_inner_texts()
    await form.get_by_label("Username").fill(admin.username)  # taken
    await form.get_by_label("Role").select_option("analyst")
    await form.get_by_label("Initial password").fill("long enough pw")
    async with page.expect_response("**/admin/users") as answer:
        await form.get_by_role("button", name="Create user").click()
    assert (await answer.value).status == 409
    alert = page.get_by_test_id("error")
    await alert.wait_for()
    assert "username" in (await alert.inner_text())
    assert await form.get_by_label("Username").input_value() == admin.username
    # the list stays as it was (the error is swapped in beside it, not over it); it is
    # a page of 50 by username, which need not reach this admin in a busy test database
    assert await page.get_by_test_id("users").locator("tbody tr").all_inner_texts() == listed


# ---- the catalogs (no browser) ---------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
LOCALE = REPO / "src" / "salomat" / "core" / "locale"
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
UPDATE = (
    "run: .venv/bin/pybabel extract -F babel.cfg -o src/salomat/core/locale/messages.pot src "
    "&& .venv/bin/pybabel update -i src/salomat/core/locale/messages.pot "
    "-d src/salomat/core/locale, then translate"
)


def _source_msgids() -> set[str]:
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (REPO / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f, str(REPO / "babel.cfg"))
    found = extract_from_dir(str(REPO / "src"), method_map, options_map)
    return {msg if isinstance(msg, str) else msg[0] for _, _, msg, _, _ in found}


def _singular(msgid: str | tuple[str, ...]) -> str:
    """A message's identity: its singular where it has plural forms (``ngettext``)."""
    return msgid if isinstance(msgid, str) else msgid[0]


def _translated(msgstr: str | tuple[str, ...]) -> bool:
    """Translated, every plural form of it where it has them."""
    return bool(msgstr) if isinstance(msgstr, str) else all(msgstr)


def _text(msgstr: str | tuple[str, ...]) -> str:
    """A translation's text, all its plural forms together."""
    return msgstr if isinstance(msgstr, str) else "\n".join(msgstr)


def _catalog(lang: str) -> Any:
    from babel.messages.pofile import read_po

    from salomat.core.i18n import BABEL_LOCALES

    path = LOCALE / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        return read_po(f, locale=BABEL_LOCALES[lang])


def test_the_template_lists_every_message_of_the_source():
    from babel.messages.pofile import read_po

    with (LOCALE / "messages.pot").open("rb") as f:
        pot = {_singular(m.id) for m in read_po(f) if m.id}
    source = _source_msgids()
    assert not source - pot, f"new messages not in messages.pot; {UPDATE}"
    assert not pot - source, f"messages.pot has messages no longer used; {UPDATE}"


@pytest.mark.parametrize("lang", ["ru", "uz", "kk"])
def test_every_message_is_translated(lang):
    catalog = _catalog(lang)
    untranslated = [m.id for m in catalog if m.id and (not _translated(m.string) or m.fuzzy)]
    missing = _source_msgids() - {_singular(m.id) for m in catalog if m.id}
    assert not missing, f"{lang}: not in the catalog: {sorted(missing)}; {UPDATE}"
    assert not untranslated, f"{lang}: untranslated or fuzzy: {untranslated}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check() if errors]
    assert not problems, problems  # e.g. a %(name)s lost in translation


@pytest.mark.parametrize("lang", ["ru", "uz", "kk"])
def test_every_translation_formats_as_its_message_does(lang):
    """Templates format every message (Jinja's newstyle gettext: ``message % values``), so a
    translation with a bare "%" where the English has none raised a 500 on the page (the
    immunization coverage page in uz, ru and kk). Each translation must format exactly
    when, and with the same named values as, its message."""
    names = re.compile(r"%\((\w+)\)[sd]")
    problems = []
    for m in _catalog(lang):
        if not m.id or not m.string:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        values = {n: 1 for i in ids for n in names.findall(i)}
        for i, st in zip(ids * len(strings), strings, strict=False):
            try:
                i % values
            except (ValueError, TypeError, KeyError):
                continue  # not a formatted message
            try:
                st % values
            except (ValueError, TypeError, KeyError) as e:
                problems.append((i, st, str(e)))
            if set(names.findall(st)) != set(names.findall(i)):
                problems.append((i, st, "named values differ"))
    assert not problems, problems


def test_uzbek_is_written_in_latin_script():
    for m in _catalog("uz"):
        if m.id:
            text = _text(m.string)
            assert not CYRILLIC.search(text), (m.id, text)
            # oʻ and gʻ take U+02BB, the tutuq belgisi U+02BC: never a quote or backtick
            assert not re.search(r"[OoGg]['`‘’]", text), (m.id, text)


def test_kazakh_is_written_in_cyrillic_script():
    for m in _catalog("kk"):
        if m.id and re.search(r"[A-Za-z]{3}", _singular(m.id).replace("%(name)s", "")):
            assert CYRILLIC.search(_text(m.string)), (m.id, m.string)


def test_every_role_action_and_error_title_has_a_message():
    from salomat.core import audit, errors
    from salomat.core.policy import Role
    from salomat.ui import msgids

    assert set(msgids.ROLES) == {r.value for r in Role}
    assert set(msgids.AUDIT_ACTIONS) == set(audit.ACTIONS)
    titles = {
        cls.title
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.SalomatError)
    }
    assert titles <= set(msgids.ERROR_TITLES)
