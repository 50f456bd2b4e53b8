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
    # Account-based marketing works now (accounts and their fit); the session timeout ends surge sessions, so it
    # is offered in the Surge section.
    assert "Allow negative scores" in labels and "Account-based marketing" in labels
    assert "Session timeout (minutes)" in labels


def test_a_viewer_sees_settings_but_cannot_change_them(unit: DemoUnit) -> None:
    at = open_page("settings", unit.viewer)
    assert not at.exception
    assert next(t for t in at.toggle if t.label == "Allow negative scores").disabled
    assert next(b for b in at.button if b.label == "Save scoring settings").disabled
    assert next(b for b in at.button if b.label == "Create API key").disabled


def test_an_owner_creates_an_ingest_key(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    next(t for t in at.text_input if t.label == "Key name").set_value("tracker")
    at.selectbox(key="new_key_role").set_value("Ingest")
    next(b for b in at.button if b.label == "Create API key").click().run()
    with unit.db.read() as session:
        tenant = api_keys.authenticate(session, at.code[0].value)
    assert tenant is not None and tenant.role == "Ingest"


def test_an_owner_creates_a_credential_shown_once_and_revokes_it(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    assert at.selectbox(key="new_credential_role").value == "Ingest"  # the least an integration needs
    next(t for t in at.text_input if t.label == "Credential name").set_value("Zapier")
    at.selectbox(key="new_credential_role").set_value("Viewer")
    next(b for b in at.button if b.label == "Create credential").click().run()
    assert not at.exception
    client_id, client_secret = (code.value for code in at.code)
    assert client_id.startswith("ci_") and client_secret.startswith("cs_")
    with unit.db.read() as session:
        tenant = api_keys.authenticate_credential(session, client_id, client_secret)
    assert tenant is not None and tenant.role == "Viewer" and tenant.unit_id == unit.tenant.unit_id
    table = frame_with(at, "Client id").set_index("Name")
    assert table.loc["Zapier", "Client id"] == client_id and table.loc["Zapier", "Role"] == "Viewer"
    assert client_secret not in table.to_string()

    next(b for b in at.button if b.key == "hide_new_credential").click().run()
    assert client_secret not in texts(at)  # shown once
    at.selectbox(key="revoke_credential").set_value(tenant.credential_id)
    at.button(key="revoke_credential_button").click().run()
    assert not at.exception
    with unit.db.read() as session:
        assert api_keys.authenticate_credential(session, client_id, client_secret) is None
    assert "Zapier" not in texts(at)


def test_a_credential_without_a_name_is_refused(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    next(t for t in at.text_input if t.label == "Credential name").set_value(" ")
    next(b for b in at.button if b.label == "Create credential").click().run()
    assert any("name" in e.value for e in at.error)
    with unit.db.read() as session:
        assert api_keys.list_credentials(session, unit.tenant) == []


def test_a_viewer_cannot_create_or_revoke_credentials(unit: DemoUnit) -> None:
    with unit.db.write() as session:
        api_keys.create_credential(session, unit.tenant, name="pipe", now=datetime.now(UTC))
    at = open_page("settings", unit.viewer)
    assert not at.exception
    assert next(b for b in at.button if b.label == "Create credential").disabled
    assert at.button(key="revoke_credential_button").disabled
    assert at.selectbox(key="new_credential_role").disabled
    assert frame_with(at, "Client id").loc[0, "Name"] == "pipe"
