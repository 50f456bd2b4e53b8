"""Accounts (ABM): the list with engagement, fit and lead roll-ups, one account with its leads and recent events,
and batch unlink/delete. Every route answers 403 `abm_disabled` while the unit's `abm_enabled` setting is off."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import LeadEditor, Reader
from api.schemas import AccountBatchDeleteOut, AccountDetailOut, AccountPageOut, InModel
from api.types import PageQuery, ScoreQuery
from services.people import accounts as account_service
from services.people.leads import CreatedRange

router = APIRouter(tags=["accounts"])

ABM_NOTE = " Answers 403 `abm_disabled` while `abm_enabled` (PUT /v1/settings/scoring) is off."


@router.get(
    "/v1/accounts", response_model=AccountPageOut, summary="List accounts with engagement and fit scores",
    description="Accounts of the unit with their engagement score and level, fit score and level, the best lead's "
    "score (`top_score`), `leads_count` and the top lead's `owner_name`. `intent_level` keeps the accounts whose "
    "engagement level is in the lowest third (`low`), middle (`medium`) or top third (`high`) of the unit's "
    "engagement levels ordered by min_score (a single level counts as high; 2 levels: low and high)." + ABM_NOTE,
)
def list_accounts(
    session: ReadSession,
    tenant: Reader,
    now: Now,
    page: PageQuery = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    range: Annotated[CreatedRange, Query(description="accounts created in this named range (UTC days)")] = "all",
    search: Annotated[str | None, Query(max_length=300, description="text in the account's name or domain")] = None,
    intent_level: Annotated[
        account_service.IntentLevel,
        Query(description="the intent of the account's engagement level; `all` does not filter"),
    ] = "all",
    min_score: ScoreQuery = None,
    q: Annotated[str | None, Query(max_length=300, description="Deprecated. Use search.", deprecated=True)] = None,
    sort: Literal[
        "score", "last_activity", "created", "name", "leads_count", "top_score", "lead_count", "top_lead_score"
    ] = "score",
    order: Literal["desc", "asc"] = "desc",
) -> dict[str, Any]:
    result = account_service.list_accounts(
        session, tenant, min_score=min_score, q=search if search is not None else q, intent_level=intent_level,
        created_range=range, now=now, sort=sort, descending=order == "desc", page=page, limit=limit,
    )
    return {"accounts": result.rows, "total": result.total, "page": result.page, "limit": result.limit}


class AccountBatchDeleteIn(InModel):
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=account_service.MAX_BATCH_DELETE, description="account ids of this unit"
    )


# Declared before /v1/accounts/{account_id} for readability (POST never matches that GET anyway).
@router.post(
    "/v1/accounts/batch-delete", response_model=AccountBatchDeleteOut, summary="Batch delete/unlink accounts",
    description="Unlinks the unit's leads from the given accounts and deletes the accounts no lead references any "
    "more. Ids that are not this unit's accounts are ignored." + ABM_NOTE,
)
def batch_delete_accounts(
    body: AccountBatchDeleteIn, tenant: LeadEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    def work(session: Session) -> account_service.BatchDeleted:
        return account_service.batch_delete_accounts(session, tenant, body.ids, now=now)

    done = run_write(db, work)
    return {"unlinked_leads": done.unlinked_leads, "deleted_accounts": done.deleted_accounts}


def account_detail_out(detail: dict[str, Any], org_id: str) -> dict[str, Any]:
    """The service's account detail in the reference's shape (`account_id`, ..., `leads`, `recent_events`)."""
    account = detail["account"]
    return {
        "account_id": account["id"], "org_id": org_id, "domain": account["domain"], "name": account["name"],
        "metadata": account["metadata"], "score": account["score"], "scores": account["scores"],
        "level": account["level"], "top_score": account["top_score"], "leads_count": account["leads_count"],
        "fit_score": account["fit_score"], "fit_scores": account["fit_scores"], "fit_level": account["fit_level"],
        "fit_reasons": account["fit_reasons"],
        "leads": [{**lead, "lead_id": lead["id"]} for lead in detail["leads"]],
        "recent_events": detail["events"],
        "last_activity_at": account["last_activity_at"], "created_at": account["created_at"],
    }


@router.get(
    "/v1/accounts/{account_id}", response_model=AccountDetailOut, summary="Get account detail",
    description="The account with its engagement and fit scores, its leads (highest score first, with their fit) "
    "and its most recent events." + ABM_NOTE,
)
def get_account(
    account_id: str,
    session: ReadSession,
    tenant: Reader,
    events_limit: Annotated[int, Query(ge=1, le=200, description="how many recent events")] = 20,
) -> dict[str, Any]:
    return account_detail_out(
        account_service.get_account(session, tenant, account_id, events_limit=events_limit), tenant.org_id
    )
