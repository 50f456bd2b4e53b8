"""Surge: the unit's session surge policy (/v1/settings/ou/surge-policy), surge triggers (/v1/surge/triggers) and
their firings (/v1/surge/events), and a unit's surge metrics (/v1/ous/{ouId}/surge).

A policy change is a scoring model change (versioned, audited, rescored: services.scoring.surge_policy). Surge
triggers fire at ingest and deliver like the other triggers (services.triggers.surge); their webhook URL passes the
outbound guard when saved (422 naming the field).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, ScoringEditor, TriggerEditor
from api.responses import error_responses as errors
from api.surge_schemas import (
    SurgeEventOut,
    SurgeMetricsOut,
    SurgePolicyIn,
    SurgePolicyOut,
    SurgeTriggerCreatedOut,
    SurgeTriggerIn,
    SurgeTriggerOut,
)
from api.types import PageQuery, UtcDatetime
from services.insight import surge as surge_metrics
from services.scoring import surge_policy
from services.triggers import surge, triggers

router = APIRouter(tags=["surge"])

TriggerId = Annotated[str, Path(max_length=64, description="the surge trigger's trigger_id")]
RangeQuery = Annotated[UtcDatetime | None, Query(description="RFC 3339; UTC when no offset is given")]


@router.get("/v1/settings/ou/surge-policy", response_model=SurgePolicyOut, summary="Get OU surge session policy",
            responses=errors(401, 403))
def get_surge_policy(tenant: Reader, session: ReadSession) -> dict[str, Any]:
    """The unit's session-based surge policy. A unit that never set one gets the Standard preset's values with
    mode "off" (surge is off until someone turns it on)."""
    return surge_policy.get_surge_policy(session, tenant)


@router.put("/v1/settings/ou/surge-policy", response_model=SurgePolicyOut,
            summary="Upsert OU surge session policy", responses=errors(401, 403, 422))
def put_surge_policy(body: SurgePolicyIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """Creates or replaces the policy. Within a lead's session (its events less than the idle reset apart), from
    a band's `min_events`-th event on, positive score changes are multiplied by the band's multiplier (capped at
    `multiplier_cap`). Published as a new scoring version; stored scores are recomputed."""
    fields = body.model_dump(exclude_none=True)
    return run_write(db, lambda s: surge_policy.set_surge_policy(s, tenant, fields, now))


@router.get("/v1/surge/triggers", response_model=list[SurgeTriggerOut], summary="List surge triggers (OU-scoped)",
            responses=errors(401, 403))
def list_surge_triggers(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
    return [surge.surge_trigger_view(r) for r in surge.list_surge_triggers(session, tenant)]


def _fields(body: SurgeTriggerIn) -> dict[str, Any]:
    return {**body.model_dump(), "emails": [str(e) for e in body.emails or []]}


@router.post("/v1/surge/triggers", status_code=201, response_model=SurgeTriggerCreatedOut,
             summary="Create surge trigger (OU-scoped)", responses=errors(401, 403, 422))
def create_surge_trigger(body: SurgeTriggerIn, tenant: TriggerEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """Fires when a lead's count of events of `event_type` (any type when absent) within the window ending at a
    new event reaches `threshold_count`; at most once per lead per window period. Exactly one destination. The
    webhook signing secret is in this response only."""
    fields = _fields(body)
    checked = triggers.check_channel_urls(tenant, fields)  # DNS before the write transaction, not inside it

    def work(session: Session) -> dict[str, Any]:
        row = surge.create_surge_trigger(session, tenant, fields, now, checked=checked)
        return {**surge.surge_trigger_view(row), "signing_secret": row.signing_secret}

    return run_write(db, work)


@router.put("/v1/surge/triggers/{id}", response_model=SurgeTriggerOut, summary="Update surge trigger",
            responses=errors(401, 403, 404, 422))
def update_surge_trigger(
    id: TriggerId, body: SurgeTriggerIn, tenant: TriggerEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    """Replaces the trigger's settings and destination (the same body as create)."""
    fields = _fields(body)
    checked = triggers.check_channel_urls(tenant, fields)
    return run_write(db, lambda s: surge.surge_trigger_view(
        surge.update_surge_trigger(s, tenant, id, fields, now, checked=checked)))


@router.delete("/v1/surge/triggers/{id}", status_code=204, response_class=Response, summary="Delete surge trigger",
               responses=errors(401, 403, 404))
def delete_surge_trigger(id: TriggerId, tenant: TriggerEditor, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda s: surge.delete_surge_trigger(s, tenant, id, now))
    return Response(status_code=204)


@router.get("/v1/surge/events", response_model=list[SurgeEventOut], summary="List surge events (OU-scoped)",
            responses=errors(401, 403, 422))
def list_surge_events(
    tenant: Reader,
    session: ReadSession,
    page: PageQuery = 1,
    limit: Annotated[int, Query(ge=1, le=surge.MAX_LIMIT)] = 50,
    start: RangeQuery = None,
    end: RangeQuery = None,
    channel: Annotated[str | None, Query(max_length=32, description="the channel of the event that fired it")] = None,
) -> list[dict[str, Any]]:
    """Surge trigger firings, newest first; `start`/`end` bound when they fired ([start, end))."""
    return surge.list_surge_events(session, tenant, page=page, limit=limit, start=start, end=end, channel=channel)


@router.get("/v1/ous/{ouId}/surge", response_model=SurgeMetricsOut, summary="Surge metrics summary for an OU",
            responses=errors(401, 403, 404, 422))
def get_surge_metrics(
    tenant: Reader,
    session: ReadSession,
    ou_id: Annotated[str, Path(alias="ouId", max_length=64, description="the unit (OU) to report on")],
    start: Annotated[UtcDatetime, Query(description="start of the range (RFC 3339), inclusive")],
    end: Annotated[UtcDatetime, Query(description="end of the range (RFC 3339), exclusive")],
    interval: Literal["15m", "1h", "1d"] = "1h",
    channel: Annotated[str | None, Query(max_length=32, description="only events on this channel")] = None,
) -> dict[str, Any]:
    """Boosted events (surge multiplier above 1.0) of the unit in [start, end): totals, the peak bucket, per
    channel and per interval (at most 2,000 buckets), and the surge trigger firings. The caller must be a member
    of the unit (404 otherwise)."""
    return surge_metrics.surge_metrics(session, tenant, ou_id, start=start, end=end, interval=interval,
                                       channel=channel)
