"""Surge metrics of a unit (GET /v1/ous/{ouId}/surge, the Analytics page's surge chart).

Surge activity is the unit's boosted events: events whose surge multiplier is above 1.0 (`surge_milli > 1000`,
written by scoring) with `start <= occurred_at < end`, on `channel` when given. Figures:

- `totals.boosted_events`: how many; `totals.leads`: how many distinct leads they belong to; `totals.boost_points`:
  the points surge added to the primary ruleset's scores through them (the `surge_boost` of each event's primary
  explanation); `totals.surge_events`: surge trigger firings with `start <= fired_at < end`.
- `series`: boosted events per interval (15m, 1h, 1d), every bucket from the one holding `start` to the one
  holding the last instant before `end`, zeros included; buckets are aligned to the interval in UTC (hours on the
  hour, days at midnight) and `at` is a bucket's start. `peak`: the first bucket with the most (at null when none).
- `channels`: boosted events per channel, most first.

One grouped scan of the range on the (unit_id, occurred_at) index; at most MAX_BUCKETS buckets (422 beyond).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, func, literal, select, union
from sqlalchemy.orm import Session

from core.surge import NO_SURGE
from db import models
from services.context import Tenant
from services.errors import InvalidInput
from services.scoring.model import live_model
from services.tenancy import policy
from services.tenancy.policy import Action
from services.tenancy.units import unit_tenant
from services.triggers import surge as surge_triggers
from services.triggers.destinations import TEST_SUBJECT

INTERVALS: dict[str, int] = {"15m": 900, "1h": 3600, "1d": 86400}
MAX_BUCKETS = 2000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bucket(session: Session, column: Any, step: int) -> ColumnElement[int]:
    """The interval number (seconds since the epoch // step) of a UTC timestamp column, on both backends."""
    if session.get_bind().dialect.name == "sqlite":
        seconds: Any = cast(func.strftime("%s", column), BigInteger)  # stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' UTC
        return seconds // step
    return cast(func.floor(func.extract("epoch", column) / step), BigInteger)


def bucket_count(start: datetime, end: datetime, interval: str) -> int:
    step = INTERVALS[interval]
    first = int((start - _EPOCH).total_seconds()) // step
    last = int((end - timedelta(microseconds=1) - _EPOCH).total_seconds()) // step
    return last - first + 1


def surge_metrics(
    session: Session, tenant: Tenant, ou_id: str, *, start: datetime, end: datetime, interval: str = "1h",
    channel: str | None = None,
) -> dict[str, Any]:
    """The unit `ou_id`'s surge figures over [start, end) (see the module's note); the caller must be able to
    read that unit (NotFound otherwise)."""
    inside = unit_tenant(session, tenant, ou_id)
    policy.require(inside, Action.READ)
    if interval not in INTERVALS:
        raise InvalidInput("interval", f"must be one of {', '.join(INTERVALS)}")
    if end <= start:
        raise InvalidInput("end", "must be after start")
    buckets = bucket_count(start, end, interval)
    if buckets > MAX_BUCKETS:
        raise InvalidInput("interval", f"the range makes {buckets} {interval} buckets; at most {MAX_BUCKETS}: "
                                       "choose a longer interval or a shorter range")
    step = INTERVALS[interval]
    e = models.Event
    where: list[Any] = [e.unit_id == inside.unit_id, e.occurred_at >= start, e.occurred_at < end,
                        e.surge_milli > NO_SURGE]
    if channel:
        where.append(e.channel == channel)
    primary = live_model(session, inside).primary_ruleset_id
    boost: Any = (
        func.coalesce(func.sum(cast(e.explanation[(primary, "surge_boost")].as_string(), BigInteger)), 0)
        if primary else literal(0)
    )
    # One scan of the range: boosted events and boost points per (bucket, channel, lead); the rest is summed here.
    bucket = _bucket(session, e.occurred_at, step).label("bucket")
    grouped = session.execute(
        select(bucket, e.channel, e.lead_id, func.count(), boost).where(*where).group_by(bucket, e.channel, e.lead_id)
    ).all()
    counts: dict[int, int] = defaultdict(int)
    per_channel: dict[str, int] = defaultdict(int)
    leads: set[str | None] = set()
    boosted = points = 0
    for b, channel_name, lead_id, n, added in grouped:
        counts[int(b)] += int(n)
        per_channel[channel_name] += int(n)
        leads.add(lead_id)
        boosted += int(n)
        points += int(added or 0)
    first = int((start - _EPOCH).total_seconds()) // step
    buckets_at = [(_EPOCH + timedelta(seconds=(first + i) * step), counts.get(first + i, 0)) for i in range(buckets)]
    top = max(buckets_at, key=lambda p: p[1])  # the first of the largest
    peak = {"at": top[0], "count": top[1]} if top[1] else {"at": None, "count": 0}
    channels = sorted(per_channel.items(), key=lambda r: (-r[1], r[0]))
    return {
        "ou_id": inside.unit_id, "start": start, "end": end, "interval": interval,
        "totals": {
            "surge_events": surge_triggers.count_firings(session, inside, start=start, end=end, channel=channel),
            "leads": len(leads - {None}), "boosted_events": boosted, "boost_points": points,
        },
        "peak": peak,
        "channels": [{"channel": c, "count": n} for c, n in channels],
        "series": [{"at": at, "count": n} for at, n in buckets_at],
    }


SURGING_FOR = timedelta(hours=24)


def surging_accounts(session: Session, tenant: Tenant, account_ids: Sequence[str], *, now: datetime) -> set[str]:
    """The accounts among `account_ids` that are surging: one of their leads has a boosted event (surge multiplier
    above 1.0) or a surge trigger firing in the 24 hours up to `now`."""
    ids = sorted(set(account_ids))
    if not ids:
        return set()
    since = now - SURGING_FOR
    lead, e, f = models.Lead, models.Event, models.TriggerFiring
    found: set[str] = set()
    for at in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[at:at + 500]
        boosted = (
            select(lead.account_id).join(e, e.lead_id == lead.id)
            .where(lead.unit_id == tenant.unit_id, lead.account_id.in_(chunk), e.unit_id == tenant.unit_id,
                   e.occurred_at >= since, e.occurred_at <= now, e.surge_milli > NO_SURGE)
        )
        fired = (
            select(lead.account_id).join(f, f.lead_id == lead.id)
            .where(lead.unit_id == tenant.unit_id, lead.account_id.in_(chunk), f.unit_id == tenant.unit_id,
                   f.kind == surge_triggers.KIND, f.subject != TEST_SUBJECT, f.fired_at >= since, f.fired_at <= now)
        )
        found.update(a for a in session.scalars(union(boosted, fired)) if a)
    return found
