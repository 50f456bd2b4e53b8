"""Accounts (account-based marketing): pages with engagement and fit scores and lead roll-ups, one account with its
leads and events, and unlinking/deleting accounts.

Everything here answers only while the unit's `abm_enabled` scoring setting is on (`require_abm`: 403
`abm_disabled` otherwise). An account's engagement score and level come from the live model (as lead scores do),
its fit from the published one (services.scoring.fit).

Intent levels (`intent_level` of the list): the unit's engagement levels ordered by min_score are split into
thirds by position: with n levels, level i (0-based) is `low` when 3*i < n-1, `high` when 3*i > 2*(n-1), else
`medium` (a single level counts as `high`; 2 levels: low, high; 3: low, medium, high; 4: low, medium, medium,
high; 6: two each). An account's intent is that of its engagement level; `all` does not filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, delete, false, func, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from core import levels as core_levels
from core.profile import ACCOUNT_PROFILE_EVENT
from db import models
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.insight import surge as surge_insight
from services.insight.event_log import EVENT_COLUMNS, event_view
from services.people.leads import (
    CreatedRange,
    fit_reasons,
    like_pattern,
    named_range,
    page_offset,
    scores_by_lead,
)
from services.people.owner_scores import (
    account_scores,
    fit_view,
    require_abm,
    scores_by_account,
)
from services.scoring import levels as level_service
from services.scoring.model import live_model, published_model
from services.tenancy import audit, policy
from services.tenancy.policy import Action

IntentLevel = Literal["all", "low", "medium", "high"]
INTENT_LEVELS: tuple[str, ...] = ("all", "low", "medium", "high")
MAX_BATCH_DELETE = 500

AccountSort = Literal[
    "score", "last_activity", "created", "name", "lead_count", "top_lead_score", "leads_count", "top_score"
]
ACCOUNT_SORTS: tuple[str, ...] = (
    "score", "last_activity", "created", "name", "lead_count", "top_lead_score", "leads_count", "top_score"
)


def intent_of(index: int, count: int) -> str:
    """The intent (`low`, `medium`, `high`) of the engagement level at `index` of `count` levels by min_score."""
    if count <= 1:
        return "high"
    if 3 * index < count - 1:
        return "low"
    if 3 * index > 2 * (count - 1):
        return "high"
    return "medium"


def intent_bands(levels: list[core_levels.Level], intent: str) -> list[core_levels.Level]:
    """The engagement levels whose intent is `intent` (levels lowest first, as load_levels gives them)."""
    ordered = sorted(levels, key=lambda lv: (lv.min_score, lv.id))
    return [lv for i, lv in enumerate(ordered) if intent_of(i, len(ordered)) == intent]


def _owner_names(session: Session, tenant: Tenant, primary: str, account_ids: list[str]) -> dict[str, str | None]:
    """Per account: `owner_name` of its top-scoring lead's profile (ties: the lowest lead id), or None."""
    if not account_ids:
        return {}
    lead_score = aliased(models.LeadScore)
    rows = session.execute(
        select(models.Lead.account_id, models.Lead.id, func.coalesce(lead_score.score, 0))
        .outerjoin(lead_score, and_(lead_score.lead_id == models.Lead.id, lead_score.ruleset_id == primary))
        .where(
            models.Lead.unit_id == tenant.unit_id,
            models.Lead.account_id.in_(account_ids),
            models.Lead.merged_into.is_(None),
        )
    ).all()
    top: dict[str, tuple[int, str]] = {}
    for account_id, lead_id, score in rows:
        if account_id is None:
            continue
        best = top.get(account_id)
        if best is None or (-int(score), lead_id) < (-best[0], best[1]):
            top[account_id] = (int(score), lead_id)
    profiles: dict[str, Any] = {}
    if top:
        profiles = {
            lead_id: profile
            for lead_id, profile in session.execute(
                select(models.Lead.id, models.Lead.metadata_).where(
                    models.Lead.unit_id == tenant.unit_id, models.Lead.id.in_([lead for _, lead in top.values()])
                )
            )
        }
    out: dict[str, str | None] = {}
    for account_id in account_ids:
        lead = top.get(account_id)
        owner = (profiles.get(lead[1]) or {}).get("owner_name") if lead else None
        out[account_id] = None if owner is None else str(owner)
    return out


