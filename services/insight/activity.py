"""A lead's activity stream (GET /v1/leads/{id}/activity): its engagement events in a time range, filtered by
channel, score delta and processing latency, newest first.

The reference's stream also merges orders; Leadvane keeps no orders, so `orders` is always empty and `timeline` is
the events themselves (each marked `type: "event"`), in the same order. Profile changes are not activity and are
left out. A merged lead's id reads as the lead it was merged into (services.people.leads.require_lead).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.profile import PROFILE_EVENT_TYPES
from db import models
from services.context import Tenant
from services.errors import InvalidInput
from services.people.leads import named_range, require_lead

ActivityRange = Literal["all", "last_7d", "last_24h", "last_30d", "last_90d", "today", "yesterday", "custom"]
ActivityChannel = Literal["all", "web", "email", "slack", "webinar", "crm", "system"]
MAX_EVENTS = 1_000
_SCAN_CHUNK = 2_000


def latency_ms(occurred_at: datetime, received_at: datetime) -> int:
    """Milliseconds from when an event happened to when Leadvane received it (negative if sent ahead of time)."""
    return int((received_at - occurred_at).total_seconds() * 1000)


def time_window(
    range_: str, now: datetime, start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """[start, end) of a named range (services.people.leads.named_range); "custom" takes `start` and `end`, both
    required, start not after end (end included)."""
    if range_ != "custom":
        return named_range(range_, now)
    missing = [name for name, value in (("start", start), ("end", end)) if value is None]
    if missing:
        raise InvalidInput(missing[0], "start and end are required when range=custom")
    assert start is not None and end is not None
    if start > end:
        raise InvalidInput("start", "must not be after end")
    return start, end


def lead_activity(
    session: Session,
    tenant: Tenant,
    lead_id: str,
    *,
    now: datetime,
    range_: ActivityRange = "last_7d",
    start: datetime | None = None,
    end: datetime | None = None,
    channel: ActivityChannel = "all",
    min_score: int | None = None,
    max_latency: int | None = None,
    has_delta: bool | None = None,
    limit: int = MAX_EVENTS,
) -> dict[str, Any]:
    """{"events", "orders": [], "timeline"}: at most `limit` of the lead's events matching every filter, newest first.

    min_score: events whose primary score delta is at least it; max_latency: events received at most that many ms
    after they occurred; has_delta: only events with (True) or without (False) a primary score delta."""
    if min_score is not None and min_score < 0:
        raise InvalidInput("minScore", "must be at least 0")
    if max_latency is not None and max_latency < 1:
        raise InvalidInput("maxLatency", "must be at least 1")
    window_start, window_end = time_window(range_, now, start, end)
    lead = require_lead(session, tenant, lead_id)
    ev = models.Event
    conditions: list[Any] = [
        ev.unit_id == tenant.unit_id, ev.lead_id == lead.id, ev.event_type.not_in(PROFILE_EVENT_TYPES)
    ]
    if window_start is not None:
        conditions.append(ev.occurred_at >= window_start)
    if window_end is not None:
        conditions.append(ev.occurred_at <= window_end if range_ == "custom" else ev.occurred_at < window_end)
    if channel != "all":
        conditions.append(ev.channel == channel)
    if min_score is not None:
        conditions.append(ev.score_delta >= min_score)
    if has_delta is not None:
        conditions.append(ev.score_delta != 0 if has_delta else ev.score_delta == 0)
    stmt = (
        select(ev.id, ev.seq, ev.event_type, ev.channel, ev.occurred_at, ev.received_at, ev.score_delta,
               ev.metadata_, ev.quarantine_filter_id, ev.quarantine_reason)
        .where(*conditions)
        .order_by(ev.occurred_at.desc(), ev.seq.desc())
    )
    events: list[dict[str, Any]] = []
    offset = 0
    # Latency is filtered here, the rest in SQL: read newest first in chunks until `limit` events pass.
    while len(events) < limit:
        rows = session.execute(stmt.limit(_SCAN_CHUNK).offset(offset)).all()
        for r in rows:
            latency = latency_ms(r.occurred_at, r.received_at)
            if max_latency is not None and latency > max_latency:
                continue
            events.append({
                "id": r.id, "event_type": r.event_type, "channel": r.channel, "occurred_at": r.occurred_at,
                "received_at": r.received_at, "latency_ms": latency, "score_delta": int(r.score_delta),
                "metadata": r.metadata_ or {}, "quarantined": r.quarantine_filter_id is not None,
                "quarantine_filter_id": r.quarantine_filter_id, "quarantine_reason": r.quarantine_reason,
            })
            if len(events) == limit:
                break
        if len(rows) < _SCAN_CHUNK:
            break
        offset += _SCAN_CHUNK
    return {"events": events, "orders": [], "timeline": [{"type": "event", **e} for e in events]}
