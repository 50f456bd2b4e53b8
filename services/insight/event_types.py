"""Event types of a unit: which are visible, their metadata keys, the channels seen, their settings with counts, and
deleting events (every event of a type, or a batch by id) with everything derived from them kept right.

Counts come from the daily counters (services.insight.daily_counts), not the log. A deletion, in the caller's
transaction: refuses profile event types (the log's record of profile edits: 422), takes the unit's scoring lock
shared like ingest (and answers 409 while a scoring change is being applied aside), deletes in chunks of
`DELETE_CHUNK` events (subtracting each chunk from the counters first), then replays the affected leads and
accounts from the remaining log (services.scoring.rescore.rescore_leads / rescore_accounts, from the first deleted
event on) and writes one audit entry with the counts.

`event_scores` (dry run and result): the per-ruleset score entries the events carry, i.e. for each event the number
of rulesets in its explanation with a non-zero delta (a quarantined event, or one no rule matched, carries none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, select
from sqlalchemy.orm import Session

from core import scoring
from core.profile import PROFILE_EVENT_TYPES
from core.quarantine import DEFAULT_SCOPE
from db import models
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound
from services.insight import daily_counts
from services.scoring.model import heads, live_model, lock_config
from services.scoring.rescore import rescore_accounts, rescore_leads, rescore_leads_and_accounts
from services.tenancy import audit, policy
from services.tenancy.policy import Action

DELETE_CHUNK = 5_000
MAX_BATCH_IDS = 1_000
PROPERTY_SAMPLE = 1_000  # the newest events of a type read for its metadata keys
MAX_EVENT_TYPE = 200


def _counted_types(session: Session, tenant: Tenant) -> dict[str, int]:
    c = models.EventCountDaily
    rows = session.execute(
        select(c.event_type, func.sum(c.events)).where(c.unit_id == tenant.unit_id).group_by(c.event_type)
    ).all()
    return {t: int(n or 0) for t, n in rows}


def _settings(session: Session, tenant: Tenant) -> dict[str, models.EventTypeSetting]:
    s = models.EventTypeSetting
    return {row.event_type: row for row in session.scalars(select(s).where(s.unit_id == tenant.unit_id))}


def _rule_types(session: Session, tenant: Tenant) -> set[str]:
    r = models.Rule
    return set(session.scalars(select(r.event_type).where(r.unit_id == tenant.unit_id).distinct()))


def visible_event_types(session: Session, tenant: Tenant) -> list[str]:
    """GET /v1/event-types: the unit's event types (seen in its log, or named by one of its rules), hidden ones and
    profile changes and decay adjustments aside, sorted by name."""
    settings = _settings(session, tenant)
    names = set(_counted_types(session, tenant)) | _rule_types(session, tenant)
    names -= PROFILE_EVENT_TYPES | {scoring.DECAY_EVENT_TYPE}
    return sorted(n for n in names if not (n in settings and settings[n].hidden))


def event_type_properties(session: Session, tenant: Tenant, event_type: str) -> dict[str, Any]:
    """GET /v1/event-types/{event_type}/properties: the metadata keys of the type's `PROPERTY_SAMPLE` newest events
    (over the (unit_id, event_type, occurred_at) index), sorted. NotFound for a type the unit does not know."""
    _check_name(event_type)
    _require_known(session, tenant, event_type)
    ev = models.Event
    keys: set[str] = set()
    for metadata in session.scalars(
        select(ev.metadata_).where(ev.unit_id == tenant.unit_id, ev.event_type == event_type)
        .order_by(ev.occurred_at.desc()).limit(PROPERTY_SAMPLE)
    ):
        if isinstance(metadata, dict):
            keys.update(str(k) for k in metadata)
    return {"event_type": event_type, "properties": sorted(keys)}


def channels(session: Session, tenant: Tenant) -> list[str]:
    """GET /v1/channels: the distinct channels of the unit's counted events, sorted."""
    c = models.EventCountDaily
    return sorted(session.scalars(select(c.channel).where(c.unit_id == tenant.unit_id).distinct()))


def event_type_settings(session: Session, tenant: Tenant) -> list[dict[str, Any]]:
    """GET /v1/settings/event-types: every event type of the unit (counted in its log, named by a rule, or with a
    settings row) with its settings (no row: visible, scope "activate") and its number of events, by name."""
    settings = _settings(session, tenant)
    counts = _counted_types(session, tenant)
    names = (set(counts) | _rule_types(session, tenant) | set(settings)) - PROFILE_EVENT_TYPES
    out = []
    for name in sorted(names):
        row = settings.get(name)
        out.append({
            "event_type": name,
            "hidden": bool(row.hidden) if row else False,
            "max_processing_scope": row.max_processing_scope if row else DEFAULT_SCOPE,
            "events_count": counts.get(name, 0),
        })
    return out


# --- deleting events -----------------------------------------------------------------------------------------------


def _check_name(event_type: str) -> None:
    if not event_type.strip() or len(event_type) > MAX_EVENT_TYPE:
        raise InvalidInput("event_type", f"must be 1 to {MAX_EVENT_TYPE} characters")


