"""The provider's claim pages and the reviewer's queue and settlements pages: a claim
typed as lines or uploaded, a refused one naming line and field, its lines with flags;
decisions from the queue (409 when decided meanwhile); the settlements of a month with
their CSV; who may open them; and in Chromium (SQLite, Uzbekistan's pack) the provider
submits a claim and the reviewer rejects its flagged line."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.domains.insurance.claim_fixtures import register_death
from tests.domains.registry.test_web import web_login
from tests.ui.conftest import in_chromium, open_browser

pytestmark = pytest.mark.anyio


async def test_a_provider_submits_typed_lines_and_sees_the_flags(
    client, db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    await register_death(db, person, month + timedelta(days=2))
    csrf = await web_login(client, p.account)
    lines = (
        f"national_id,service_code,service_on,quantity\n"
        f"{person.national_id},EMERG-CALL,{month + timedelta(days=1)},1\n"
        f"{person.national_id},DIALYSIS,{month + timedelta(days=5)},2\n"
    )
    r = await client.post(
        "/insurance/claims", data={"csrf_token": csrf, "external_id": "W-1", "lines": lines}
    )
    assert r.status_code == 303, r.text
    r = await client.get(r.headers["location"])
    assert r.status_code == 200
    assert 'data-status="entered"' in r.text
    assert 'data-testid="line-flag" data-rule="after_death"' in r.text
    assert "after the registered death on" in r.text
    # UZ tariffs: EMERG-CALL 310 000.00, DIALYSIS 690 000.00 x 2 (as English writes it)
    assert "1,690,000.00" in r.text
    r = await client.get("/insurance/claims")
    assert 'data-testid="claim-row"' in r.text


async def test_an_upload_with_bad_lines_names_them_and_stores_nothing(
    client, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    csrf = await web_login(client, p.account)
    body = f"{person.national_id},LAB-CBC,{month}\n{person.national_id},NOPE,{month}\n"
    r = await client.post(
        "/insurance/claims",
        data={"csrf_token": csrf},
        files={"file": ("claim.csv", body.encode(), "text/csv")},
    )
    assert r.status_code == 422, r.text
    assert 'data-testid="claim-error" data-line="2" data-field="service_code"' in r.text
    assert "NOPE is not a service of any benefit package" in r.text
    assert 'data-testid="no-claims"' in r.text


async def test_the_reviewer_decides_from_the_queue(
    client, db, make_provider, make_insuree, make_user, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    from tests.domains.insurance.claim_fixtures import line, submit

    out = await submit(db, p, [line(person, "DIALYSIS", month), line(person, "DIALYSIS", month)])
    flagged = out.lines[1].id
    analyst = await make_user("insurance_analyst")
    csrf = await web_login(client, analyst)
    q = f"/insurance/review?month={month:%Y-%m}&rule=duplicate"
    r = await client.get(q)
    assert r.status_code == 200
    assert f'data-testid="queue-line" data-line="{flagged}"' in r.text
    r = await client.post(
        f"/insurance/review/lines/{flagged}?month={month:%Y-%m}",
        data={"csrf_token": csrf, "decision": "reduce", "amount_approved": "9999999", "reason": ""},
    )
    assert r.status_code == 422
    assert 'data-testid="error-reason"' in r.text
    assert 'data-testid="error-amount_approved"' in r.text
    r = await client.post(
        f"/insurance/review/lines/{flagged}?month={month:%Y-%m}",
        data={"csrf_token": csrf, "decision": "reject", "reason": "the same dialysis twice"},
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith(f"?month={month:%Y-%m}")
    r = await client.post(
        f"/insurance/review/lines/{flagged}",
        data={"csrf_token": csrf, "decision": "accept"},
    )
    assert r.status_code == 409
    assert "already decided" in r.text

    r = await client.post(
        "/insurance/settlements", data={"csrf_token": csrf, "month": f"{month:%Y-%m}"}
    )
    assert r.status_code == 303, r.text
    r = await client.get(r.headers["location"])
    row = re.search(
        rf'data-testid="settlement-row" data-facility="{p.facility.code}">(.*?)</tr>', r.text, re.S
    )
    assert row is not None
    # one DIALYSIS at 690 000.00 (UZ); the duplicate rejected
    assert "690,000.00" in row.group(1)
    sid = re.search(r'href="/insurance/settlements/(\d+)\.csv"', row.group(1)).group(1)
    r = await client.get(f"/insurance/settlements/{sid}.csv")
    assert r.status_code == 200
    assert r.text.splitlines()[-1] == "total,,,,690000.00"


async def test_who_may_open_the_pages(client, make_user, make_provider):
    p = await make_provider()
    await web_login(client, p.account)
    assert (await client.get("/insurance/review")).status_code == 403
    # a provider reads its own settlements, and computes none
    assert (await client.get("/insurance/settlements")).status_code == 200
    csrf = await web_login(client, p.account)
    r = await client.post("/insurance/settlements", data={"csrf_token": csrf, "month": "2024-05"})
    assert r.status_code == 403
    client.cookies.clear()
    await web_login(client, await make_user("insurance_analyst"))
    assert (await client.get("/insurance/claims")).status_code == 403


@in_chromium
async def test_in_chromium_a_claim_is_submitted_and_its_flag_decided(
    live_server, db, make_provider, make_insuree, make_user, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree(date(1950, 3, 15), "male")
    analyst = await make_user("insurance_analyst")
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(p.account.username)
        await page.goto(browser.url("/insurance/claims"))
        await page.fill("#cl-external_id", "B-1")
        await page.fill(
            "#cl-lines",
            f"{person.national_id},CONS-GYN,{month + timedelta(days=3)}\n"
            f"{person.national_id},LAB-CBC,{month + timedelta(days=3)}",
        )
        async with page.expect_navigation():
            await page.get_by_test_id("claim-submit").click()
        flag = page.locator('[data-testid="line-flag"][data-rule="sex_age"]')
        assert await flag.is_visible()
        assert await page.locator('[data-status="flagged"]').count() == 1
        await browser.screenshot("insurance-claim")
    async with open_browser(live_server) as browser:
        page = browser.page
        await browser.log_in(analyst.username)
        await page.goto(browser.url(f"/insurance/review?month={month:%Y-%m}"))
        item = page.locator('[data-testid="queue-line"]').first
        await item.locator('input[value="reject"]').check()
        await item.locator('input[name="reason"]').fill("a woman's service for a man")
        async with page.expect_navigation():
            await item.get_by_test_id("decide").click()
        assert await page.get_by_test_id("queue-empty").is_visible()
        await browser.screenshot("insurance-review")
