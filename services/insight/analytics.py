"""Aggregates for the Analytics screen: events over time, top event types, score distribution, recent gains.

Each is a grouped query filtered on indexed columns (unit_id + occurred_at, unit_id + ruleset_id + score);
the per-period figures share two scans of the event log (see `overview`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from core.profile import PROFILE_EVENT_TYPES
from db import models
from services.context import Tenant
from services.scoring.model import live_model


def _day(session: Session, column: Any) -> ColumnElement[str]:
    """The UTC calendar day of a timestamp column as 'YYYY-MM-DD' on both backends."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(column, 1, 10)  # stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


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


def overview(session: Session, tenant: Tenant, *, start: datetime, end: datetime, limit: int = 10) -> dict[str, Any]:
    """Everything the Analytics screen shows for a period, in two scans of the event log instead of five.

    One grouped query by (day, event type, channel) gives the totals, both time series and the top event
    types; one grouped query by lead gives the active-lead count and the biggest gains.
    """
    ev, lead = models.Event, models.Lead
    # Profile changes are events of the log but not engagement: analytics counts engagement only.
    in_range = (
        ev.unit_id == tenant.unit_id, ev.occurred_at >= start, ev.occurred_at < end,
        ev.event_type.not_in(PROFILE_EVENT_TYPES),
    )
    day = _day(session, ev.occurred_at).label("day")
    cells = session.execute(
        select(day, ev.event_type, ev.channel, func.count().label("n"), func.sum(ev.score_delta).label("points"))
        .where(*in_range)
        .group_by(day, ev.event_type, ev.channel)
    ).all()
    by_type: dict[tuple[str, str], int] = {}
    by_channel: dict[tuple[str, str], int] = {}
    types: dict[str, list[int]] = {}
    for c in cells:
        by_type[(c.day, c.event_type)] = by_type.get((c.day, c.event_type), 0) + int(c.n)
        by_channel[(c.day, c.channel)] = by_channel.get((c.day, c.channel), 0) + int(c.n)
        slot = types.setdefault(c.event_type, [0, 0])
        slot[0] += int(c.n)
        slot[1] += int(c.points or 0)
    per_lead = session.execute(
        select(ev.lead_id, func.sum(ev.score_delta).label("gained"), func.count().label("n"))
        .where(*in_range, ev.lead_id.is_not(None))
        .group_by(ev.lead_id)
    ).all()
    top = sorted((r for r in per_lead if (r.gained or 0) > 0), key=lambda r: (-int(r.gained), r.lead_id))[:limit]
    names = {
        r.id: r
        for r in session.execute(
            select(lead.id, lead.email, lead.first_name, lead.last_name).where(
                lead.unit_id == tenant.unit_id, lead.id.in_([r.lead_id for r in top])
            )
        )
    }
    gains = []
    for r in top:
        person = names.get(r.lead_id)
        full = " ".join(p for p in (person.first_name, person.last_name) if p) if person else ""
        gains.append({
            "lead_id": r.lead_id, "name": full or (person.email if person else None) or r.lead_id,
            "email": person.email if person else None, "gained": int(r.gained), "events": int(r.n),
        })
    return {
        "totals": {"events": sum(int(c.n) for c in cells), "active_leads": len(per_lead)},
        "by_type": [{"day": d, "event_type": k, "events": n} for (d, k), n in sorted(by_type.items())],
        "by_channel": [{"day": d, "channel": k, "events": n} for (d, k), n in sorted(by_channel.items())],
        "top_types": [
            {"event_type": k, "events": n, "points": p}
            for k, (n, p) in sorted(types.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
        ],
        "gains": gains,
    }
