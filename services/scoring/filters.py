"""Inorganic (burst) filters and event-type processing scopes: what holds a unit's events back from scoring.

Both are part of the unit's scoring model (core.quarantine): every change is made like the rules' and fit's (the
policy asked with Action.EDIT_SCORING, `begin_change` first, the change audited, `publish` last), so it becomes a
version whose rescore quarantines (or releases) the events it concerns. An event type's `hidden` flag only hides
it from lists and is no part of the model. The built-in bot filter's switch is the scoring setting
`bot_filter_enabled` (services.scoring.scoring_settings).

`check_filter` and `check_scope` are the one validation of a filter body and a scope, used by the routes and by
the what-if (services.scoring.simulate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.quarantine import DEFAULT_SCOPE, PROCESSING_SCOPES
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.scoring.model import begin_change
from services.scoring.publish import publish
from services.scoring.rules import check_event_type
from services.tenancy import audit, policy
from services.tenancy.policy import Action

FILTER_FIELDS: tuple[str, ...] = ("event_type", "count_threshold", "time_window_ms", "group_events")
COUNT_THRESHOLD_MIN, COUNT_THRESHOLD_MAX = 2, 1_000_000
TIME_WINDOW_MS_MIN, TIME_WINDOW_MS_MAX = 1, 86_400_000  # one day


@dataclass(frozen=True, slots=True)
class FilterValues:
    event_type: str
    count_threshold: int
    time_window_ms: int
    group_events: bool


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(name, "is required and must be an integer")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}; got {value}")
    return value


def check_filter(
    fields: Mapping[str, Any], *, prefix: str = "", ignore: frozenset[str] = frozenset()
) -> FilterValues:
    """Check a filter's fields (FILTER_FIELDS; group_events defaults to false); InvalidInput names the first bad
    field as `<prefix><field>`. Keys in `ignore` (read-only fields of a body copied from a GET) are skipped."""
    for key in fields:
        if key not in FILTER_FIELDS and key not in ignore:
            raise InvalidInput(f"{prefix}{key}", "unknown field")
    group = fields.get("group_events")
    if group is None:
        group = False
    if not isinstance(group, bool):
        raise InvalidInput(f"{prefix}group_events", "must be true or false")
    return FilterValues(
        event_type=check_event_type(fields.get("event_type"), f"{prefix}event_type"),
        count_threshold=_whole(fields.get("count_threshold"), f"{prefix}count_threshold", COUNT_THRESHOLD_MIN,
                               COUNT_THRESHOLD_MAX),
        time_window_ms=_whole(fields.get("time_window_ms"), f"{prefix}time_window_ms", TIME_WINDOW_MS_MIN,
                              TIME_WINDOW_MS_MAX),
        group_events=group,
    )


def check_scope(value: Any, name: str = "max_processing_scope") -> str:
    if not isinstance(value, str) or value.strip() not in PROCESSING_SCOPES:
        raise InvalidInput(name, f"must be one of {', '.join(PROCESSING_SCOPES)}; got {value!r}")
    return value.strip()


# --- inorganic filters ---------------------------------------------------------------------------------------------


def filter_view(row: models.InorganicFilter, quarantined_count: int = 0) -> dict[str, Any]:
    return {
        "filter_id": row.id,
        "event_type": row.event_type,
        "count_threshold": int(row.count_threshold),
        "time_window_ms": int(row.time_window_ms),
        "group_events": bool(row.group_events),
        "org_id": row.org_id,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "quarantined_count": quarantined_count,
    }


def quarantined_counts(session: Session, tenant: Tenant) -> dict[str, int]:
    """Events held back per filter id (the bot filter's under core.quarantine.BOT_FILTER_ID); read through the
    partial index of quarantined events, so it costs the quarantined events only."""
    rows = session.execute(
        select(models.Event.quarantine_filter_id, func.count())
        .where(models.Event.unit_id == tenant.unit_id, models.Event.quarantine_filter_id.is_not(None))
        .group_by(models.Event.quarantine_filter_id)
    )
    return {str(filter_id): int(count) for filter_id, count in rows}


def list_filters(session: Session, tenant: Tenant) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(models.InorganicFilter)
        .where(models.InorganicFilter.unit_id == tenant.unit_id)
        .order_by(models.InorganicFilter.created_at, models.InorganicFilter.id)
    ).all()
    counts = quarantined_counts(session, tenant) if rows else {}
    return [filter_view(r, counts.get(r.id, 0)) for r in rows]


def _count_for(session: Session, tenant: Tenant, filter_id: str) -> int:
    return int(session.scalar(
        select(func.count()).select_from(models.Event).where(
            models.Event.unit_id == tenant.unit_id, models.Event.quarantine_filter_id == filter_id
        )
    ) or 0)


def _filter_row(session: Session, tenant: Tenant, filter_id: str) -> models.InorganicFilter:
    row = session.scalar(
        select(models.InorganicFilter).where(
            models.InorganicFilter.unit_id == tenant.unit_id, models.InorganicFilter.id == filter_id
        )
    )
    if row is None:
        raise NotFound(f"inorganic filter {filter_id!r} does not exist in this unit", field="id")
    return row


def create_filter(session: Session, tenant: Tenant, *, fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A new burst filter (fields: FILTER_FIELDS), published as a version that quarantines its bursts."""
    policy.require(tenant, Action.EDIT_SCORING)
    values = check_filter(fields)
    begin_change(session, tenant, now)
    row = models.InorganicFilter(
        id=new_id("if"), org_id=tenant.org_id, unit_id=tenant.unit_id, event_type=values.event_type,
        count_threshold=values.count_threshold, time_window_ms=values.time_window_ms,
        group_events=values.group_events, created_at=now, updated_at=now, created_by=tenant.actor,
        updated_by=tenant.actor,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "inorganic_filter", row, now)
    publish(session, tenant, now=now)
    return filter_view(row, _count_for(session, tenant, row.id))


def update_filter(
    session: Session, tenant: Tenant, filter_id: str, *, fields: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Partial update: the fields given change, the others keep their value."""
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = _filter_row(session, tenant, filter_id)
    current = {"event_type": row.event_type, "count_threshold": int(row.count_threshold),
               "time_window_ms": int(row.time_window_ms), "group_events": bool(row.group_events)}
    sent = {k: v for k, v in fields.items() if v is not None or k not in FILTER_FIELDS}
    values = check_filter({**current, **sent})
    before = audit.snapshot(row)
    if (values.event_type, values.count_threshold, values.time_window_ms, values.group_events) != tuple(
        current.values()
    ):
        row.event_type, row.count_threshold = values.event_type, values.count_threshold
        row.time_window_ms, row.group_events = values.time_window_ms, values.group_events
        row.updated_at, row.updated_by = now, tenant.actor
        session.flush()
        audit.updated(session, tenant, "inorganic_filter", before, row, now)
        publish(session, tenant, now=now)
    return filter_view(row, _count_for(session, tenant, row.id))


def delete_filter(session: Session, tenant: Tenant, filter_id: str, *, now: datetime) -> None:
    """Remove a filter; the version published releases the events it held back (they are scored again)."""
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = _filter_row(session, tenant, filter_id)
    audit.deleted(session, tenant, "inorganic_filter", row, now)
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


# --- event-type settings -------------------------------------------------------------------------------------------


def event_type_view(event_type: str, row: models.EventTypeSetting | None) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "hidden": bool(row.hidden) if row is not None else False,
        "max_processing_scope": row.max_processing_scope if row is not None else DEFAULT_SCOPE,
    }


def set_event_type(
    session: Session,
    tenant: Tenant,
    event_type: str,
    *,
    hidden: bool | None = None,
    max_processing_scope: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Upsert a unit's setting of one event type (None leaves a field as it is). `hidden` only hides the type from
    lists; a scope change is a change of the scoring model, published as a version (its rescore applies it)."""
    policy.require(tenant, Action.EDIT_SCORING)
    name = check_event_type(event_type)
    if hidden is not None and not isinstance(hidden, bool):
        raise InvalidInput("hidden", "must be true or false")
    scope = None if max_processing_scope is None else check_scope(max_processing_scope)
    if scope is not None:
        begin_change(session, tenant, now)
    row = session.get(models.EventTypeSetting, (tenant.unit_id, name))
    created = row is None
    if row is None:
        row = models.EventTypeSetting(unit_id=tenant.unit_id, org_id=tenant.org_id, event_type=name, hidden=False,
                                      max_processing_scope=DEFAULT_SCOPE, updated_at=now, updated_by=tenant.actor)
        session.add(row)
    before = event_type_view(name, None) if created else audit.snapshot(row)
    changed = created
    if hidden is not None and hidden != bool(row.hidden):
        row.hidden, changed = hidden, True
    if scope is not None and scope != row.max_processing_scope:
        row.max_processing_scope, changed = scope, True
    if changed:
        row.updated_at, row.updated_by = now, tenant.actor
        session.flush()
        audit.record(session, tenant, action="update", entity_type="event_type_setting", entity_id=name,
                     before=before, after=row, now=now)
    if scope is not None:
        publish(session, tenant, now=now)
    return event_type_view(name, row)
