"""The fund analyst's pages: a payment file uploaded through the page shows each wrong
line with its field (nothing stored) or what was stored; payers, employment and category
forms; arrears; the dashboard with its charts and CSV in the page's language; who may
open them; and in Chromium (a server under Kazakhstan's pack) the import and the
dashboard."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx
import pytest

from salomat.core import i18n
from tests.domains.insurance.fund_fixtures import csv_of, fund  # noqa: F401
from tests.domains.registry.test_web import web_login
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


async def test_a_bad_file_shows_each_line_and_a_good_one_the_result(client, fund) -> None:  # noqa: F811
    csrf = await web_login(client, fund.analyst)
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
    assert r.status_code == 200, r.text
    assert 'data-testid="fi-result"' in r.text
    assert 'data-testid="fi-added">1<' in r.text
    r = await _upload(client, csrf, good)
    assert "This file was imported before" in r.text


async def test_the_forms_register_and_name_wrong_fields(client, fund) -> None:  # noqa: F811
    csrf = await web_login(client, fund.analyst)
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
    # 3 % + 2 % of 300,000 = 15,000 a month
    assert 'data-testid="fy-expected">30000.00<' in r.text
    r = await client.get("/insurance/fund/arrears", params={"from": "2024-01", "to": "2024-02"})
    assert r.status_code == 200
    assert f'data-code="{fund.employer["code"]}"' in r.text
    r = await client.get("/insurance/fund/arrears", params={"from": "2024-14"})
    assert r.status_code == 422
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


# ---- Chromium, against a server under Kazakhstan's pack -----------------------------


@pytest.fixture(scope="module")
def kz_server(migrated_database: str) -> Iterator[str]:
    """uvicorn in a child process under SALOMAT_COUNTRY=KZ (the session's live server runs
    the default pack, whose universal scheme takes no payment files)."""
    with socket_port() as port:
        base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="salomat-kz-", suffix=".log", delete=False)  # noqa: SIM115
    env = {**os.environ, "SALOMAT_COUNTRY": "KZ"}
    cmd = [sys.executable, "-m", "uvicorn", "salomat.main:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
           "--no-access-log"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if proc.poll() is not None:
                pytest.fail(f"uvicorn exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        return int(self.s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.s.close()


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
        await browser.screenshot("fund-import")


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
