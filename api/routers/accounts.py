"""Accounts: engagement-scored list with lead roll-ups, and one account with its leads and recent events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import ReadSession, TenantDep
from api.routers.leads import present
from services import accounts as account_service

router = APIRouter(tags=["accounts"])


@router.get("/v1/accounts", summary="List accounts with engagement scores")
def list_accounts(
    session: ReadSession,
    tenant: TenantDep,
    page: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    min_score: int | None = None,
    q: Annotated[str | None, Query(max_length=300, description="text in domain or name")] = None,
    sort: Literal["score", "last_activity", "created", "name", "lead_count", "top_lead_score"] = "score",
    order: Literal["desc", "asc"] = "desc",
) -> dict[str, Any]:
    result = account_service.list_accounts(
        session, tenant, min_score=min_score, q=q, sort=sort, descending=order == "desc", page=page, limit=limit
    )
    return {"data": present(result.rows), "total": result.total, "page": result.page, "limit": result.limit}


@router.get("/v1/accounts/{account_id}", summary="Get an account with its leads and recent events")
def get_account(
    account_id: str,
    session: ReadSession,
    tenant: TenantDep,
    events_limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    return present(account_service.get_account(session, tenant, account_id, events_limit=events_limit))
