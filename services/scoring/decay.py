"""Score decay rules (CRUD) and the decay run that turns due drops into DECAY events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import decay as core_decay
from core.model import ScoringModel
from core.scoring import DECAY_EVENT_TYPE
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.gc_pause import paused_gc
from services.ingest.contract import NewEvent, PersonRef
from services.ingest.ingest import ingest_system_events
from services.scoring.model import begin_change, heads, live_model, lock_config
from services.scoring.publish import publish
from services.tenancy import audit, policy
from services.tenancy.policy import Action

# Drops per ingest_system_events call, and lead ids per IN list (see services.ingest.ingest._SYSTEM_CHUNK).
_BATCH = 10_000
_IN_CHUNK = 5000


def decay_view(row: models.DecayRule) -> dict[str, Any]:
    return {
        "decay_id": row.id,
        "inactive_for": row.inactive_for,
        "unit": row.unit,
        "decrease": row.decrease,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _validate(inactive_for: int, unit: str, decrease: int) -> None:
    if unit not in core_decay.UNITS:
        raise InvalidInput("unit", f"must be one of {', '.join(core_decay.UNITS)}")
    if inactive_for < 1:
        raise InvalidInput("inactive_for", "must be at least 1")
    if decrease < 1:
        raise InvalidInput("decrease", "must be at least 1")


def list_decays(session: Session, tenant: Tenant) -> list[models.DecayRule]:
    stmt = select(models.DecayRule).where(models.DecayRule.unit_id == tenant.unit_id)
    return list(session.scalars(stmt.order_by(models.DecayRule.created_at, models.DecayRule.id)))


def get_decay(session: Session, tenant: Tenant, decay_id: str) -> models.DecayRule:
    row = session.get(models.DecayRule, decay_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"decay rule {decay_id!r} does not exist")
    return row


def create_decay(
    session: Session, tenant: Tenant, *, inactive_for: int, unit: str, decrease: int, now: datetime
) -> models.DecayRule:
    policy.require(tenant, Action.EDIT_SCORING)
    _validate(inactive_for, unit, decrease)
    begin_change(session, tenant, now)
    row = models.DecayRule(
        id=new_id("dc"), org_id=tenant.org_id, unit_id=tenant.unit_id, inactive_for=inactive_for, unit=unit,
        decrease=decrease, created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "decay_rule", row, now)
    publish(session, tenant, now=now)
    return row


def update_decay(
    session: Session, tenant: Tenant, decay_id: str, changes: dict[str, Any], now: datetime
) -> models.DecayRule:
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = get_decay(session, tenant, decay_id)
    before = audit.snapshot(row)
    merged: dict[str, Any] = {"inactive_for": row.inactive_for, "unit": row.unit, "decrease": row.decrease}
    merged.update({k: v for k, v in changes.items() if k in merged and v is not None})
    inactive_for, unit, decrease = merged["inactive_for"], merged["unit"], merged["decrease"]
    _validate(inactive_for, unit, decrease)
    row.inactive_for, row.unit, row.decrease = inactive_for, unit, decrease
    row.updated_at = now
    session.flush()
    audit.updated(session, tenant, "decay_rule", before, row, now)
    publish(session, tenant, now=now)
    return row


def delete_decay(session: Session, tenant: Tenant, decay_id: str, *, now: datetime) -> None:
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = get_decay(session, tenant, decay_id)
    audit.deleted(session, tenant, "decay_rule", row)
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


@dataclass(frozen=True, slots=True)
class DecayRun:
    leads: int
    drops: int
    # Set when `max_leads` stopped the run early: pass it as `after` to continue (in a new transaction).
    next_after: str | None = None


def _aware(value: datetime | str) -> datetime:
    """MAX() over a UTC column comes back naive (or as text) on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def units_with_decay(session: Session) -> list[Tenant]:
    rows = session.execute(select(models.DecayRule.org_id, models.DecayRule.unit_id).distinct())
    return [Tenant(org_id, unit_id) for org_id, unit_id in rows]


@dataclass(frozen=True, slots=True)
class DecayPlan:
    """The DECAY events due in a unit (as system events on known leads), in time order, ties by lead id.

    The order is fixed by the data alone (not by the order a database happens to return rows in), so the same
    drops are written with the same relative sequence wherever they are planned.
    """

    events: list[NewEvent]
    leads: int
    context: ScoringModel | None = None
    next_after: str | None = None
    # What the plan was made with: the live scoring version and each planned lead's inactivity clock.
    live_version: int = 0
    activity: Mapping[str, datetime] = field(default_factory=dict)


def apply_decay(
    session: Session, tenant: Tenant, now: datetime, *, after: str | None = None, max_leads: int | None = None
) -> DecayRun:
    """Write a DECAY event for every drop due by `now` in this unit. Running it again at `now` adds nothing.

    With `max_leads`, only that many leads (in id order, after `after`) are looked at, so a caller can
    keep each write transaction short and continue from `next_after`. The drops go in through ingest's fast path
    for system events (services.ingest.ingest.ingest_system_events): same rows, scores, stream and triggers.
    """
    with paused_gc():  # one NewEvent, row and stream message per drop: no cycles among them
        plan = plan_decay(session, tenant, now, after=after, max_leads=max_leads)
        _write_drops(session, tenant, plan, plan.events, now)
    return DecayRun(plan.leads, len(plan.events), plan.next_after)


