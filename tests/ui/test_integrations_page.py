"""The Integrations page's Slack section (AppTest) against a Slack Web API on loopback: not connected (app
credentials, Connect), connected (status, default target picked from Slack's channels, test message), and a
Viewer who sees the controls disabled."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from services.integrations import slack
from settings import get_settings
from tests.fakes.slack_server import FakeSlack, start_slack_server
from tests.notify.receivers import allow_loopback  # noqa: F401 (autouse fixture)
from tests.ui.conftest import DemoUnit, open_page, texts


@pytest.fixture
def fake_slack(monkeypatch: pytest.MonkeyPatch, unit: DemoUnit) -> Iterator[FakeSlack]:
    fake = start_slack_server(client_id="cid", client_secret="csecret")
    settings = get_settings()
    monkeypatch.setattr(settings, "slack_api_base_url", fake.api_url)
    monkeypatch.setattr(settings, "slack_authorize_url", fake.url + "/oauth/v2/authorize")
    monkeypatch.setattr(settings, "secrets_key", Fernet.generate_key().decode())
    yield fake
    fake.close()


def _connect(unit: DemoUnit, fake: FakeSlack) -> None:
    owner = replace(unit.owner.tenant, org_role="Owner")
    with unit.db.write() as session:
        slack.set_app(session, owner, client_id="cid", client_secret="csecret", signing_secret=None,
                      now=datetime.now(UTC))
        url = slack.begin_install(session, owner, datetime.now(UTC))
    state = parse_qs(urlsplit(url).query)["state"][0]
    assert slack.complete_install(unit.db, fake.new_code(), state, lambda: datetime.now(UTC)).endswith("connected")


def test_an_org_owner_saves_the_app_and_gets_a_connect_link(unit: DemoUnit, fake_slack: FakeSlack) -> None:
    owner = replace(unit.owner, org_role="Owner")
    at = open_page("integrations", owner)
    assert not at.exception
    assert "Not connected" in texts(at)
    assert next(b for b in at.button if b.label == "Connect Slack").disabled  # no app yet
    inputs = {t.label: t for t in at.text_input}
    inputs["Client ID"].set_value("cid")
    inputs["Client Secret"].set_value("csecret")
    next(b for b in at.button if b.label == "Save Slack app").click().run()
    assert not at.exception and "Slack app saved." in texts(at)
    next(b for b in at.button if b.label == "Connect Slack").click().run()
    assert not at.exception
    url = at.session_state["slack_authorize_url"]
    assert url.startswith(fake_slack.url + "/oauth/v2/authorize?") and parse_qs(urlsplit(url).query)["state"]


def test_connected_an_owner_picks_the_default_channel_and_sends_a_test(
    unit: DemoUnit, fake_slack: FakeSlack
) -> None:
    _connect(unit, fake_slack)
    at = open_page("integrations", unit.owner)
    assert not at.exception
    assert "Connected to **Test Workspace**" in texts(at)
    pick = at.selectbox(key="slack_target_pick")
    assert pick.options == ["#channel-0", "#channel-1", "#channel-2"]
    pick.set_value("C0001").run()
    next(b for b in at.button if b.label == "Set as default").click().run()
    assert not at.exception and "Default Slack target set to #channel-1." in texts(at)
    with unit.db.read() as session:
        status = slack.status(session, unit.tenant)
    assert (status["default_target_kind"], status["default_target_id"]) == ("channel", "C0001")
    next(b for b in at.button if b.label == "Send test message").click().run()
    assert not at.exception
    assert fake_slack.calls_to("chat.postMessage")[-1].args["channel"] == "C0001"


def test_a_viewer_sees_the_connection_with_controls_disabled(unit: DemoUnit, fake_slack: FakeSlack) -> None:
    _connect(unit, fake_slack)
    at = open_page("integrations", unit.viewer)
    assert not at.exception
    assert "Connected to **Test Workspace**" in texts(at)
    for label in ("Disconnect Slack", "Set as default", "Send test message"):
        assert next(b for b in at.button if b.label == label).disabled, label
    assert next(b for b in at.button if b.label == "Save Slack app").disabled
    assert at.radio(key="slack_target_kind").disabled
    assert fake_slack.calls_to("conversations.list") == []  # a Viewer may not list Slack's channels


def test_a_viewer_of_an_unconnected_unit_cannot_connect(unit: DemoUnit, fake_slack: FakeSlack) -> None:
    at = open_page("integrations", unit.viewer)
    assert not at.exception and "Not connected" in texts(at)
    assert next(b for b in at.button if b.label == "Connect Slack").disabled


def test_back_from_slack_the_page_shows_the_new_connection_at_once(unit: DemoUnit, fake_slack: FakeSlack) -> None:
    at = open_page("integrations", unit.owner)
    assert "Not connected" in texts(at)  # the status is now cached as "not connected"
    _connect(unit, fake_slack)  # the OAuth callback, in the API, outside this session
    at.query_params["slack"] = "connected"  # Slack's redirect back to the page
    at.run()
    assert not at.exception
    assert "Slack is connected." in texts(at) and "Connected to" in texts(at) and "Not connected" not in texts(at)
