"""Aggregates for the Analytics screen: events over time, top event types, score distribution, recent gains.

Each is one grouped query over indexed columns (unit_id + occurred_at, unit_id + ruleset_id + score),
so the screen stays fast on a million events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant, load_scoring_context

GroupBy = Literal["event_type", "channel"]


def _day(session: Session, column: Any) -> ColumnElement[str]:
    """The UTC calendar day of a timestamp column as 'YYYY-MM-DD' on both backends."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(column, 1, 10)  # stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _primary_ruleset(session: Session, tenant: Tenant, ruleset_id: str | None) -> str | None:
    return ruleset_id or load_scoring_context(session, tenant).primary_ruleset_id


def events_over_time(
    session: Session, tenant: Tenant, *, start: datetime, end: datetime, group_by: GroupBy = "event_type"
) -> list[dict[str, Any]]:
    """Event counts per day and event type (or channel) with start <= occurred_at < end."""
    ev = models.Event
    key = ev.event_type if group_by == "event_type" else ev.channel
    day = _day(session, ev.occurred_at).label("day")
    rows = session.execute(
        select(day, key.label("key"), func.count().label("events"))
        .where(ev.unit_id == tenant.unit_id, ev.occurred_at >= start, ev.occurred_at < end)
        .group_by(day, key)
        .order_by(day, key)
    ).all()
    return [{"day": r.day, group_by: r.key, "events": int(r.events)} for r in rows]


def top_event_types(
    session: Session, tenant: Tenant, *, start: datetime, end: datetime, limit: int = 10
) -> list[dict[str, Any]]:
    ev = models.Event
    rows = session.execute(
        select(ev.event_type, func.count().label("events"), func.sum(ev.score_delta).label("points"))
        .where(ev.unit_id == tenant.unit_id, ev.occurred_at >= start, ev.occurred_at < end)
        .group_by(ev.event_type)
        .order_by(func.count().desc(), ev.event_type)
        .limit(limit)
    ).all()
    return [{"event_type": r.event_type, "events": int(r.events), "points": int(r.points or 0)} for r in rows]


def score_distribution(
    session: Session, tenant: Tenant, *, ruleset_id: str | None = None, bins: int = 30
) -> list[dict[str, Any]]:
    """Lead counts per score bucket in one ruleset (the primary by default): [{"low","high","leads"}]."""
    ruleset = _primary_ruleset(session, tenant, ruleset_id)
    if ruleset is None:
        return []
    ls = models.LeadScore
    where = (ls.unit_id == tenant.unit_id, ls.ruleset_id == ruleset)
    low, high = session.execute(select(func.min(ls.score), func.max(ls.score)).where(*where)).one()
    if low is None:
        return []
    width = max(1, -(-(int(high) - int(low) + 1) // bins))
    bucket = ((ls.score - int(low)) // width).label("bucket")
    rows = session.execute(select(bucket, func.count().label("leads")).where(*where).group_by(bucket)).all()
    return [
        {
            "low": int(low) + int(r.bucket) * width,
            "high": int(low) + (int(r.bucket) + 1) * width - 1,
            "leads": int(r.leads),
        }
        for r in sorted(rows, key=lambda r: int(r.bucket))
    ]


def recent_score_gains(
    session: Session, tenant: Tenant, *, start: datetime, end: datetime, limit: int = 10
) -> list[dict[str, Any]]:
    """Leads whose primary score rose most over the period (sum of their events' deltas)."""
    ev, lead = models.Event, models.Lead
    gained = func.sum(ev.score_delta).label("gained")
    sub = (
        select(ev.lead_id, gained, func.count().label("events"))
        .where(ev.unit_id == tenant.unit_id, ev.occurred_at >= start, ev.occurred_at < end, ev.lead_id.is_not(None))
        .group_by(ev.lead_id)
        .order_by(gained.desc())
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(sub.c.lead_id, sub.c.gained, sub.c.events, lead.email, lead.first_name, lead.last_name)
        .join(lead, lead.id == sub.c.lead_id)
        .order_by(sub.c.gained.desc())
    ).all()
    return [
        {
            "lead_id": r.lead_id,
            "name": " ".join(p for p in (r.first_name, r.last_name) if p) or (r.email or r.lead_id),
            "email": r.email,
            "gained": int(r.gained or 0),
            "events": int(r.events),
        }
        for r in rows
        if (r.gained or 0) > 0
    ]


def totals(session: Session, tenant: Tenant, *, start: datetime, end: datetime) -> dict[str, int]:
    ev = models.Event
    row = session.execute(
        select(func.count().label("events"), func.count(func.distinct(ev.lead_id)).label("leads"))
        .where(ev.unit_id == tenant.unit_id, ev.occurred_at >= start, ev.occurred_at < end)
    ).one()
    return {"events": int(row.events), "active_leads": int(row.leads)}


def daily_gains(
    session: Session, tenant: Tenant, lead_ids: Sequence[str], *, start: datetime, end: datetime
) -> dict[str, list[int]]:
    """Per lead, the points gained on each day from start to end (oldest first): a small trend line."""
    days = max(1, (end.date() - start.date()).days + 1)
    out = {lead_id: [0] * days for lead_id in lead_ids}
    if not lead_ids:
        return out
    ev = models.Event
    day = _day(session, ev.occurred_at).label("day")
    rows = session.execute(
        select(ev.lead_id, day, func.sum(ev.score_delta).label("gained"))
        .where(ev.unit_id == tenant.unit_id, ev.lead_id.in_(list(lead_ids)))
        .where(ev.occurred_at >= start, ev.occurred_at < end)
        .group_by(ev.lead_id, day)
    ).all()
    first = start.date()
    for r in rows:
        index = (date.fromisoformat(r.day) - first).days
        if 0 <= index < days:
            out[r.lead_id][index] = int(r.gained or 0)
    return out
