"""Fixtures for the status page's browser tests: the e2e stack (tests/e2e/conftest.py: the seed world and
policy on the whole local stack) and Debian's Chromium, driven by Playwright for Python.

Playwright's own browser downloads are never used (`playwright install` would fetch a build from the
internet): Chromium is the system's /usr/bin/chromium, which `make test` installs with apt-get. Each test
gets a fresh browser profile (its own user-data-dir), so nothing a page stored leaks into the next test.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from devstack.stack import LocalStack
from tests.e2e.conftest import admin, ml, stack, store  # noqa: F401 (fixtures, used by name)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEADLINE_MS = 60_000  # what the page waits for: a push settling, the page's own refresh
# Where the docs' screenshots are written when set (`REGSYNC_DASHBOARD_SCREENSHOTS=docs`); else nowhere.
SCREENSHOTS = os.environ.get("REGSYNC_DASHBOARD_SCREENSHOTS")


def principal(*claims: tuple[str, str]) -> str:
    """An App Service principal as JSON, as a person pastes it into the sign-in form on the local stack."""
    body = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles"}
    return json.dumps({**body, "claims": [{"typ": typ, "val": val} for typ, val in claims]})


PROVIDER = principal(("name", "ops@provider"), ("roles", "regsync.provider"))


def tenant(tenant_id: str) -> str:
    return principal(
        ("name", f"someone@{tenant_id}"), ("roles", "regsync.tenant"), ("regsync_tenant", tenant_id)
    )


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    context = playwright.chromium.launch_persistent_context(
        tmp_path / "profile",
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1366, "height": 768},  # a laptop screen
    )
    context.set_default_timeout(DEADLINE_MS)
    expect.set_options(timeout=DEADLINE_MS)
    yield context
    context.close()


def signed_in(browser: BrowserContext, running: LocalStack, who: str, query: str = "") -> Page:
    """The page opened at `/api/ui{query}` and signed in as a person does: the key and the principal."""
    page = browser.pages[0] if browser.pages else browser.new_page()
    page.goto(f"{running.host_url}/api/ui{query}")
    page.get_by_label("Function key").fill(running.env["REGSYNC_FUNCTION_KEY"])
    page.get_by_label("App Service principal", exact=False).fill(who)
    page.get_by_role("button", name="Sign in").click()
    return page


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)
