"""A unit's Slack app end to end, against a Slack Web API on loopback (tests.fakes.slack_server): the organization's
app credentials, the OAuth install (single-use, expiring state), the connection, channel and user lists, the default
target, triggers that send through the app (Block Kit, default target at send time), DMs, 429s, disconnects, and
that secrets and tokens are neither shown nor stored in plain text."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from db import models
from db.engine import Database
from db.ids import new_id
from notify.dispatcher import dispatch_due
from services.integrations import slack
from services.tenancy import tokens, users
from settings import get_settings
from tests.conftest import ApiHarness
from tests.fakes.slack_server import FakeSlack, start_slack_server
from tests.notify.receivers import add_rule, allow_loopback, send_event  # noqa: F401 (autouse fixture)

DASHBOARD = "http://dashboard.test"
CLIENT_ID, CLIENT_SECRET, SIGNING_SECRET = "111.222", "client-secret-do-not-show", "signing-secret-do-not-show"


@pytest.fixture
def fake_slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    fake = start_slack_server(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    settings = get_settings()
    monkeypatch.setattr(settings, "slack_api_base_url", fake.api_url)
    monkeypatch.setattr(settings, "slack_authorize_url", fake.url + "/oauth/v2/authorize")
    monkeypatch.setattr(settings, "public_url", DASHBOARD)
    monkeypatch.setattr(settings, "public_api_url", "http://api.test")
    monkeypatch.setattr(settings, "secrets_key", Fernet.generate_key().decode())
    monkeypatch.setattr(settings, "jwt_secret", "slack-tests-" + "x" * 40)
    yield fake
    fake.close()


def org_owner(api: ApiHarness) -> dict[str, str]:
    """Headers of a person who is the organization's Owner (and Owner of the unit): only they set the app."""
    at = datetime.now(UTC)
    with api.db.write() as session:
        user = models.User(
            id=new_id("usr"), org_id=api.tenant.org_id, email=f"owner-{uuid.uuid4().hex[:8]}@example.com",
            name="Org Owner", first_name="Org", last_name="Owner", password_hash=users.hash_password("x" * 20),
            role="Owner", verified=True, created_at=at, disabled=False,
        )
        session.add(user)
        session.flush()
        users.add_membership(session, api.tenant, user_id=user.id, role="Owner", now=at, record=False)
    return {"Authorization": f"Bearer {tokens.issue(user.id, api.tenant.org_id, at).access_token}"}


def set_app(api: ApiHarness) -> None:
    r = api.client.put("/v1/settings/slack-app", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                                        "signing_secret": SIGNING_SECRET}, headers=org_owner(api))
    assert r.status_code == 200, r.text


