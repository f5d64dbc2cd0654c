"""The ministry's country page in Chromium: the country by region, and a region opened from
it. The page aggregates every settlement of the country, so the module has a database
of its own (against the run's shared one it would sum what every earlier test wrote
and time out by the order of the run)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.domains.planning.conftest import Plan, plan  # noqa: F401 (plan is a fixture)
from tests.own_database import own_browser_fixtures
from tests.ui.conftest import in_chromium

pytestmark = pytest.mark.anyio

own_database, app, own_server, browser = own_browser_fixtures(
    "salomat_plan_country", SALOMAT_COUNTRY="KZ"
)


def _int(text: str) -> int:
    return int(text.replace("\u202f", "").replace(" ", "").strip())


@in_chromium
async def test_the_ministry_sees_the_country_by_region(
    make_user: Any,
    plan: Plan,  # noqa: F811
    browser: Any,
) -> None:
    analyst = await make_user("analyst")
    page = browser.page
    await browser.log_in(analyst.username)
    await page.get_by_test_id("nav").get_by_role("link", name="Network planning").click()
    await page.wait_for_url(browser.url("/planning"))
    row = page.locator(f'[data-testid="pl-region-row"][data-code="{plan.region}"]')
    assert _int(await row.locator('[data-key="settlements"]').inner_text()) == 6
    await row.get_by_role("link").click()
    await page.wait_for_url(f"**/planning?area={plan.region}*")
    assert await page.get_by_test_id("planning-map").is_visible()
    # the unit costs are illustrative in the Kazakh pack: the page says so
    assert await page.get_by_test_id("pl-costs-illustrative").count() == 1
