"""Notifications are useful on their own: who, which account, score before and after, level, trigger name, in
the webhook payload, the email and the Slack message; the trigger's message rendered with placeholders."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from db import models
from db.engine import Database
from notify.dispatcher import dispatch_due
from services.context import Tenant
from services.ingest.contract import AccountRef, AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import levels
from services.triggers import triggers
from tests.notify.receivers import HttpReceiver, add_rule, start_http_receiver
from tests.notify.test_email_slack import Inbox, smtp  # noqa: F401 (fixture)

MESSAGE = "Call {lead.name} ({lead.email}) at {account.name}: {score}, {level}, via {trigger.name}. {lead.phone}"


@pytest.fixture
def slack() -> Iterator[HttpReceiver]:
    rec = start_http_receiver()
    yield rec
    rec.close()


def _setup(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "demo_request", 60, now)
    add_rule(db, tenant, "pricing_view", 5, now)
    with db.write() as session:
        levels.create_level(session, tenant, name="Cold", min_score=0, max_score=49, now=now)
        levels.create_level(session, tenant, name="Hot", min_score=50, max_score=10_000, now=now)


def _ingest(db: Database, tenant: Tenant, event_type: str, at: datetime) -> None:
    with db.write() as session:
        ingest(session, tenant, [NewEvent(
            event_type=event_type, occurred_at=at,
            person=PersonRef(aliases=[AliasInput("email", "ann@acme.io")], first_name="Ann", last_name="Lee"),
            account=AccountRef(domain="acme.io", name="Acme"),
        )], at)


def test_webhook_email_and_slack_carry_the_lead_account_scores_level_and_trigger(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, slack: HttpReceiver, smtp: Inbox  # noqa: F811
) -> None:
    _setup(db, tenant, now)
    with db.write() as session:
        trig = triggers.create_trigger(session, tenant, "milestone", {
            "name": "Hot lead", "score_threshold": 50, "webhook_url": receiver.url + "/h",
            "slack_webhook_url": slack.url + "/services/T/B/X", "emails": ["sales@example.com"],
            "email_subject": "{lead.name} is {level}", "email_message": MESSAGE,
        }, now)
    _ingest(db, tenant, "pricing_view", now)
    _ingest(db, tenant, "demo_request", now + timedelta(seconds=1))
    dispatch_due(db, "test", lambda: now + timedelta(seconds=2))

    (hook,) = receiver.wait_for(1)
    payload = hook.json()
    # The fields integrators already read are still there ...
    assert payload["type"] == "trigger.milestone" and payload["trigger_id"] == trig.id
    assert payload["trigger_name"] == "Hot lead" and payload["data"]["score_after"] == 65
    # ... and the new ones make the payload useful without a look-up.
    assert payload["lead"] == {"id": payload["lead_id"], "email": "ann@acme.io", "name": "Ann Lee"}
    assert payload["account"] == {"id": payload["account_id"], "domain": "acme.io", "name": "Acme"}
    assert (payload["score_before"], payload["score_after"], payload["level"]) == (5, 65, "Hot")
    assert payload["trigger"] == {"id": trig.id, "name": "Hot lead", "kind": "milestone"}
    assert payload["occurred_at"].endswith("Z") and payload["fired_at"].endswith("Z")
    assert "+00:00" not in hook.body

    expected = "Call Ann Lee (ann@acme.io) at Acme: 65, Hot, via Hot lead. {lead.phone}"
    (_sender, _rcpts, mail), = [m for m in smtp.messages if m[2]["Subject"] == "Ann Lee is Hot"]
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert expected in text
    for line in ("Lead: Ann Lee <ann@acme.io>", "Account: Acme (acme.io)", "Score: 5 → 65 (Hot)", "Trigger: Hot lead"):
        assert line in text

    (message,) = slack.wait_for(1)
    slack_text = message.json()["text"]
    assert slack_text.startswith("*Hot lead* fired for Ann Lee &lt;ann@acme.io&gt;")  # mrkdwn-escaped
    assert "Account: Acme (acme.io)" in slack_text and "Score: 5 → 65 (Hot)" in slack_text
    assert expected in slack_text


def test_a_sequence_firing_carries_the_scores_of_the_event_that_completed_it(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver
) -> None:
    _setup(db, tenant, now)
    with db.write() as session:
        triggers.create_trigger(session, tenant, "sequence", {
            "name": "Pricing then demo", "event_types": ["pricing_view", "demo_request"], "window_seconds": 3600,
            "ordered": True, "webhook_url": receiver.url,
        }, now)
    _ingest(db, tenant, "pricing_view", now)
    _ingest(db, tenant, "demo_request", now + timedelta(minutes=5))
    dispatch_due(db, "test", lambda: now + timedelta(minutes=6))
    (hook,) = receiver.wait_for(1)
    payload = hook.json()
    assert (payload["score_before"], payload["score_after"], payload["level"]) == (5, 65, "Hot")
    assert payload["lead"]["name"] == "Ann Lee" and payload["account"]["name"] == "Acme"
    assert all(step["occurred_at"].endswith("Z") for step in payload["data"]["steps"])
    with db.read() as session:
        f = models.TriggerFiring
        firing = session.scalars(select(f).where(f.unit_id == tenant.unit_id)).one()
        assert firing.payload["trigger"]["name"] == "Pricing then demo"
