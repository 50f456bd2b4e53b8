"""Admin backfills for accounts (Owner): re-derive leads' account links from the log, and write `accountId` into
event metadata. Both are idempotent (a second run changes nothing and reports zeros) and audited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from core import identity
from core.model import ScoringModel
from core.profile import ACCOUNT_PROFILE_EVENT, PROFILE_EVENT_TYPES
from core.scoring import DECAY_EVENT_TYPE
from db import models
from db.ids import new_id
from services.context import Tenant
from services.people.owner_scores import require_abm
from services.people.profiles import SYSTEM_CHANNEL
from services.scoring.fit import fit_columns, rescore_fit
from services.scoring.model import heads, live_model, lock_config, model_at, published_model, set_live
from services.scoring.rescore import rescore_unit
from services.tenancy import audit, policy
from services.tenancy.policy import Action

ACCOUNT_ID_KEY = "accountId"
_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class AccountProfileBackfill:
    leads_processed: int
    accounts_linked: int
    accounts_created: int
    profile_scores_updated: int


@dataclass(frozen=True, slots=True)
class EventAccountIdBackfill:
    events_scanned: int
    events_updated: int
    leads_without_account: int


def _accounts_named_by_log(session: Session, tenant: Tenant) -> dict[str, str]:
    """Per lead: the account (still in the unit) of its most recent event (log order) that names one."""
    ev, acc = models.Event, models.Account
    latest = (
        select(ev.lead_id.label("lead_id"), func.max(ev.seq).label("seq"))
        .join(acc, acc.id == ev.account_id)
        .where(
            ev.unit_id == tenant.unit_id, acc.unit_id == tenant.unit_id, ev.lead_id.is_not(None),
            ev.account_id.is_not(None), ev.event_type != ACCOUNT_PROFILE_EVENT,
        )
        .group_by(ev.lead_id)
        .subquery("latest")
    )
    rows = session.execute(select(ev.lead_id, ev.account_id).join(latest, ev.seq == latest.c.seq))
    return {lead_id: account_id for lead_id, account_id in rows if lead_id is not None and account_id is not None}


def backfill_account_profile(session: Session, tenant: Tenant, *, now: datetime) -> AccountProfileBackfill:
    """Re-derive each (unmerged) lead's account link: the account of its most recent event that names one; for a
    lead without such an event, its email's company domain as ingest does (core.identity; the account is created
    when the unit has none for that domain); a lead with neither keeps its link. Then lead and account fit are
    recomputed under the published model. Account scoring: 403 `abm_disabled` while the unit's ABM switch is off.

    (`backfill_event_account_id` is not switched by ABM: the reference lists it under Admin, not under the
    Account endpoints that require `abm_enabled`, and it repairs engagement event metadata that engagement rules
    may read, not account scoring.)"""
    policy.require(tenant, Action.MANAGE_UNIT)
    require_abm(session, tenant)
    lead, acc = models.Lead, models.Account
    from_log = _accounts_named_by_log(session, tenant)
    by_domain: dict[str, str] = {
        domain: account_id
        for account_id, domain in session.execute(
            select(acc.id, acc.domain).where(acc.unit_id == tenant.unit_id, acc.domain.is_not(None))
        )
        if domain is not None
    }
    model = published_model(session, tenant)
    processed = linked = created = 0
    after = ""
    while True:
        rows = session.scalars(
            select(lead)
            .where(lead.unit_id == tenant.unit_id, lead.merged_into.is_(None), lead.id > after)
            .order_by(lead.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            break
        after = rows[-1].id
        for row in rows:
            processed += 1
            wanted = from_log.get(row.id)
            if wanted is None and row.email and "@" in row.email:
                domain = identity.company_domain_from_email(row.email)
                if domain is not None:
                    wanted = by_domain.get(domain)
                    if wanted is None:
                        wanted = _create_account(session, tenant, model, domain, now)
                        by_domain[domain] = wanted
                        created += 1
            if wanted is not None and wanted != row.account_id:
                row.account_id, row.updated_at = wanted, now
                linked += 1
        session.flush()
    updated = sum(rescore_fit(session, tenant, model, kind).changed for kind in ("profile", "account"))
    result = AccountProfileBackfill(processed, linked, created, updated)
    audit.record(session, tenant, action="backfill", entity_type="account_profile", entity_id=tenant.unit_id,
                 before=None, after=asdict(result), now=now)
    return result


def _create_account(session: Session, tenant: Tenant, model: ScoringModel, domain: str, now: datetime) -> str:
    """An account for a company domain, as ingest creates one (named after the domain, empty profile)."""
    account = models.Account(
        id=new_id("acc"), org_id=tenant.org_id, unit_id=tenant.unit_id, domain=domain, name=domain,
        name_key=identity.name_key(domain), metadata_={}, created_at=now, updated_at=now, last_activity_at=None,
        **fit_columns(model, "account", {}),
    )
    session.add(account)
    session.flush()
    return account.id


def _rules_read_account_id(*scoring_models: ScoringModel) -> bool:
    return any(
        str(condition.get("property")) == ACCOUNT_ID_KEY
        for model in scoring_models for rule in model.rules for condition in rule.conditions
    )


def backfill_event_account_id(session: Session, tenant: Tenant, *, now: datetime) -> EventAccountIdBackfill:
    """Write `accountId` into the metadata of each engagement event (system events aside: profile changes, decay)
    whose lead has an account and whose metadata has no `accountId` yet (events that have one are left as they
    are). When a scoring rule has a condition on `accountId`, the unit is rescored from the log afterwards, so
    stored scores stay the replay of the (changed) log."""
    policy.require(tenant, Action.MANAGE_UNIT)
    ev, lead = models.Event, models.Lead
    table = cast(Table, ev.__table__)
    skipped_types = sorted({*PROFILE_EVENT_TYPES, DECAY_EVENT_TYPE})
    scanned = updated_count = 0
    without_account: set[str] = set()
    after = 0
    while True:
        rows = session.execute(
            select(ev.seq, ev.lead_id, ev.metadata_, lead.account_id)
            .join(lead, lead.id == ev.lead_id)
            .where(
                ev.unit_id == tenant.unit_id, ev.seq > after, ev.channel != SYSTEM_CHANNEL,
                ev.event_type.not_in(skipped_types),
            )
            .order_by(ev.seq)
            .limit(_CHUNK)
        ).all()
        if not rows:
            break
        after = rows[-1].seq
        updates: list[dict[str, Any]] = []
        for seq, lead_id, metadata, account_id in rows:
            scanned += 1
            if account_id is None:
                without_account.add(lead_id)
                continue
            current = metadata if isinstance(metadata, dict) else {}
            if ACCOUNT_ID_KEY not in current:
                updates.append({"b_seq": seq, "b_metadata": {**current, ACCOUNT_ID_KEY: account_id}})
        if updates:
            session.execute(
                update(table)
                .where(table.c.seq == bindparam("b_seq"))
                .values(metadata=bindparam("b_metadata", type_=table.c.metadata.type)),
                updates,
            )
            updated_count += len(updates)
    if updated_count:
        _rescore_if_rules_read_account_id(session, tenant)
    result = EventAccountIdBackfill(scanned, updated_count, len(without_account))
    audit.record(session, tenant, action="backfill", entity_type="event_account_id", entity_id=tenant.unit_id,
                 before=None, after=asdict(result), now=now)
    return result


def _rescore_if_rules_read_account_id(session: Session, tenant: Tenant) -> None:
    """Rescore from the log when a rule's condition reads `accountId` (the metadata just changed under it): under the
    live model, or, while a publish is being rescored aside, under the newest version made live here (as the sample
    data removal does), so the aside rescore that replayed the old metadata sees the unit move and stops."""
    lock_config(session, tenant, exclusive=True)
    current = heads(session, tenant)
    newest = model_at(session, tenant, current.published) if current.published else None
    live = live_model(session, tenant)
    if not _rules_read_account_id(live, *([newest] if newest is not None else [])):
        return
    if newest is not None and current.live < current.published:
        rescore_unit(session, tenant, newest)
        set_live(session, tenant, current.published)
    else:
        rescore_unit(session, tenant, live)
