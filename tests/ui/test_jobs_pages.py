"""The administrator's jobs page in headless Chromium: a failed export's reason and
progress bar, filtered by status, run again after the confirmation; a queued job
cancelled."""

from __future__ import annotations

from tests.domains.bulkdata.test_web import _job
from tests.ui.conftest import in_chromium


@in_chromium
async def test_the_admin_runs_a_failed_job_again_and_cancels_a_queued_one(browser, make_user):
    from salomat.core import jobs

    admin = await make_user("admin")
    failed = await _job(jobs.FAILED, error="The disk is full.", progress_done=1, progress_total=2)
    queued = await _job()
    page = browser.page
    await browser.log_in(admin.username)
    async with page.expect_navigation():
        await page.get_by_test_id("nav").get_by_role("link", name="Background jobs").click()
    await page.get_by_label("Status").select_option("failed")
    async with page.expect_navigation():
        await page.get_by_test_id("job-filter-submit").click()
    row = page.get_by_test_id(f"job-{failed}")
    assert "The disk is full." in await row.get_by_test_id("job-error").inner_text()
    assert await row.get_by_test_id("job-progress").get_attribute("value") == "50"
    assert await page.get_by_test_id(f"job-{queued}").count() == 0
    await browser.screenshot("jobs-failed")

    asked: list[str] = []

    async def accept(dialog) -> None:  # the confirmation
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await row.get_by_test_id("job-retry").click()
    await page.wait_for_selector(f'#job-{failed}[data-status="queued"]')
    assert asked == [f"Run job {failed} again from where it stopped?"]

    await page.goto(browser.url("/admin/jobs?status=queued"))
    await page.get_by_test_id(f"job-{queued}").get_by_test_id("job-cancel").click()
    await page.wait_for_selector(f'#job-{queued}[data-status="cancelled"]')
    assert await page.get_by_test_id(f"job-{queued}").get_by_test_id("job-status").inner_text() == (
        "cancelled"
    )
