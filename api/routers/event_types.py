"""Event types: the visible ones, their metadata keys, the channels seen, their settings with counts, and deleting
every event of a type (with a dry run first). services.insight.event_types does the work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.insight_schemas import DeleteDryRunOut, EventsDeletedOut, EventTypePropertiesOut, EventTypeSettingOut
from api.permissions import EventDeleter, Reader
from services.insight import event_types

router = APIRouter(tags=["event types"])

EventTypePath = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/v1/event-types", response_model=list[str], summary="List visible event types")
def list_event_types(session: ReadSession, tenant: Reader) -> list[str]:
    return event_types.visible_event_types(session, tenant)


@router.get(
    "/v1/event-types/{event_type}/properties", response_model=EventTypePropertiesOut,
    summary="List distinct metadata keys for an event type",
)
def get_event_type_properties(event_type: EventTypePath, session: ReadSession, tenant: Reader) -> dict[str, Any]:
    return event_types.event_type_properties(session, tenant, event_type)


@router.get("/v1/channels", response_model=list[str], summary="List available channels")
def list_channels(session: ReadSession, tenant: Reader) -> list[str]:
    return event_types.channels(session, tenant)


@router.get(
    "/v1/settings/event-types", response_model=list[EventTypeSettingOut],
    summary="List event types with visibility and counts",
)
def list_event_type_settings(session: ReadSession, tenant: Reader) -> list[dict[str, Any]]:
    return event_types.event_type_settings(session, tenant)


@router.get(
    "/v1/settings/event-types/{event_type}/delete-dry-run", response_model=DeleteDryRunOut,
    summary="Dry-run delete of all events for an event type",
)
def delete_dry_run(event_type: EventTypePath, session: ReadSession, tenant: Reader) -> dict[str, int]:
    return event_types.delete_dry_run(session, tenant, event_type)


@router.delete(
    "/v1/settings/event-types/{event_type}/events", response_model=EventsDeletedOut,
    summary="Delete all events for an event type",
)
def delete_event_type_events(event_type: EventTypePath, tenant: EventDeleter, db: DatabaseDep, now: Now) -> Any:
    return run_write(db, lambda session: event_types.delete_event_type_events(session, tenant, event_type, now))
