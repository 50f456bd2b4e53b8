"""Deliveries on /metrics: queue depth, outcomes and event-to-webhook latency, with a real receiver on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from db import models
from notify.dispatcher import dispatch_due
from services.triggers import triggers
from settings import get_settings
from tests.api.test_metrics import scrape, value
from tests.conftest import ApiHarness
from tests.notify.receivers import HttpReceiver, add_rule, send_event


def fire_webhook(api: ApiHarness, url: str, at: datetime) -> str:
    """A milestone trigger to `url` fired by one event received at `at`; returns the delivery id."""
    add_rule(api.db, api.tenant, "demo_request", 100, at)
    with api.db.write() as session:
        config = {"score_threshold": 50, "webhook_url": url}
        trig = triggers.create_trigger(session, api.tenant, "milestone", config, at)
    send_event(api.db, api.tenant, "ann@acme.io", "demo_request", at)
    with api.db.read() as session:
        (delivery_id,) = session.scalars(select(models.Delivery.id).where(models.Delivery.trigger_id == trig.id))
    return delivery_id


def test_a_delivered_webhook_moves_queue_depth_outcomes_and_latency(
    api: ApiHarness, now: datetime, receiver: HttpReceiver
) -> None:
    before = scrape(api)
    fire_webhook(api, receiver.url + "/hooks", now)  # received at `now`, which is in the past: due at once
    queued = scrape(api)
    assert value(queued, "queue_depth") - value(before, "queue_depth") == 1
    assert value(queued, "events_ingested_total") - value(before, "events_ingested_total") == 1

    # Sent 3 s after the event arrived (the dispatcher's clock): that is the latency observed.
    dispatch_due(api.db, "test", lambda: now + timedelta(seconds=3))
    assert len(receiver.wait_for(1)) == 1
    after = scrape(api)
    assert value(after, "queue_depth") == value(before, "queue_depth")

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("deliveries_total", status="delivered") == 1

    assert moved("event_to_webhook_latency_seconds_count") == 1
    assert moved("event_to_webhook_latency_seconds_sum") == pytest.approx(3.0)
    assert moved("event_to_webhook_latency_seconds_bucket", le="5.0") == 1
    assert moved("event_to_webhook_latency_seconds_bucket", le="2.5") == 0
    assert moved("event_to_slack_latency_seconds_count") == 0


def test_failed_and_dead_deliveries_are_counted_apart(
    api: ApiHarness, now: datetime, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_retry_schedule", "5")  # one retry, then dead
    receiver.failures = 2
    before = scrape(api)
    fire_webhook(api, receiver.url, now)
    dispatch_due(api.db, "test", lambda: now)  # fails: retried in 5 s
    mid = scrape(api)
    assert value(mid, "deliveries_total", status="failed") - value(before, "deliveries_total", status="failed") == 1
    dispatch_due(api.db, "test", lambda: now + timedelta(seconds=6))  # fails again: dead
    after = scrape(api)
    assert value(after, "deliveries_total", status="dead") - value(before, "deliveries_total", status="dead") == 1
    assert value(after, "deliveries_total", status="delivered") == value(before, "deliveries_total", status="delivered")
    assert value(after, "event_to_webhook_latency_seconds_count") == value(
        before, "event_to_webhook_latency_seconds_count"
    )
