"""Accounts: engagement-scored list with lead roll-ups, and one account with its leads and recent events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import Now, ReadSession
from api.permissions import Reader
from api.schemas import AccountDetailOut, AccountPageOut
from api.types import PageQuery, ScoreQuery
from services.people import accounts as account_service
from services.people.leads import CreatedRange

router = APIRouter(tags=["accounts"])


@router.get("/v1/accounts", response_model=AccountPageOut, summary="List accounts with engagement scores")
def list_accounts(
    session: ReadSession,
    tenant: Reader,
    now: Now,
    page: PageQuery = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    range: Annotated[CreatedRange, Query(description="accounts created in this named range (UTC days)")] = "all",
    search: Annotated[str | None, Query(max_length=300, description="text in the account's name or domain")] = None,
    min_score: ScoreQuery = None,
    q: Annotated[str | None, Query(max_length=300, description="Deprecated. Use search.", deprecated=True)] = None,
    sort: Literal[
        "score", "last_activity", "created", "name", "leads_count", "top_score", "lead_count", "top_lead_score"
    ] = "score",
    order: Literal["desc", "asc"] = "desc",
) -> dict[str, Any]:
    result = account_service.list_accounts(
        session, tenant, min_score=min_score, q=search if search is not None else q, created_range=range, now=now,
        sort=sort, descending=order == "desc", page=page, limit=limit,
    )
    return {"accounts": result.rows, "total": result.total, "page": result.page, "limit": result.limit}


@router.get(
    "/v1/accounts/{account_id}", response_model=AccountDetailOut,
    summary="Get an account with its leads and recent events",
)
def get_account(
    account_id: str,
    session: ReadSession,
    tenant: Reader,
    events_limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    return account_service.get_account(session, tenant, account_id, events_limit=events_limit)
