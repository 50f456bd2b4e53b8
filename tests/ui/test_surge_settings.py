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


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on loopback over a fresh SQLite file with the demo and an Owner."""
    from tests.e2e.test_dashboard import seeded_app

    with seeded_app(tmp_path) as app:
        yield app


@pytest.mark.e2e
def test_in_the_browser_an_owner_turns_surge_scoring_on(running_app: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    from services.tenancy.tenants import DEFAULT_TENANT
    from tests.e2e.test_dashboard import choose, signed_in_page

    base = running_app["base"]
    with signed_in_page(base, "settings", "Surge", viewport={"width": 1400, "height": 1400}) as page:
        mode = page.get_by_role("combobox", name="Surge mode")
        expect(mode).to_be_enabled()
        choose(page, mode, "Gentle")
        expect(page.get_by_text("Gentle bands: 1.1x from the 3rd event, 1.2x from the 5th event.")).to_be_visible()
        idle = page.get_by_role("spinbutton", name="Idle reset (seconds)")
        idle.fill("900")
        idle.press("Tab")
        page.get_by_role("button", name="Save surge policy").click()
        expect(page.get_by_text("Surge policy saved: gentle.")).to_be_visible()

        page.reload()
        expect(page.get_by_role("heading", name="Surge").first).to_be_visible()
        expect(page.get_by_text("Gentle bands: 1.1x from the 3rd event")).to_be_visible()

    db = Database(running_app["database_url"])
    try:
        with db.read() as session:
            saved = surge_policy.get_surge_policy(session, replace(DEFAULT_TENANT, role="Owner"))
    finally:
        db.dispose()
    assert saved["mode"] == "gentle" and saved["idle_reset_seconds"] == 900
