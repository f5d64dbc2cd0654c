"""The fund analyst's pages: a payment file uploaded through the page shows each wrong
line with its field (nothing stored) or, after a redirect (a reload sends nothing), what
was stored with links on; payers, employment and category forms, each error under its
field or in the refusal's words; arrears; the dashboard with its charts and CSV in the
page's language (amounts, the state payer and the providers too); who may open them; and
in Chromium (a server under Kazakhstan's pack) the import and the dashboard."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from salomat.core import i18n
from salomat.core.db import utcnow
from salomat.core.errors import Conflict
from salomat.domains.insurance.models import ClaimLine, ServiceClaim
from salomat.domains.insurance.service import dashboards
from salomat.ui.templating import env
from tests.conftest import serve_app
from tests.domains.insurance.fund_fixtures import csv_of, fund  # noqa: F401
from tests.domains.registry.test_web import web_login
from tests.factories import unique
from tests.ui.conftest import in_chromium, open_browser
from tests.ui.test_languages import findings

pytestmark = pytest.mark.anyio

IMPORT = "/insurance/fund/import"
PAYERS = "/insurance/fund/payers"
DASH = "/insurance/fund/dashboard"
#: the fixtures' region name (data, listed in the plan form)
DATA = frozenset({"Region"})


async def _upload(client, csrf: str, body: bytes, name: str = "pay.csv"):  # type: ignore[no-untyped-def]
    return await client.post(
        IMPORT,
        data={"csrf_token": csrf},
        files={"file": (name, body, "text/csv")},
    )


def _ru(msgid: str) -> str:
    return i18n.translations("ru").gettext(msgid)


async def _paid(client, f, month: str) -> str:  # type: ignore[no-untyped-def]
    r = await client.get(
        f"/api/v1/insurance/payers/{f.employer['id']}/arrears",
        params={"from": month, "to": month},
        headers=f.headers,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["paid"])


async def test_a_bad_file_shows_each_line_and_a_good_one_the_result(client, fund) -> None:  # noqa: F811
    csrf = await web_login(client, fund.analyst)
    client.cookies.set("salomat_lang", "en")
    emp = fund.employer["code"]
    bad = csv_of(
        f"{emp},{fund.worker_nid},2024-06,25500.00,2024-07-01",
        f"{emp},{fund.worker_nid},2024-06,-1,2024-07-01",
        f"NOPE,{fund.worker_nid},2024-06,1.00,2024-07-01",
    )
    r = await _upload(client, csrf, bad)
    assert r.status_code == 422, r.text
    assert 'data-testid="fi-refused"' in r.text
    assert 'data-line="3" data-field="amount"' in r.text
    assert 'data-line="4" data-field="payer"' in r.text
    good = csv_of(f"{emp},{fund.worker_nid},2024-06,25500.00,2024-07-01")
    r = await _upload(client, csrf, good)
    # the result is a page of its own: a reload reads it, it does not upload again
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/insurance/fund/import\?import=([0-9]+)", r.headers["location"])
    assert m, r.headers["location"]
    for _reload in range(2):
        r = await client.get(r.headers.get("location") or f"{IMPORT}?import={m[1]}")
        assert r.status_code == 200, r.text
        assert 'data-testid="fi-result"' in r.text
        assert 'data-testid="fi-added">1<' in r.text
        assert 'data-testid="fi-total">25,500.00 KZT<' in r.text
        # onward: the arrears and the dashboard of the file's months
        assert 'href="/insurance/fund/arrears?from=2024-06&amp;to=2024-06"' in r.text
        assert 'href="/insurance/fund/dashboard?from=2024-06&amp;to=2024-06"' in r.text
    assert await _paid(client, fund, "2024-06") == "25500.00"
    r = await _upload(client, csrf, good)
    assert r.status_code == 303
    assert r.headers["location"] == f"{IMPORT}?import={m[1]}&again=1"
    r = await client.get(r.headers["location"])
    assert "This file was imported before" in r.text
    assert 'data-testid="fi-added">0<' in r.text
    assert await _paid(client, fund, "2024-06") == "25500.00"
    for bad_id in ("999999999", "x1"):
        assert (await client.get(IMPORT, params={"import": bad_id})).status_code == 404


async def test_the_forms_register_and_name_wrong_fields(client, fund) -> None:  # noqa: F811
    csrf = await web_login(client, fund.analyst)
    client.cookies.set("salomat_lang", "ru")
    r = await client.post(
        PAYERS + "/employment",
        data={"csrf_token": csrf, "payer": fund.employer["code"], "national_id": fund.worker_nid,
              "start_on": "2024-01-01", "monthly_wage": "300000.00"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    r = await client.post(
        PAYERS + "/categories",
        data={"csrf_token": csrf, "national_id": fund.own_nid, "category": "child",
              "start_on": "2024-01-01"},
    )  # fmt: skip
    assert r.status_code == 422
    assert 'data-testid="error-category"' in r.text
    r = await client.get(
        "/insurance/fund/arrears",
        params={"payer": fund.employer["id"], "from": "2024-01", "to": "2024-02"},
    )
    assert r.status_code == 200
    # 3 % + 2 % of 300,000 = 15,000 a month, as Russian writes it
    assert 'data-testid="fy-expected">30\u00a0000,00<' in r.text
    # the payer's page leads back to the list of payers
    assert f'href="{PAYERS}" data-testid="fy-back"' in r.text
    r = await client.get("/insurance/fund/arrears", params={"from": "2024-01", "to": "2024-02"})
    assert r.status_code == 200
    assert f'data-code="{fund.employer["code"]}"' in r.text
    r = await client.get("/insurance/fund/arrears", params={"from": "2024-14"})
    assert r.status_code == 422
    # every kind of payer can be chosen; a kind that is none is named, not an empty table
    r = await client.get("/insurance/fund/arrears")
    for kind in ("employer", "entrepreneur", "independent", "self_employed", "state",
                 "aggregate"):  # fmt: skip
        assert f'<option value="{kind}"' in r.text
    r = await client.get("/insurance/fund/arrears", params={"kind": "employers"})
    assert r.status_code == 422
    assert '<li data-field="kind">' in r.text
    assert (await client.get("/insurance/fund/arrears", params={"payer": "x1"})).status_code == 404


async def test_the_dashboard_and_its_csv_speak_the_language(client, fund) -> None:  # noqa: F811
    await web_login(client, fund.analyst)
    r = await client.get(DASH, params={"from": "2024-01", "to": "2024-03"})
    assert r.status_code == 200, r.text
    assert 'data-testid="fd-collected"' in r.text
    client.cookies.set("salomat_lang", "ru")
    r = await client.get(
        DASH + ".csv", params={"table": "collected", "from": "2024-01", "to": "2024-03"}
    )
    assert r.status_code == 200
    header = next(csv.reader(io.StringIO(r.text)))
    assert header[0] == i18n.translations("ru").gettext("Month")


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_pages_speak_the_language(client, fund, lang) -> None:  # noqa: F811
    await web_login(client, fund.analyst)
    client.cookies.set("salomat_lang", lang)
    for page in (IMPORT, PAYERS, "/insurance/fund/arrears", DASH):
        r = await client.get(page)
        assert r.status_code == 200, (page, r.text)
        assert findings(r.text, lang, data=DATA) == [], page


async def test_a_doctor_is_refused(client, fund, make_user) -> None:  # noqa: F811
    doctor = await make_user("family_doctor")
    await web_login(client, doctor)
    for page in (IMPORT, PAYERS, DASH):
        assert (await client.get(page)).status_code == 403


async def test_every_refusal_of_a_form_is_shown(client, fund, make_place, monkeypatch) -> None:  # noqa: F811
    """An error on a list (region, package, kind) shows under it; a refusal naming no
    field shows its words (a 422 or 409 with nothing said was the defect)."""
    csrf = await web_login(client, fund.analyst)
    client.cookies.set("salomat_lang", "en")
    r = await client.post(
        DASH + "/plan",
        data={"csrf_token": csrf, "year": "2030", "region": "NOWHERE", "package": "dental",
              "amount": "10.00"},
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert '<span class="field-error" data-testid="error-region">no region with this code' in (
        r.text
    )
    assert 'data-testid="error-package">must be one of: ' in r.text
    r = await client.post(PAYERS, data={"csrf_token": csrf, "kind": "nobody"})
    assert r.status_code == 422, r.text
    assert 'data-testid="error-kind">Input should be &#39;employer&#39;' in r.text

    async def refused(*args: object, **kw: object) -> None:
        raise Conflict("The plan was changed meanwhile; reload and try again.")

    monkeypatch.setattr(dashboards, "set_plan", refused)
    place = await make_place()
    r = await client.post(
        DASH + "/plan",
        data={"csrf_token": csrf, "year": "2030", "region": place.region,
              "package": "insurance", "amount": "10.00"},
    )  # fmt: skip
    assert r.status_code == 409, r.text
    assert 'data-testid="form-error">The plan was changed meanwhile; reload and try again.<' in (
        r.text
    )


async def test_a_bound_is_named_in_the_pages_language(client, fund, make_place) -> None:  # noqa: F811
    """A negative plan or wage reads "Must be at least 0." in Russian, not pydantic's
    English ("Input should be greater than or equal to 0")."""
    csrf = await web_login(client, fund.analyst)
    client.cookies.set("salomat_lang", "ru")
    place = await make_place()
    at_least = _ru("Must be at least %(ge)s.") % {"ge": "0"}
    assert at_least != "Must be at least 0."
    r = await client.post(
        DASH + "/plan",
        data={"csrf_token": csrf, "year": "2030", "region": place.region,
              "package": "insurance", "amount": "-1"},
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert f'data-testid="error-amount">{at_least}<' in r.text
    assert "Input should be" not in r.text
    r = await client.post(
        PAYERS + "/employment",
        data={"csrf_token": csrf, "payer": fund.employer["code"], "national_id": fund.worker_nid,
              "start_on": "2024-01-01", "monthly_wage": "-5"},
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert f'data-testid="error-monthly_wage">{at_least}<' in r.text
    # the employment form's dates are named as dates, not as "home page" and "stopping"
    assert ">Главная</label>" not in r.text
    assert ">Прекращение</label>" not in r.text


async def test_the_state_and_the_providers_are_named_in_the_pages_language(
    client,
    db,
    fund,  # noqa: F811
    make_place,
    make_person,
    fresh_month,
) -> None:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn

    await web_login(client, fund.analyst)
    client.cookies.set("salomat_lang", "ru")
    r = await client.get(PAYERS, params={"kind": "state"})
    row = re.search(r'<tr data-testid="fp-payer" data-code="STATE">.*?</tr>', r.text)
    assert row, r.text
    assert f'<td data-label="{_ru("Payer name")}">{_ru("the state")}</td>' in row[0]
    r = await client.get("/insurance/fund/arrears", params={"payer": fund.state["id"]})
    assert f'<h1 id="fy-title">{_ru("the state")} <span class="code">STATE</span>' in r.text

    month = fresh_month()
    place = await make_place()
    fac = await service.create_facility(
        db,
        FacilityIn(code=unique("H"), name="Поликлиника №1", kind="family_polyclinic",
                   settlement_code=place.settlement, names={"kk": "№1 емхана"}),
    )  # fmt: skip
    person = await make_person()
    claim = ServiceClaim(facility_id=fac.id, month=month, status="submitted",
                         submitted_by="test", submitted_at=utcnow())  # fmt: skip
    db.add(claim)
    await db.flush()
    line = ClaimLine(claim_id=claim.id, facility_id=fac.id, person_id=person.id,
                     service_code="X", package="insurance", quantity=1, status="entered",
                     service_on=month + timedelta(days=3), amount_claimed=123_456_78,
                     flags=[])  # fmt: skip
    db.add(line)
    await db.commit()
    period = {"from": f"{month:%Y-%m}", "to": f"{month:%Y-%m}"}
    client.cookies.set("salomat_lang", "kk")
    r = await client.get(DASH, params=period)
    assert r.status_code == 200, r.text
    row = re.search(rf'<tr data-testid="fd-provider" data-facility="{fac.code}".*?</tr>', r.text)
    assert row, r.text
    assert '<th scope="row">№1 емхана <span class="code">' in row[0]
    # the amount as Kazakh writes it
    assert 'data-key="spent">123\u00a0456,78<' in row[0]
    r = await client.get(DASH + ".csv", params={"table": "providers", **period})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert {row[2] for row in rows[1:] if row[1] == fac.code} == {"№1 емхана"}


def test_one_bar_macro_draws_every_dashboards_bars() -> None:
    bar = env.get_template("_charts.html").module.bar  # type: ignore[attr-defined]
    assert 'width="50.0"' in str(bar(Decimal("5"), 10.0, width=100))
    assert 'rect x="0" y="1" width="100"' in str(bar(30, 10, width=100))  # above the top: full
    assert str(bar("<5", 10)).strip() == ""  # a small count has no number to draw
    assert str(bar(None, 10)).strip() == ""
    assert 'data-testid="fd-bar-spent"' in str(bar(1, 2, testid="fd-bar-spent"))


# ---- Chromium, against a server under Kazakhstan's pack -----------------------------


@pytest.fixture(scope="module")
def kz_server(migrated_database: str) -> Iterator[str]:
    """The app over HTTP under SALOMAT_COUNTRY=KZ (the session's live server runs the
    default pack, whose universal scheme takes no payment files)."""
    with serve_app(SALOMAT_COUNTRY="KZ") as base:
        yield base


@in_chromium
async def test_in_chromium_the_analyst_imports_a_file(kz_server, client, fund) -> None:  # noqa: F811
    emp = fund.employer["code"]
    bad = {"name": "bad.csv", "mimeType": "text/csv",
           "buffer": csv_of(f"{emp},{fund.worker_nid},2024-08,abc,2024-09-01")}  # fmt: skip
    good = {"name": "good.csv", "mimeType": "text/csv",
            "buffer": csv_of(f"{emp},{fund.worker_nid},2024-08,25500.00,2024-09-01")}  # fmt: skip
    async with open_browser(kz_server) as browser:
        page = browser.page
        await browser.log_in(fund.analyst.username)
        await page.goto(browser.url(IMPORT))
        await page.set_input_files("#fi-file", bad)
        async with page.expect_navigation():
            await page.get_by_test_id("fi-submit").click()
        row = page.locator('[data-testid="fi-error"][data-line="2"][data-field="amount"]')
        assert await row.is_visible()
        await page.set_input_files("#fi-file", good)
        async with page.expect_navigation():
            await page.get_by_test_id("fi-submit").click()
        assert await page.get_by_test_id("fi-added").inner_text() == "1"
        assert "?import=" in page.url
        await browser.screenshot("fund-import")
        # a reload shows the result again and sends nothing
        await page.reload()
        assert await page.get_by_test_id("fi-added").inner_text() == "1"
        async with page.expect_navigation():
            await page.get_by_test_id("fi-arrears").click()
        assert "/insurance/fund/arrears?from=2024-08&to=2024-08" in page.url
        row = page.locator(f'[data-testid="fa-row"][data-code="{emp}"]')
        assert await row.is_visible()


@in_chromium
async def test_in_chromium_the_dashboard_draws_its_charts(kz_server, client, fund) -> None:  # noqa: F811
    emp = fund.employer["code"]
    r = await client.post(
        "/api/v1/insurance/payment-files",
        content=csv_of(f"{emp},{fund.worker_nid},2024-09,25500.00,2024-10-01"),
        headers=fund.headers,
    )
    assert r.status_code == 201, r.text
    async with open_browser(kz_server) as browser:
        page = browser.page
        await browser.log_in(fund.analyst.username)
        await page.goto(browser.url(f"{DASH}?from=2024-09&to=2024-09"))
        month = page.locator('[data-testid="fd-month"][data-month="2024-09"]')
        assert await month.is_visible()
        assert await page.get_by_test_id("fd-bar-collected").count() >= 1
        assert await page.get_by_test_id("fd-csv-collected").is_visible()
        await browser.screenshot("fund-dashboard")
