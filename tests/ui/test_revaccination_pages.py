"""Revaccination pages in headless Chromium (issue 23, item 6): the coverage table of an
area with both percentages and the target, and the family doctor's worklist of those due.

The coverage is asked for one fresh region (``area``), so the shared test database's
other people do not enter it.
"""

from __future__ import annotations

from datetime import date

from tests.domains.epidemic.test_revaccination_sql import (
    OLD,
    ON,
    RECENT,
    REV,
    _doses,
    _people,
    _settlement_id,
)
from tests.domains.maternal.test_referrals import facility
from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_coverage_table_and_the_worklist(browser, db, make_place, make_user):
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    poly = await facility(db, "family_polyclinic", place.settlement)
    here = {"settlement_id": sid, "attached_facility_id": poly.id}
    # 40-49: 20 completed, 16 eligible, 11 revaccinated -> 68.8 % of eligible, 55.0 % of all
    await _doses(db, await _people(db, 11, date(1985, 1, 1), **here), REV)
    due = await _people(db, 5, date(1985, 1, 1), **here)
    await _doses(db, due, OLD)
    await _doses(db, await _people(db, 4, date(1985, 1, 1), **here), RECENT)
    await db.commit()

    analyst = await make_user("epidemiologist")
    page = browser.page
    await browser.log_in(analyst.username)
    await page.goto(browser.url(f"/epidemic/revaccination?area={place.region}&on={ON}"))
    assert await page.get_by_test_id("revacc-target").inner_text() == "65 %"
    eligible = page.get_by_test_id("revacc-total-eligible")
    assert await eligible.get_attribute("data-percent") == "68.8"
    assert "target met" in await eligible.inner_text()
    everyone = page.get_by_test_id("revacc-total-all")
    assert await everyone.get_attribute("data-percent") == "55.0"
    assert "target not met" in await everyone.inner_text()
    assert "completed primary series" in await everyone.inner_text()
    row = page.locator(
        f'[data-testid="revacc-row"][data-unit="{place.district}"][data-age="40–49"]'
    )
    assert "68.8 %" in await row.inner_text()
    await browser.screenshot("revaccination-coverage")
    # a bad day is named on the page, not a 500
    await page.goto(browser.url("/epidemic/revaccination?on=2019-01-01"))
    assert await page.locator('[data-testid="revacc-errors"] [data-field="on"]').count() == 1

    doctor = await make_user("family_doctor", facility_code=poly.code)
    await browser.context.clear_cookies()
    await browser.log_in(doctor.username)
    await page.goto(browser.url(f"/epidemic/revaccination/worklist?on={ON}"))
    listed = await page.get_by_test_id("revacc-wl-row").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.person))"
    )
    assert sorted(listed) == sorted(due)
    async with page.expect_download() as dl:
        await page.get_by_test_id("revacc-wl-csv").click()
    text = (await (await dl.value).path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("Name,Birth date")
    assert len(text.strip().splitlines()) == 1 + len(due)
    await browser.screenshot("revaccination-worklist")
