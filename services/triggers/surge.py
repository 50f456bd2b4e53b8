"""Surge triggers: tell someone when a lead's events of a type come thick and fast.

A surge trigger fires when a lead's count of events of `event_type` (empty: any type) within the window ending at
a newly ingested event reaches `threshold_count`; the window is `window_seconds` x `window_unit` (seconds, minutes,
hours, days). It fires at most once per lead per window period: periods are the window's length, aligned to the
Unix epoch, and the period of the event that reached the count is the firing's dedupe key, so evaluating the same
events again (a retried request, a concurrent worker) never fires twice.

Surge triggers are rows of the `triggers` table with kind "surge" and their settings in `config`, so firing,
delivery (signed webhooks, email, retries, the delivery log) and the outbound URL guard are the other triggers'
(services.triggers.triggers fires what `due_firings` decides). Exactly one destination: a webhook URL or emails.
The milestone/sequence/pattern routes never list them (they read their own kind).

Quarantined events and events of types whose processing scope is not "activate" neither count nor fire (ingest
marks them `fires_triggers=False`); decay and profile updates are not engagement and are left out too.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.profile import PROFILE_EVENT_TYPES
from core.scoring import DECAY_EVENT_TYPE
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.insight.event_log import page_offset
from services.scoring.model import live_model
from services.tenancy import audit
from services.tenancy.policy import Action, require
from services.triggers.destinations import TEST_SUBJECT, check_channel_url, new_signing_secret, slack_app_target

if TYPE_CHECKING:
    from services.ingest.contract import Ingested

KIND = "surge"
WINDOW_UNITS: dict[str, int] = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
MAX_WINDOW_SECONDS = 366 * 86400  # the window (window_seconds x unit) is at most a year
MAX_THRESHOLD = 100_000
MAX_EMAILS = 50
_NOT_ENGAGEMENT = frozenset({DECAY_EVENT_TYPE, *PROFILE_EVENT_TYPES})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIELDS = ("event_type", "window_seconds", "window_unit", "threshold_count", "webhook_url", "emails")

@dataclass(frozen=True, slots=True)
class SurgeWindow:
    """A surge trigger's settings as evaluation needs them."""

    event_type: str  # "" : any type
    window: timedelta
    threshold_count: int

    def counts(self, event_type: str) -> bool:
        return not self.event_type or self.event_type == event_type

    def period(self, at: datetime) -> int:
        """The window period (epoch-aligned) `at` falls in: the firing's dedupe key."""
        return int((at - _EPOCH) // self.window)


def spec_of(row: models.Trigger) -> SurgeWindow:
    c = row.config
    return SurgeWindow(str(c.get("event_type") or ""), timedelta(seconds=window_total(c)), int(c["threshold_count"]))


def window_total(config: Mapping[str, Any]) -> int:
    """The window in seconds: window_seconds x the unit's size."""
    return int(config["window_seconds"]) * WINDOW_UNITS.get(str(config.get("window_unit") or "seconds"), 1)


# --- CRUD ----------------------------------------------------------------------------------------------------------


def _int(value: Any, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, "is required and must be an integer")
    if not 1 <= value <= high:
        raise InvalidInput(name, f"must be between 1 and {high}")
    return value


def _config(fields: Mapping[str, Any]) -> dict[str, Any]:
    event_type = fields.get("event_type")
    if event_type is not None and not isinstance(event_type, str):
        raise InvalidInput("event_type", "must be a string")
    unit = fields.get("window_unit") or "seconds"
    if unit not in WINDOW_UNITS:
        raise InvalidInput("window_unit", f"must be one of {', '.join(WINDOW_UNITS)}")
    window_seconds = _int(fields.get("window_seconds"), "window_seconds", MAX_WINDOW_SECONDS)
    if window_seconds * WINDOW_UNITS[unit] > MAX_WINDOW_SECONDS:
        raise InvalidInput("window_seconds", f"the window ({window_seconds} {unit}) is longer than 366 days")
    return {
        "event_type": (event_type or "").strip(), "window_seconds": window_seconds, "window_unit": unit,
        "threshold_count": _int(fields.get("threshold_count"), "threshold_count", MAX_THRESHOLD),
    }


def _destination(fields: Mapping[str, Any], checked: frozenset[str]) -> tuple[str | None, list[str]]:
    """At most one of webhook_url and emails (a Slack app target may come with either, or alone); the URL passes
    the outbound guard (already resolved when in `checked`, see check_channel_urls), emails look like addresses."""
    url = (fields.get("webhook_url") or "").strip() or None
    emails = [str(e).strip() for e in (fields.get("emails") or []) if str(e).strip()]
    if url and emails:
        raise InvalidInput("webhook_url", "give exactly one destination: webhook_url or emails, not both")
    if not url and not emails and not (fields.get("slack_target_kind") or "").strip():
        raise InvalidInput("webhook_url", "a destination is required: webhook_url, emails or slack_target_kind")
    if len(emails) > MAX_EMAILS:
        raise InvalidInput("emails", f"at most {MAX_EMAILS} addresses")
    for pos, email in enumerate(emails):
        if "@" not in email:
            raise InvalidInput(f"emails[{pos}]", "is not an email address")
    if url:
        check_channel_url("webhook_url", url, checked)
    return url, emails


def list_surge_triggers(session: Session, tenant: Tenant) -> list[models.Trigger]:
    t = models.Trigger
    return list(session.scalars(
        select(t).where(t.unit_id == tenant.unit_id, t.kind == KIND).order_by(t.created_at, t.id)
    ))


def get_surge_trigger(session: Session, tenant: Tenant, trigger_id: str) -> models.Trigger:
    row = session.get(models.Trigger, trigger_id)
    if row is None or row.unit_id != tenant.unit_id or row.kind != KIND:
        raise NotFound(f"surge trigger {trigger_id!r} does not exist", field="id")
    return row


def create_surge_trigger(
    session: Session, tenant: Tenant, fields: Mapping[str, Any], now: datetime, *,
    checked: frozenset[str] = frozenset(),
) -> models.Trigger:
    """A new surge trigger ({event_type?, window_seconds, window_unit?, threshold_count, webhook_url | emails});
    `checked`: URLs check_channel_urls resolved just before the transaction."""
    require(tenant, Action.EDIT_TRIGGERS)
    config = _config(fields)
    url, emails = _destination(fields, checked)
    slack_kind, slack_id = slack_app_target(fields)
    row = models.Trigger(
        id=new_id("trg"), org_id=tenant.org_id, unit_id=tenant.unit_id, kind=KIND, name="", active=True,
        config=config, webhook_url=url, emails=emails, signing_secret=new_signing_secret(), created_at=now,
        updated_at=now, created_by=tenant.actor, updated_by=tenant.actor, slack_target_kind=slack_kind,
        slack_target_id=slack_id, hubspot_sync=bool(fields.get("hubspot_sync")),
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "surge_trigger", row, now)
    return row


def update_surge_trigger(
    session: Session, tenant: Tenant, trigger_id: str, fields: Mapping[str, Any], now: datetime, *,
    checked: frozenset[str] = frozenset(),
) -> models.Trigger:
    """Replace a surge trigger's settings and destination (the same body as create)."""
    require(tenant, Action.EDIT_TRIGGERS)
    row = get_surge_trigger(session, tenant, trigger_id)
    before = audit.snapshot(row)
    row.config = _config(fields)
    row.webhook_url, row.emails = _destination(fields, checked)
    row.slack_target_kind, row.slack_target_id = slack_app_target(fields)  # the body replaces the settings
    row.hubspot_sync = bool(fields.get("hubspot_sync"))
    row.updated_at, row.updated_by = now, tenant.actor
    session.flush()
    audit.updated(session, tenant, "surge_trigger", before, row, now)
    return row


def delete_surge_trigger(session: Session, tenant: Tenant, trigger_id: str, now: datetime) -> None:
    require(tenant, Action.EDIT_TRIGGERS)
    row = get_surge_trigger(session, tenant, trigger_id)
    audit.deleted(session, tenant, "surge_trigger", row, now)
    session.delete(row)
    session.flush()


def surge_trigger_view(row: models.Trigger) -> dict[str, Any]:
    c = row.config
    return {
        "trigger_id": row.id, "event_type": c.get("event_type") or None, "window_seconds": int(c["window_seconds"]),
        "window_unit": c.get("window_unit") or "seconds", "threshold_count": int(c["threshold_count"]),
        "webhook_url": row.webhook_url, "emails": list(row.emails or []), "created_at": row.created_at,
        "updated_at": row.updated_at, "slack_target_kind": row.slack_target_kind,
        "slack_target_id": row.slack_target_id,
        "teams_target_kind": None, "teams_target_id": None, "hubspot_sync": bool(row.hubspot_sync),
    }


# --- evaluation (called by services.triggers.triggers.fire_triggers, in the ingest transaction) --------------------


@dataclass(frozen=True, slots=True)
class DueFiring:
    """A surge trigger that an ingested event makes fire: what services.triggers.triggers writes and sends."""

    trigger: models.Trigger
    dedupe_key: str
    result: Ingested
    data: dict[str, Any]


def due_firings(
    session: Session, tenant: Tenant, rows: Sequence[models.Trigger], results: Sequence[Ingested]
) -> list[DueFiring]:
    """The firings the events just ingested (and stored) cause: nothing when no event matches an active surge
    trigger, else one query per lead with candidate events; the periods that already fired and the unit's event
    type scopes are read only once a count reaches its threshold."""
    specs = [(row, spec_of(row)) for row in rows if row.kind == KIND and row.active]
    by_lead: dict[str, list[Ingested]] = defaultdict(list)
    for r in results:
        if r.lead_id and r.event_type not in _NOT_ENGAGEMENT and any(s.counts(r.event_type) for _, s in specs):
            by_lead[r.lead_id].append(r)
    silent: frozenset[str] | None = None  # types observed only or scored without triggers: they do not count
    due: list[DueFiring] = []
    for lead_id, events in by_lead.items():
        wanted = [(row, s) for row, s in specs if any(s.counts(r.event_type) for r in events)]
        longest = max(s.window for _, s in wanted)
        history = _lead_history(session, tenant, lead_id, [s for _, s in wanted],
                                min(r.occurred_at for r in events) - longest, max(r.occurred_at for r in events))
        stored = {event_id for event_id, _, _ in history}
        fired: set[tuple[str, str]] | None = None
        for r in sorted(events, key=lambda x: x.occurred_at):
            if r.event_id not in stored:  # quarantined (or gone): it neither counts nor fires
                continue
            for row, spec in wanted:
                if not spec.counts(r.event_type) or _count(history, spec, r.occurred_at) < spec.threshold_count:
                    continue
                if silent is None:
                    silent = frozenset(scope.id for scope in live_model(session, tenant).event_type_scopes)
                count = _count(history, spec, r.occurred_at, silent)
                if count < spec.threshold_count:
                    continue
                key = f"lead:{lead_id}:{spec.period(r.occurred_at)}"
                if fired is None:
                    fired = _fired_keys(session, [row.id for row, _ in wanted], lead_id)
                if (row.id, key) in fired:
                    continue
                fired.add((row.id, key))
                due.append(DueFiring(row, key, r, {
                    "event_type": spec.event_type or None, "count": count, "threshold_count": spec.threshold_count,
                    "window_seconds": int(spec.window.total_seconds()),
                    "window_unit": row.config.get("window_unit") or "seconds",
                    "window_start": r.occurred_at - spec.window, "window_end": r.occurred_at, "channel": r.channel,
                }))
    return due


def _lead_history(
    session: Session, tenant: Tenant, lead_id: str, specs: Iterable[SurgeWindow], start: datetime, end: datetime
) -> list[tuple[str, datetime, str]]:
    """(event id, occurred_at, type) of the lead's events in [start, end] that may count, oldest first: not
    quarantined, not decay or profile updates."""
    e = models.Event
    stmt = select(e.id, e.occurred_at, e.event_type).where(
        e.unit_id == tenant.unit_id, e.lead_id == lead_id, e.occurred_at >= start, e.occurred_at <= end,
        e.quarantine_filter_id.is_(None), e.event_type.not_in(sorted(_NOT_ENGAGEMENT)),
    )
    types = {s.event_type for s in specs}
    if "" not in types:
        stmt = stmt.where(e.event_type.in_(sorted(types)))
    return sorted(((i, o, t) for i, o, t in session.execute(stmt)), key=lambda x: x[1])


def _count(
    history: list[tuple[str, datetime, str]], spec: SurgeWindow, at: datetime, silent: frozenset[str] = frozenset()
) -> int:
    """Events of the spec's type in the window [at - window, at], those of `silent` types left out."""
    times = [o for _, o, _ in history]
    low, high = bisect.bisect_left(times, at - spec.window), bisect.bisect_right(times, at)
    return sum(1 for _, _, t in history[low:high] if spec.counts(t) and t not in silent)


def _fired_keys(session: Session, trigger_ids: list[str], lead_id: str) -> set[tuple[str, str]]:
    f = models.TriggerFiring
    rows = session.execute(
        select(f.trigger_id, f.dedupe_key).where(f.trigger_id.in_(trigger_ids), f.subject == lead_id)
    )
    return {(t, k) for t, k in rows}


# --- firings (GET /v1/surge/events) --------------------------------------------------------------------------------

MAX_LIMIT = 500


def list_surge_events(
    session: Session, tenant: Tenant, *, page: int = 1, limit: int = 50, start: datetime | None = None,
    end: datetime | None = None, channel: str | None = None,
) -> list[dict[str, Any]]:
    """Surge trigger firings, newest first: fired_at in [start, end) when given, of events on `channel`."""
    require(tenant, Action.READ)
    if page < 1:
        raise InvalidInput("page", "must be at least 1")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be between 1 and {MAX_LIMIT}")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("end", "must be after start")
    f = models.TriggerFiring
    stmt = select(f).where(f.unit_id == tenant.unit_id, f.kind == KIND, f.subject != TEST_SUBJECT)
    if start is not None:
        stmt = stmt.where(f.fired_at >= start)
    if end is not None:
        stmt = stmt.where(f.fired_at < end)
    if channel:
        stmt = stmt.where(channel_of(f) == channel)
    offset = page_offset(page, limit)
    if offset is None:
        return []
    rows = session.scalars(stmt.order_by(f.fired_at.desc(), f.id.desc()).limit(limit).offset(offset))
    return [surge_event_view(r) for r in rows]


def channel_of(f: type[models.TriggerFiring]) -> Any:
    """The channel of the event that made a surge trigger fire (kept in the firing's payload)."""
    return f.payload[("data", "channel")].as_string()


def surge_event_view(row: models.TriggerFiring) -> dict[str, Any]:
    data = (row.payload or {}).get("data") or {}
    return {
        "id": row.id, "trigger_id": row.trigger_id, "lead_id": row.lead_id, "account_id": row.account_id,
        "event_type": (row.payload or {}).get("event_type"), "channel": data.get("channel"),
        "count": int(data.get("count") or 0), "window_seconds": int(data.get("window_seconds") or 0),
        "fired_at": row.fired_at, "occurred_at": row.occurred_at,
    }


def count_firings(
    session: Session, tenant: Tenant, *, start: datetime, end: datetime, channel: str | None = None
) -> int:
    """Surge trigger firings with fired_at in [start, end) (of events on `channel`)."""
    f = models.TriggerFiring
    stmt = select(func.count()).select_from(f).where(
        f.unit_id == tenant.unit_id, f.kind == KIND, f.subject != TEST_SUBJECT, f.fired_at >= start, f.fired_at < end
    )
    if channel:
        stmt = stmt.where(channel_of(f) == channel)
    return int(session.scalar(stmt) or 0)
