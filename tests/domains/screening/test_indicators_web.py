"""The programme indicators over HTTP: the REST answer and its CSV, the page with its
chart, table and stated denominators, in httpx and in headless Chromium; who may read
them; bad parameters refused naming the field (422), never a server error."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any

import pytest

from tests.conftest import serve_app
from tests.domains.screening.test_indicators_sql import VECTOR_1, facility_in, insert_patients
from tests.ui.conftest import in_chromium, open_browser

pytestmark = pytest.mark.anyio

API = "/api/v1/screening/indicators"
PAGE = "/screening/indicators"


@pytest.fixture
async def analyst(make_user: Any, login: Any) -> dict[str, str]:
    return {**await login(await make_user("analyst")), "Accept-Language": "en"}


@pytest.fixture
async def district(db: Any, make_place: Any, make_person: Any) -> Any:
    """Vector 1 five times at one facility, its first three patients at another, and a
    third whose counts (vector 1 five times less a controlled and an uncontrolled
    patient) are below the first's: the complements withheld with the small facility's
    "<5" are the third's, and the first shows the note's rates."""
    place = await make_place()
    big, small = await facility_in(db, place.settlement), await facility_in(db, place.settlement)
    middle = await facility_in(db, place.settlement)
    await insert_patients(db, make_person, big.id, VECTOR_1 * 5, "hypertension")
    await insert_patients(db, make_person, small.id, VECTOR_1[:3], "hypertension")
    fewer = VECTOR_1 * 5
    fewer.remove(VECTOR_1[0])  # controlled
    fewer.remove(VECTOR_1[1])  # not controlled
    await insert_patients(db, make_person, middle.id, fewer, "hypertension")
    return place, big, small


async def test_the_api_answers_the_note_s_rates_by_facility(client, analyst, district) -> None:
    place, big, small = district
    r = await client.get(API, params={"period": "2025-06", "area": place.district}, headers=analyst)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["by"] == "facility"
    assert body["recent_start"] == "2025-04-01"
    assert body["year_start"] == "2024-07-01"
    rows = {row["code"]: row for row in body["rows"]}
    b = rows[big.code]
    assert (b["controlled_pct"], b["uncontrolled_pct"], b["missed_pct"]) == (37.5, 50.0, 12.5)
    assert b["ltfu_pct"] == 10.0
    assert b["controlled_pct_with_ltfu"] == 33.3
    assert b["denominator"] == 40
    assert b["denominator_with_ltfu"] == 45
    s = rows[small.code]
    assert s["controlled"] is None
    assert "controlled" in s["suppressed"]
    assert "Denominator" in body["definitions"]["controlled"]
    assert "lost to follow-up" in body["definitions"]["with_ltfu"]
    # the quarter ending in June has the same windows
    q = await client.get(API, params={"period": "2025-Q2", "area": place.district}, headers=analyst)
    assert {r["code"]: r["controlled_pct"] for r in q.json()["rows"]}[big.code] == 37.5


async def test_the_csv_has_stable_codes_and_withheld_cells_marked(
    client, analyst, district
) -> None:
    place, big, small = district
    r = await client.get(
        API + ".csv", params={"period": "2025-06", "area": place.district}, headers=analyst
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    by_code = {row["code"]: row for row in rows}
    assert by_code[big.code]["controlled_pct"] == "37.5"
    assert by_code[big.code]["controlled_pct_with_ltfu"] == "33.3"
    assert by_code[small.code]["controlled"] == "<5"
    assert rows[-1]["code"] == place.district


async def test_a_facility_named_like_a_formula_is_neutralised_in_the_csv(
    client, analyst, db, make_place, make_person
) -> None:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn
    from tests.factories import unique

    place = await make_place()
    fac = await service.create_facility(
        db,
        FacilityIn(code=unique("F"), name="=HYPERLINK(1)", kind="family_polyclinic",
                   settlement_code=place.settlement),
    )  # fmt: skip
    await db.commit()
    await insert_patients(db, make_person, fac.id, VECTOR_1, "hypertension")
    r = await client.get(
        API + ".csv",
        params={"period": "2025-06", "area": place.district, "by": "facility"},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    assert ",'=HYPERLINK(1)," in r.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2025-06", "area": "NO-SUCH-AREA"}, "area"),
        ({"period": "June"}, "period"),
        ({"period": "2025-13"}, "period"),
        ({"period": "0001-02"}, "period"),
        ({"period": "0001-Q1"}, "period"),
        ({"period": "2025-06", "by": "street"}, "by"),
        ({"period": "2025-06", "programme": "asthma"}, "programme"),
    ],
)
async def test_bad_parameters_are_named(client, analyst, params, field) -> None:
    r = await client.get(API, params=params, headers=analyst)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_the_coverage_api_names_each_programme(client, analyst, district) -> None:
    place, _big, _small = district
    r = await client.get(
        API + "/coverage", params={"period": "2025-06", "area": place.region}, headers=analyst
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["by"] == "district"
    assert {row["programme"] for row in body["rows"]} == {"health_profile", "address_screening"}
    assert "Denominator: the target group" in body["definition"]
    bad = await client.get(API + "/coverage", params={"period": "2025-06", "area": "NOPE"},
                           headers=analyst)  # fmt: skip
    assert [e["field"] for e in bad.json()["errors"]] == ["area"]


async def test_an_open_period_is_refused(client, analyst) -> None:
    today = date.today()
    this_month = f"{today.year:04d}-{today.month:02d}"
    r = await client.get(API, params={"period": this_month}, headers=analyst)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["period"]
    last = today.replace(day=1) - timedelta(days=1)
    r = await client.get(API, params={"period": f"{last:%Y-%m}"}, headers=analyst)
    assert r.status_code == 200, r.text


async def test_only_aggregate_readers_see_the_indicators(client, make_user, login) -> None:
    for role in ("pharmacist", "registrar", "insurance_analyst", "statistician"):
        headers = await login(await make_user(role))
        assert (
            await client.get(API, params={"period": "2025-06"}, headers=headers)
        ).status_code == 403
    assert (await client.get(API, params={"period": "2025-06"})).status_code == 401
    for role in ("family_doctor", "nurse", "epidemiologist"):
        headers = await login(await make_user(role))
        assert (
            await client.get(API, params={"period": "2025-06"}, headers=headers)
        ).status_code == 200


async def test_the_page_states_each_denominator_and_labels_both_variants(
    client, analyst, district
) -> None:
    place, big, small = district
    r = await client.get(
        PAGE, params={"period": "2025-06", "area": place.district}, headers=analyst
    )
    assert r.status_code == 200, r.text
    html = r.text
    for key in ("controlled", "uncontrolled", "missed", "ltfu", "with_ltfu", "cohort"):
        assert f'data-key="{key}"' in html
    assert "Lost to follow-up excluded (Simple since 2021)" in html
    assert "Lost to follow-up kept in the denominator" in html
    row = re.search(rf'<tr data-testid="si-row" data-unit="{big.code}".*?</tr>', html, re.S).group(
        0
    )
    assert re.search(r'data-key="controlled_pct">37\.5<', row)
    assert re.search(r'data-key="controlled_pct_with_ltfu">33\.3<', row)
    little = re.search(rf'<tr data-testid="si-row" data-unit="{small.code}".*?</tr>', html, re.S)
    assert "&lt;5" in re.search(r'data-key="controlled_pct">(.*?)</td>', little.group(0)).group(1)
    assert f'data-unit="{big.code}" data-key="controlled_pct" data-value="37.5"' in html
    assert 'data-testid="si-coverage"' in html
    # a district is its own single unit: its coverage is its total line, once
    assert html.count(f'data-unit="{place.district}" data-programme="health_profile"') == 1
    bad = await client.get(PAGE, params={"period": "2025-06", "area": "NOPE"}, headers=analyst)
    assert bad.status_code == 422
    assert 'data-testid="error-area"' in bad.text
    csv_page = await client.get(
        PAGE + ".csv", params={"period": "2025-06", "area": place.district}, headers=analyst
    )
    assert csv_page.status_code == 200
    assert csv_page.text.splitlines()[0].startswith("Period,Code,Name,Level,Registered")


@pytest.mark.parametrize(
    "params",
    [{"period": "x" * 40}, {"area": "\x00"}, {"by": "'; drop table"}, {"programme": "%00"}],
)
async def test_junk_page_parameters_never_give_a_server_error(client, analyst, params) -> None:
    r = await client.get(PAGE, params=params, headers=analyst)
    assert r.status_code in (200, 422), r.text


@in_chromium
async def test_the_analyst_reads_the_indicator_page_in_chromium(make_user, district) -> None:
    place, big, small = district
    analyst = await make_user("analyst")
    with serve_app() as base:
        async with open_browser(base) as browser:
            page = browser.page
            await browser.log_in(analyst.username)
            await page.goto(browser.url(f"{PAGE}?period=2025-06&area={place.district}"))
            assert "Programme indicators" in await page.get_by_role("heading", level=1).inner_text()
            bar = page.locator(
                f'[data-testid="si-bar"][data-unit="{big.code}"][data-key="controlled_pct"]'
            )
            assert await bar.get_attribute("data-value") == "37.5"
            kept = page.locator(
                f'[data-testid="si-bar"][data-unit="{big.code}"]'
                '[data-key="controlled_pct_with_ltfu"]'
            )
            assert await kept.get_attribute("data-value") == "33.3"
            assert float(await bar.get_attribute("width")) > float(
                await kept.get_attribute("width")
            )
            row = page.locator(f'[data-testid="si-row"][data-unit="{big.code}"]')
            assert await row.locator('[data-key="missed_pct"]').inner_text() == "12.5"
            assert await row.locator('[data-key="ltfu_pct"]').inner_text() == "10.0"
            small_row = page.locator(f'[data-testid="si-row"][data-unit="{small.code}"]')
            assert (
                await small_row.locator('[data-key="controlled_pct"]').inner_text()
            ).strip() == "<5"
            defs = page.get_by_test_id("si-definition")
            assert await defs.count() >= 8
            assert "Denominator" in await page.locator('[data-key="controlled"]').first.inner_text()
            await browser.screenshot("screening-indicators")
            coverage = page.get_by_test_id("si-coverage")
            assert "Denominator: the target group" in await coverage.inner_text()
            # the form: a district's breakdown by facility, then a bad area named
            await page.get_by_label("Area").fill("NOPE")
            async with page.expect_navigation():
                await page.get_by_test_id("si-show").click()
            assert await page.get_by_test_id("error-area").count() == 1
            await browser.screenshot("screening-indicators-error")
