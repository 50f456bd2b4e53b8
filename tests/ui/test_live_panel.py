"""The Leads page's live activity panel shows what just happened in the unit (the live stream's messages)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts


def test_leads_page_shows_recent_events_in_the_live_panel(unit: DemoUnit) -> None:
    with unit.db.write() as session:
        ingest(session, unit.tenant, [NewEvent("demo_request", person=PersonRef(
            aliases=[AliasInput("email", "fresh@live-panel.example")]))], datetime.now(UTC))
    at = open_page("leads", unit.owner)
    assert not at.exception
    assert "Live activity" in texts(at)
    panel = frame_with(at, "Who")
    fresh = panel[panel["Who"] == "fresh@live-panel.example"]
    assert panel.iloc[0]["Who"] == "fresh@live-panel.example"  # newest first
    assert any("demo" in what.lower() for what in fresh["What"])  # the event, with its points
    assert all(fresh["When"])
