"""The Settings page: keys with their role and when they were last used, only settings that work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.tenancy import api_keys
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts


def test_the_key_list_shows_role_and_last_use_in_words(unit: DemoUnit) -> None:
    now = datetime.now(UTC)
    with unit.db.write() as session:
        used = api_keys.create_api_key(session, unit.tenant, name="website", role="Operator", now=now)
        api_keys.create_api_key(session, unit.tenant, name="reporting", role="Viewer", now=now)
        api_keys.record_use(session, api_keys.hash_secret(used.secret), now - timedelta(minutes=3, seconds=10))
    at = open_page("settings", unit.owner)
    assert not at.exception
    table = frame_with(at, "Last used").set_index("Name")
    assert table.loc["website", "Role"] == "Operator" and table.loc["reporting", "Role"] == "Viewer"
    assert table.loc["website", "Last used"] == "3 minutes ago"
    assert table.loc["reporting", "Last used"] == "never"
    assert table.loc["website", "Status"] == "Active"


def test_an_owner_creates_a_key_with_a_role(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    next(t for t in at.text_input if t.label == "Key name").set_value("dashboards")
    at.selectbox(key="new_key_role").set_value("Viewer")
    next(b for b in at.button if b.label == "Create API key").click().run()
    assert not at.exception
    secret = at.code[0].value
    with unit.db.read() as session:
        tenant = api_keys.authenticate(session, secret)
    assert tenant is not None and tenant.role == "Viewer"
    assert frame_with(at, "Role").set_index("Name").loc["dashboards", "Role"] == "Viewer"


def test_settings_that_do_nothing_yet_are_not_shown(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    labels = [t.label for t in at.toggle] + [n.label for n in at.number_input]
    assert "Allow negative scores" in labels
    shown = texts(at) + " ".join(labels)
    assert "ABM" not in shown and "Account-based" not in shown and "timeout" not in shown.lower()


def test_a_viewer_sees_settings_but_cannot_change_them(unit: DemoUnit) -> None:
    at = open_page("settings", unit.viewer)
    assert not at.exception
    assert next(t for t in at.toggle if t.label == "Allow negative scores").disabled
    assert next(b for b in at.button if b.label == "Save scoring settings").disabled
    assert next(b for b in at.button if b.label == "Create API key").disabled
