"""A unit's usage in one calendar month (UTC): events ingested, API requests, deliveries, leads and accounts.

Events are counted by `received_at` (when Leadvane took them in, not when they happened); system adjustments
(decay drops, event type DECAY) are not something a caller sent, so they are counted apart as `system_events`.
Deliveries are counted by `created_at`. API requests come from `usage_days`, which each API process fills in
batches (api.request_counter): every authenticated request, counted per unit and UTC day.

Speed: events are read through ix_events_unit_received and deliveries through ix_deliveries_unit_created, so a
month costs what that month holds. The per-day buckets are computed in SQL (one GROUP BY), never in Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.scoring import DECAY_EVENT_TYPE
from db import models, upsert
from services.context import Tenant
from services.errors import InvalidInput

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class UnitDay:
    """One unit's UTC day: the key API request counts are gathered under."""

    org_id: str
    unit_id: str
    day: date


def parse_month(value: str | None, now: datetime) -> date:
    """The first day of `value` ("YYYY-MM"), or of the current UTC month when None; 422 naming `month` otherwise."""
    if value is None:
        today = now.astimezone(UTC).date()
        return today.replace(day=1)
    match = _MONTH.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1970 <= int(match.group(1)) <= 9998:
        raise InvalidInput("month", "must be a calendar month as YYYY-MM, e.g. 2026-11")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day_of(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a UTCDateTime column, as SQL (SQLite stores 'YYYY-MM-DD HH:MM:SS' text in UTC)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def month_usage(session: Session, tenant: Tenant, *, month: str | None, now: datetime) -> dict[str, Any]:
    """The unit's usage in `month` (default: the current UTC month), with one entry per day of it so far."""
    first = parse_month(month, now)
    after = _next_month(first)
    start, end = _midnight(first), _midnight(after)
    today = now.astimezone(UTC).date()
    last = min(after - timedelta(days=1), today)
    days: dict[str, dict[str, Any]] = {}
    day = first
    while day <= last:
        key = day.isoformat()
        days[key] = {"day": key, "events_ingested": 0, "system_events": 0, "api_requests": 0, "deliveries": 0}
        day += timedelta(days=1)

    ev = models.Event
    ev_day = _day_of(session, ev.received_at).label("d")
    is_system = ev.event_type == DECAY_EVENT_TYPE
    for row in session.execute(
        select(ev_day, is_system.label("system"), func.count())
        .where(ev.unit_id == tenant.unit_id, ev.received_at >= start, ev.received_at < end)
        .group_by(ev_day, is_system)
    ):
        bucket = days.get(row.d)
        if bucket is not None:
            bucket["system_events" if row.system else "events_ingested"] += int(row[2])

    dl = models.Delivery
    dl_day = _day_of(session, dl.created_at).label("d")
    for row in session.execute(
        select(dl_day, func.count())
        .where(dl.unit_id == tenant.unit_id, dl.created_at >= start, dl.created_at < end)
        .group_by(dl_day)
    ):
        bucket = days.get(row.d)
        if bucket is not None:
            bucket["deliveries"] += int(row[1])

    ud = models.UsageDay
    for row in session.execute(
        select(ud.day, ud.api_requests).where(ud.unit_id == tenant.unit_id, ud.day >= first, ud.day < after)
    ):
        bucket = days.get(row.day.isoformat())
        if bucket is not None:
            bucket["api_requests"] += int(row.api_requests)

    lead, account = models.Lead, models.Account
    leads = session.scalar(select(func.count()).where(lead.unit_id == tenant.unit_id, lead.merged_into.is_(None)))
    accounts = session.scalar(select(func.count()).where(account.unit_id == tenant.unit_id))
    leads_created = session.scalar(select(func.count()).where(
        lead.unit_id == tenant.unit_id, lead.merged_into.is_(None), lead.created_at >= start, lead.created_at < end,
    ))
    accounts_created = session.scalar(select(func.count()).where(
        account.unit_id == tenant.unit_id, account.created_at >= start, account.created_at < end,
    ))
    listed = list(days.values())
    return {
        "month": f"{first.year:04d}-{first.month:02d}",
        "unit_id": tenant.unit_id,
        "events_ingested": sum(d["events_ingested"] for d in listed),
        "system_events": sum(d["system_events"] for d in listed),
        "api_requests": sum(d["api_requests"] for d in listed),
        "deliveries": sum(d["deliveries"] for d in listed),
        "leads": int(leads or 0),
        "accounts": int(accounts or 0),
        "leads_created": int(leads_created or 0),
        "accounts_created": int(accounts_created or 0),
        "days": listed,
    }


def add_api_requests(session: Session, counts: Mapping[UnitDay, int]) -> None:
    """Adds request counts to usage_days (one upsert per batch: `api_requests = api_requests + n`).

    Runs in the API processes' counter flush (api.request_counter); several processes add to the same rows.
    """
    rows = [
        {"org_id": k.org_id, "unit_id": k.unit_id, "day": k.day, "api_requests": n} for k, n in counts.items() if n
    ]
    if not rows:
        return
    stmt = upsert.insert(session, models.UsageDay)
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id", "day"],
        set_={"api_requests": models.UsageDay.api_requests + stmt.excluded.api_requests},
    )
    # Units deleted meanwhile would break the foreign key: only count for units that still exist.
    existing = set(session.scalars(select(models.Unit.id).where(models.Unit.id.in_({r["unit_id"] for r in rows}))))
    rows = sorted((r for r in rows if r["unit_id"] in existing), key=lambda r: (r["unit_id"], r["day"]))
    if rows:
        session.execute(stmt, rows)
