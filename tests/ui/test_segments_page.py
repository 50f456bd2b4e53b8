"""The Segments page.

AppTest: an Owner creates a segment, sees the live count of a rule as they type it, adds it, and the count, the
members and the Leads page's segment filter follow; a Viewer sees every control disabled.

Playwright (SQLite, the real app on loopback in headless Chromium): the same story as a user clicks it, and the CSV
download holds the members.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from db.engine import Database
from services.people import lead_profiles, leads
from services.targeting import segments as targeting
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts


def _now() -> datetime:
    return datetime.now(UTC)


def _tag_leads(db: Database, tenant: Any, count: int) -> list[str]:
    """Give the top `count` leads plan "pro"; returns their ids."""
    with db.write() as session:
        rows = leads.list_leads(session, tenant, limit=count).rows
        for row in rows:
            lead_profiles.patch_metadata(session, tenant, row["id"], {"plan": "Pro"}, now=_now())
    return [r["id"] for r in rows]


def _button(at: Any, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def test_an_owner_builds_a_segment_with_a_live_count_and_the_leads_page_filters_by_it(unit: DemoUnit) -> None:
    pro = _tag_leads(unit.db, unit.tenant, 3)
    at = open_page("segments", unit.owner)
    assert not at.exception
    assert "No segments yet" in texts(at)
    at.text_input(key="segment_new_name").set_value("Pro plan")
    next(b for b in at.button if b.label == "Create segment").click().run()
    assert not at.exception
    with unit.db.read() as session:
        [segment] = targeting.list_segments(session, unit.tenant)
    sid = segment["segment_id"]
    with unit.db.read() as session:
        total = leads.list_leads(session, unit.tenant, limit=1).total
        emails = {leads.get_lead(session, unit.tenant, lid)["lead"]["email"] for lid in pro}
    assert f"Leads in the segment {total:,}" in texts(at)  # no rules: every lead
    at.text_input(key=f"segment_add_field_{sid}").set_value("plan").run()
    at.selectbox(key=f"segment_add_operator_{sid}").set_value("equals").run()
    at.text_input(key=f"segment_add_value_{sid}").set_value("pro").run()
    assert "Leads with this rule added (live) 3" in texts(at)  # counted before it is saved
    with unit.db.read() as session:
        assert targeting.list_rules(session, unit.tenant, sid) == []
    _button(at, "Add rule").click().run()
    assert not at.exception
    assert "Leads in the segment 3" in texts(at)
    members = next(f.value for f in at.dataframe if "email" in f.value.columns)
    assert set(members["id"]) == set(pro)

    leads_page = open_page("leads", unit.owner)
    leads_page.selectbox(key="leads_segment").set_value(sid).run()
    assert not leads_page.exception
    shown = frame_with(leads_page, "Email")
    assert set(shown["Email"]) == emails and len(shown) == 3


def test_a_viewer_sees_every_control_disabled(unit: DemoUnit) -> None:
    with unit.db.write() as session:
        sid = targeting.create_segment(session, unit.tenant, name="Everyone", now=_now())["segment_id"]
    at = open_page("segments", unit.viewer)
    assert not at.exception
    assert "signed in as a Viewer" in texts(at)
    for label in ("Create segment", "Save segment", "Delete segment", "Add rule"):
        assert _button(at, label).disabled, label
    assert at.text_input(key=f"segment_add_field_{sid}").disabled


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on loopback over a fresh SQLite file with the demo and an Owner; two leads on plan "pro"."""
    from services.tenancy.tenants import DEFAULT_TENANT
    from tests.e2e.test_dashboard import EMAIL, seeded_app

    def tag_two(database_url: str, _lead_id: str) -> dict[str, Any]:
        owner = replace(DEFAULT_TENANT, actor=EMAIL)
        db = Database(database_url)
        pro = _tag_leads(db, owner, 2)
        with db.read() as session:
            emails = [leads.get_lead(session, owner, lid)["lead"]["email"] for lid in pro]
        db.dispose()
        return {"emails": emails}

    with seeded_app(tmp_path, tag_two) as app:
        yield app


@pytest.mark.e2e
def test_in_the_browser_a_segment_is_built_counted_listed_and_downloaded(running_app: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    from tests.e2e.test_dashboard import choose, signed_in_page

    base = running_app["base"]
    with signed_in_page(base, "segments", "Segments", viewport={"width": 1400, "height": 1400},
                        accept_downloads=True) as page:
        page.get_by_role("textbox", name="Name").first.fill("Pro plan")
        page.get_by_role("button", name="Create segment").click()
        expect(page.get_by_text("Leads in the segment")).to_be_visible()

        page.get_by_role("tab", name="Rules").click()
        page.get_by_role("textbox", name="Field").fill("plan")
        page.keyboard.press("Tab")
        choose(page, page.get_by_role("combobox", name="Operator"), "equals")
        page.get_by_role("textbox", name="Value").fill("PRO")
        page.keyboard.press("Tab")
        live = page.get_by_test_id("stMetric").filter(has_text="Leads with this rule added (live)")
        expect(live.get_by_test_id("stMetricValue")).to_have_text("2")
        page.get_by_role("button", name="Add rule").click()
        count = page.get_by_test_id("stMetric").filter(has_text="Leads in the segment")
        expect(count.get_by_test_id("stMetricValue")).to_have_text("2")

        page.get_by_role("tab", name="Members").click()
        expect(page.get_by_text(re.compile(r"^2 leads; page 1 of 1"))).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").click()
        saved = running_app["tmp"] / "members.csv"
        download.value.save_as(saved)
        body = saved.read_text()
        assert body.startswith("id,email,")
        assert all(email in body for email in running_app["emails"])
        assert len(body.strip().splitlines()) == 3
