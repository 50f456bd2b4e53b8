"""Quick reads about leads for integrators and autocomplete: search by id or alias, scores of many leads at once,
one lead's aliases and its account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.people.aliases import lead_aliases
from services.people.leads import account_summary, require_lead, scores_by_lead
from services.scoring.model import live_model

SEARCH_MIN_CHARS = 2
SEARCH_LIMIT = 10
MAX_BATCH_LEADS = 500
PRIMARY = "primary"


def _like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_leads(session: Session, tenant: Tenant, q: str) -> list[dict[str, Any]]:
    """Up to 10 leads of the unit whose id starts with `q` or one of whose aliases (email, phone, any kind: raw or
    normalised) contains it, case-insensitively; merged leads are left out. Each with its primary score and the
    alias that matched (none for an id match)."""
    text = q.strip()
    if len(text) < SEARCH_MIN_CHARS:
        raise InvalidInput("q", f"must be at least {SEARCH_MIN_CHARS} characters")
    lead, alias = models.Lead, models.LeadAlias
    unit = tenant.unit_id
    found: dict[str, dict[str, Any] | None] = {}
    for (lead_id,) in session.execute(
        select(lead.id)
        .where(lead.unit_id == unit, lead.merged_into.is_(None), lead.id.like(_like(text) + "%", escape="\\"))
        .order_by(lead.id)
        .limit(SEARCH_LIMIT)
    ):
        found[lead_id] = None
    if len(found) < SEARCH_LIMIT:
        contains = "%" + _like(text.lower()) + "%"
        for lead_id, kind, raw in session.execute(
            select(alias.lead_id, alias.kind, alias.raw_value)
            .join(lead, lead.id == alias.lead_id)
            .where(
                alias.unit_id == unit,
                lead.merged_into.is_(None),
                or_(
                    func.lower(alias.value).like(contains, escape="\\"),
                    func.lower(alias.raw_value).like(contains, escape="\\"),
                ),
            )
            .order_by(alias.lead_id, alias.id)
            .limit(SEARCH_LIMIT * 5)
        ):
            if lead_id not in found and len(found) < SEARCH_LIMIT:
                found[lead_id] = {"alias_kind": kind, "raw_value": raw}
    if not found:
        return []
    rows = {
        r.id: r for r in session.scalars(select(lead).where(lead.unit_id == unit, lead.id.in_(list(found))))
    }
    primary = live_model(session, tenant).primary_ruleset_id
    scores = scores_by_lead(session, tenant, list(found))
    return [
        {
            "lead_id": lead_id,
            "email": rows[lead_id].email,
            "first_name": rows[lead_id].first_name,
            "last_name": rows[lead_id].last_name,
            "account_id": rows[lead_id].account_id,
            "score": scores[lead_id].get(primary, 0) if primary else 0,
            "matched": matched,
        }
        for lead_id, matched in found.items()
    ]


def batch_scores(
    session: Session, tenant: Tenant, lead_ids: Sequence[str], ruleset: str | None = None
) -> list[dict[str, Any]]:
    """`[{lead_id, score}]` for the given leads that exist in this unit (request order, each once), under the
    primary ruleset (`ruleset` None or "primary") or the ruleset with that id or name; all 0 without a primary."""
    if not 1 <= len(lead_ids) <= MAX_BATCH_LEADS:
        raise InvalidInput("lead_ids", f"must hold 1 to {MAX_BATCH_LEADS} lead ids")
    model = live_model(session, tenant)
    if ruleset is None or ruleset == PRIMARY:
        ruleset_id = model.primary_ruleset_id
    else:
        ruleset_id = next((rs.id for rs in model.rulesets if ruleset in (rs.id, rs.name)), None)
        if ruleset_id is None:
            raise NotFound(f"ruleset: no ruleset with id or name {ruleset!r} in this unit", field="ruleset")
    wanted = list(dict.fromkeys(lead_ids))
    visible = set(
        session.scalars(
            select(models.Lead.id).where(models.Lead.unit_id == tenant.unit_id, models.Lead.id.in_(wanted))
        )
    )
    scores = scores_by_lead(session, tenant, [i for i in wanted if i in visible])
    return [
        {"lead_id": i, "score": scores[i].get(ruleset_id, 0) if ruleset_id else 0} for i in wanted if i in visible
    ]


def lead_alias_list(session: Session, tenant: Tenant, lead_id: str) -> list[dict[str, Any]]:
    """The lead's aliases, oldest first: `{alias_kind, value (normalised), raw_value, is_primary, created_at}`."""
    lead_id = require_lead(session, tenant, lead_id).id  # a merged id reads as the lead it was merged into
    return [
        {"alias_kind": a.kind, "value": a.value, "raw_value": a.raw_value, "is_primary": bool(a.is_primary),
         "created_at": a.created_at}
        for a in lead_aliases(session, tenant, lead_id)
    ]


def lead_account(session: Session, tenant: Tenant, lead_id: str) -> dict[str, Any]:
    """`{lead_id, account}`: the lead's account (see services.people.leads.account_summary) or None."""
    row = require_lead(session, tenant, lead_id)
    return {"lead_id": row.id, "account": account_summary(session, tenant, row.account_id)}
