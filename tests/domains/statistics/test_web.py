"""The ministry's indicator pages without a browser: who may open them, the figures and the
suppressed cells they show, the masked CSV, and bad page parameters (422 naming them,
never a 5xx)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest

from tests.own_database import own_database_fixtures
from tests.ui.statistics_data import Y, computed_regions

pytestmark = pytest.mark.anyio

# it reads the whole database (the country's figures, an export of everything): a
# database of its own keeps its cost what this module wrote, not the whole run
own_database, app = own_database_fixtures("salomat_stats_web")


@pytest.fixture
async def analyst(make_user, login) -> dict[str, str]:
    # the pages speak the pack's language unless asked: these tests read English
    return {**await login(await make_user("analyst")), "Accept-Language": "en"}


@pytest.fixture
async def regions(db, make_place, make_person):
    return await computed_regions(db, make_place, make_person)


def _row(html: str, testid: str, key: str, value: str) -> str:
    m = re.search(
        rf'<tr data-testid="{testid}" data-{key}="{re.escape(value)}".*?</tr>', html, re.S
    )
    assert m, f"no {testid} row {value}"
    return m.group(0)


async def test_the_dashboard_shows_each_indicator_and_the_regions(client, analyst, regions):
    small, large = regions
    r = await client.get("/statistics", params={"period": str(Y)}, headers=analyst)
    assert r.status_code == 200, r.text
    html = r.text
    line = _row(html, "st-line", "indicator", "infant_mortality")
    assert "Infant mortality rate" in line
    assert "per 1000 live births" in line
    assert "WHO GHO" in line
    # every indicator of the catalogue has its line
    for code in ("live_births", "neonatal_mortality", "life_expectancy", "antenatal_coverage"):
        _row(html, "st-line", "indicator", code)
    # SDG target in words with its status
    nmr = _row(html, "st-line", "indicator", "neonatal_mortality")
    assert "at most 12.0 by 2030" in nmr
    # by region: 6 infant deaths of 30 births = 200.0; 3 of 20 suppressed
    big = _row(html, "st-unit", "area", large.region)
    assert re.search(r'data-indicator="infant_mortality"[^>]*>200\.0<', big)
    little = _row(html, "st-unit", "area", small.region)
    cell = re.search(r'data-indicator="infant_mortality"[^>]*>(.*?)</td>', little, re.S).group(1)
    assert "&lt;5" in cell
    assert "suppressed-unit" in cell
    assert "150.0" not in cell
    assert f'href="/statistics/region/{large.region}?period={Y}"' in big


async def test_the_region_page_shows_the_region_and_its_districts(client, analyst, regions):
    small, large = regions
    r = await client.get(
        f"/statistics/region/{small.region}", params={"period": str(Y)}, headers=analyst
    )
    assert r.status_code == 200, r.text
    line = _row(r.text, "st-line", "indicator", "infant_mortality")
    # the region's own 3 infant deaths: suppressed, the denominator (20 births) shown
    assert 'data-testid="suppressed-infant_mortality"' in line
    assert "&lt;5</span> / 20" in line
    _row(r.text, "st-unit", "area", small.district)
    r = await client.get(
        f"/statistics/region/{large.region}", params={"period": str(Y)}, headers=analyst
    )
    line = _row(r.text, "st-line", "indicator", "infant_mortality")
    assert "200.0" in line
    assert "6 / 30" in line


async def test_the_trend_page_draws_the_target_line_for_each_region(client, analyst, regions):
    r = await client.get("/statistics/trend/infant_mortality", headers=analyst)
    assert r.status_code == 200, r.text
    for reg in regions:
        section = re.search(
            rf'<section[^>]*data-testid="trend-area" data-area="{reg.region}".*?</section>',
            r.text,
            re.S,
        )
        assert section, reg.region
        assert 'data-testid="target-line"' in section.group(0)
        assert 'data-testid="tr-table"' in section.group(0)

    # the small region's baseline (3 deaths in 2020) is suppressed: its line is not drawn
    # from it (150.0 would give the 3 deaths away), it is held to the national target
    def target_path(area: str) -> list[str]:
        section = re.search(
            rf'data-testid="trend-area" data-area="{area}".*?</section>', r.text, re.S
        ).group(0)
        return re.findall(r'<td class="num">([^<]*)</td>\s*</tr>', section)

    small, _large = regions
    country = re.search(r'data-testid="trend-area" data-area="(\w+)"', r.text).group(1)
    assert target_path(small.region) == target_path(country)
    assert "150.0" not in target_path(small.region)
    assert 'data-testid="tr-national-target"' in r.text


async def test_the_csv_is_masked(client, analyst, regions):
    small, _large = regions
    r = await client.get(
        "/statistics/csv/infant_mortality",
        params={"period": str(Y), "area": small.region, "by": "district"},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    head, line = rows[0], rows[1]
    assert line[head.index("area")] == small.district
    assert line[head.index("value")] == ""
    assert line[head.index("numerator")] == ""
    assert line[head.index("suppressed")] == "1"
    assert line[head.index("denominator")] == "20"


async def test_only_statistics_roles_open_the_pages(client, make_user, login):
    for role, status in (("nurse", 403), ("family_doctor", 403), ("epidemiologist", 200),
                         ("statistician", 200), ("admin", 200)):  # fmt: skip
        headers = await login(await make_user(role))
        r = await client.get("/statistics", headers=headers)
        assert r.status_code == status, role
        assert ('href="/statistics"' in r.text) is (status == 200), role
    r = await client.get("/statistics")
    assert r.status_code in (303, 307, 401)


async def test_bad_page_parameters_are_named(client, analyst, regions):
    this_year = str(date.today().year)
    r = await client.get("/statistics", params={"period": this_year}, headers=analyst)
    assert r.status_code == 422
    assert 'data-field="period"' in r.text
    r = await client.get("/statistics/region/NOWHERE", headers=analyst)
    assert r.status_code == 422
    assert 'data-field="area"' in r.text
    # a district is not a region page
    r = await client.get(f"/statistics/region/{regions[0].district}", headers=analyst)
    assert r.status_code == 422
    r = await client.get("/statistics/trend/nope", headers=analyst)
    assert r.status_code == 422
    assert 'data-field="indicator"' in r.text
    r = await client.get("/statistics/trend/antenatal_coverage", headers=analyst)
    assert r.status_code == 422
    r = await client.get("/statistics/csv/nope", params={"period": str(Y)}, headers=analyst)
    assert r.status_code == 422
    r = await client.get(
        "/statistics/csv/infant_mortality", params={"period": this_year}, headers=analyst
    )
    assert r.status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/statistics?period=" + "9" * 40,
        "/statistics?period=2024-13&years=abc",
        "/statistics?period=%00%ff&years=-1",
        "/statistics?period=1800",
        "/statistics/region/%E2%80%AE?period=x",
        "/statistics/region/" + "x" * 300,
        "/statistics/trend/infant_mortality?years=0",
        "/statistics/trend/infant_mortality?years=99999999999999999999",
        "/statistics/trend/" + "y" * 300,
        "/statistics/csv/infant_mortality?by=shoe_size",
        "/statistics/csv/infant_mortality?area=%27;--&period=2020",
        "/statistics/csv/infant_mortality?by=region&area=NOWHERE",
    ],
)
async def test_junk_parameters_never_give_a_server_error(client, analyst, path):
    r = await client.get(path, headers=analyst)
    assert r.status_code < 500, (path, r.status_code, r.text[:300])
    assert r.status_code in (200, 404, 422), (path, r.status_code)


async def test_the_compute_button_queues_the_job(client, analyst, make_user, login):
    r = await client.post("/statistics/compute", data={"period": str(Y)}, headers=analyst)
    assert r.status_code == 303, r.text
    job = int(r.headers["location"].rsplit("=", 1)[1])
    page = await client.get("/statistics", params={"period": str(Y)}, headers=analyst)
    assert f'data-testid="st-job" data-job="{job}"' in page.text
    bad = await client.post("/statistics/compute", data={"period": "someday"}, headers=analyst)
    assert bad.status_code == 422
    assert 'data-field="period"' in bad.text
    epi = await login(await make_user("epidemiologist"))
    r = await client.post("/statistics/compute", data={"period": str(Y)}, headers=epi)
    assert r.status_code == 403
    page = await client.get("/statistics", headers=epi)
    assert 'data-testid="st-compute-form"' not in page.text
