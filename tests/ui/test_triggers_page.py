"""Triggers page: the create form resets after Create, tables speak in human labels, Send test queues a sample,
a refused outbound URL is shown with the field it concerns, and a trigger's audience (segment, profile and lead
attribute filters) is set, shown and cleared in its form."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from services.integrations import crm
from services.people import leads
from services.targeting import segments as targeting
from services.triggers import triggers
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts

PUBLIC_HOOK = "https://93.184.216.34/hooks/leadvane"  # a public address: passes the guard without DNS


def _create_milestone(at: AppTest, name: str, url: str) -> AppTest:
    at.text_input(key="milestone_new_name").set_value(name)
    at.number_input(key="milestone_new_threshold").set_value(70)
    at.text_input(key="milestone_new_webhook").set_value(url)
    at.text_area(key="milestone_new_message").set_value("Call {lead.name}")
    next(b for b in at.button if b.label == "Create").click()
    return at.run()


def _deliveries(unit: DemoUnit) -> list[models.Delivery]:
    with unit.db.read() as session:
        return list(session.scalars(select(models.Delivery).where(models.Delivery.unit_id == unit.tenant.unit_id)))


def test_create_resets_the_form_and_the_table_speaks_plainly(unit: DemoUnit) -> None:
    at = open_page("triggers", unit.owner)
    assert not at.exception
    at = _create_milestone(at, "Hot lead", PUBLIC_HOOK)
    assert not at.exception
    assert "signing secret is shown once" in texts(at)
    # The form is empty again, ready for the next trigger.
    assert at.text_input(key="milestone_new_name").value == ""
    assert at.text_input(key="milestone_new_webhook").value == ""
    assert at.text_area(key="milestone_new_message").value == ""
    table = at.dataframe[0].value
    assert list(table.columns) == ["Name", "Score threshold", "Through event", "Active", "Sends to", "Audience"]
    assert table.iloc[0].to_dict() == {"Name": "Hot lead", "Score threshold": 70, "Through event": "any event",
                                       "Active": "Yes", "Sends to": "Webhook", "Audience": "any lead"}
    assert "None" not in texts(at) and "trigger_id" not in texts(at)


def test_send_test_queues_a_sample_to_the_trigger_s_channels(unit: DemoUnit) -> None:
    at = _create_milestone(open_page("triggers", unit.owner), "Hot lead", PUBLIC_HOOK)
    chooser = at.selectbox(key="milestone_chosen")
    chooser.select(next(o for o in chooser.options if o != "New trigger")).run()
    test_button = next(b for b in at.button if b.label == "Send test")
    test_button.click().run()
    assert not at.exception
    assert "Queued 1 test notification" in texts(at)
    (delivery,) = _deliveries(unit)
    assert (delivery.channel, delivery.target) == ("webhook", PUBLIC_HOOK)
    assert '"test":true' in delivery.body
    at.run()
    log = frame_with(at, "Channel")
    assert log.iloc[0][["Trigger", "Channel", "To", "Status", "Attempts"]].to_dict() == {
        "Trigger": "Hot lead", "Channel": "Webhook", "To": PUBLIC_HOOK, "Status": "Queued", "Attempts": 0}
    assert "None" not in texts(at) and "delivery_id" not in texts(at)


def test_a_refused_url_names_the_field_and_keeps_what_was_typed(unit: DemoUnit) -> None:
    at = _create_milestone(open_page("triggers", unit.owner), "Internal", "http://169.254.169.254/latest")
    assert "webhook_url: refused: link-local address" in texts(at)
    assert at.text_input(key="milestone_new_name").value == "Internal"
    assert _deliveries(unit) == []


def test_a_viewer_cannot_send_tests(unit: DemoUnit) -> None:
    at = _create_milestone(open_page("triggers", unit.owner), "Hot lead", PUBLIC_HOOK)
    at = open_page("triggers", unit.viewer)
    chooser = at.selectbox(key="milestone_chosen")
    chooser.select(next(o for o in chooser.options if o != "New trigger")).run()
    assert next(b for b in at.button if b.label == "Send test").disabled


def test_simulate_takes_a_lead_s_email(unit: DemoUnit) -> None:
    with unit.db.read() as session:
        top = leads.list_leads(session, unit.tenant, limit=1).rows[0]
    at = _create_milestone(open_page("triggers", unit.owner), "Hot lead", PUBLIC_HOOK)
    chooser = at.selectbox(key="milestone_chosen")
    chooser.select(next(o for o in chooser.options if o != "New trigger")).run()
    with unit.db.read() as session:
        (trigger_id,) = session.scalars(select(models.Trigger.id).where(models.Trigger.unit_id == unit.tenant.unit_id))
    key = f"milestone_{trigger_id}"
    at.text_input(key=f"{key}_sim_lead").set_value("nobody@nowhere.example")
    next(b for b in at.button if b.label == "Simulate").click().run()
    assert "No lead with the email or id 'nobody@nowhere.example'" in texts(at)
    at.text_input(key=f"{key}_sim_lead").set_value(top["email"].upper())
    next(b for b in at.button if b.label == "Simulate").click().run()
    assert not at.exception
    assert f"for {top['email'].upper()} in the last 30 days" in texts(at) and top["id"] not in texts(at)


def test_sync_to_hubspot_is_offered_once_the_unit_has_a_crm_token(unit: DemoUnit) -> None:
    at = open_page("triggers", unit.owner)
    assert not [c for c in at.checkbox if c.key == "milestone_new_hubspot"]  # no CRM yet: not shown
    with unit.db.write() as session:
        crm.put_crm_settings(session, unit.tenant, provider="hubspot", token="pat-test", now=datetime.now(UTC))
    st.cache_data.clear()
    at = open_page("triggers", unit.owner)
    at.checkbox(key="milestone_new_hubspot").check()
    at = _create_milestone(at, "To CRM", PUBLIC_HOOK)
    assert not at.exception
    with unit.db.read() as session:
        (row,) = session.scalars(select(models.Trigger).where(models.Trigger.unit_id == unit.tenant.unit_id,
                                                              models.Trigger.name == "To CRM"))
    assert row.hubspot_sync is True
    assert at.dataframe[0].value.iloc[0]["Sends to"] == "Webhook, HubSpot"


PROFILE_FILTER = {"field_name": "plan", "operator": "equals", "value": "pro"}
ATTRIBUTE_FILTER = {"field_name": "fit_level", "operator": "equals", "value": "A"}


def _segment(unit: DemoUnit, name: str) -> str:
    with unit.db.write() as session:
        segment_id = str(targeting.create_segment(session, unit.tenant, name=name, now=datetime.now(UTC))["segment_id"])
    st.cache_data.clear()
    return segment_id


def _grid(rows: list[dict[str, str]], deleted: list[int] | None = None) -> dict[str, object]:
    return {"edited_rows": {}, "added_rows": rows, "deleted_rows": deleted or []}


def _pick(at: AppTest, key: str, label: str) -> None:
    box = at.selectbox(key=key)
    box.select_index(box.options.index(label))


def _stored(unit: DemoUnit, name: str) -> dict[str, object]:
    with unit.db.read() as session:
        (row,) = [t for t in triggers.list_triggers(session, unit.tenant, "milestone") if t.name == name]
        return triggers.trigger_view(row)


def test_the_form_sets_shows_and_clears_a_trigger_s_audience(unit: DemoUnit) -> None:
    segment_id = _segment(unit, "Pro plan")
    at = open_page("triggers", unit.owner)
    _pick(at, "milestone_new_segment", "Pro plan")
    at.session_state["milestone_new_profile_filters"] = _grid([PROFILE_FILTER])
    at.session_state["milestone_new_lead_attribute_filters"] = _grid([ATTRIBUTE_FILTER])
    at = _create_milestone(at, "Pro and fit", PUBLIC_HOOK)
    assert not at.exception and not at.error
    stored = _stored(unit, "Pro and fit")
    assert (stored["segment_id"], stored["profile_filters"], stored["lead_attribute_filters"]) == (
        segment_id, [PROFILE_FILTER], [ATTRIBUTE_FILTER])
    assert at.dataframe[0].value.iloc[0]["Audience"] == "segment Pro plan · 2 filters"

    # Editing shows the audience as stored; Any lead and no rows clear it.
    _pick(at, "milestone_chosen", "Pro and fit")
    at.run()
    key = f"milestone_{stored['trigger_id']}"
    assert at.selectbox(key=f"{key}_segment").value == segment_id
    assert at.data_editor(key=f"{key}_profile_filters").value.to_dict("records") == [PROFILE_FILTER]
    assert at.data_editor(key=f"{key}_lead_attribute_filters").value.to_dict("records") == [ATTRIBUTE_FILTER]
    _pick(at, f"{key}_segment", "Any lead")
    at.session_state[f"{key}_profile_filters"] = _grid([], deleted=[0])
    at.session_state[f"{key}_lead_attribute_filters"] = _grid([], deleted=[0])
    next(b for b in at.button if b.label == "Save").click()
    at.run()
    assert not at.exception and not at.error
    stored = _stored(unit, "Pro and fit")
    assert (stored["segment_id"], stored["profile_filters"], stored["lead_attribute_filters"]) == (None, [], [])
    assert at.dataframe[0].value.iloc[0]["Audience"] == "any lead"


def test_an_invalid_filter_is_refused_with_its_field_named(unit: DemoUnit) -> None:
    at = open_page("triggers", unit.owner)
    at.session_state["milestone_new_lead_attribute_filters"] = _grid(
        [{"field_name": "score", "operator": "gt", "value": "lots"}])
    at = _create_milestone(at, "Bad filter", PUBLIC_HOOK)
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "lead_attribute_filters[0].value" in errors and "numeric" in errors
    assert at.text_input(key="milestone_new_name").value == "Bad filter"  # what was typed stays
    with unit.db.read() as session:
        assert triggers.list_triggers(session, unit.tenant, "milestone") == []


def test_every_kind_has_an_audience_and_a_viewer_cannot_change_it(unit: DemoUnit) -> None:
    _segment(unit, "Pro plan")
    at = open_page("triggers", unit.owner)
    for kind in ("milestone", "sequence", "pattern"):
        assert at.selectbox(key=f"{kind}_new_segment").options == ["Any lead", "Pro plan"]
        assert not at.selectbox(key=f"{kind}_new_segment").disabled
    at = open_page("triggers", unit.viewer)
    assert at.selectbox(key="milestone_new_segment").disabled
    assert at.data_editor(key="milestone_new_profile_filters").proto.disabled
