"""The Settings page's Surge section in a real browser (the app on loopback over SQLite, headless Chromium): an
Owner signs in, turns surge scoring on with the Gentle preset and a shorter idle reset, saves, and the unit's
policy is stored; reloading the page shows what was saved."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from db.engine import Database
from services.scoring import surge_policy

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    from tests.e2e.test_dashboard import EMAIL, PASSWORD, seed, streamlit_app

    database_url = f"sqlite:///{tmp_path / 'leadvane.db'}"
    seed(database_url)
    with streamlit_app(database_url, tmp_path) as base:
        yield {"base": base, "email": EMAIL, "password": PASSWORD, "database_url": database_url}


@pytest.mark.e2e
def test_in_the_browser_an_owner_turns_surge_scoring_on(running_app: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    from services.tenancy.tenants import DEFAULT_TENANT
    from tests.e2e.test_dashboard import CHROMIUM_ARGS

    base = running_app["base"]
    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.set_default_timeout(60_000)
        page.goto(f"{base}/settings")
        page.get_by_role("textbox", name="Email").fill(running_app["email"])
        page.get_by_role("textbox", name="Password").fill(running_app["password"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Surge").first).to_be_visible()

        mode = page.get_by_role("combobox", name="Surge mode")
        expect(mode).to_be_enabled()
        mode.click()
        mode.fill("Gentle")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Gentle bands: 1.1x from the 3rd event, 1.2x from the 5th event.")).to_be_visible()
        idle = page.get_by_role("spinbutton", name="Idle reset (seconds)")
        idle.fill("900")
        idle.press("Tab")
        page.get_by_role("button", name="Save surge policy").click()
        expect(page.get_by_text("Surge policy saved: gentle.")).to_be_visible()

        page.reload()
        expect(page.get_by_role("heading", name="Surge").first).to_be_visible()
        expect(page.get_by_text("Gentle bands: 1.1x from the 3rd event")).to_be_visible()
        browser.close()

    db = Database(running_app["database_url"])
    try:
        with db.read() as session:
            saved = surge_policy.get_surge_policy(session, replace(DEFAULT_TENANT, role="Owner"))
    finally:
        db.dispose()
    assert saved["mode"] == "gentle" and saved["idle_reset_seconds"] == 900
