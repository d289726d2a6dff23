"""The browser ring's fixtures: Debian's Chromium driven by Playwright, one fresh context per test.

Chromium comes from the system (`infra/install-chromium.sh`), never from Playwright's own download.
A missing browser fails the run: this project's CI allows no skips.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

DEFAULT_CHROMIUM = "/usr/bin/chromium"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIMEOUT_MS = 10_000
# Headless, no sandbox (root, containers), and nothing that reaches out to Google's services. Even so,
# Chromium resolves accounts.google.com at start: the resolver rule answers every name but loopback's
# with "not found" inside the browser, so no DNS query leaves the machine.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]
MOBILE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.188 Mobile Safari/537.36 "
    "MMWEBID/1234 MicroMessenger/8.0.50.2701(0x28003253) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)


def chromium_path() -> str:
    """The browser binary: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`."""
    return os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    resolved = shutil.which(path)
    if resolved is None or not Path(resolved).is_file():
        pytest.fail(
            f"Chromium not found at {path!r}: run `infra/install-chromium.sh` (Debian's chromium package), "
            "or set CHROMIUM_PATH to a Chromium binary. Never `playwright install`: it cannot download here.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=resolved, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def _context(browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    """A fresh context (no cookies, no cache) whose pages may reach loopback only: any other request
    is aborted and fails the test."""
    context = browser.new_context(locale="zh-CN", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    blocked: list[str] = []

    def loopback_only(route: Route) -> None:
        if urllib.parse.urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", loopback_only)
    try:
        yield context
    finally:
        context.close()
    if blocked:
        pytest.fail(f"the page tried to leave loopback: {blocked}", pytrace=False)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop page in a fresh context, closed after the test."""
    with _context(browser, viewport={"width": 1280, "height": 800}) as context:
        yield context.new_page()


@pytest.fixture
def mobile_page(browser: Browser) -> Iterator[Page]:
    """A phone: WeChat's in-app browser user agent, a small touch viewport."""
    with _context(
        browser,
        user_agent=MOBILE_USER_AGENT,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    ) as context:
        yield context.new_page()
