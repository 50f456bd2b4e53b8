"""Merging duplicate leads (POST /v1/leads/merge): one person known under several lead ids becomes one lead.

Every event and alias of the sources moves to the target, the sources are marked `merged_into` the target (reads
of a merged id answer with the target: services.people.leads.require_lead), and the target's scores become the
replay of all its events together in the log's order (services.scoring.rescore.rescore_leads, the one fold): no
point is lost, the merged score is the score of one lead that had received all those events. Events keep their
account, so account scores do not move (unless filters or surge, which read a lead's events together, change
what those events score: then the accounts are rescored too). The sources' trigger firings move to the target, so
a trigger that fired once for either does not fire again for the merged lead; the merge itself fires nothing.
With `truncate` the source rows are deleted once everything has moved. The target's profile is rebuilt from its
profile events (its own and the sources', in the log's order) and its fit recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound
from services.people.profiles import rebuild_profile
from services.scoring.model import heads, live_model, lock_config
from services.scoring.rescore import rescore_leads, rescore_leads_and_accounts
from services.tenancy import audit, policy
from services.tenancy.policy import Action

MAX_SOURCES = 100
_ONCE = "lead:"  # dedupe key prefix of triggers that fire once per lead (services.triggers.triggers)


@dataclass(frozen=True, slots=True)
class MergeResult:
    target_id: str
    merged_sources: list[str]
    moved_events: int
    moved_aliases: int
    truncated_events: int
    rescored_leads: int
    rescored_events: int
    score: int  # the target's primary score after the merge (0 without a primary ruleset)


def merge_leads(
    session: Session,
    tenant: Tenant,
    *,
    target_id: str,
    source_ids: Sequence[str],
    truncate: bool = False,
    now: datetime,
) -> MergeResult:
    """Merge `source_ids` into `target_id` (all leads of the caller's unit) in the caller's transaction."""
    policy.require(tenant, Action.MERGE_LEADS)
    sources = _check_ids(target_id, source_ids)
    lock_config(session, tenant, exclusive=False)  # like ingest: no configuration change scores meanwhile
    current = heads(session, tenant)
    if current.live < current.published:
        raise Conflict("a scoring change is still being applied to this unit's scores; retry the merge shortly")
    rows = _lock_leads(session, tenant, [target_id, *sources])
    target = rows.get(target_id)
    if target is None:
        raise NotFound(f"targetLeadId: lead {target_id!r} does not exist in this unit", field="targetLeadId")
    if target.merged_into is not None:
        raise Conflict(f"targetLeadId: lead {target_id!r} was merged into {target.merged_into!r}; merge into that one",
                       field="targetLeadId")
    for i, source_id in enumerate(sources):
        row = rows.get(source_id)
        if row is None:
            raise NotFound(f"sourceLeadIds[{i}]: lead {source_id!r} does not exist in this unit",
                           field=f"sourceLeadIds[{i}]")
        if row.merged_into is not None:
            raise Conflict(f"sourceLeadIds[{i}]: lead {source_id!r} is already merged into {row.merged_into!r}",
                           field=f"sourceLeadIds[{i}]")

    unit = tenant.unit_id
    first_moved = session.scalar(
        select(func.min(models.Event.seq)).where(models.Event.unit_id == unit, models.Event.lead_id.in_(sources))
    )
    moved_events = _rowcount(session.execute(
        update(models.Event).where(models.Event.unit_id == unit, models.Event.lead_id.in_(sources))
        .values(lead_id=target_id).execution_options(synchronize_session=False)
    ))
    moved_aliases = _rowcount(session.execute(
        update(models.LeadAlias).where(models.LeadAlias.unit_id == unit, models.LeadAlias.lead_id.in_(sources))
        .values(lead_id=target_id, is_primary=False).execution_options(synchronize_session=False)
    ))
    # Leads merged earlier into a source now point at the target directly (reads follow chains either way).
    session.execute(
        update(models.Lead).where(models.Lead.unit_id == unit, models.Lead.merged_into.in_(sources))
        .values(merged_into=target_id).execution_options(synchronize_session=False)
    )
    _move_firings(session, tenant, target_id, sources)
    _absorb(target, [rows[s] for s in sources], now)
    for source_id in sources:
        rows[source_id].merged_into = target_id
        rows[source_id].updated_at = now
    session.flush()

    model = live_model(session, tenant)
    if model.adjusts_events:
        # Bursts and sessions of the merged lead can reach back before the first moved event, and what they hold
        # back or boost moves the events' accounts too (core.quarantine, core.surge).
        rescored = rescore_leads_and_accounts(session, tenant, [target_id, *sources], model)
    else:
        rescored = rescore_leads(session, tenant, [target_id, *sources], model, from_seq=first_moved)
    for lead_id in (target_id, *sources):  # the profile events moved with the others: sources keep none
        rebuild_profile(session, tenant, lead_id, now)
    truncated = 0
    if truncate:
        truncated = _rowcount(session.execute(
            delete(models.Event).where(models.Event.unit_id == unit, models.Event.lead_id.in_(sources))
            .execution_options(synchronize_session=False)
        ))
        session.execute(delete(models.LeadScore).where(models.LeadScore.unit_id == unit,
                                                       models.LeadScore.lead_id.in_(sources)))
        for source_id in sources:
            session.delete(rows[source_id])
        session.flush()
    primary = model.primary_ruleset_id
    score = rescored.scores.get(target_id, {}).get(primary, 0) if primary else 0
    audit.record(
        session, tenant, action="merge", entity_type="lead", entity_id=target_id, before=None,
        after={"sources": sources, "moved_events": moved_events, "moved_aliases": moved_aliases,
               "truncated": truncate, "truncated_events": truncated},
        now=now,
    )
    return MergeResult(target_id, sources, moved_events, moved_aliases, truncated, rescored.owners,
                       rescored.events, int(score))


def _check_ids(target_id: str, source_ids: Sequence[str]) -> list[str]:
    if not target_id:
        raise InvalidInput("targetLeadId", "must not be empty")
    if not source_ids:
        raise InvalidInput("sourceLeadIds", "must name at least one lead")
    if len(source_ids) > MAX_SOURCES:
        raise InvalidInput("sourceLeadIds", f"at most {MAX_SOURCES} leads per merge")
    seen: set[str] = set()
    for i, source_id in enumerate(source_ids):
        if source_id == target_id:
            raise InvalidInput(f"sourceLeadIds[{i}]", "the target lead cannot be one of the sources")
        if source_id in seen:
            raise InvalidInput(f"sourceLeadIds[{i}]", f"lead {source_id!r} is named twice")
        seen.add(source_id)
    return list(source_ids)


def _lock_leads(session: Session, tenant: Tenant, ids: list[str]) -> dict[str, models.Lead]:
    """The unit's leads among `ids`, locked in id order (as ingest locks them) so concurrent writers wait."""
    stmt = (
        select(models.Lead).where(models.Lead.unit_id == tenant.unit_id, models.Lead.id.in_(ids))
        .order_by(models.Lead.id).with_for_update()
    )
    return {row.id: row for row in session.scalars(stmt)}


def _absorb(target: models.Lead, sources: list[models.Lead], now: datetime) -> None:
    """The target keeps what it knows and takes from the sources what it lacks (names, email, account), the earliest
    creation and the latest activity. Its profile (metadata) is the fold of its profile events, now the sources' too
    (services.people.profiles.rebuild_profile, after the move)."""
    for source in sources:
        for name in ("email", "first_name", "last_name", "account_id"):
            if getattr(target, name) is None and getattr(source, name) is not None:
                setattr(target, name, getattr(source, name))
        target.created_at = min(target.created_at, source.created_at)
        if source.last_activity_at is not None and (
            target.last_activity_at is None or source.last_activity_at > target.last_activity_at
        ):
            target.last_activity_at = source.last_activity_at
    target.updated_at = now


def _move_firings(session: Session, tenant: Tenant, target_id: str, sources: list[str]) -> None:
    """The sources' firings become the target's: cool-downs and "once per lead" triggers see them as the target's.
    A once-per-lead key (`lead:<id>`) is renamed to the target's unless the trigger already holds one for it."""
    f = models.TriggerFiring
    unit = tenant.unit_id
    once: dict[str, list[tuple[str, str]]] = {}
    for firing_id, trigger_id, key in session.execute(
        select(f.id, f.trigger_id, f.dedupe_key).where(
            f.unit_id == unit, f.dedupe_key.in_([_ONCE + s for s in [target_id, *sources]])
        )
    ):
        once.setdefault(trigger_id, []).append((firing_id, key))
    for found in once.values():
        if any(key == _ONCE + target_id for _id, key in found):
            continue
        firing_id = found[0][0]
        session.execute(update(f).where(f.id == firing_id).values(dedupe_key=_ONCE + target_id)
                        .execution_options(synchronize_session=False))
    session.execute(
        update(f).where(f.unit_id == unit, f.subject.in_(sources)).values(subject=target_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(f).where(f.unit_id == unit, f.lead_id.in_(sources)).values(lead_id=target_id)
        .execution_options(synchronize_session=False)
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def merged_into_chain(session: Session, tenant: Tenant, lead_ids: Sequence[str]) -> set[str]:
    """`lead_ids` and every lead of the unit merged into one of them, directly or through a chain."""
    found = set(lead_ids)
    frontier = set(lead_ids)
    while frontier:
        more = set(session.scalars(
            select(models.Lead.id).where(
                models.Lead.unit_id == tenant.unit_id, models.Lead.merged_into.in_(sorted(frontier))
            )
        )) - found
        found |= more
        frontier = more
    return found

