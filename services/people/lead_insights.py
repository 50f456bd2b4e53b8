"""Why a lead is where it is: per lead, the 7-day change of its score and the event type that drove it most.

One grouped query over the event log for a whole page of leads (lead, event type over the window), on the
(unit_id, lead_id, occurred_at) path; no query per lead. The points are the primary ruleset's score_delta
that each event stored, so decay drops count as the "DECAY" type (shown as "Decay").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.scoring import DECAY_EVENT_TYPE
from db import models
from services.context import Tenant

_IN_CHUNK = 500  # bound the IN list (SQLite's variable limit, PostgreSQL's plan size)


@dataclass(frozen=True, slots=True)
class LeadInsight:
    lead_id: str
    change: int  # score points gained (or lost) in the window
    driver: str | None  # the event type that added the most points in the window (None: nothing did)
    driver_points: int
    events: int  # events in the window, decay drops included


def event_label(event_type: str) -> str:
    """'demo_request' -> 'Demo request', 'DECAY' -> 'Decay': what a person reads instead of an identifier."""
    if event_type == DECAY_EVENT_TYPE:
        return "Decay"
    text = event_type.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else event_type


def recent_drivers(
    session: Session, tenant: Tenant, lead_ids: Sequence[str], *, now: datetime, days: int = 7
) -> dict[str, LeadInsight]:
    """For each lead: points gained in the last `days` days and its top driver in that window."""
    ev = models.Event
    since = now - timedelta(days=days)
    totals: dict[str, list[int]] = {lead_id: [0, 0] for lead_id in lead_ids}  # change, events
    best: dict[str, tuple[int, str]] = {}  # lead -> (-points, event type): the smallest is the top driver
    ids = list(dict.fromkeys(lead_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        rows = session.execute(
            select(ev.lead_id, ev.event_type, func.sum(ev.score_delta).label("points"), func.count().label("n"))
            .where(ev.unit_id == tenant.unit_id, ev.lead_id.in_(ids[start : start + _IN_CHUNK]))
            .where(ev.occurred_at >= since, ev.occurred_at <= now)
            .group_by(ev.lead_id, ev.event_type)
        )
        for lead_id, event_type, points, count in rows:
            if lead_id is None:  # the IN list holds lead ids only; this keeps the type checker honest
                continue
            points = int(points or 0)
            slot = totals[lead_id]
            slot[0] += points
            slot[1] += int(count)
            # The largest gain wins; ties go to the alphabetically first type so the hint is stable.
            if points > 0 and (lead_id not in best or (-points, event_type) < best[lead_id]):
                best[lead_id] = (-points, event_type)
    return {
        lead_id: LeadInsight(
            lead_id, change, best[lead_id][1] if lead_id in best else None, -best[lead_id][0] if lead_id in best else 0,
            events,
        )
        for lead_id, (change, events) in totals.items()
    }


def describe(insight: LeadInsight | None, days: int = 7) -> str:
    """One short line for a table cell: '+42 in 7d · mostly Demo request (+30)'."""
    if insight is None or (insight.events == 0 and insight.change == 0):
        return f"no activity in {days}d"
    line = f"{insight.change:+d} in {days}d"
    if insight.driver is not None:
        line += f" · mostly {event_label(insight.driver)} ({insight.driver_points:+d})"
    elif insight.change < 0:
        line += " · decay"
    return line