def _require_known(session: Session, tenant: Tenant, event_type: str) -> None:
    """NotFound unless the unit has counted events of the type, a rule naming it, or a settings row for it."""
    c, r, s = models.EventCountDaily, models.Rule, models.EventTypeSetting
    unit = tenant.unit_id
    for stmt in (
        select(c.day).where(c.unit_id == unit, c.event_type == event_type).limit(1),
        select(r.id).where(r.unit_id == unit, r.event_type == event_type).limit(1),
        select(s.event_type).where(s.unit_id == unit, s.event_type == event_type),
    ):
        if session.execute(stmt).first() is not None:
            return
    raise NotFound(f"event type {event_type!r} is not known in this unit", field="event_type")


def _deletable_type(event_type: str) -> None:
    _check_name(event_type)
    if event_type in PROFILE_EVENT_TYPES:
        raise InvalidInput("event_type", f"{event_type} events record profile changes; they cannot be deleted here")


def _score_entries(session: Session, tenant: Tenant, *conditions: ColumnElement[bool]) -> tuple[int, int]:
    """(events, per-ruleset score entries) of the unit's events matching `conditions`, in one grouped read."""
    ev = models.Event
    ruleset_ids = list(session.scalars(select(models.Ruleset.id).where(models.Ruleset.unit_id == tenant.unit_id)))
    entries = [
        func.coalesce(func.sum(case((func.coalesce(ev.explanation[(rs, "delta")].as_float(), 0) != 0, 1), else_=0)), 0)
        for rs in ruleset_ids
    ]
    row = session.execute(select(func.count(), *entries).where(ev.unit_id == tenant.unit_id, *conditions)).one()
    return int(row[0]), sum(int(v or 0) for v in row[1:])


def delete_dry_run(session: Session, tenant: Tenant, event_type: str) -> dict[str, int]:
    """What deleting every event of `event_type` would remove: {"events_count", "event_scores_count"}."""
    _deletable_type(event_type)
    _require_known(session, tenant, event_type)
    events, entries = _score_entries(session, tenant, models.Event.event_type == event_type)
    return {"events_count": events, "event_scores_count": entries}


def delete_event_type_events(session: Session, tenant: Tenant, event_type: str, now: datetime) -> dict[str, int]:
    """Delete every event of `event_type` in the unit: {"events_deleted", "event_scores_deleted"}."""
    _deletable_type(event_type)
    _require_known(session, tenant, event_type)
    deleted, entries = _delete(session, tenant, models.Event.event_type == event_type)
    audit.record(session, tenant, action="delete_events", entity_type="event_type", entity_id=event_type,
                 before={"events": deleted, "event_scores": entries}, after=None, now=now)
    return {"events_deleted": deleted, "event_scores_deleted": entries}


def delete_events(session: Session, tenant: Tenant, ids: Sequence[str], now: datetime) -> dict[str, int]:
    """DELETE /v1/events: delete the unit's events among `ids` (ids unknown here, of another unit or of profile
    changes are left alone and not reported): {"events_deleted", "event_scores_deleted"}."""
    if len(ids) > MAX_BATCH_IDS:
        raise InvalidInput("ids", f"at most {MAX_BATCH_IDS} ids per request; got {len(ids)}")
    wanted = sorted(set(ids))
    ev = models.Event
    deleted, entries = _delete(session, tenant, ev.id.in_(wanted), ev.event_type.not_in(PROFILE_EVENT_TYPES)) \
        if wanted else (0, 0)
    audit.record(session, tenant, action="delete_events", entity_type="events", entity_id=None,
                 before={"requested": len(wanted), "events": deleted, "event_scores": entries}, after=None, now=now)
    return {"events_deleted": deleted, "event_scores_deleted": entries}


def _delete(session: Session, tenant: Tenant, *conditions: ColumnElement[bool]) -> tuple[int, int]:
    policy.require(tenant, Action.DELETE_EVENTS)
    lock_config(session, tenant, exclusive=False)  # like ingest: no configuration change scores meanwhile
    current = heads(session, tenant)
    if current.live < current.published:
        raise Conflict("a scoring change is being applied to this unit's scores; delete its events once it is done")
    ev = models.Event
    deleted = entries = 0
    first_seq: int | None = None
    leads: set[str] = set()
    accounts: set[str] = set()
    after = 0
    while True:
        chunk = session.execute(
            select(ev.seq, ev.lead_id, ev.account_id)
            .where(ev.unit_id == tenant.unit_id, ev.seq > after, *conditions)
            .order_by(ev.seq).limit(DELETE_CHUNK)
        ).all()
        if not chunk:
            break
        seqs = [r.seq for r in chunk]
        after = seqs[-1]
        first_seq = seqs[0] if first_seq is None else first_seq
        leads.update(r.lead_id for r in chunk if r.lead_id is not None)
        accounts.update(r.account_id for r in chunk if r.account_id is not None)
        in_chunk = ev.seq.in_(seqs)
        entries += _score_entries(session, tenant, in_chunk)[1]
        daily_counts.uncount_matching(session, tenant, in_chunk)
        result = session.execute(
            delete(ev).where(ev.unit_id == tenant.unit_id, in_chunk).execution_options(synchronize_session=False)
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    if deleted:
        model = live_model(session, tenant)
        if model.adjusts_events:
            # Quarantine and surge read a lead's events together: a deleted click can end a burst or shorten a
            # session before the first deleted event too, so the leads are replayed whole (then their accounts).
            rescore_leads_and_accounts(session, tenant, sorted(leads), model)
            rescore_accounts(session, tenant, sorted(accounts), model)
        else:
            rescore_leads(session, tenant, sorted(leads), from_seq=first_seq)
            rescore_accounts(session, tenant, sorted(accounts), from_seq=first_seq)
    session.flush()
    return deleted, entries
