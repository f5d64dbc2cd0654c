"""The cancer statistics page: the rates with their intervals, the chart and the quality
indicators of a region; wrong filters named beside them; who may open it; its CSV
neutralised and in the page's language; uz/ru/kk without English msgids or raw codes; and
in Chromium an analyst choosing the WHO standard for a region."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re

import pytest

from salomat.core import i18n
from tests.domains.cancer.test_statistics import YEAR, table  # noqa: F401 (fixture)
from tests.domains.registry.test_web import web_login
from tests.own_database import own_browser_fixtures
from tests.ui.conftest import in_chromium, open_browser
from tests.ui.test_languages import findings

pytestmark = pytest.mark.anyio

PAGE = "/cancer/statistics"

# the page lists the regions (the first 500 by code): a database and server of its own, so
# the test's region is among them whatever the run wrote before
own_database, app, own_server, _ = own_browser_fixtures("salomat_cancer_stats")


def _cell(html: str, site: str, sex: str, key: str) -> str:
    row = re.search(
        rf'<tr data-testid="cs-line" data-site="{site}" data-sex="{sex}">(.*?)</tr>', html, re.S
    )
    assert row, (site, sex)
    cell = re.search(rf'data-key="{key}">(.*?)</td>', row.group(1), re.S)
    assert cell
    return html_lib.unescape(re.sub(r"<[^>]+>", "", cell.group(1))).strip()


async def test_the_registrar_sees_rates_chart_and_quality(client, cancer, table) -> None:  # noqa: F811
    await web_login(client, cancer.registrar_account)
    r = await client.get(PAGE, params={"year": YEAR, "region": table.region, "standard": "segi"})
    assert r.status_code == 200, r.text
    # men, lung: 6 cases, ASR 1.95 (hand-computed in test_statistics)
    assert _cell(r.text, "lung", "male", "cases") == "6"
    assert _cell(r.text, "lung", "male", "asr").startswith("1.95 (")
    assert _cell(r.text, "lung", "male", "crude").startswith("12.77 (")
    assert 'data-testid="cs-bar"' in r.text
    assert 'data-testid="cs-quality-row" data-site="lung"' in r.text
    who = await client.get(
        PAGE, params={"year": YEAR, "region": table.region, "standard": "who2000"}
    )
    assert _cell(who.text, "lung", "male", "asr").startswith("1.97 (")


async def test_an_analyst_sees_signs_not_small_counts(client, cancer, table, make_user) -> None:  # noqa: F811
    analyst = await make_user("analyst")
    await web_login(client, analyst)
    r = await client.get(PAGE, params={"year": YEAR, "region": table.region})
    assert r.status_code == 200, r.text
    assert _cell(r.text, "lung", "female", "cases") == "<5"
    assert _cell(r.text, "lung", "female", "asr") == "—"
    assert _cell(r.text, "lung", "both", "cases") == "x"
    assert 'data-testid="cs-legend"' in r.text


async def test_wrong_filters_are_named_and_a_doctor_is_refused(client, cancer, table) -> None:  # noqa: F811
    await web_login(client, cancer.registrar_account)
    r = await client.get(PAGE, params={"year": YEAR, "standard": "euro"})
    assert r.status_code == 422
    assert 'data-testid="error-standard"' in r.text
    r = await client.get(PAGE, params={"year": "20x4"})
    assert r.status_code == 422
    assert 'data-testid="error-year"' in r.text
    await web_login(client, cancer.doctor_account)
    assert (await client.get(PAGE)).status_code == 403
    assert (await client.get(PAGE + ".csv")).status_code == 403


async def test_the_csv_is_in_the_pages_language_and_neutralised(client, cancer, table) -> None:  # noqa: F811
    await web_login(client, cancer.registrar_account)
    client.cookies.set("salomat_lang", "uz")
    r = await client.get(PAGE + ".csv", params={"year": YEAR, "region": table.region})
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    uz = i18n.translations("uz").gettext
    assert rows[0][0] == uz("Year")
    cells = [c for row in rows[1:] for c in row]
    assert "'=HYPERLINK(1) region" in cells
    assert not any(c.startswith("=") for c in cells)


@pytest.mark.parametrize("lang", ["uz", "ru", "kk"])
async def test_the_page_speaks_the_language(client, cancer, table, lang) -> None:  # noqa: F811
    await web_login(client, cancer.registrar_account)
    client.cookies.set("salomat_lang", lang)
    r = await client.get(PAGE, params={"year": YEAR, "region": table.region})
    assert r.status_code == 200
    assert f'<html lang="{lang}"' in r.text
    # "Region" is the name the fixtures give their regions (data, listed in the filter)
    assert findings(r.text, lang, data=frozenset({"Region"})) == []
    assert i18n.translations(lang).gettext("Download CSV") in r.text


@in_chromium
async def test_in_chromium_an_analyst_chooses_the_who_standard(
    own_server,
    client,
    cancer,
    table,  # noqa: F811
    make_user,
) -> None:
    analyst = await make_user("epidemiologist")
    async with open_browser(own_server) as browser:
        page = browser.page
        await browser.log_in(analyst.username)
        await page.goto(browser.url(f"{PAGE}?year={YEAR}"))
        form = page.get_by_test_id("cs-form")
        await form.locator('[name="region"]').select_option(table.region)
        await form.locator('[name="standard"]').select_option("who2000")
        await form.locator('[name="sex"]').select_option("male")
        async with page.expect_navigation():
            await page.get_by_test_id("cs-submit").click()
        line = page.locator('[data-testid="cs-line"][data-site="lung"][data-sex="male"]')
        assert (await line.locator('[data-key="asr"]').inner_text()).startswith("1.97")
        assert await page.locator('[data-testid="cs-line"][data-sex="female"]').count() == 0
        assert await page.get_by_test_id("cs-bar").count() >= 1
        assert await page.get_by_test_id("cs-quality").is_visible()
        await browser.screenshot("cancer-statistics")
