"""Aggregates for the Analytics screen and /v1/analytics: events over time, top event types, score distribution,
top leads and recent gains.

Counts of events read the daily counters (services.insight.daily_counts: events per UTC day, type and channel),
never the event log, so they cost the same at a thousand events or a million. What counters cannot answer reads
an index range of the log: the last 24 hours (unit_id + occurred_at) and the recent gains (a bounded window of it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.profile import PROFILE_EVENT_TYPES
from db import models
from services.context import Tenant
from services.insight.daily_counts import utc_day
from services.scoring.levels import level_for_score, load_levels
from services.scoring.model import live_model


def _primary_ruleset(session: Session, tenant: Tenant, ruleset_id: str | None) -> str | None:
    return ruleset_id or live_model(session, tenant).primary_ruleset_id


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


def score_histogram(
    session: Session, tenant: Tenant, *, upper: int, bins: int = 40, ruleset_id: str | None = None
) -> dict[str, Any]:
    """Lead counts per score bucket from 0 (or the lowest score, if negative) up to `upper`, with outliers clipped.

    Scores at or above `upper` are counted in `above` instead of stretching the axis: a handful of 1,000-point
    leads would otherwise squeeze every level band into the first bar. Returns {"buckets", "above", "max"}.
    """
    ruleset = _primary_ruleset(session, tenant, ruleset_id)
    empty: dict[str, Any] = {"buckets": [], "above": 0, "max": None}
    if ruleset is None:
        return empty
    ls = models.LeadScore
    where = (ls.unit_id == tenant.unit_id, ls.ruleset_id == ruleset)
    low, high = session.execute(select(func.min(ls.score), func.max(ls.score)).where(*where)).one()
    if low is None:
        return empty
    low = min(0, int(low))
    upper = max(upper, low + 1)
    width = max(1, -(-(upper - low) // bins))
    bucket = case((ls.score >= upper, -1), else_=(ls.score - low) // width).label("bucket")
    rows = session.execute(select(bucket, func.count().label("leads")).where(*where).group_by(bucket)).all()
    counts = {int(r.bucket): int(r.leads) for r in rows}
    buckets = [
        {"low": low + b * width, "high": min(upper - 1, low + (b + 1) * width - 1), "leads": counts.get(b, 0)}
        for b in range(-(-(upper - low) // width))
    ]
    return {"buckets": buckets, "above": counts.get(-1, 0), "max": int(high)}


def daily_gains(
    session: Session, tenant: Tenant, lead_ids: Sequence[str], *, start: datetime, end: datetime
) -> dict[str, list[int]]:
    """Per lead, the points gained on each day from start to end (oldest first): a small trend line."""
    days = max(1, (end.date() - start.date()).days + 1)
    out = {lead_id: [0] * days for lead_id in lead_ids}
    if not lead_ids:
        return out
    ev = models.Event
    day = utc_day(session, ev.occurred_at).label("day")
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


def _counter_cells(
    session: Session, tenant: Tenant, first: date | None = None, last: date | None = None
) -> list[Any]:
    """Counter rows (day, event_type, channel, events) of the unit, days from `first` to `last` included."""
    c = models.EventCountDaily
    stmt = select(c.day, c.event_type, c.channel, c.events).where(c.unit_id == tenant.unit_id)
    if first is not None:
        stmt = stmt.where(c.day >= first)
    if last is not None:
        stmt = stmt.where(c.day <= last)
    return list(session.execute(stmt).all())


def overview(session: Session, tenant: Tenant, *, start: datetime, end: datetime, limit: int = 10) -> dict[str, Any]:
    """What the Analytics screen shows for the UTC days from `start` to `end` (exclusive), from the daily counters.

    {"totals": {"events"}, "by_type": [{"day","event_type","events"}], "by_channel": [{"day","channel","events"}],
    "top_types": [{"event_type","events"}] (the `limit` most frequent)}. Profile changes are not counted."""
    first, last = start.astimezone(UTC).date(), (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    by_type: dict[tuple[str, str], int] = {}
    by_channel: dict[tuple[str, str], int] = {}
    types: dict[str, int] = {}
    for c in _counter_cells(session, tenant, first, last):
        day, n = c.day.isoformat(), int(c.events)
        by_type[(day, c.event_type)] = by_type.get((day, c.event_type), 0) + n
        by_channel[(day, c.channel)] = by_channel.get((day, c.channel), 0) + n
        types[c.event_type] = types.get(c.event_type, 0) + n
    return {
        "totals": {"events": sum(types.values())},
        "by_type": [{"day": d, "event_type": k, "events": n} for (d, k), n in sorted(by_type.items())],
        "by_channel": [{"day": d, "channel": k, "events": n} for (d, k), n in sorted(by_channel.items())],
        "top_types": [
            {"event_type": k, "events": n} for k, n in sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        ],
    }


def totals(session: Session, tenant: Tenant) -> dict[str, Any]:
    """GET /v1/analytics: every counted event of the unit, whole history.

    {"totals": {"events", "event_types", "channels", "leads", "accounts", "first_day", "last_day"},
     "by_type": {event type: events}}. Leads are the unit's leads not merged into another; accounts all of its
    accounts; first_day/last_day the UTC days of the oldest and newest counted event (None without events)."""
    by_type: dict[str, int] = {}
    channels: set[str] = set()
    days: list[date] = []
    for c in _counter_cells(session, tenant):
        by_type[c.event_type] = by_type.get(c.event_type, 0) + int(c.events)
        channels.add(c.channel)
        days.append(c.day)
    lead, account = models.Lead, models.Account
    leads = session.scalar(
        select(func.count()).select_from(lead).where(lead.unit_id == tenant.unit_id, lead.merged_into.is_(None))
    )
    accounts = session.scalar(select(func.count()).select_from(account).where(account.unit_id == tenant.unit_id))
    return {
        "totals": {
            "events": sum(by_type.values()), "event_types": len(by_type), "channels": len(channels),
            "leads": int(leads or 0), "accounts": int(accounts or 0),
            "first_day": min(days) if days else None, "last_day": max(days) if days else None,
        },
        "by_type": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def stats(session: Session, tenant: Tenant, *, now: datetime, days: int = 30, limit: int = 10) -> dict[str, Any]:
    """GET /v1/analytics/stats.

    last_24h: {"events", "active_leads", "points"} of the events that occurred in the 24 hours before `now` (profile
    changes aside; points: the sum of their primary-ruleset deltas), read from the log's (unit, occurred_at) index.
    top_events: the `limit` most frequent event types of the last `days` UTC days (today included), from the
    counters: [{"event_type", "events"}]."""
    ev = models.Event
    row = session.execute(
        select(func.count(), func.count(func.distinct(ev.lead_id)), func.coalesce(func.sum(ev.score_delta), 0))
        .where(ev.unit_id == tenant.unit_id, ev.occurred_at >= now - timedelta(hours=24), ev.occurred_at <= now,
               ev.event_type.not_in(PROFILE_EVENT_TYPES))
    ).one()
    today = now.astimezone(UTC).date()
    types: dict[str, int] = {}
    for c in _counter_cells(session, tenant, today - timedelta(days=days - 1), today):
        types[c.event_type] = types.get(c.event_type, 0) + int(c.events)
    return {
        "last_24h": {"events": int(row[0]), "active_leads": int(row[1]), "points": int(row[2])},
        "top_events": [
            {"event_type": k, "events": n} for k, n in sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        ],
    }


def top_leads(session: Session, tenant: Tenant, *, limit: int = 10) -> list[dict[str, Any]]:
    """GET /v1/analytics/top-leads: the unit's leads with the highest primary score (merged leads aside), highest
    first: [{"id", "email", "name", "score", "level"}] (level: the engagement level's name, None outside every band)."""
    ruleset = live_model(session, tenant).primary_ruleset_id
    if ruleset is None:
        return []
    ls, lead = models.LeadScore, models.Lead
    rows = session.execute(
        select(lead.id, lead.email, lead.first_name, lead.last_name, ls.score)
        .join(lead, lead.id == ls.lead_id)
        .where(ls.unit_id == tenant.unit_id, ls.ruleset_id == ruleset, lead.merged_into.is_(None))
        .order_by(ls.score.desc(), lead.id)
        .limit(limit)
    ).all()
    bands = load_levels(session, tenant)
    return [
        {"id": r.id, "email": r.email, "name": _name(r.first_name, r.last_name), "score": int(r.score),
         "level": (level_for_score(int(r.score), bands) or {}).get("name")}
        for r in rows
    ]


def recent_gains(
    session: Session, tenant: Tenant, *, now: datetime, days: int = 7, limit: int = 10
) -> list[dict[str, Any]]:
    """The leads whose primary score rose most over the `days` before `now`: the sum of the score deltas of their
    events that occurred in that window (decays included, so a gain is net), positive sums only, biggest first:
    [{"id", "email", "name", "gained", "events"}] (events: how many of the lead's events the window holds).

    One grouped read of a range of the (unit_id, occurred_at) index; names are read for the `limit` leads only."""
    ev, lead = models.Event, models.Lead
    gained = func.sum(ev.score_delta)
    top = session.execute(
        select(ev.lead_id, gained.label("gained"), func.count().label("n"))
        .where(ev.unit_id == tenant.unit_id, ev.occurred_at >= now - timedelta(days=days), ev.occurred_at <= now,
               ev.lead_id.is_not(None), ev.event_type.not_in(PROFILE_EVENT_TYPES))
        .group_by(ev.lead_id)
        .having(gained > 0)
        .order_by(gained.desc(), ev.lead_id)
        .limit(limit)
    ).all()
    people = {
        r.id: r for r in session.execute(
            select(lead.id, lead.email, lead.first_name, lead.last_name)
            .where(lead.unit_id == tenant.unit_id, lead.id.in_([r.lead_id for r in top]))
        )
    } if top else {}
    out = []
    for r in top:
        person = people.get(r.lead_id)
        out.append({
            "id": r.lead_id, "email": person.email if person else None,
            "name": _name(person.first_name, person.last_name) if person else None,
            "gained": int(r.gained), "events": int(r.n),
        })
    return out


def _name(first: str | None, last: str | None) -> str | None:
    return " ".join(p for p in (first, last) if p) or None