def connect(api: ApiHarness, fake: FakeSlack) -> None:
    set_app(api)
    r = api.post("/v1/settings/ou/slack/install")
    assert r.status_code == 200, r.text
    state = parse_qs(urlsplit(r.json()["authorize_url"]).query)["state"][0]
    r = api.client.get("/v1/slack/oauth/callback", params={"code": fake.new_code(), "state": state},
                       follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"] == f"{DASHBOARD}/integrations?slack=connected"


def deliveries_of(db: Database, trigger_id: str) -> list[models.Delivery]:
    with db.read() as session:
        return list(session.scalars(select(models.Delivery).where(models.Delivery.trigger_id == trigger_id)))


def fire_milestone(api: ApiHarness, now: datetime, email: str = "ann@acme.io", **fields: Any) -> str:
    add_rule(api.db, api.tenant, "demo_request", 100, now)
    r = api.post("/v1/triggers/milestones", {"name": "Hot lead", "score_threshold": 50, **fields})
    assert r.status_code == 201, r.text
    send_event(api.db, api.tenant, email, "demo_request", now)
    dispatch_due(api.db, "test", lambda: now)
    return str(r.json()["trigger_id"])


def test_install_list_default_target_and_a_trigger_posts_blocks_to_the_default_channel(
    api: ApiHarness, fake_slack: FakeSlack, now: datetime
) -> None:
    # The organization's app: only an organization Owner (a person) sets it; secrets never come back.
    assert api.put("/v1/settings/slack-app", {"client_id": "x", "client_secret": "y"}).status_code == 403
    owner = org_owner(api)
    assert api.client.get("/v1/settings/slack-app", headers=owner).json()["configured"] is False
    status = api.get("/v1/settings/ou/slack").json()
    assert status["connected"] is False and status["authorize_url"] is None  # no app yet
    set_app(api)
    shown = api.client.get("/v1/settings/slack-app", headers=owner)
    assert shown.json() | {"updated_at": None} == {
        "configured": True, "client_id": CLIENT_ID, "client_secret_set": True, "signing_secret_set": True,
        "updated_at": None}
    assert CLIENT_SECRET not in shown.text and SIGNING_SECRET not in shown.text
    # A later PUT without the signing secret keeps it.
    r = api.client.put("/v1/settings/slack-app", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                       headers=owner)
    assert r.json()["signing_secret_set"] is True

    # Status offers the install link (no state is minted by reading it).
    status = api.get("/v1/settings/ou/slack").json()
    assert status["authorize_url"] == "http://api.test/v1/settings/ou/slack/install"
    # GET .../install redirects to Slack's authorize URL with the app's id, the scopes and a state.
    r = api.get("/v1/settings/ou/slack/install", follow_redirects=False)
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == fake_slack.url + "/oauth/v2/authorize"
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://api.test/v1/slack/oauth/callback"]
    assert set(query["scope"][0].split(",")) == {"chat:write", "chat:write.public", "im:write", "channels:read",
                                                 "groups:read", "users:read"}
    # Slack sends the browser back with a code and the state: the code is exchanged, the unit connected.
    r = api.client.get("/v1/slack/oauth/callback", params={"code": fake_slack.new_code(), "state": query["state"][0]},
                       follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{DASHBOARD}/integrations?slack=connected"
    (exchange,) = fake_slack.calls_to("oauth.v2.access")
    assert exchange.args["redirect_uri"] == "http://api.test/v1/slack/oauth/callback"
    status = api.get("/v1/settings/ou/slack").json()
    assert status["connected"] is True and status["team_id"] == "T0TEST" and status["team_name"] == "Test Workspace"
    assert status["bot_user_id"] == "U0BOT" and status["default_target_kind"] is None

    # Channels, two pages (the fake pages by 2).
    first = api.get("/v1/settings/ou/slack/channels").json()
    assert first["ok"] is True and [c["id"] for c in first["channels"]] == ["C0000", "C0001"]
    cursor = first["response_metadata"]["next_cursor"]
    second = api.get("/v1/settings/ou/slack/channels", params={"cursor": cursor}).json()
    assert [c["id"] for c in second["channels"]] == ["C0002"] and second["response_metadata"]["next_cursor"] == ""
    public = api.get("/v1/settings/ou/slack/channels", params={"types": "public_channel", "limit": 10}).json()
    assert [c["id"] for c in public["channels"]] == ["C0000", "C0001"]
    members = api.get("/v1/settings/ou/slack/users", params={"limit": 2}).json()
    assert [u["id"] for u in members["members"]] == ["U0000", "U0001"] and members["response_metadata"]["next_cursor"]

    # The default target; a trigger with a channel kind and no id sends there, with blocks and a dashboard link.
    r = api.put("/v1/settings/ou/slack/default-target", {"kind": "channel", "id": "C0001"})
    assert r.status_code == 200 and r.json()["default_target_id"] == "C0001"
    trigger_id = fire_milestone(api, now, slack_target_kind="channel")
    (delivery,) = deliveries_of(api.db, trigger_id)
    assert delivery.status == "delivered", delivery.last_error
    assert delivery.target == "app:default"
    (post,) = fake_slack.wait_for("chat.postMessage", 1)
    assert post.args["channel"] == "C0001" and post.token in fake_slack.tokens
    blocks = json.dumps(post.args["blocks"])
    with api.db.read() as session:
        lead_id = session.scalar(select(models.Lead.id).where(models.Lead.unit_id == api.tenant.unit_id,
                                                             models.Lead.email == "ann@acme.io"))
    assert "ann@acme.io" in blocks and "Hot lead" in blocks
    assert f"{DASHBOARD}/lead?lead={lead_id}" in blocks and "ann@acme.io" in post.args["text"]
    view = api.get("/v1/triggers/milestones").json()[0]
    assert view["slack_target_kind"] == "channel" and view["slack_target_id"] is None
    assert view["teams_target_kind"] is None and view["teams_target_id"] is None and view["hubspot_sync"] is False


def test_a_test_message_to_a_user_opens_a_dm_first(api: ApiHarness, fake_slack: FakeSlack) -> None:
    connect(api, fake_slack)
    r = api.post("/v1/settings/ou/slack/test", {"kind": "user", "id": "U0002", "text": "Hello from Leadvane"})
    assert r.status_code == 200, r.text
    assert "U0002" in r.json()["message"]
    (opened,) = fake_slack.calls_to("conversations.open")
    assert opened.args["users"] == "U0002"
    (post,) = fake_slack.calls_to("chat.postMessage")
    assert post.args["channel"] == "DU0002" and post.args["text"] == "Hello from Leadvane"
    # A channel test posts straight there; an unknown channel is Slack's error, not a 500.
    assert api.post("/v1/settings/ou/slack/test", {"kind": "channel", "id": "C0000"}).status_code == 200
    r = api.post("/v1/settings/ou/slack/test", {"kind": "channel", "id": "C9999"})
    assert r.status_code == 502 and "channel_not_found" in r.json()["error"]["message"]
    assert api.post("/v1/settings/ou/slack/test", {"kind": "team", "id": "C0000"}).status_code == 422


def test_a_trigger_to_a_user_sends_a_dm(api: ApiHarness, fake_slack: FakeSlack, now: datetime) -> None:
    connect(api, fake_slack)
    trigger_id = fire_milestone(api, now, slack_target_kind="user", slack_target_id="U0001")
    (delivery,) = deliveries_of(api.db, trigger_id)
    assert delivery.status == "delivered" and delivery.target == "app:user:U0001"
    assert fake_slack.calls_to("chat.postMessage")[0].args["channel"] == "DU0001"


def test_slack_429_is_honoured_by_deliveries_and_the_proxies(
    api: ApiHarness, fake_slack: FakeSlack, now: datetime
) -> None:
    connect(api, fake_slack)
    fake_slack.rate_limit(1, retry_after=600)
    trigger_id = fire_milestone(api, now, slack_target_kind="channel", slack_target_id="C0000")
    (delivery,) = deliveries_of(api.db, trigger_id)
    assert delivery.status == "pending" and delivery.last_status_code == 429
    assert "ratelimited" in (delivery.last_error or "")
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at >= now + timedelta(seconds=600)
    # Sent once the wait is over.
    dispatch_due(api.db, "test", lambda: now + timedelta(seconds=601))
    assert deliveries_of(api.db, trigger_id)[0].status == "delivered"

    fake_slack.rate_limit(1, retry_after=7)
    r = api.get("/v1/settings/ou/slack/channels")
    assert r.status_code == 429 and r.headers["retry-after"] == "7" and r.json()["error"]["code"] == "rate_limited"


def test_states_are_single_use_and_expire(api: ApiHarness, fake_slack: FakeSlack) -> None:
    set_app(api)
    url = api.post("/v1/settings/ou/slack/install").json()["authorize_url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    first = api.client.get("/v1/slack/oauth/callback", params={"code": fake_slack.new_code(), "state": state},
                           follow_redirects=False)
    assert first.headers["location"].endswith("?slack=connected")
    again = api.client.get("/v1/slack/oauth/callback", params={"code": fake_slack.new_code(), "state": state},
                           follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == f"{DASHBOARD}/integrations?slack=error&reason=state_used"
    with api.db.read() as session:  # only the state's hash is kept
        assert session.get(models.OAuthState, state) is None
        assert session.scalar(select(models.OAuthState).where(models.OAuthState.unit_id == api.tenant.unit_id))

    # A state older than 10 minutes is refused.
    with api.db.write() as session:
        old = slack.begin_install(session, api.tenant, datetime.now(UTC) - timedelta(minutes=11))
    old_state = parse_qs(urlsplit(old).query)["state"][0]
    r = api.client.get("/v1/slack/oauth/callback", params={"code": fake_slack.new_code(), "state": old_state},
                       follow_redirects=False)
    assert r.headers["location"].endswith("reason=state_expired")
    # Unknown states, a missing code, Slack refusing the code, the person declining: errors, never a 500.
    for params, reason in (({"code": "c", "state": "made-up"}, "invalid_state"), ({"code": "c"}, "invalid_state"),
                           ({"error": "access_denied", "state": "x"}, "access_denied")):
        r = api.client.get("/v1/slack/oauth/callback", params=params, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith(f"reason={reason}"), (params, r.text)
    fresh = parse_qs(urlsplit(api.post("/v1/settings/ou/slack/install").json()["authorize_url"]).query)["state"][0]
    r = api.client.get("/v1/slack/oauth/callback", params={"code": "not-issued", "state": fresh},
                       follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("reason=invalid_code")


def test_another_unit_neither_sees_nor_uses_the_connection(
    api: ApiHarness, other_api: ApiHarness, fake_slack: FakeSlack, now: datetime
) -> None:
    connect(api, fake_slack)
    status = other_api.get("/v1/settings/ou/slack").json()
    assert status["connected"] is False and status["team_id"] is None and status["authorize_url"] is None
    r = other_api.get("/v1/settings/ou/slack/channels")
    assert r.status_code == 409 and r.json()["error"]["code"] == "slack_not_connected"
    assert other_api.post("/v1/settings/ou/slack/test", {"kind": "channel", "id": "C0000"}).status_code == 409
    assert other_api.put("/v1/settings/ou/slack/default-target", {"kind": "channel", "id": "C0000"}).status_code == 409
    assert other_api.post("/v1/settings/ou/slack/install").json()["error"]["code"] == "slack_app_not_configured"
    trigger_id = fire_milestone(other_api, now, slack_target_kind="channel", slack_target_id="C0000")
    (delivery,) = deliveries_of(other_api.db, trigger_id)
    assert delivery.status == "pending" and "not connected to Slack" in (delivery.last_error or "")
    assert fake_slack.calls_to("chat.postMessage") == []


def test_without_a_default_target_or_after_a_disconnect_deliveries_fail_with_a_reason(
    api: ApiHarness, fake_slack: FakeSlack, now: datetime
) -> None:
    connect(api, fake_slack)
    trigger_id = fire_milestone(api, now, slack_target_kind="channel")
    (delivery,) = deliveries_of(api.db, trigger_id)
    assert delivery.status == "pending" and "no default Slack target" in (delivery.last_error or "")

    r = api.delete("/v1/settings/ou/slack")
    assert r.status_code == 204
    assert len(fake_slack.calls_to("auth.revoke")) == 1 and fake_slack.revoked
    assert api.get("/v1/settings/ou/slack").json()["connected"] is False
    assert api.delete("/v1/settings/ou/slack").status_code == 409
    dispatch_due(api.db, "test", lambda: now + timedelta(hours=1))
    assert "not connected to Slack" in (deliveries_of(api.db, trigger_id)[0].last_error or "")


def test_secrets_and_tokens_are_sealed_and_never_audited(api: ApiHarness, fake_slack: FakeSlack) -> None:
    connect(api, fake_slack)
    (token,) = fake_slack.tokens
    with api.db.read() as session:
        app = session.get(models.SlackApp, api.tenant.org_id)
        connection = session.get(models.SlackConnection, api.tenant.unit_id)
        assert app is not None and connection is not None
        stored = " ".join(str(v) for v in (app.client_secret_enc, app.signing_secret_enc, connection.bot_token_enc))
        entries = list(session.scalars(select(models.AuditLog).where(models.AuditLog.unit_id == api.tenant.unit_id)))
    for secret in (CLIENT_SECRET, SIGNING_SECRET, token):
        assert secret not in stored
    logged = json.dumps([e.changes for e in entries], default=str)
    assert {e.entity_type for e in entries} >= {"slack_app", "slack_connection"}
    for secret in (CLIENT_SECRET, SIGNING_SECRET, token):
        assert secret not in logged


def test_trigger_slack_fields_teams_is_refused_and_an_empty_kind_clears(
    api: ApiHarness, fake_slack: FakeSlack
) -> None:
    r = api.post("/v1/triggers/sequences", {"event_types": ["a", "b"], "window_seconds": 60,
                                            "teams_target_kind": "channel"})
    assert r.status_code == 422 and "teams_target_kind" in r.json()["error"]["message"]
    assert "Microsoft Teams targets are not supported" in r.json()["error"]["message"]
    r = api.post("/v1/triggers/patterns", {"conditions": [{"event_type": "a"}], "window_seconds": 60,
                                           "slack_target_id": "C1"})
    assert r.status_code == 422 and "slack_target_id" in r.json()["error"]["message"]
    r = api.post("/v1/triggers/milestones", {"score_threshold": 5, "slack_target_kind": "user",
                                             "slack_target_id": "U0001", "hubspot_sync": True})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["slack_target_kind"], created["slack_target_id"], created["hubspot_sync"]) == ("user", "U0001",
                                                                                                    True)
    path = f"/v1/triggers/milestones/{created['trigger_id']}"
    assert api.put(path, {"slack_target_id": ""}).json()["slack_target_id"] is None  # back to the default
    cleared = api.put(path, {"slack_target_kind": ""}).json()
    assert cleared["slack_target_kind"] is None and cleared["hubspot_sync"] is True
    # Surge triggers: a Slack app target may be the only destination.
    r = api.post("/v1/surge/triggers", {"window_seconds": 60, "threshold_count": 3, "slack_target_kind": "channel"})
    assert r.status_code == 201, r.text
    assert r.json()["slack_target_kind"] == "channel" and r.json()["teams_target_id"] is None
    r = api.post("/v1/surge/triggers", {"window_seconds": 60, "threshold_count": 3, "webhook_url": None,
                                        "teams_target_id": "19:abc"})
    assert r.status_code == 422


def test_a_secret_the_key_cannot_open_is_a_409_asking_to_enter_it_again(
    api: ApiHarness, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_app(api)
    monkeypatch.setattr(get_settings(), "secrets_key", Fernet.generate_key().decode())  # the key was changed
    r = api.post("/v1/settings/ou/slack/install")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "unreadable_secret" and "enter it again" in r.json()["error"]["message"]
    set_app(api)  # entering the app's secrets again seals them with the new key
    assert api.post("/v1/settings/ou/slack/install").status_code == 200
