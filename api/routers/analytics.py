"""Analytics (GET /v1/analytics...): totals and events per type, the last 24 hours and the top event types, the top
leads and the biggest recent score gains. Counts come from the daily counters (services.insight.analytics)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import Now, ReadSession
from api.insight_schemas import AnalyticsOut, AnalyticsStatsOut, RecentGainOut, TopLeadOut
from api.permissions import Reader
from services.insight import analytics

router = APIRouter(tags=["analytics"])

LimitQuery = Annotated[int, Query(ge=1, le=100, description="how many to list")]


@router.get("/v1/analytics", response_model=AnalyticsOut, summary="Analytics across events")
def get_analytics(session: ReadSession, tenant: Reader) -> dict[str, Any]:
    return analytics.totals(session, tenant)


@router.get("/v1/analytics/stats", response_model=AnalyticsStatsOut, summary="Event statistics")
def get_stats(
    session: ReadSession,
    tenant: Reader,
    now: Now,
    days: Annotated[int, Query(ge=1, le=366, description="top_events covers the last `days` UTC days")] = 30,
    limit: LimitQuery = 10,
) -> dict[str, Any]:
    return analytics.stats(session, tenant, now=now, days=days, limit=limit)


@router.get("/v1/analytics/top-leads", response_model=list[TopLeadOut], summary="Top leads by primary score")
def get_top_leads(session: ReadSession, tenant: Reader, limit: LimitQuery = 10) -> list[dict[str, Any]]:
    return analytics.top_leads(session, tenant, limit=limit)


@router.get("/v1/analytics/recent-gains", response_model=list[RecentGainOut], summary="Recent score gains")
def get_recent_gains(
    session: ReadSession,
    tenant: Reader,
    now: Now,
    days: Annotated[int, Query(ge=1, le=90, description="the window: the last `days` days")] = 7,
    limit: LimitQuery = 10,
) -> list[dict[str, Any]]:
    return analytics.recent_gains(session, tenant, now=now, days=days, limit=limit)