@dataclass(frozen=True, slots=True)
class AccountPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    limit: int


def _lead_rollup(tenant: Tenant, primary: str) -> Any:
    """Per account: how many (unmerged) leads it has and the best primary lead score among them."""
    lead_score = aliased(models.LeadScore)
    return (
        select(
            models.Lead.account_id.label("account_id"),
            func.count(models.Lead.id).label("lead_count"),
            func.max(func.coalesce(lead_score.score, 0)).label("top_lead_score"),
        )
        .outerjoin(lead_score, and_(lead_score.lead_id == models.Lead.id, lead_score.ruleset_id == primary))
        .where(
            models.Lead.unit_id == tenant.unit_id,
            models.Lead.account_id.is_not(None),
            models.Lead.merged_into.is_(None),
        )
        .group_by(models.Lead.account_id)
        .subquery("lead_rollup")
    )


def list_accounts(
    session: Session,
    tenant: Tenant,
    *,
    min_score: int | None = None,
    q: str | None = None,
    intent_level: IntentLevel = "all",
    created_range: CreatedRange = "all",
    now: datetime | None = None,
    sort: AccountSort = "score",
    descending: bool = True,
    page: int = 1,
    limit: int = 50,
) -> AccountPage:
    """One page of accounts with their primary engagement score, lead count and best lead score.

    Rows carry the counts under the reference names (`leads_count`, `top_score`) and the older ones the
    dashboard reads (`lead_count`, `top_lead_score`), the engagement level, the top lead's `owner_name`, `surging`
    (a lead of the account had a boosted event or a surge trigger firing in the 24 hours up to `now`; false
    without `now`) and the fit fields. `created_range` is relative to `now`; `intent_level`
    keeps the accounts whose engagement level has that intent (see the module's note).
    """
    require_abm(session, tenant)
    if sort not in ACCOUNT_SORTS:
        raise InvalidInput("sort", f"expected one of {', '.join(ACCOUNT_SORTS)}")
    if page < 1:
        raise InvalidInput("page", "must be at least 1")
    if not 1 <= limit <= 500:
        raise InvalidInput("limit", "must be between 1 and 500")
    if intent_level not in INTENT_LEVELS:
        raise InvalidInput("intent_level", f"expected one of {', '.join(INTENT_LEVELS)}")
    primary = live_model(session, tenant).primary_ruleset_id or ""
    fit_model = published_model(session, tenant)
    levels = level_service.load_levels(session, tenant)
    acc = models.Account
    account_score = aliased(models.AccountScore)
    rollup = _lead_rollup(tenant, primary)
    score = func.coalesce(account_score.score, literal(0))
    lead_count = func.coalesce(rollup.c.lead_count, literal(0))
    top_lead = func.coalesce(rollup.c.top_lead_score, literal(0))

    conditions: list[Any] = [acc.unit_id == tenant.unit_id]
    if min_score is not None:
        conditions.append(score >= min_score)
    if intent_level != "all":
        bands = intent_bands(levels, intent_level)
        conditions.append(
            or_(*(and_(score >= lv.min_score, score <= lv.max_score) for lv in bands)) if bands else false()
        )
    if q is not None and q.strip():
        pattern = like_pattern(q)
        conditions.append(
            or_(func.lower(acc.domain).like(pattern, escape="\\"), func.lower(acc.name).like(pattern, escape="\\"))
        )
    if created_range != "all":
        if now is None:
            raise ValueError("now is required for created_range")
        start, end = named_range(created_range, now)
        if start is not None:
            conditions.append(acc.created_at >= start)
        if end is not None:
            conditions.append(acc.created_at < end)

    def joined(stmt: Any) -> Any:
        return (
            stmt.select_from(acc)
            .outerjoin(account_score, and_(account_score.account_id == acc.id, account_score.ruleset_id == primary))
            .outerjoin(rollup, rollup.c.account_id == acc.id)
            .where(*conditions)
        )

    total = session.scalar(joined(select(func.count(acc.id)))) or 0
    key = {
        "score": score, "last_activity": acc.last_activity_at, "created": acc.created_at, "name": func.lower(acc.name),
        "lead_count": lead_count, "top_lead_score": top_lead, "leads_count": lead_count, "top_score": top_lead,
    }[sort]
    offset = page_offset(page, limit)
    if offset is None:
        return AccountPage([], int(total), page, limit)
    order = [key.desc().nulls_last(), acc.id.desc()] if descending else [key.asc().nulls_last(), acc.id.asc()]
    rows = session.execute(
        joined(
            select(
                acc.id, acc.domain, acc.name, acc.last_activity_at, acc.created_at, score.label("score"),
                lead_count.label("lead_count"), top_lead.label("top_lead_score"), acc.fit_score, acc.fit_scores,
            )
        )
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    ).all()
    all_scores = scores_by_account(session, tenant, [r.id for r in rows])
    owners = _owner_names(session, tenant, primary, [r.id for r in rows])
    surging = surge_insight.surging_accounts(session, tenant, [r.id for r in rows], now=now) if now else set()
    data = [
        {
            "id": r.id,
            "domain": r.domain,
            "name": r.name,
            "score": int(r.score),
            "scores": all_scores.get(r.id, {}),
            "level": level_service.level_for_score(int(r.score), levels),
            "top_lead_score": int(r.top_lead_score),
            "lead_count": int(r.lead_count),
            "top_score": int(r.top_lead_score),
            "leads_count": int(r.lead_count),
            "owner_name": owners.get(r.id),
            "surging": r.id in surging,
            **fit_view(fit_model, "account", r.fit_score, r.fit_scores),
            "last_activity_at": r.last_activity_at,
            "created_at": r.created_at,
        }
        for r in rows
    ]
    return AccountPage(data, int(total), page, limit)


