"""The unit's usage this month: events ingested, API requests, deliveries, leads and accounts (GET /v1/usage)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import Now, ReadSession
from api.permissions import Reader
from api.schemas import OutModel
from services.tenancy import usage

router = APIRouter(tags=["usage"])


class UsageDayOut(OutModel):
    day: str
    events_ingested: int
    system_events: int
    api_requests: int
    deliveries: int


class UsageOut(OutModel):
    month: str
    unit_id: str
    events_ingested: int
    system_events: int
    api_requests: int
    deliveries: int
    leads: int
    accounts: int
    leads_created: int
    accounts_created: int
    days: list[UsageDayOut]


@router.get(
    "/v1/usage", response_model=UsageOut, summary="Usage this month",
    description="The caller's unit in one UTC calendar month (default: the current one): events ingested (by "
    "received time; decay adjustments apart as system_events), authenticated API requests, deliveries, leads and "
    "accounts now and created in the month, and one entry per day of the month so far.",
)
def get_usage(
    session: ReadSession, tenant: Reader, now: Now,
    month: str | None = Query(default=None, max_length=7, description="Calendar month YYYY-MM (UTC)"),
) -> dict[str, Any]:
    return usage.month_usage(session, tenant, month=month, now=now)
