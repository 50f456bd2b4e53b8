"""Leads: filtered lists with scores and levels, one lead in detail, its score and its events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import ReadSession, TenantDep
from api.schemas import iso
from services import leads as lead_service

router = APIRouter(tags=["leads"])


def present(value: Any) -> Any:
    """Service results as JSON: datetimes as ISO 8601 UTC ('...Z'), containers walked recursively."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: present(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [present(v) for v in value]
    return value


@router.get("/v1/leads", summary="List leads with scores and levels")
def list_leads(
    session: ReadSession,
    tenant: TenantDep,
    page: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    min_score: int | None = None,
    max_score: int | None = None,
    level: Annotated[str | None, Query(max_length=100, description="engagement level name")] = None,
    last_active_after: datetime | None = None,
    event_type: Annotated[str | None, Query(max_length=200, description="leads that had this event")] = None,
    q: Annotated[str | None, Query(max_length=320, description="text in email, name or account")] = None,
    sort: Literal["score", "last_activity", "created"] = "score",
    order: Literal["desc", "asc"] = "desc",
) -> dict[str, Any]:
    result = lead_service.list_leads(
        session, tenant, min_score=min_score, max_score=max_score, level=level,
        last_active_after=last_active_after, event_type=event_type, q=q, sort=sort,
        descending=order == "desc", page=page, limit=limit,
    )
    return {"data": present(result.rows), "total": result.total, "page": result.page, "limit": result.limit}


@router.get("/v1/leads/{lead_id}", summary="Get a lead including metadata, aliases and related account")
def get_lead(lead_id: str, session: ReadSession, tenant: TenantDep) -> dict[str, Any]:
    return present(lead_service.get_lead(session, tenant, lead_id))


@router.get("/v1/leads/{lead_id}/score", summary="Get a lead's score, per-ruleset scores and level")
def get_lead_score(lead_id: str, session: ReadSession, tenant: TenantDep) -> dict[str, Any]:
    return present(lead_service.lead_score(session, tenant, lead_id))


@router.get("/v1/leads/{lead_id}/events", summary="List events for a lead, newest first")
def get_lead_events(
    lead_id: str,
    session: ReadSession,
    tenant: TenantDep,
    page: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    return present(lead_service.lead_events(session, tenant, lead_id, page=page, limit=limit))