def get_account(session: Session, tenant: Tenant, account_id: str, *, events_limit: int = 20) -> dict[str, Any]:
    """{account: {...scores, level, fit}, leads: [{id, email, names, score, scores, level, fit_score, fit_level}],
    events: [recent, newest first]}."""
    require_abm(session, tenant)
    row = session.get(models.Account, account_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"account {account_id!r} does not exist in this unit", field="id")
    primary = live_model(session, tenant).primary_ruleset_id
    fit_model = published_model(session, tenant)
    leads = session.execute(
        select(models.Lead.id, models.Lead.email, models.Lead.first_name, models.Lead.last_name,
               models.Lead.last_activity_at, models.Lead.fit_score, models.Lead.fit_scores)
        .where(
            models.Lead.unit_id == tenant.unit_id,
            models.Lead.account_id == account_id,
            models.Lead.merged_into.is_(None),
        )
    ).all()
    lead_scores = scores_by_lead(session, tenant, [ld.id for ld in leads])
    levels = level_service.load_levels(session, tenant)
    lead_items = []
    for ld in leads:
        per = lead_scores.get(ld.id, {})
        lead_score = per.get(primary, 0) if primary else 0
        lead_items.append(
            {
                "id": ld.id, "email": ld.email, "first_name": ld.first_name, "last_name": ld.last_name,
                "score": lead_score, "scores": per, "level": level_service.level_for_score(lead_score, levels),
                **fit_view(fit_model, "profile", ld.fit_score, ld.fit_scores),
                "last_activity_at": ld.last_activity_at,
            }
        )
    lead_items.sort(key=lambda it: (-it["score"], it["id"]))
    ev = models.Event
    events = session.execute(
        select(*EVENT_COLUMNS)  # what event_view reads
        .where(ev.unit_id == tenant.unit_id, ev.account_id == account_id)
        .order_by(ev.occurred_at.desc(), ev.seq.desc())
        .limit(events_limit)
    ).all()
    lead_ids = [it["id"] for it in lead_items]
    return {
        "account": {
            "id": row.id,
            "domain": row.domain,
            "name": row.name,
            "metadata": row.metadata_ or {},
            **account_scores(session, tenant, row, levels=levels),
            "fit_reasons": fit_reasons(fit_model, "account", row.metadata_),
            "top_lead_score": max((it["score"] for it in lead_items), default=0),
            "lead_count": len(lead_ids),
            "top_score": max((it["score"] for it in lead_items), default=0),
            "leads_count": len(lead_ids),
            "last_activity_at": row.last_activity_at,
            "created_at": row.created_at,
        },
        "leads": lead_items,
        "events": [event_view(e) for e in events],
    }


