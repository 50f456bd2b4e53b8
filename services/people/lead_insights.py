"""Why a lead is where it is: per lead, the 7-day change of its score and the event type that drove it most.

One grouped query over the event log for a whole page of leads (lead, event type over the window), on the
(unit_id, lead_id, occurred_at) path; no query per lead. The points are the primary ruleset's score_delta
that each event stored, so decay drops count as the "DECAY" type (shown as "Decay").

`score_explanation` answers GET /v1/leads/{lead_id}/explanation: one lead's top rules over a window of hours, the
primary ruleset's rule weights now, what decay took, and what surge added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.profile import PROFILE_EVENT_TYPES
from core.scoring import DECAY_EVENT_TYPE
from core.surge import NO_SURGE
from db import models
from services.context import Tenant
from services.errors import InvalidInput
from services.people.leads import require_lead
from services.scoring import rules as rule_service
from services.scoring.model import live_model

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
    if event_type in PROFILE_EVENT_TYPES:
        return "Profile update"
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
            .where(ev.occurred_at >= since, ev.occurred_at <= now, ev.event_type.not_in(PROFILE_EVENT_TYPES))
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


# --- score explanation (GET /v1/leads/{lead_id}/explanation) --------------------------------------------------------

MAX_EXPLANATION_HOURS = 8760  # one year
TOP_DRIVERS = 10


@dataclass(frozen=True, slots=True)
class Driver:
    rule_id: str
    event_type: str
    points: int  # the sum of the rule's weight over the lead's events in the window it matched
    count: int  # how many of those events it matched


@dataclass(frozen=True, slots=True)
class RuleWeight:
    rule_id: str
    event_type: str
    weight: int
    conditions: list[dict[str, Any]] | None
    active: bool  # switched on and inside its start_at/end_at window now: it scores an event arriving now


@dataclass(frozen=True, slots=True)
class SurgeBoost:
    """One event scored inside a surge (multiplier above 1.0) and the points the surge added to the primary score."""

    event_id: str
    event_type: str
    occurred_at: datetime
    multiplier: float
    boost: int


@dataclass(frozen=True, slots=True)
class ScoreExplanation:
    top_drivers: list[Driver]
    snapshot: list[RuleWeight]
    decay_applied: int  # points DECAY events took off the primary score in the window: 0 or negative
    range_hours: int
    surge_boost: list[SurgeBoost] = field(default_factory=list)  # the window's boosted events, oldest first
    surge_total: int = 0  # the points surge added to the primary score in the window
    surge_event_count: int = 0  # the window's boosted events


def score_explanation(
    session: Session, tenant: Tenant, lead_id: str, *, now: datetime, hours: int = 24
) -> ScoreExplanation:
    """Why the lead's primary score moved in the last `hours` hours (events with now - hours <= occurred_at <= now).

    `top_drivers`: the primary ruleset's rules that gave the lead the most points in the window, read from the
    per-event explanations stored when each event was scored (so they are the rules as they were then), summed
    per rule, largest first, at most 10; rules whose points add up to 0 are left out. `snapshot`: the primary
    ruleset's rules as they are now. `decay_applied`: the points DECAY events actually took off the primary score
    in the window (after - before, so a drop stopped by the floor at 0 counts only what it took), 0 or negative.
    `surge_boost`: the window's boosted events (surge multiplier above 1.0), each with its multiplier and the points
    the surge added to the primary score (`surge_boost` of its stored explanation); `surge_total` sums those points
    and `surge_event_count` counts the events.
    """
    if not 1 <= hours <= MAX_EXPLANATION_HOURS:
        raise InvalidInput("hours", f"must be between 1 and {MAX_EXPLANATION_HOURS}")
    lead_id = require_lead(session, tenant, lead_id).id  # a merged id reads as the lead it was merged into
    primary = live_model(session, tenant).primary_ruleset_id
    if primary is None:
        return ScoreExplanation([], [], 0, hours)
    ev = models.Event
    rows = session.execute(
        select(ev.id, ev.event_type, ev.occurred_at, ev.surge_milli, ev.explanation)
        .where(ev.unit_id == tenant.unit_id, ev.lead_id == lead_id)
        .where(ev.occurred_at >= now - timedelta(hours=hours), ev.occurred_at <= now)
        .order_by(ev.seq)
    )
    totals: dict[tuple[str, str], list[int]] = {}  # (rule_id, event_type) -> [points, count]
    decay = 0
    surges: list[SurgeBoost] = []
    for event_id, event_type, occurred_at, surge_milli, explanation in rows:
        info = (explanation or {}).get(primary) or {}
        if surge_milli is not None and surge_milli > NO_SURGE:
            surges.append(SurgeBoost(event_id, event_type, occurred_at, surge_milli / 1000,
                                     int(info.get("surge_boost") or 0)))
        if event_type == DECAY_EVENT_TYPE:
            before, after = info.get("before"), info.get("after")
            taken = int(after) - int(before) if before is not None and after is not None else info.get("delta")
            decay += int(taken or 0)
            continue
        for rule in info.get("rules") or []:
            rule_id = rule.get("rule_id")
            if not rule_id:
                continue
            slot = totals.setdefault((str(rule_id), str(rule.get("event_type") or event_type)), [0, 0])
            slot[0] += int(rule.get("weight") or 0)
            slot[1] += 1
    drivers = [Driver(rid, et, points, count) for (rid, et), (points, count) in totals.items() if points]
    drivers.sort(key=lambda d: (-d.points, d.event_type, d.rule_id))
    snapshot = [
        RuleWeight(
            rule.id, rule.event_type, rule.weight, rule.conditions or None,
            rule.active
            and (rule.start_at is None or rule.start_at <= now)
            and (rule.end_at is None or now < rule.end_at),
        )
        for rule in rule_service.list_rules(session, tenant, primary)
    ]
    return ScoreExplanation(drivers[:TOP_DRIVERS], snapshot, min(decay, 0), hours, surges,
                            sum(s.boost for s in surges), len(surges))
