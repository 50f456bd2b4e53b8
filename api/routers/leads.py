"""Leads: filtered lists with scores and levels, one lead in detail, its score (now or as of a moment), its score
explanation and its events."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from api.deps import Now, ReadSession
from api.insight_schemas import ActivityOut
from api.permissions import Reader
from api.schemas import (
    EventOut,
    InModel,
    LeadAccountLinkOut,
    LeadAliasOut,
    LeadBatchScoreOut,
    LeadDetailOut,
    LeadPageOut,
    LeadScoreOut,
    LeadSearchHitOut,
    ScoreExplanationOut,
)
from api.types import INT64_MAX, DatetimeQuery, PageQuery, ScoreQuery, UtcDatetime
from services.insight import activity
from services.people import lead_insights, lookups
from services.people import leads as lead_service

router = APIRouter(tags=["leads"])

LimitQuery = Annotated[int, Query(ge=1, le=500)]


@router.get("/v1/leads", response_model=LeadPageOut, summary="List leads with scores and levels")
def list_leads(
    session: ReadSession,
    tenant: Reader,
    now: Now,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
    range: Annotated[
        lead_service.CreatedRange, Query(description="leads created in this named range (UTC days)")
    ] = "all",
    min_score: ScoreQuery = None,
    max_score: ScoreQuery = None,
    level: Annotated[str | None, Query(max_length=100, description="engagement level name")] = None,
    fit_level: Annotated[
        str | None, Query(max_length=100, description="profile fit level name: leads whose fit score is in its band")
    ] = None,
    last_active: Annotated[
        lead_service.LastActive, Query(description="leads active within the last 7 or 30 days")
    ] = "any",
    last_active_after: DatetimeQuery = None,
    event_type: Annotated[
        str | None, Query(max_length=200, description="leads whose latest event has this type")
    ] = None,
    q: Annotated[str | None, Query(max_length=320, description="text in email, name or account")] = None,
    segment_id: Annotated[
        str | None, Query(max_length=64, description="members of this segment (GET /v1/segments)")
    ] = None,
    sort: Literal["score", "last_activity", "created"] = "score",
    order: Literal["desc", "asc"] = "desc",
) -> dict[str, Any]:
    result = lead_service.list_leads(
        session, tenant, min_score=min_score, max_score=max_score, level=level, fit_level=fit_level,
        last_active_after=last_active_after, last_event_type=event_type, q=q, created_range=range,
        last_active=last_active, segment_id=segment_id, now=now, sort=sort, descending=order == "desc", page=page,
        limit=limit,
    )
    return {"leads": result.rows, "total": result.total, "page": result.page, "limit": result.limit}


class BatchScoresIn(InModel):
    lead_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=lookups.MAX_BATCH_LEADS
    )
    ruleset: str | None = Field(
        default=None, max_length=200, description="`primary` (the default) or a ruleset's id or name"
    )


# Declared before /v1/leads/{lead_id}, which would otherwise take "search" for a lead id.
@router.get(
    "/v1/leads/search", response_model=list[LeadSearchHitOut], summary="Search leads by ID or alias",
    description="Up to 10 leads whose id starts with `q` or one of whose aliases (email, phone, any kind) contains "
    "it, case-insensitively; merged leads are left out.",
)
def search_leads(
    session: ReadSession,
    tenant: Reader,
    q: Annotated[str, Query(min_length=lookups.SEARCH_MIN_CHARS, max_length=512, description="at least 2 characters")],
) -> list[dict[str, Any]]:
    return lookups.search_leads(session, tenant, q)


@router.post(
    "/v1/leads/scores", response_model=list[LeadBatchScoreOut], summary="Batch lead scores",
    description="Scores of the given leads that exist in this unit (each once, in request order), under the primary "
    "ruleset or the one named by id or name; all 0 when the unit has no primary ruleset. Reads only.",
)
def batch_scores(body: BatchScoresIn, session: ReadSession, tenant: Reader) -> list[dict[str, Any]]:
    return lookups.batch_scores(session, tenant, body.lead_ids, body.ruleset)


@router.get(
    "/v1/leads/{lead_id}", response_model=LeadDetailOut,
    summary="Get a lead including metadata, aliases and related account",
)
def get_lead(lead_id: str, session: ReadSession, tenant: Reader) -> dict[str, Any]:
    detail = lead_service.get_lead(session, tenant, lead_id)
    return {"lead": detail["lead"], "account": detail["account"] or None}


@router.get(
    "/v1/leads/{lead_id}/score", response_model=LeadScoreOut,
    summary="Get a lead's score: one ruleset's, or the highest across rulesets",
)
def get_lead_score(
    lead_id: str,
    session: ReadSession,
    tenant: Reader,
    ruleset_id: Annotated[str | None, Query(max_length=64, description="omit for the highest score")] = None,
    at: Annotated[
        UtcDatetime | None,
        Query(
            description="RFC 3339; the score from the lead's events up to this moment under the current rules "
            "(or `version`'s; UTC when no offset is given); omit for the stored score"
        ),
    ] = None,
    version: Annotated[
        int | None,
        Query(
            ge=1, le=INT64_MAX,
            description="a published scoring version (GET /v1/scoring/versions): the score from the lead's events "
            "(up to `at` when given) under that version's rules, rulesets and levels instead of the current ones",
        ),
    ] = None,
) -> dict[str, Any]:
    return lead_service.lead_score(session, tenant, lead_id, ruleset_id, at=at, version=version)


@router.get(
    "/v1/leads/{lead_id}/explanation", response_model=ScoreExplanationOut,
    summary="Get score explanation",
    description="Top drivers (rules that gave the lead the most points in the last `hours` hours), the primary "
    "ruleset's rule weights now, what decay took, and the events surge boosted (with the points it added).",
)
def get_lead_explanation(
    lead_id: str,
    session: ReadSession,
    tenant: Reader,
    now: Now,
    hours: Annotated[
        int, Query(ge=1, le=lead_insights.MAX_EXPLANATION_HOURS, description="the window, in hours up to now")
    ] = 24,
) -> dict[str, Any]:
    return asdict(lead_insights.score_explanation(session, tenant, lead_id, now=now, hours=hours))


@router.get("/v1/leads/{lead_id}/aliases", response_model=list[LeadAliasOut], summary="List lead aliases")
def get_lead_aliases(lead_id: str, session: ReadSession, tenant: Reader) -> list[dict[str, Any]]:
    return lookups.lead_alias_list(session, tenant, lead_id)


@router.get("/v1/leads/{lead_id}/account", response_model=LeadAccountLinkOut, summary="Get a lead's account")
def get_lead_account(lead_id: str, session: ReadSession, tenant: Reader) -> dict[str, Any]:
    return lookups.lead_account(session, tenant, lead_id)


@router.get("/v1/leads/{lead_id}/events", response_model=list[EventOut], summary="List events for a lead, newest first")
def get_lead_events(
    lead_id: str,
    session: ReadSession,
    tenant: Reader,
    page: PageQuery = 1,
    limit: LimitQuery = 50,
) -> list[dict[str, Any]]:
    return lead_service.lead_events(session, tenant, lead_id, page=page, limit=limit)


@router.get(
    "/v1/leads/{lead_id}/activity", response_model=ActivityOut,
    summary="Unified activity stream (events + orders + timeline)",
)
def get_lead_activity(
    lead_id: str,
    session: ReadSession,
    tenant: Reader,
    now: Now,
    range: Annotated[activity.ActivityRange, Query(description="time range (custom: give start and end)")] = "last_7d",
    start: Annotated[UtcDatetime | None, Query(description="RFC 3339; required when range=custom")] = None,
    end: Annotated[UtcDatetime | None, Query(description="RFC 3339; required when range=custom")] = None,
    channel: activity.ActivityChannel = "all",
    min_score: Annotated[
        int | None, Query(alias="minScore", ge=0, le=INT64_MAX, description="events whose score delta is at least it")
    ] = None,
    max_latency: Annotated[
        int | None, Query(alias="maxLatency", ge=1, le=INT64_MAX,
                          description="events received at most this many ms after they occurred")
    ] = None,
    has_delta: Annotated[
        Literal["1", "true", "0", "false"] | None, Query(alias="hasDelta", description="only events with a score delta")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=activity.MAX_EVENTS, description="at most this many events")] = 500,
) -> dict[str, Any]:
    return activity.lead_activity(
        session, tenant, lead_id, now=now, range_=range, start=start, end=end, channel=channel, min_score=min_score,
        max_latency=max_latency, has_delta=None if has_delta is None else has_delta in ("1", "true"), limit=limit,
    )
