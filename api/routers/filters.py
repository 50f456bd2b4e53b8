"""Inorganic (burst) filters and event-type settings (reference: scoring-platform-openapi "Filters" and "Set OU
visibility for an event type"). A filter or a processing scope is part of the scoring model: every change
publishes a version whose rescore applies it (services.scoring.filters)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.filter_schemas import (
    EventTypeSettingIn,
    EventTypeSettingOut,
    InorganicFilterIn,
    InorganicFilterOut,
    InorganicFilterUpdateIn,
)
from api.permissions import Reader, ScoringEditor
from services.scoring import filters

router = APIRouter()

EventTypePath = Annotated[str, Path(min_length=1, max_length=200, description="the event type")]


@router.get("/v1/filters/inorganic", response_model=list[InorganicFilterOut], tags=["filters"],
            summary="List inorganic filters")
def list_inorganic_filters(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
    return filters.list_filters(session, tenant)


@router.post("/v1/filters/inorganic", response_model=InorganicFilterOut, status_code=201, tags=["filters"],
             summary="Create inorganic filter")
def create_inorganic_filter(
    body: InorganicFilterIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    fields = body.model_dump()
    return run_write(db, lambda s: filters.create_filter(s, tenant, fields=fields, now=now))


@router.put("/v1/filters/inorganic/{id}", response_model=InorganicFilterOut, tags=["filters"],
            summary="Update inorganic filter (partial)")
def update_inorganic_filter(
    id: str, body: InorganicFilterUpdateIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True)
    return run_write(db, lambda s: filters.update_filter(s, tenant, id, fields=fields, now=now))


@router.delete("/v1/filters/inorganic/{id}", status_code=204, response_class=Response, tags=["filters"],
               summary="Delete inorganic filter")
def delete_inorganic_filter(id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda s: filters.delete_filter(s, tenant, id, now=now))
    return Response(status_code=204)


@router.put("/v1/settings/event-types/{event_type}", response_model=EventTypeSettingOut, tags=["settings"],
            summary="Set an event type's visibility and processing scope")
def set_event_type_setting(
    event_type: EventTypePath, body: EventTypeSettingIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    return run_write(db, lambda s: filters.set_event_type(
        s, tenant, event_type, hidden=body.hidden, max_processing_scope=body.max_processing_scope, now=now,
    ))
