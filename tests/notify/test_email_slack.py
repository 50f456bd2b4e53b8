"""Email through a real SMTP server (aiosmtpd) and Slack through loopback webhook / Web API endpoints."""

from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from db import models
from db.engine import Database
from notify.dispatcher import dispatch_due
from services.context import Tenant
from services.triggers import triggers
from settings import get_settings
from tests.notify.receivers import HttpReceiver, add_rule, free_port, send_event


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_starttls", False)
    monkeypatch.setattr(settings, "smtp_from", "alerts@leadvane.test")
    yield inbox
    controller.stop()


def _fire(db: Database, tenant: Tenant, now: datetime, **channels: object) -> list[models.Delivery]:
    add_rule(db, tenant, "demo_request", 100, now)
    with db.write() as session:
        trig = triggers.create_trigger(session, tenant, "milestone", {"score_threshold": 50, **channels}, now)
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    dispatch_due(db, "test", lambda: now)
    with db.read() as session:
        return list(session.scalars(select(models.Delivery).where(models.Delivery.trigger_id == trig.id)))


def test_email_uses_the_trigger_subject_preheader_and_message(
    db: Database, tenant: Tenant, now: datetime, smtp: Inbox
) -> None:
    (delivery,) = _fire(db, tenant, now, emails=["sales@example.com", "ae@example.com"], email_subject="Hot lead",
                        email_preheader="Score passed 50", email_message="Call Ann today.")
    assert delivery.status == "delivered" and delivery.channel == "email"
    ((sender, rcpts, mail),) = [m for m in smtp.messages if m[2]["Subject"] == "Hot lead"]
    assert sender == "alerts@leadvane.test" and sorted(rcpts) == ["ae@example.com", "sales@example.com"]
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()}
    assert "Call Ann today." in parts["text/plain"]
    assert "Score passed 50" in parts["text/html"] and "Call Ann today." in parts["text/html"]


def test_email_without_smtp_settings_is_retried_not_lost(
    db: Database, tenant: Tenant, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "smtp_host", None)
    (delivery,) = _fire(db, tenant, now, emails=["sales@example.com"])
    assert delivery.status == "pending" and "SMTP is not configured" in (delivery.last_error or "")


def test_slack_incoming_webhook(db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver) -> None:
    (delivery,) = _fire(db, tenant, now, name="Hot lead", slack_webhook_url=receiver.url + "/services/T/B/X")
    assert delivery.status == "delivered"
    (req,) = receiver.wait_for(1)
    assert req.path == "/services/T/B/X" and "*Hot lead* fired for" in req.json()["text"]


def test_slack_bot_token_posts_to_the_configured_api_base(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "slack_api_base_url", receiver.url + "/api/")
    monkeypatch.setattr(get_settings(), "slack_bot_token", "xoxb-test")
    (delivery,) = _fire(db, tenant, now, name="Hot lead", slack_channel="C123")
    assert delivery.status == "delivered", delivery.last_error
    (req,) = receiver.wait_for(1)
    assert req.path == "/api/chat.postMessage" and req.headers["authorization"] == "Bearer xoxb-test"
    assert "C123" in req.body and "Hot lead" in req.body


def test_slack_api_error_is_recorded_and_retried(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.response_body = '{"ok": false, "error": "channel_not_found"}'
    monkeypatch.setattr(get_settings(), "slack_api_base_url", receiver.url + "/api/")
    monkeypatch.setattr(get_settings(), "slack_bot_token", "xoxb-test")
    (delivery,) = _fire(db, tenant, now, slack_channel="C404")
    assert delivery.status == "pending" and "channel_not_found" in (delivery.last_error or "")
