"""The administrator's operations page of subscriptions, in headless Chromium: every
subscription with its last delivery, one's delivery log, and switching one off."""

from __future__ import annotations

import pytest

from salomat.core.security import Principal
from salomat.domains.subscriptions import service
from salomat.domains.subscriptions.schemas import SubscriptionIn
from tests.ui.conftest import in_chromium, open_browser

pytestmark = pytest.mark.anyio


async def _subscription(db, make_facility, make_user) -> tuple[int, str, str]:
    fac = await make_facility()
    owner = await make_user("obstetrician", facility_code=fac.code)
    principal = Principal(
        user_id=owner.id, username=owner.username, role="obstetrician", session_id="t",
        facility_id=fac.id,
    )  # fmt: skip
    criteria = f"ServiceRequest?performer={fac.code}"
    out = await service.create(
        db,
        principal,
        SubscriptionIn(
            status="requested",
            resource_type="ServiceRequest",
            criteria=criteria,
            reason="inbox",
            endpoint="http://127.0.0.1:9/hook",
            headers=["Authorization: Bearer hidden-secret"],
        ),
    )
    for attempt, code in ((1, None), (2, 200)):
        await service.log_delivery(
            db,
            out.id,
            job_id=None,
            resource_type="ServiceRequest",
            resource_id="4242",
            attempt=attempt,
            status_code=code,
            error=None if code else "ConnectError: refused",
            duration_ms=7,
        )
    await db.commit()
    service.forget_types()
    return out.id, owner.username, fac.code


@in_chromium
async def test_the_admin_sees_every_subscription_its_log_and_switches_one_off(
    live_server, db, make_facility, make_user
):
    sub_id, owner, facility = await _subscription(db, make_facility, make_user)
    admin = await make_user("admin")
    async with open_browser(live_server) as browser:
        await _walk(browser, db, sub_id, owner, facility, admin)


async def _walk(browser, db, sub_id: int, owner: str, facility: str, admin) -> None:
    page = browser.page
    await browser.log_in(admin.username)
    async with page.expect_navigation():
        await page.get_by_role("link", name="Subscriptions").first.click()
    assert page.url == browser.url("/admin/subscriptions")
    row = page.get_by_test_id(f"subscription-{sub_id}")
    text = await row.inner_text()
    assert owner in text
    assert facility in text
    assert f"ServiceRequest?performer={facility}" in text
    assert "delivered (200)" in text
    assert await row.get_by_test_id("status").inner_text() == "active"
    assert "hidden-secret" not in await page.content()

    async with page.expect_navigation():
        await row.get_by_role("link", name=str(sub_id)).click()
    log = await page.get_by_test_id("deliveries").inner_text()
    assert "ServiceRequest/4242" in log
    assert "ConnectError: refused" in log
    assert "hidden-secret" not in await page.content()

    async with page.expect_navigation():
        await page.get_by_role("link", name="Subscriptions").first.click()
    row = page.get_by_test_id(f"subscription-{sub_id}")
    await row.get_by_test_id("switch-off").click()  # HTMX swaps the row
    await (
        page.get_by_test_id(f"subscription-{sub_id}")
        .get_by_test_id("status")
        .filter(has_text="off")
        .wait_for()
    )
    assert (
        await page.get_by_test_id(f"subscription-{sub_id}").get_by_test_id("switch-off").count()
        == 0
    )
    got = await service.get_any(db, sub_id)
    assert got is not None
    assert got.status == "off"


async def test_only_the_admin_opens_the_page(client, db, make_facility, make_user, login):
    from tests.domains.accounts.test_admin_web import web_login

    sub_id, _, _ = await _subscription(db, make_facility, make_user)
    clinician = await make_user("family_doctor", facility_code=(await make_facility()).code)
    await web_login(client, clinician)
    assert (await client.get("/admin/subscriptions")).status_code == 403
    assert (await client.get(f"/admin/subscriptions/{sub_id}")).status_code == 403
    client.cookies.clear()
    csrf = await web_login(client, await make_user("admin"))
    assert (await client.get("/admin/subscriptions?status=off")).status_code == 200
    assert (await client.get("/admin/subscriptions/999999999")).status_code == 404
    r = await client.post(f"/admin/subscriptions/{sub_id}/off", data={"csrf_token": csrf})
    assert r.status_code == 303
    got = await service.get_any(db, sub_id)
    assert got is not None
    assert got.status == "off"
