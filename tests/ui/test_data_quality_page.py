"""The Data quality page: the bot switch, burst filters (add, edit, delete, held-back counts) and event types' hide
and scope; a Viewer sees every control disabled; the lead timeline greys held-back events.

AppTest (both databases) and Playwright (SQLite, the real app in headless Chromium).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from db import models
from db.engine import Database
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import filters, scoring_settings
from services.scoring.rescore import verify_unit
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts
from ui.data_quality import GREY, event_type_changes, event_types_frame, grey_held_back, window_label


def _now() -> datetime:
    return datetime.now(UTC)


def _button(at: Any, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def _filters(unit: DemoUnit) -> list[dict[str, Any]]:
    with unit.db.read() as session:
        return filters.list_filters(session, unit.tenant)


def test_a_burst_filter_is_added_edited_and_deleted(unit: DemoUnit) -> None:
    at = open_page("data_quality", unit.owner)
    assert not at.exception
    assert "No burst filter yet" in texts(at)
    at.selectbox(key="dq_new_event_type").set_value("page_visit")
    at.number_input(key="dq_new_count").set_value(4)
    at.number_input(key="dq_new_window").set_value(30_000)
    _button(at, "Add filter").click().run()
    assert not at.exception
    assert "Filter added: 4+ page_visit events within 30 s." in texts(at)
    [made] = _filters(unit)
    assert (made["event_type"], made["count_threshold"], made["time_window_ms"], made["group_events"]) == (
        "page_visit", 4, 30_000, False)
    shown = frame_with(at, "Held back")
    assert list(shown["Event type"]) == ["page_visit"] and list(shown["Window"]) == ["30 s"]

    key = f"dq_edit_{made['filter_id']}"
    at.number_input(key=f"{key}_count").set_value(6)
    at.checkbox(key=f"{key}_group").check()
    _button(at, "Save filter").click().run()
    assert not at.exception
    [edited] = _filters(unit)
    assert (edited["count_threshold"], edited["group_events"]) == (6, True)
    assert "the burst counts as one event" in texts(at)

    _button(at, "Delete filter").click().run()
    assert not at.exception
    assert _filters(unit) == [] and "Filter deleted" in texts(at)


def test_the_bot_switch_and_event_type_scope_save(unit: DemoUnit) -> None:
    at = open_page("data_quality", unit.owner)
    assert at.toggle(key="dq_bot_switch").value is False
    at.toggle(key="dq_bot_switch").set_value(True).run()
    assert not at.exception
    assert "Bot filter turned on." in texts(at)
    with unit.db.read() as session:
        assert scoring_settings.get_settings(session, unit.tenant).bot_filter_enabled is True

    frame = at.data_editor(key="dq_event_types").value
    assert "page_visit" in list(frame["event_type"])
    assert at.button(key="dq_save_event_types").disabled  # nothing changed yet
    row = list(frame["event_type"]).index("page_visit")
    at.session_state["dq_event_types"] = {
        "edited_rows": {row: {"scope": "observe", "hidden": True}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    at.button(key="dq_save_event_types").click().run()
    assert not at.exception
    assert "Event types saved (1 changed)." in texts(at)
    with unit.db.read() as session:
        row_ = session.get(models.EventTypeSetting, (unit.tenant.unit_id, "page_visit"))
        assert row_ is not None and (row_.hidden, row_.max_processing_scope) == (True, "observe")


def test_every_event_of_a_type_is_deleted_after_a_dry_run_count(unit: DemoUnit) -> None:
    with unit.db.read() as session:
        counts = dict(session.execute(
            select(models.Event.event_type, func.count()).where(models.Event.unit_id == unit.tenant.unit_id)
            .group_by(models.Event.event_type)).all())
    victim = min((t for t in counts if t not in ("PROFILE_UPDATE", "ACCOUNT_PROFILE_UPDATE", "DECAY")),
                 key=lambda t: counts[t])
    at = open_page("data_quality", unit.owner)
    at.selectbox(key="dq_purge_type").set_value(victim).run()
    assert not at.exception
    assert f"This deletes {counts[victim]:,} {victim} events" in texts(at)
    at.button(key="dq_purge").click().run()
    assert not at.exception
    assert f"Deleted {counts[victim]:,} {victim} events." in texts(at)
    with unit.db.write() as session:
        left = session.scalar(select(func.count()).select_from(models.Event).where(
            models.Event.unit_id == unit.tenant.unit_id, models.Event.event_type == victim))
        assert left == 0
        assert verify_unit(session, unit.tenant) == []  # the leads those events scored were rescored


def test_the_lead_timeline_greys_a_quarantined_burst_with_its_reason(unit: DemoUnit) -> None:
    now = _now()
    with unit.db.write() as session:
        filters.create_filter(session, unit.tenant, fields={"event_type": "scanner_click", "count_threshold": 3,
                                                             "time_window_ms": 1000}, now=now)
        results = ingest(session, unit.tenant, [
            NewEvent("scanner_click", occurred_at=now - timedelta(milliseconds=100 * (3 - i)),
                     person=PersonRef(aliases=[AliasInput("email", "scan@victim.example")]))
            for i in range(3)
        ], now)
    lead_id = results[0].lead_id  # type: ignore[union-attr]
    at = open_page("lead_detail", unit.owner, lead_id=lead_id)
    assert not at.exception
    assert "Greyed events are held back by a data quality filter" in texts(at)
    timeline = frame_with(at, "Held back")
    assert list(timeline["Held back"]) == ["inorganic burst (3+ scanner_click events within 1000 ms)"] * 3


def test_a_viewer_sees_every_control_disabled(unit: DemoUnit) -> None:
    with unit.db.write() as session:
        filters.create_filter(session, unit.tenant, fields={"event_type": "page_visit", "count_threshold": 5,
                                                             "time_window_ms": 60_000}, now=_now())
    at = open_page("data_quality", unit.viewer)
    assert not at.exception
    assert "signed in as a Viewer" in texts(at)
    assert at.toggle(key="dq_bot_switch").disabled
    assert all(b.disabled for b in at.button)
    assert at.selectbox(key="dq_new_event_type").disabled
    assert at.selectbox(key="dq_purge_type").disabled
    assert "page_visit" in frame_with(at, "Held back").to_string()


# --- plain helpers ---------------------------------------------------------------------------------------------------


def test_window_labels_and_event_type_changes() -> None:
    assert [window_label(ms) for ms in (500, 1000, 90_000, 60_000, 7_200_000, 86_400_000)] == [
        "500 ms", "1 s", "90 s", "1 min", "2 h", "24 h"]
    stored = [{"event_type": "a", "hidden": False, "max_processing_scope": "activate"},
              {"event_type": "b", "hidden": True, "max_processing_scope": "decide"}]
    frame = event_types_frame(stored)
    assert event_type_changes(frame, stored) == []
    frame.loc[0, "scope"] = "observe"
    frame.loc[1, "hidden"] = False
    assert event_type_changes(frame, stored) == [{"event_type": "a", "max_processing_scope": "observe"},
                                                 {"event_type": "b", "hidden": False}]


def test_held_back_rows_are_greyed() -> None:
    frame = pd.DataFrame({"Event": ["page_visit", "page_visit"], "Score change": [0, 5]})
    styles = grey_held_back(frame, [True, False])._compute().ctx
    assert styles[(0, 0)] and GREY.split(";")[0] in "".join(f"{k}: {v}" for k, v in styles[(0, 0)])
    assert not styles.get((1, 0))


# --- the real app in a real browser ----------------------------------------------------------------------------------


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on loopback over a fresh SQLite file with the demo and an Owner."""
    from tests.e2e.test_dashboard import seeded_app

    with seeded_app(tmp_path) as app:
        yield app


