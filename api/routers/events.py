"""Engagement events: ingest one, a batch, and read the log with explanations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.errors import describe_validation_errors, request_id_of
from api.ingest_support import respond_idempotently, respond_with_event
from api.insight_schemas import BatchDeleteIn, EventsDeletedOut
from api.permissions import EventDeleter, Ingester, Reader
from api.presenters import error_body, event_from_ingested, lead_scores_from_ingested
from api.schemas import BatchIn, BatchOut, EventIn, EventIngestOut, EventOut, ExplanationOut
from api.types import PageQuery
from services.errors import InvalidInput, ServiceError
from services.ingest.contract import AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.insight import event_log, event_types
from settings import get_settings

router = APIRouter(tags=["events"])
_event_adapter = TypeAdapter(EventIn)


def event_in_to_event(body: EventIn) -> NewEvent:
    aliases = [AliasInput(a.alias_kind, a.raw_value) for a in body.aliases]
    if body.alias_kind is not None or body.alias is not None:
        if body.alias_kind is None or not body.alias:
            raise InvalidInput("alias_kind" if body.alias_kind is None else "alias", "alias_kind and alias go together")
        aliases.append(AliasInput(body.alias_kind, body.alias))
    if body.lead_id is None and not aliases:
        raise InvalidInput("aliases", "provide lead_id or at least one alias")
    return NewEvent(
        event_type=body.event_type,
        occurred_at=body.timestamp,
        properties=body.metadata,
        person=PersonRef(lead_id=body.lead_id, aliases=aliases, field_name="aliases"),
    )


def ingest_response(result: Any) -> dict[str, Any]:
    return {
        "message": "event ingested",
        "event": event_from_ingested(result),
        "metadata": result.properties,
        **lead_scores_from_ingested(result),
    }


@router.post("/v1/events", status_code=201, response_model=EventIngestOut, summary="Ingest engagement event")
async def create_event(body: EventIn, request: Request, tenant: Ingester, db: DatabaseDep, now: Now) -> JSONResponse:
    def answer(result: Ingested) -> tuple[int, Any]:
        return 201, ingest_response(result)

    return await respond_with_event(request, db, tenant, now, event_in_to_event(body), answer)


@router.post(
    "/v1/events/batch", response_model=BatchOut, summary="Ingest up to 1000 events in one transaction"
)
async def create_events_batch(
    body: BatchIn, request: Request, tenant: Ingester, db: DatabaseDep, now: Now
) -> JSONResponse:
    limit = get_settings().max_batch_events
    if len(body.events) > limit:
        raise InvalidInput("events", f"at most {limit} events per batch; got {len(body.events)}")
    request_id = request_id_of(request)
    errors: dict[int, dict[str, Any]] = {}
    accepted: list[tuple[int, NewEvent]] = []
    for index, raw in enumerate(body.events):
        try:
            accepted.append((index, event_in_to_event(_event_adapter.validate_python(raw))))
        except ValidationError as exc:
            _status, code, message = describe_validation_errors(
                [{**e, "loc": ("body", f"events[{index}]", *e["loc"])} for e in exc.errors()]
            )
            errors[index] = {"code": code, "message": message.replace("body.", ""), "request_id": request_id}
        except ServiceError as exc:
            errors[index] = _item_error(index, exc, request_id)

    def work(session: Any) -> tuple[int, Any]:
        results = ingest(session, tenant, [ev for _, ev in accepted], now)
        items: list[dict[str, Any]] = []
        outcome_by_index = dict(zip((i for i, _ in accepted), results, strict=True))
        for index in range(len(body.events)):
            if index in errors:
                items.append({"index": index, "status": "rejected", "error": errors[index]})
                continue
            result = outcome_by_index[index]
            if isinstance(result, ServiceError):
                items.append({"index": index, "status": "rejected", "error": _item_error(index, result, request_id)})
            else:
                items.append({"index": index, "status": "ingested", **ingest_response(result)})
        ingested = sum(1 for it in items if it["status"] == "ingested")
        return 200, {"ingested": ingested, "rejected": len(items) - ingested, "results": items}

    return await respond_idempotently(request, db, tenant, now, work)


def _item_error(index: int, exc: ServiceError, request_id: str) -> dict[str, Any]:
    body = error_body(exc, request_id)
    body["message"] = f"events[{index}].{exc.message}" if exc.field else f"events[{index}]: {exc.message}"
    return body


# --- reading the log -----------------------------------------------------------------------------------------------


@router.get("/v1/events", response_model=list[EventOut], summary="List engagement events, newest first")
def list_events(
    session: ReadSession,
    tenant: Reader,
    page: PageQuery = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    metadata: Annotated[
        list[str] | None, Query(description="Repeatable key:value filters, e.g. metadata=utm_campaign:fall2025")
    ] = None,
    logic: Literal["and", "or"] = "and",
    quarantined: Annotated[
        bool | None, Query(description="true: only events an inorganic filter holds back; false: only the others")
    ] = None,
) -> list[dict[str, Any]]:
    filters = event_log.parse_metadata_filters(metadata or [])
    return event_log.list_events(
        session, tenant, page=page, limit=limit, metadata=filters, logic=logic, quarantined=quarantined
    )


@router.delete("/v1/events", response_model=EventsDeletedOut, summary="Batch delete events")
def delete_events(body: BatchDeleteIn, tenant: EventDeleter, db: DatabaseDep, now: Now) -> Any:
    """Deletes the unit's events among `ids`; ids of other units or unknown ones are ignored and not reported. The
    leads and accounts they scored are replayed from the remaining log."""
    return run_write(db, lambda session: event_types.delete_events(session, tenant, body.ids, now))


@router.get(
    "/v1/events/{event_id}/explanation", response_model=ExplanationOut, summary="Get event score explanation"
)
def get_event_explanation(event_id: str, session: ReadSession, tenant: Reader) -> dict[str, Any]:
    return event_log.explanation(session, tenant, event_id)
