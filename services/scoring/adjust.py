"""Quarantine and surge for events as they arrive (ingest, and the publisher's catch-up of events that arrived
during an aside rescore).

A new event's adjustment depends on its lead's events around it (a burst of a filter's type, the session it
extends), so the lead's stored events in a context window are read and adjusted together with the new ones by the
same vectorised code replay uses (core.replay.Adjustments.of). The window reaches far enough back that every
stored event the new ones can change is adjusted exactly; when one of those changes (an event that completes a
burst quarantines the earlier ones, an event arriving out of order moves later events' surge), the lead is named
in `retro` and the caller rescores it from its log (services.scoring.rescore.rescore_leads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy.orm import Session

from core import replay as vector
from core.model import ScoringModel
from core.profile import PROFILE_EVENT_TYPES
from core.scoring import NO_SURGE, EventFacts, LoggedEvent
from db.types import sqlite_time
from services.context import Tenant

_IN_IDS = 500


@dataclass(frozen=True, slots=True)
class Incoming:
    lead_id: str | None
    event_type: str
    occurred_at: datetime
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Adjustment:
    held: bool = False  # scores nothing
    quarantine: tuple[str, str] | None = None  # (filter id, reason)
    surge_milli: int = NO_SURGE

    @property
    def columns(self) -> dict[str, Any]:
        """The events row's columns for it."""
        return {
            "quarantine_filter_id": self.quarantine[0] if self.quarantine else None,
            "quarantine_reason": self.quarantine[1] if self.quarantine else None,
            "surge_milli": None if self.surge_milli == NO_SURGE else self.surge_milli,
        }


NONE = Adjustment()


@dataclass(frozen=True, slots=True)
class Adjusted:
    events: list[Adjustment]  # aligned with the incoming events
    retro: set[str]  # leads whose stored events' adjustments change: rescore them from the log


def adjust_incoming(
    session: Session,
    tenant: Tenant,
    model: ScoringModel,
    incoming: Sequence[Incoming],
    *,
    stored_upto: int | None = None,
) -> Adjusted:
    """Each incoming event's adjustment under `model`, and the leads to rescore. `stored_upto`: the incoming events
    are already stored with higher seqs (the publisher's catch-up); stored events after it are not context."""
    if not incoming or not model.adjusts_events:
        return Adjusted([NONE] * len(incoming), set())
    activity = [i for i, ev in enumerate(incoming) if ev.event_type not in PROFILE_EVENT_TYPES]
    if len(activity) < len(incoming):  # profile changes are not activity: never adjusted
        inner = adjust_incoming(session, tenant, model, [incoming[i] for i in activity], stored_upto=stored_upto)
        events = [NONE] * len(incoming)
        for i, adjustment in zip(activity, inner.events, strict=True):
            events[i] = adjustment
        return Adjusted(events, inner.retro)
    leads = sorted({ev.lead_id for ev in incoming if ev.lead_id is not None})
    horizon_us = _horizon_us(model)
    context: list[tuple[Any, ...]] = []
    if leads and horizon_us is not None:
        since = min(ev.occurred_at for ev in incoming if ev.lead_id is not None)
        context = _context_rows(session, tenant, leads, since, horizon_us, stored_upto)
    base = (stored_upto or 0) + 1 if stored_upto is not None else 2**62
    logged = [
        LoggedEvent(row[0], row[1], None, EventFacts(row[2], _moment(row[3]), _decoded(row[4]))) for row in context
    ] + [
        LoggedEvent(base + i, ev.lead_id, None, EventFacts(ev.event_type, ev.occurred_at, ev.properties or {}))
        for i, ev in enumerate(incoming)
    ]
    seqs = [ev.seq for ev in logged]
    micros = [vector.to_micros(ev.facts.occurred_at) for ev in logged]
    cols = vector.EventColumns.from_events(logged)
    adjustments = vector.Adjustments.of(model, cols)
    position = np.argsort(np.argsort(np.array(seqs, dtype=np.int64)))  # columns are in seq order: ours -> theirs
    n_context = len(context)

    def adjustment_at(i: int) -> Adjustment:
        k = int(position[i])
        held = bool(adjustments.held.held[k])
        return Adjustment(held, adjustments.held.quarantine_of(k), int(adjustments.surge_milli[k]))

    retro: set[str] = set()
    if context:
        earliest = min(vector.to_micros(ev.occurred_at) for ev in incoming if ev.lead_id is not None)
        reach = _filter_window_us(model)
        for i, row in enumerate(context):
            if micros[i] < earliest - reach or row[1] in retro:
                continue  # before anything the new events can change
            now = adjustment_at(i)
            stored = Adjustment(False, (row[5], row[6]) if row[5] is not None else None, row[7] or NO_SURGE)
            if (now.quarantine, now.surge_milli) != (stored.quarantine, stored.surge_milli):
                retro.add(row[1])
    return Adjusted([adjustment_at(n_context + j) for j in range(len(incoming))], retro)


def _filter_window_us(model: ScoringModel) -> int:
    return max((f.time_window_ms for f in model.filters), default=0) * 1000


def _horizon_us(model: ScoringModel) -> int | None:
    """How far before the earliest new event the context must reach (None: no context needed, only per-event
    adjustments: the bot list and observed-only types). A filter's burst around an event spans its window on
    each side; a session's first `max min_events` events span less than that many timeouts."""
    if not model.filters and not model.surge.active:
        return None
    surge = 0
    if model.surge.active:
        longest = max((b.min_events for b in model.surge.bands), default=1)
        surge = (longest + 1) * model.surge.timeout_us(model.settings.session_timeout_minutes)
    return 2 * _filter_window_us(model) + surge


def _context_rows(
    session: Session, tenant: Tenant, leads: list[str], since: datetime, horizon_us: int, stored_upto: int | None
) -> list[tuple[Any, ...]]:
    """(seq, lead, type, occurred_at, metadata text, quarantine filter, reason, surge milli) of the leads' stored
    events from `horizon_us` before `since` on (profile events are not activity)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    start = since - timedelta(microseconds=horizon_us)
    bound: Any = sqlite_time(start) if sqlite else start
    rows: list[tuple[Any, ...]] = []
    cursor = session.connection().connection.cursor()
    try:
        for i in range(0, len(leads), _IN_IDS):
            chunk = leads[i : i + _IN_IDS]
            sql = (
                "SELECT seq, lead_id, event_type, occurred_at, CAST(metadata AS TEXT), quarantine_filter_id, "
                "quarantine_reason, surge_milli FROM events WHERE unit_id = ? AND lead_id IN "
                f"({', '.join('?' * len(chunk))}) AND occurred_at >= ? AND event_type NOT IN (?, ?)"
            )
            params: list[Any] = [tenant.unit_id, *chunk, bound, *sorted(PROFILE_EVENT_TYPES)]
            if stored_upto is not None:
                sql += " AND seq <= ?"
                params.append(stored_upto)
            cursor.execute(sql if sqlite else sql.replace("?", "%s"), tuple(params))
            rows += cursor.fetchall()
    finally:
        cursor.close()
    return rows


def _moment(value: Any) -> datetime:
    """A stored occurred_at as the raw cursor gives it: SQLite's naive UTC text, PostgreSQL's aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _decoded(text: Any) -> dict[str, Any]:
    if isinstance(text, str):
        return orjson.loads(text) or {}
    return dict(text or {})