@pytest.mark.e2e
def test_in_the_browser_a_burst_filter_is_added_and_the_bot_switch_turned_on(running_app: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    from tests.e2e.test_dashboard import signed_in_page

    base = running_app["base"]
    with signed_in_page(base, "data_quality", "Data quality", viewport={"width": 1400, "height": 1200}) as page:
        page.wait_for_timeout(1000)  # the run after sign-in settles (its elements replace the first run's)

        event_type = page.get_by_role("combobox", name="Event type").first
        event_type.click()
        event_type.fill("page_visit")
        page.keyboard.press("Enter")
        count = page.get_by_role("spinbutton", name="Events (threshold)").first
        count.fill("3")
        count.press("Tab")
        page.get_by_role("button", name="Add filter").first.click()
        expect(page.get_by_text(re.compile(r"Filter added: 3\+ page_visit events within 1 min"))).to_be_visible()

        page.get_by_text("Hold back known bots and crawlers").first.click()
        expect(page.get_by_text("Bot filter turned on.")).to_be_visible()

    db = Database(running_app["database_url"])
    with db.read() as session:
        made = session.scalars(select(models.InorganicFilter)).all()
        bots = session.scalars(select(models.ScoringSettings.bot_filter_enabled)).all()
    db.dispose()
    assert bots == [True]
    assert [(f.event_type, f.count_threshold, f.time_window_ms) for f in made] == [("page_visit", 3, 60_000)]
