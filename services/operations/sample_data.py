"""Sample data on demand: seed the demo into an empty unit, and remove exactly what it seeded.

How seeded rows are recognised, without a marker column (no migration):
- events: `source = "seed"` (services.operations.demo.SEED_SOURCE), which every demo event carries; decay drops have
  source "decay" and real integrations send their own sources.
- leads and accounts: the seed dates the ones it creates from their first event (services.operations.demo), so a seeded
  lead has a seeded event and `created_at` equal to its first seeded event's `occurred_at`. A lead that existed
  before (e.g. imported) keeps its own date and is never removed; nor is a seeded lead that later received a
  real event (any event that is neither seeded nor a decay drop): it stays with its real events, and only its
  seeded events and the decay drops they caused (those before its first real event) go. A seeded account stays
  while a remaining lead or event refers to it.
- rules, levels and decay rules: the demo adds them only to a unit that has none, at the seed's time (the
  seeded events' `received_at`). Rules carry `created_by = updated_by = "demo"`; levels and decay rules carry the
  demo's exact values. A row is removed only when it is still as the demo wrote it (same values,
  `updated_at == created_at` at a seed time): what a user created or changed afterwards stays.
Trigger firings (and their deliveries) for removed leads or events go too. Scores are rebuilt from the remaining
log (services.scoring.rescore), so stored scores equal a replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from core.scoring import DECAY_EVENT_TYPE
from db import models
from services.context import Tenant
from services.errors import Conflict
from services.operations import demo
from services.scoring.model import begin_change, heads, model_at, set_live
from services.scoring.publish import publish
from services.scoring.rescore import rescore_unit
from services.tenancy import audit, policy
from services.tenancy.policy import Action

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SampleDataRemoved:
    """Rows removed per table (the reference: counts per delete operation), and seeded leads kept."""

    events: int = 0
    leads: int = 0
    accounts: int = 0
    aliases: int = 0
    lead_scores: int = 0
    account_scores: int = 0
    rules: int = 0
    levels: int = 0
    decay_rules: int = 0
    trigger_firings: int = 0
    leads_kept: int = 0


def seed_sample_data(session: Session, tenant: Tenant, now: datetime) -> demo.DemoSeed:
    """Seed the demo into the caller's unit; 409 when the unit already has events (nothing is added)."""
    policy.require(tenant, Action.MANAGE_UNIT)
    # Two concurrent seeds of one unit: the second waits here, then sees the first one's events (PostgreSQL).
    session.execute(select(models.Unit.id).where(models.Unit.id == tenant.unit_id).with_for_update())
    if demo.unit_has_events(session, tenant):
        raise Conflict("the unit already has events: sample data is seeded only into a unit without events")
    seeded = demo.seed_demo_unit(session, tenant, now=now)
    audit.record(session, tenant, action="seed", entity_type="sample_data", entity_id=tenant.unit_id, before=None,
                 after=asdict(seeded), now=now)
    return seeded


