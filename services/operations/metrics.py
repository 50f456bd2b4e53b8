"""Every Prometheus metric Leadvane exports, and the text that GET /metrics serves.

The metric objects live here (not in api/) so services, the dispatcher and the scheduler can count without
importing the API. With PROMETHEUS_MULTIPROC_DIR set (several API worker processes, or a separate scheduler
process sharing the directory), each process writes its values to files there and a scrape sums them all;
prometheus_client reads that variable when it is first imported, so it must be set before the process starts.
Counts that depend on a transaction are taken when it commits (on_commit), never for a rolled-back one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from db import models
from services.after_commit import on_commit

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

EVENTS_INGESTED = Counter("events_ingested", "Events ingested (accepted), counted when their transaction commits")
HTTP_REQUESTS = Counter("http_requests", "HTTP requests by status code and method", ["code", "method"])
DELIVERIES = Counter(
    "deliveries", "Delivery attempts by outcome: delivered, failed (retried later) or dead (given up)", ["status"]
)
# From the event's arrival to the receiver's 2xx: seconds when sent at once, up to hours through retries.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0)
SLACK_LATENCY = Histogram(
    "event_to_slack_latency_seconds", "Seconds from an event's arrival to its Slack message being delivered",
    buckets=_LATENCY_BUCKETS,
)
WEBHOOK_LATENCY = Histogram(
    "event_to_webhook_latency_seconds", "Seconds from an event's arrival to its webhook being acknowledged",
    buckets=_LATENCY_BUCKETS,
)
SCHEDULER_JOB = Histogram(
    "scheduler_job_seconds", "Run time of each scheduler job", ["job"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)
# Requests over their unit's limit (observe: passed; enforce: refused with 429).
RATE_LIMIT_EXCEEDED = Counter(
    "rate_limit_exceeded", "Authenticated API requests over their unit's rate limit", ["unit_id", "mode"]
)
LATENCY_BY_CHANNEL = {"slack": SLACK_LATENCY, "webhook": WEBHOOK_LATENCY}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def count_request(status: int, method: str) -> None:
    # Any token is a valid HTTP method: made-up ones share one label instead of growing the series without bound.
    HTTP_REQUESTS.labels(code=str(status), method=method if method in _METHODS else "other").inc()

def count_ingested(session: Session, accepted: int) -> None:
    if accepted:
        on_commit(session, lambda: EVENTS_INGESTED.inc(accepted))


def delivery_started_at(session: Session, delivery_ids: Iterable[str]) -> dict[str, tuple[str, datetime]]:
    """(channel, start) per delivery: when its firing's event was received, or, for a firing without an event
    (decay or window sweeps), when the delivery was written."""
    ids = list(delivery_ids)
    if not ids:
        return {}
    d, f, e = models.Delivery, models.TriggerFiring, models.Event
    rows = session.execute(
        select(d.id, d.channel, func.coalesce(e.received_at, d.created_at))
        .join(f, f.id == d.firing_id)
        .outerjoin(e, e.id == f.event_id)
        .where(d.id.in_(ids))
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def observe_deliveries(
    session: Session, outcomes: list[tuple[str, str]], now: datetime
) -> None:
    """Count recorded delivery outcomes ((delivery id, delivered|failed|dead)) and, for delivered Slack and webhook
    messages, their event-to-delivery latency; all when the recording transaction commits."""
    if not outcomes:
        return
    delivered = [delivery_id for delivery_id, status in outcomes if status == "delivered"]
    starts = delivery_started_at(session, delivered)

    def observe() -> None:
        for _delivery_id, status in outcomes:
            DELIVERIES.labels(status=status).inc()
        for channel, started in starts.values():
            histogram = LATENCY_BY_CHANNEL.get(channel)
            if histogram is not None:
                histogram.observe(max(0.0, (now - started).total_seconds()))

    on_commit(session, observe)


def queue_depth(session: Session, now: datetime) -> int:
    """Outbox deliveries due now: pending and due, or claimed by a sender whose lease ran out."""
    d = models.Delivery
    due = or_(
        and_(d.status == "pending", d.next_attempt_at <= now),
        and_(d.status == "sending", d.lease_until <= now),
    )
    return int(session.scalar(select(func.count()).select_from(d).where(due)) or 0)


class _QueueDepth:
    def __init__(self, depth: int) -> None:
        self.depth = depth

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("queue_depth", "Outbox deliveries due now (pending and due, or lease expired)",
                                value=self.depth)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(depth: int) -> bytes:
    """The text exposition: every process's metrics (multiprocess mode) or this process's, plus queue_depth."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        base = generate_latest(registry)
    else:
        base = generate_latest(REGISTRY)
    extra = CollectorRegistry()
    extra.register(_QueueDepth(depth))
    return base + generate_latest(extra)
