"""The epidemiologists' dashboard in headless Chromium (issue 23, items 7 and 8): from the
menu to the overview on a day (the region's shape on the map and its row coloured by its
zone, the zone named), the CSV download, then the region's page: the curve's bars, the
Rt chart with its line Rt = 1, the forecast fans with the ICU capacity line; no console
error (the charts are inline SVG under the page's content security policy).

The live server reads the deployed UZ pack (no monkeypatching across processes): the
expected zone is the edition in force evaluated on the incidence worked out by hand."""

from __future__ import annotations

from datetime import timedelta

from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.matrix import evaluate
from salomat.domains.epidemic.service.notifications import today
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PopulationIn
from tests.domains.epidemic.situation_support import icu_beds, region_with_cases
from tests.ui.conftest import in_chromium, open_browser

C = 20


@in_chromium
async def test_the_dashboard_from_the_menu_to_a_region(  # type: ignore[no-untyped-def]
    live_server, db, make_place, make_person, make_user
) -> None:
    day = today() - timedelta(days=1)
    person = await make_person()
    region = await region_with_cases(db, make_place, person.id, day, C)
    await icu_beds(db, region, 50, day)
    half = [5000] * 10 + [0] * 8  # 100 000 residents
    await registry.set_population(
        db, region.code + "-D-S", PopulationIn(year=day.year, male=half, female=half)
    )
    await db.commit()
    ed = rules.current().edition(on=day)
    # the window's cases per 100 000 residents: its daily average or its sum
    per_100k = C * ed.window_days / 100_000 * 100_000
    incidence = per_100k / ed.window_days if ed.reading == "daily_average" else per_100k
    # the UZ editions zone on incidence alone
    assert all("incidence_per_100k" in str(r.when) for r in ed.rules)
    expected = evaluate(ed, {"incidence_per_100k": incidence})
    assert expected.zone is not None
    zone = ed.zone(expected.zone)

    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in((await make_user("epidemiologist")).username)
        await page.get_by_role("link", name="Epidemic situation").first.click()
        form = page.get_by_test_id("dash-form")
        await form.locator('[name="on"]').fill(day.isoformat())
        async with page.expect_navigation():
            await form.locator('button[type="submit"]').click()
        row = page.locator(f'[data-testid="dash-row"][data-region="{region.code}"]')
        shape = page.locator(f'[data-testid="map-region"][data-region="{region.code}"]')
        assert await shape.count() == 1
        assert await row.get_attribute("data-zone") == zone.code
        assert await shape.get_attribute("data-colour") == zone.colour
        assert zone.name("en") in await row.get_by_test_id("zone-name").inner_text()
        assert "50" in await row.get_by_test_id("dash-icu").inner_text()
        await browser.screenshot("epidemic-dashboard")

        async with page.expect_download() as dl:
            await page.get_by_test_id("dash-csv").click()
        text = (await (await dl.value).path()).read_text(encoding="utf-8")
        assert text.splitlines()[0].startswith("Region code,Region,Zone,Decided by")
        assert any(line.startswith(region.code + ",") for line in text.splitlines())

        async with page.expect_navigation():
            await row.get_by_test_id("dash-region-link").click()
        assert await page.get_by_test_id("curve-bar").count() == 56
        bars = await page.get_by_test_id("curve-bar").evaluate_all(
            "bars => bars.map(b => Number(b.dataset.count))"
        )
        assert bars[-28:] == [C] * 28
        assert sum(bars) == 28 * C
        assert await page.get_by_test_id("rt-one").count() == 1
        assert await page.get_by_test_id("rt-point").count() > 0
        icu = page.get_by_test_id("fan-icu").first
        assert await icu.get_by_test_id("capacity-line").get_attribute("data-beds") == "50"
        assert await page.get_by_test_id("fan").count() == len(rules.current().scenarios)
        await browser.screenshot("epidemic-region")
        # a region that is no region: named, not a 500
        await page.goto(browser.url("/epidemic/region/NO-SUCH?horizon=99"))
        assert await page.locator('[data-testid="dash-errors"] [data-field="horizon"]').count() == 1
