"""Surge on the dashboard (AppTest, both databases): the Settings page's Surge section saves a preset and custom
bands (a bad band is refused and nothing changes; a Viewer changes nothing); the Triggers page's Surge tab creates
and deletes a surge trigger; the Accounts page marks a surging account; the Analytics page draws the surge chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st
from sqlalchemy import select

from db import models
from services.scoring import scoring_settings, surge_policy
from services.triggers import surge
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts


def _policy(unit: DemoUnit) -> dict[str, Any]:
    with unit.db.read() as session:
        return surge_policy.get_surge_policy(session, unit.tenant)


def _button(at: Any, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def test_the_surge_section_saves_a_preset(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    assert not at.exception
    assert at.selectbox(key="surge_mode").value == "off"
    at.selectbox(key="surge_mode").set_value("gentle").run()
    assert "Gentle bands: 1.1x from the 3rd event, 1.2x from the 5th event." in texts(at)
    at.number_input(key="surge_idle").set_value(900)
    _button(at, "Save surge policy").click().run()
    assert not at.exception
    assert "Surge policy saved: gentle." in texts(at)
    saved = _policy(unit)
    assert saved["mode"] == "gentle" and saved["idle_reset_seconds"] == 900
    assert [b["multiplier"] for b in saved["bands"]] == [1.0, 1.1, 1.2]


def test_custom_bands_are_edited_in_a_grid_and_a_bad_one_is_refused(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    at.selectbox(key="surge_mode").set_value("custom").run()
    grid = at.data_editor(key="surge_bands")
    assert list(grid.value["min_events"]) == [1, 3, 5]  # starts from the bands in effect
    at.session_state["surge_bands"] = {"edited_rows": {2: {"multiplier": 2.5}}, "added_rows": [], "deleted_rows": []}
    at.number_input(key="surge_cap").set_value(2.5)
    _button(at, "Save surge policy").click().run()
    assert not at.exception
    saved = _policy(unit)
    assert saved["mode"] == "custom" and saved["bands"][-1] == {"min_events": 5, "multiplier": 2.5}
    assert saved["multiplier_cap"] == 2.5

    at = open_page("settings", unit.owner)
    assert at.selectbox(key="surge_mode").value == "custom"
    at.session_state["surge_bands"] = {  # two bands starting at the first event
        "edited_rows": {1: {"min_events": 1}}, "added_rows": [], "deleted_rows": [],
    }
    _button(at, "Save surge policy").click().run()
    assert "bands[1].min_events: another band already starts at 1 events" in texts(at)
    assert _policy(unit) == saved


def test_the_session_timeout_is_saved_with_the_policy(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    assert at.number_input(key="surge_session_timeout").value == 30
    at.selectbox(key="surge_mode").set_value("standard")
    at.number_input(key="surge_session_timeout").set_value(10)
    _button(at, "Save surge policy").click().run()
    assert not at.exception
    with unit.db.read() as session:
        assert scoring_settings.get_settings(session, unit.tenant).session_timeout_minutes == 10
    assert _policy(unit)["mode"] == "standard"


def test_a_viewer_sees_the_surge_policy_and_changes_nothing(unit: DemoUnit) -> None:
    at = open_page("settings", unit.viewer)
    assert not at.exception
    assert at.selectbox(key="surge_mode").disabled and _button(at, "Save surge policy").disabled


def test_the_surge_tab_creates_and_deletes_a_surge_trigger(unit: DemoUnit) -> None:
    at = open_page("triggers", unit.owner)
    assert not at.exception
    assert "No surge triggers yet" in texts(at)
    key = "surge_new"
    at.text_input(key=f"{key}_type").set_value("pricing_view")
    at.number_input(key=f"{key}_threshold").set_value(4)
    at.number_input(key=f"{key}_window").set_value(15)
    at.radio(key=f"{key}_destination").set_value("Emails")
    at.text_input(key=f"{key}_target").set_value("sales@example.com")
    next(b for b in at.button if b.label == "Create" and "surge_new_form" in str(b.form_id)).click().run()
    assert not at.exception
    with unit.db.read() as session:
        (row,) = surge.list_surge_triggers(session, unit.tenant)
    assert row.config == {"event_type": "pricing_view", "window_seconds": 15, "window_unit": "minutes",
                          "threshold_count": 4}
    assert row.emails == ["sales@example.com"] and row.webhook_url is None
    assert "4 pricing_view events within 15 minutes" in texts(at)
    at.selectbox(key="surge_chosen").set_value(row.id).run()
    _button(at, "Delete surge trigger").click().run()
    assert not at.exception
    with unit.db.read() as session:
        assert surge.list_surge_triggers(session, unit.tenant) == []


def test_accounts_page_marks_a_surging_account(unit: DemoUnit) -> None:
    with unit.db.write() as session:
        scoring_settings.update_settings(session, unit.tenant, abm_enabled=True, now=datetime.now(UTC))
        e = models.Event
        event = session.scalars(
            select(e).where(e.unit_id == unit.tenant.unit_id, e.account_id.is_not(None),
                            e.lead_id.is_not(None), e.occurred_at >= datetime.now(UTC) - timedelta(hours=20))
            .limit(1)
        ).first()
        assert event is not None
        event.surge_milli = 1250  # as scoring writes on a boosted event
        lead = session.get(models.Lead, event.lead_id)
        assert lead is not None and lead.account_id is not None
        account = session.get(models.Account, lead.account_id)
        assert account is not None
        name = account.name
    at = open_page("accounts", unit.owner)
    assert not at.exception
    table = frame_with(at, "Surging")
    surging = set(table.loc[table["Surging"] != "", "Account"])
    assert name in surging


def test_analytics_draws_the_surge_chart_when_there_are_surges(unit: DemoUnit) -> None:
    at = open_page("analytics", unit.owner)
    assert not at.exception
    assert "No surges in this range" in texts(at)
    with unit.db.write() as session:
        e = models.Event
        events = session.scalars(
            select(e).where(e.unit_id == unit.tenant.unit_id, e.lead_id.is_not(None),
                            e.occurred_at >= datetime.now(UTC) - timedelta(days=5)).limit(3)
        ).all()
        for event in events:
            event.surge_milli = 1500
    st.cache_data.clear()  # the page's reads are cached for a few seconds
    at = open_page("analytics", unit.owner)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Boosted events"] == str(len(events))
    assert "Peak:" in texts(at)