def apply_planned(
    session: Session, tenant: Tenant, plan: DecayPlan, events: Sequence[NewEvent], now: datetime
) -> int | None:
    """Write `events` (a slice of `plan`, made in an earlier transaction) in this one; returns how many were written.

    A lead whose inactivity clock moved since the plan (new activity), or that was merged or erased, keeps its
    drops for the next run, which plans them afresh. None when the live scoring model (decay rules included) is not
    the plan's any more: nothing is written, plan again.
    """
    lock_config(session, tenant, exclusive=False)  # as ingest: no publish between this check and the write
    if heads(session, tenant).live != plan.live_version:
        return None
    lead = models.Lead
    ids = sorted({_lead_of(ev) for ev in events})
    clock: dict[str, datetime] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        for lead_id, last_activity in session.execute(
            select(lead.id, lead.last_activity_at).where(
                lead.id.in_(ids[start : start + _IN_CHUNK]), lead.unit_id == tenant.unit_id,
                lead.merged_into.is_(None),
            )
        ):
            if last_activity is not None:
                clock[lead_id] = _aware(last_activity)
    due = [ev for ev in events if (lead_id := _lead_of(ev)) in clock and clock[lead_id] == plan.activity.get(lead_id)]
    _write_drops(session, tenant, plan, due, now)
    return len(due)


def _write_drops(session: Session, tenant: Tenant, plan: DecayPlan, drops: Sequence[NewEvent], now: datetime) -> None:
    """The drops as DECAY events, through ingest's fast path for system events, `_BATCH` at a time."""
    for start in range(0, len(drops), _BATCH):
        ingest_system_events(session, tenant, drops[start : start + _BATCH], now, context=plan.context)


def _lead_of(drop: NewEvent) -> str:
    return cast(PersonRef, drop.person).lead_id or ""


def plan_decay(
    session: Session, tenant: Tenant, now: datetime, *, after: str | None = None, max_leads: int | None = None
) -> DecayPlan:
    """The drops due by `now` (see apply_decay), as DECAY events not yet written."""
    rules = [
        core_decay.DecayRule(r.id, r.inactive_for, r.unit, r.decrease) for r in list_decays(session, tenant)
    ]
    if not rules:
        return DecayPlan([], 0)
    ctx = live_model(session, tenant)
    shortest = min(r.period for r in rules)
    lead, score, event = models.Lead, models.LeadScore, models.Event
    stmt = select(lead.id, lead.last_activity_at).where(
        lead.unit_id == tenant.unit_id,
        lead.merged_into.is_(None),
        lead.last_activity_at.is_not(None),
        lead.last_activity_at <= now - shortest,
    )
    if after is not None:
        stmt = stmt.where(lead.id > after)
    if max_leads is not None:
        stmt = stmt.order_by(lead.id).limit(max_leads)
    # last_activity_at IS NOT NULL is in the WHERE clause.
    scanned = [(lead_id, cast(datetime, last)) for lead_id, last in session.execute(stmt)]
    next_after = scanned[-1][0] if max_leads is not None and len(scanned) == max_leads else None
    floor = None if ctx.policy.allow_negative_scores else 0
    last_activity_of = dict(scanned)
    ids = list(last_activity_of)

    # Highest score over the rulesets (all drop alike), and the last drop of each rule since the lead's
    # last activity (drops before it belong to an old clock); by lead id, in chunks, on indexed columns.
    best: dict[str, int] = {}
    applied: dict[str, dict[str, list[datetime]]] = defaultdict(dict)
    decay_id = event.metadata_["decay_id"].as_string()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        for lead_id, top in session.execute(
            # The ids are this unit's leads; with the unit in the WHERE clause SQLite would walk the unit's index.
            select(score.lead_id, func.max(score.score))
            .where(score.lead_id.in_(chunk))
            .group_by(score.lead_id)
        ):
            best[lead_id] = top
        for lead_id, rule_id, last_drop in session.execute(
            select(event.lead_id, decay_id, func.max(event.occurred_at))
            .where(
                event.unit_id == tenant.unit_id, event.lead_id.in_(chunk), event.event_type == DECAY_EVENT_TYPE
            )
            .group_by(event.lead_id, decay_id)
        ):
            last_drop = _aware(last_drop)
            if rule_id and last_drop > last_activity_of[lead_id]:
                applied[lead_id][rule_id] = [last_drop]
    candidates: list[tuple[str, datetime, int]] = []
    for lead_id, last_activity in scanned:
        top = int(best.get(lead_id) or 0)
        if floor is not None and top <= floor:
            continue  # already at the floor: a drop changes nothing
        candidates.append((lead_id, last_activity, top))
    version = heads(session, tenant).live
    if not candidates:
        return DecayPlan([], 0, ctx, next_after, version)

    pending: list[NewEvent] = []
    leads_hit = 0
    for lead_id, last_activity, top in candidates:
        drops = core_decay.due_drops(
            last_activity, rules, applied.get(lead_id, {}), now, score=top if floor is not None else None, floor=floor
        )
        if drops:
            leads_hit += 1
        for drop in drops:
            pending.append(
                NewEvent(
                    event_type=DECAY_EVENT_TYPE,
                    occurred_at=drop.at,
                    properties={"channel": "system", "decrease": drop.decrease, "decay_id": drop.decay_id},
                    source="decay",
                    person=PersonRef(lead_id=lead_id),
                    default_channel="system",
                    system=True,
                )
            )
    # Time order, ties by lead id: not the order the database happened to return the leads in (which differs
    # between two units with the same history, and between runs on PostgreSQL).
    pending.sort(key=lambda ev: (cast(datetime, ev.occurred_at), cast(PersonRef, ev.person).lead_id or ""))
    return DecayPlan(pending, leads_hit, ctx, next_after, version, last_activity_of)