@dataclass(frozen=True, slots=True)
class BatchDeleted:
    unlinked_leads: int
    deleted_accounts: int


def batch_delete_accounts(session: Session, tenant: Tenant, ids: list[str], *, now: datetime) -> BatchDeleted:
    """Unlink the unit's leads from the given accounts, then delete those accounts no lead references any more
    (with their engagement scores and profile events; their engagement events stay, without an account).

    Ids that are not accounts of this unit are ignored: another unit's accounts are never touched. Audited: one
    entry per deleted account, and one for the unlinking.
    """
    policy.require(tenant, Action.EDIT_LEADS)
    require_abm(session, tenant)
    if len(ids) > MAX_BATCH_DELETE:
        raise InvalidInput("ids", f"at most {MAX_BATCH_DELETE} ids at once")
    acc, lead = models.Account, models.Lead
    accounts = session.scalars(
        select(acc).where(acc.unit_id == tenant.unit_id, acc.id.in_(sorted(set(ids)))).order_by(acc.id)
    ).all()
    found = [a.id for a in accounts]
    if not found:
        return BatchDeleted(0, 0)
    unlinked_ids = session.scalars(
        select(lead.id).where(lead.unit_id == tenant.unit_id, lead.account_id.in_(found)).order_by(lead.id)
    ).all()
    if unlinked_ids:
        session.execute(
            update(lead)
            .where(lead.unit_id == tenant.unit_id, lead.account_id.in_(found))
            .values(account_id=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        audit.record(session, tenant, action="unlink", entity_type="lead_accounts", entity_id=None,
                     before={"accounts": found, "leads": list(unlinked_ids)}, after={"accounts": [], "leads": []},
                     now=now)
    still_used = set(
        session.scalars(select(lead.account_id).where(lead.account_id.in_(found)).distinct()).all()
    )
    gone = [a for a in accounts if a.id not in still_used]
    gone_ids = [a.id for a in gone]
    if gone_ids:
        for a in gone:
            audit.record(session, tenant, action="delete", entity_type="account", entity_id=a.id,
                         before=audit.snapshot(a), after=None, now=now)
        ev = models.Event
        session.execute(
            delete(ev)
            .where(ev.unit_id == tenant.unit_id, ev.account_id.in_(gone_ids), ev.event_type == ACCOUNT_PROFILE_EVENT)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(ev)
            .where(ev.unit_id == tenant.unit_id, ev.account_id.in_(gone_ids))
            .values(account_id=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(models.AccountScore)
            .where(models.AccountScore.unit_id == tenant.unit_id, models.AccountScore.account_id.in_(gone_ids))
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(acc).where(acc.unit_id == tenant.unit_id, acc.id.in_(gone_ids))
            .execution_options(synchronize_session=False)
        )
    return BatchDeleted(len(unlinked_ids), len(gone_ids))
