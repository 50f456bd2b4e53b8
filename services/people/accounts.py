"""Reading accounts: pages with engagement scores and lead roll-ups, one account with its leads and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from db import models
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.insight.event_log import event_view
from services.people.leads import CreatedRange, like_pattern, named_range, page_offset, scores_by_lead
from services.scoring import levels as level_service
from services.scoring.model import live_model

AccountSort = Literal[
    "score", "last_activity", "created", "name", "lead_count", "top_lead_score", "leads_count", "top_score"
]
ACCOUNT_SORTS: tuple[str, ...] = (
    "score", "last_activity", "created", "name", "lead_count", "top_lead_score", "leads_count", "top_score"
)


@dataclass(frozen=True, slots=True)
class AccountPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    limit: int


def _scores_by_account(session: Session, tenant: Tenant, account_ids: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {aid: {} for aid in account_ids}
    if account_ids:
        for acc_id, rs, score in session.execute(
            select(models.AccountScore.account_id, models.AccountScore.ruleset_id, models.AccountScore.score).where(
                models.AccountScore.unit_id == tenant.unit_id, models.AccountScore.account_id.in_(account_ids)
            )
        ):
            out.setdefault(acc_id, {})[rs] = score
    return out


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
    created_range: CreatedRange = "all",
    now: datetime | None = None,
    sort: AccountSort = "score",
    descending: bool = True,
    page: int = 1,
    limit: int = 50,
) -> AccountPage:
    """One page of accounts with their primary engagement score, lead count and best lead score.

    Rows carry the counts under the reference names (`leads_count`, `top_score`) and the older ones the
    dashboard reads (`lead_count`, `top_lead_score`). `created_range` is relative to `now`.
    """
    if sort not in ACCOUNT_SORTS:
        raise InvalidInput("sort", f"expected one of {', '.join(ACCOUNT_SORTS)}")
    if page < 1:
        raise InvalidInput("page", "must be at least 1")
    if not 1 <= limit <= 500:
        raise InvalidInput("limit", "must be between 1 and 500")
    primary = live_model(session, tenant).primary_ruleset_id or ""
    acc = models.Account
    account_score = aliased(models.AccountScore)
    rollup = _lead_rollup(tenant, primary)
    score = func.coalesce(account_score.score, literal(0))
    lead_count = func.coalesce(rollup.c.lead_count, literal(0))
    top_lead = func.coalesce(rollup.c.top_lead_score, literal(0))

    conditions: list[Any] = [acc.unit_id == tenant.unit_id]
    if min_score is not None:
        conditions.append(score >= min_score)
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
                lead_count.label("lead_count"), top_lead.label("top_lead_score"),
            )
        )
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    ).all()
    all_scores = _scores_by_account(session, tenant, [r.id for r in rows])
    data = [
        {
            "id": r.id,
            "domain": r.domain,
            "name": r.name,
            "score": int(r.score),
            "scores": all_scores.get(r.id, {}),
            "top_lead_score": int(r.top_lead_score),
            "lead_count": int(r.lead_count),
            "top_score": int(r.top_lead_score),
            "leads_count": int(r.lead_count),
            "last_activity_at": r.last_activity_at,
            "created_at": r.created_at,
        }
        for r in rows
    ]
    return AccountPage(data, int(total), page, limit)


def get_account(session: Session, tenant: Tenant, account_id: str, *, events_limit: int = 20) -> dict[str, Any]:
    """{account: {...scores}, leads: [{id, email, names, score, scores, level}], events: [recent, newest first]}."""
    row = session.get(models.Account, account_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"account {account_id!r} does not exist in this unit", field="id")
    primary = live_model(session, tenant).primary_ruleset_id
    scores = _scores_by_account(session, tenant, [account_id])[account_id]
    score = scores.get(primary, 0) if primary else 0
    leads = session.execute(
        select(models.Lead.id, models.Lead.email, models.Lead.first_name, models.Lead.last_name,
               models.Lead.last_activity_at)
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
                "last_activity_at": ld.last_activity_at,
            }
        )
    lead_items.sort(key=lambda it: (-it["score"], it["id"]))
    ev = models.Event
    events = session.execute(
        select(ev.id, ev.lead_id, ev.account_id, ev.event_type, ev.channel, ev.source, ev.occurred_at,
               ev.received_at, ev.metadata_, ev.score_delta)
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
            "score": score,
            "scores": scores,
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
