"""Messages no trigger sends (research completions, the scheduled CRM sync): written with deliveries.enqueue,
signed with the unit's own webhook secret, retried like the rest, and a receiver's Retry-After is honoured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from db import models
from db.engine import Database
from notify.dispatcher import dispatch_due
from services.context import Tenant
from services.triggers import deliveries
from services.triggers.destinations import unit_webhook_secret
from settings import get_settings
from tests.notify.receivers import HttpReceiver


def _enqueue(db: Database, tenant: Tenant, url: str, now: datetime) -> tuple[str, str]:
    with db.write() as session:
        secret = unit_webhook_secret(session, tenant, now)
        (row,) = deliveries.enqueue(session, tenant, [deliveries.Message("webhook", url, '{"done":true}')], now)
    return secret, row["id"]


def test_a_webhook_of_no_trigger_is_signed_with_the_units_secret(
    db: Database, tenant: Tenant, receiver: HttpReceiver
) -> None:
    now = datetime.now(UTC)
    secret, delivery_id = _enqueue(db, tenant, receiver.url + "/research", now)
    with db.write() as session:
        assert unit_webhook_secret(session, tenant, now) == secret  # created once, then the same
    dispatch_due(db, "test", lambda: now)
    (req,) = receiver.wait_for(1)
    assert req.headers["webhook-id"] == delivery_id
    assert Webhook(secret).verify(req.body, req.headers) == {"done": True}
    with db.read() as session:
        row = session.get(models.Delivery, delivery_id)
        assert row is not None and row.status == "delivered" and row.firing_id is None and row.trigger_id is None


def test_a_receivers_retry_after_postpones_the_next_attempt(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_retry_schedule", "5,30")
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    with db.write() as session:
        (row,) = deliveries.enqueue(session, tenant, [deliveries.Message("webhook", "https://x.test/", "{}")], now)
        # As a claim leaves it (claim_due would also take other tests' due rows): sending, first attempt.
        session.execute(update(models.Delivery).where(models.Delivery.id == row["id"])
                        .values(status="sending", lease_holder="test-claim", attempts=1))
        deliveries.record_failure(session, row["id"], "test-claim", 1, "HTTP 429 from receiver", 429, now,
                                  retry_after=120.0)
    with db.read() as session:
        stored = session.get(models.Delivery, row["id"])
        assert stored is not None and stored.status == "pending"
        assert stored.next_attempt_at == now + timedelta(seconds=120)  # not the schedule's 5 s


def test_a_huge_retry_after_waits_an_hour_at_most(db: Database, tenant: Tenant) -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    with db.write() as session:
        (row,) = deliveries.enqueue(session, tenant, [deliveries.Message("webhook", "https://x.test/", "{}")], now)
        session.execute(update(models.Delivery).where(models.Delivery.id == row["id"])
                        .values(status="sending", lease_holder="test-claim", attempts=1))
        deliveries.record_failure(session, row["id"], "test-claim", 1, "HTTP 429 from receiver", 429, now,
                                  retry_after=1e15)  # would overflow a timestamp
    with db.read() as session:
        stored = session.get(models.Delivery, row["id"])
        assert stored is not None and stored.next_attempt_at == now + timedelta(hours=1)


def test_retry_after_values_are_read_one_way_for_every_receiver() -> None:
    from services.integrations.outbound import retry_after_seconds

    assert retry_after_seconds("30", 1.0) == 30.0
    assert retry_after_seconds(["7"], 1.0) == 7.0  # urllib-style header lists
    assert retry_after_seconds(None, 10.0) == 10.0 and retry_after_seconds("soon", 10.0) == 10.0
    assert retry_after_seconds("-5", 1.0) == 0.0 and retry_after_seconds("nan", 2.0) == 2.0
    assert retry_after_seconds("99999999", 1.0) == 3600.0
