"""Shared by the page tests: the app served by uvicorn, and headless Chromium driving it.

Uvicorn in a child process on a free port against the test database, and a
fresh browser context per test that fails the test on a console error (a CSP
violation or a script error). Set ``SALOMAT_SCREENSHOT_DIR`` to keep screenshots.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    import playwright.async_api  # noqa: F401

    _PLAYWRIGHT = True
except ImportError:  # pragma: no cover - the dev extra installs it
    _PLAYWRIGHT = False

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM.exists() and _PLAYWRIGHT),
    reason=(
        f"{CHROMIUM} is missing (apt-get install chromium)"
        if not CHROMIUM.exists()
        else "the playwright package is missing (pip install -e '.[dev]')"
    ),
)


def in_chromium(test: Any) -> Any:
    """Marks a test as a browser test (``-m browser``) that runs when Chromium is there."""
    return pytest.mark.anyio(pytest.mark.browser(needs_chromium(test)))


class Browser:
    """One fresh browser context (no cookies) and page, plus what went wrong in it."""

    def __init__(self, base: str, context: Any, page: Any) -> None:
        self.base = base
        self.context = context
        self.page = page
        self.problems: list[str] = []

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    async def cookie(self, name: str) -> dict[str, Any] | None:
        return next((c for c in await self.context.cookies() if c["name"] == name), None)

    async def log_in(self, username: str, password: str = PASSWORD) -> None:
        """Logs in through the form and waits for the start page."""
        page = self.page
        await page.goto(self.url("/login"))
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill(password)
        async with page.expect_navigation():
            await page.get_by_test_id("login-submit").click()

    async def screenshot(self, name: str) -> None:
        folder = os.environ.get("SALOMAT_SCREENSHOT_DIR")
        if folder:  # Playwright creates the folder
            await self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@asynccontextmanager
async def open_browser(base: str, **context_options: Any) -> AsyncIterator[Browser]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await chromium.new_context(
                locale="en-US", viewport={"width": 1200, "height": 800}, **context_options
            )
            context.set_default_timeout(10_000)
            page = await context.new_page()
            b = Browser(base, context, page)

            def on_console(msg: Any) -> None:
                # a CSP violation (an inline style or script) or a script error; a 4xx page
                # is an expected answer, reported by Chromium as a failed resource
                if msg.type == "error" and "Failed to load resource" not in msg.text:
                    b.problems.append(msg.text)

            page.on("console", on_console)
            page.on("pageerror", lambda exc: b.problems.append(f"uncaught: {exc}"))
            yield b
            assert not b.problems, b.problems
        finally:
            await chromium.close()


@pytest.fixture
async def browser(live_server: str) -> AsyncIterator[Browser]:
    async with open_browser(live_server) as b:
        yield b