def _aware(value: datetime) -> datetime:
    """MIN() over a UTC column comes back naive on SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def remove_sample_data(session: Session, tenant: Tenant, now: datetime) -> SampleDataRemoved:
    """Remove what the demo seeded into the unit (see the module docstring) and rescore what remains."""
    policy.require(tenant, Action.MANAGE_UNIT)
    begin_change(session, tenant, now)
    unit = tenant.unit_id
    ev = models.Event
    seeded = (ev.unit_id == unit, ev.source == demo.SEED_SOURCE)
    real = (ev.unit_id == unit, or_(ev.source.is_(None), ev.source != demo.SEED_SOURCE),
            ev.event_type != DECAY_EVENT_TYPE)
    seed_times = {_aware(t) for t in session.scalars(select(ev.received_at).where(*seeded).distinct())}
    if not seed_times:
        return SampleDataRemoved()

    first_seeded = {
        lead_id: _aware(first)
        for lead_id, first in session.execute(
            select(ev.lead_id, func.min(ev.occurred_at)).where(*seeded, ev.lead_id.is_not(None)).group_by(ev.lead_id)
        )
    }
    created = {
        lead_id
        for lead_id, created_at in session.execute(
            select(models.Lead.id, models.Lead.created_at).where(
                models.Lead.unit_id == unit, models.Lead.id.in_(select(ev.lead_id).where(*seeded))
            )
        )
        if _aware(created_at) == first_seeded.get(lead_id)
    }
    first_real = {
        lead_id: _aware(first)
        for lead_id, first in session.execute(
            select(ev.lead_id, func.min(ev.occurred_at))
            .where(*real, ev.lead_id.in_(select(ev.lead_id).where(*seeded)))
            .group_by(ev.lead_id)
        )
    }
    doomed = sorted(created - set(first_real))
    kept = sorted(created & set(first_real))

    firings = 0
    for chunk in _chunks(doomed):
        firings += _delete(session, models.TriggerFiring, models.TriggerFiring.lead_id.in_(chunk), unit)
    firings += _delete(
        session, models.TriggerFiring, models.TriggerFiring.event_id.in_(select(ev.id).where(*seeded)), unit
    )
    events = 0
    for lead_id in kept:  # drops its seeded activity caused, before the lead did anything real
        events += _delete(
            session, ev, (ev.lead_id == lead_id) & (ev.event_type == DECAY_EVENT_TYPE)
            & (ev.occurred_at < first_real[lead_id]), unit,
        )
    touched_accounts = sorted(
        {a for a in session.scalars(select(ev.account_id).where(*seeded).distinct()) if a is not None}
    )
    first_of_account = {
        account_id: _aware(first)
        for account_id, first in session.execute(
            select(ev.account_id, func.min(ev.occurred_at))
            .where(*seeded, ev.account_id.is_not(None))
            .group_by(ev.account_id)
        )
    }
    events += _delete(session, ev, ev.source == demo.SEED_SOURCE, unit)

    aliases = lead_scores = leads = 0
    for chunk in _chunks(doomed):
        events += _delete(session, ev, ev.lead_id.in_(chunk), unit)  # their later decay drops
        aliases += _delete(session, models.LeadAlias, models.LeadAlias.lead_id.in_(chunk), unit)
        lead_scores += _delete(session, models.LeadScore, models.LeadScore.lead_id.in_(chunk), unit)
        leads += _delete(session, models.Lead, models.Lead.id.in_(chunk), unit)

    account_scores = accounts = 0
    acc = models.Account
    for chunk in _chunks(touched_accounts):
        rows = session.execute(select(acc.id, acc.created_at).where(acc.unit_id == unit, acc.id.in_(chunk))).all()
        in_use = set(session.scalars(select(models.Lead.account_id).where(
            models.Lead.unit_id == unit, models.Lead.account_id.in_(chunk)))) | set(
            session.scalars(select(ev.account_id).where(ev.unit_id == unit, ev.account_id.in_(chunk))))
        gone = [a for a, created_at in rows if _aware(created_at) == first_of_account.get(a) and a not in in_use]
        if gone:
            account_scores += _delete(session, models.AccountScore, models.AccountScore.account_id.in_(gone), unit)
            accounts += _delete(session, acc, acc.id.in_(gone), unit)

    rules, levels, decays = _remove_demo_settings(session, tenant, seed_times)
    _recompute_last_activity(session, tenant, kept, touched_accounts)
    session.expire_all()
    published = publish(session, tenant, now=now, summary="sample data removed")
    if published is None or not published.rescored:
        # The log lost its sample events whatever the model: rescore here, under the newest version, and make it
        # live, so an aside rescore replaying the old log (services.scoring.publisher) sees the unit move and stops.
        newest = heads(session, tenant).published
        rescore_unit(session, tenant, model_at(session, tenant, newest))
        set_live(session, tenant, newest)
    removed = SampleDataRemoved(
        events=events, leads=leads, accounts=accounts, aliases=aliases, lead_scores=lead_scores,
        account_scores=account_scores, rules=rules, levels=levels, decay_rules=decays, trigger_firings=firings,
        leads_kept=len(kept),
    )
    audit.record(session, tenant, action="remove", entity_type="sample_data", entity_id=tenant.unit_id,
                 before=asdict(removed), after=None, now=now)
    return removed


def _delete(session: Session, model: Any, condition: Any, unit: str) -> int:
    result: Any = session.execute(delete(model).where(model.unit_id == unit, condition))
    return int(result.rowcount or 0)


def _untouched_at_seed(row: Any, seed_times: set[datetime]) -> bool:
    return _aware(row.created_at) in seed_times and _aware(row.updated_at) == _aware(row.created_at)


def _remove_demo_settings(session: Session, tenant: Tenant, seed_times: set[datetime]) -> tuple[int, int, int]:
    unit = tenant.unit_id
    rule_ids = [
        r.id
        for r in session.scalars(select(models.Rule).where(
            models.Rule.unit_id == unit, models.Rule.created_by == "demo", models.Rule.updated_by == "demo"))
        if _untouched_at_seed(r, seed_times)
        and any(r.event_type == t and r.weight == w and r.conditions == c for t, w, c in demo.DEFAULT_RULES)
    ]
    level_ids = [
        lv.id
        for lv in session.scalars(select(models.EngagementLevel).where(models.EngagementLevel.unit_id == unit))
        if _untouched_at_seed(lv, seed_times) and (lv.name, lv.min_score, lv.max_score) in demo.DEFAULT_LEVELS
    ]
    decay_ids = [
        d.id
        for d in session.scalars(select(models.DecayRule).where(models.DecayRule.unit_id == unit))
        if _untouched_at_seed(d, seed_times) and (d.inactive_for, d.unit, d.decrease) in demo.DEFAULT_DECAYS
    ]
    return (
        _delete(session, models.Rule, models.Rule.id.in_(rule_ids), unit) if rule_ids else 0,
        _delete(session, models.EngagementLevel, models.EngagementLevel.id.in_(level_ids), unit) if level_ids else 0,
        _delete(session, models.DecayRule, models.DecayRule.id.in_(decay_ids), unit) if decay_ids else 0,
    )


def _recompute_last_activity(session: Session, tenant: Tenant, lead_ids: list[str], account_ids: list[str]) -> None:
    """Kept leads and accounts were last active when their remaining (non-decay) events say."""
    ev, unit = models.Event, tenant.unit_id
    for model, column, ids in ((models.Lead, ev.lead_id, lead_ids), (models.Account, ev.account_id, account_ids)):
        last = (
            select(func.max(ev.occurred_at))
            .where(ev.unit_id == unit, column == model.id, ev.event_type != DECAY_EVENT_TYPE)
            .scalar_subquery()
        )
        for chunk in _chunks(ids):
            session.execute(
                update(model).where(model.unit_id == unit, model.id.in_(chunk)).values(last_activity_at=last)
            )
