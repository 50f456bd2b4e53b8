"""Signals: drop-in compatible ingest and listing (reference: signals-ingest-api, signals-list-api)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import DatabaseDep, Now, ReadSession
from api.errors import request_id_of
from api.ingest_support import respond_with_event
from api.permissions import Ingester, Reader
from api.presenters import signal_from_ingested
from api.schemas import SignalCreatedOut, SignalIn, SignalListOut, iso
from api.types import DatetimeQuery, UtcDatetime
from services.ingest.contract import AccountRef, AliasInput, Ingested, NewEvent, PersonRef
from services.insight import event_log

router = APIRouter(tags=["signals"])


def signal_to_event(body: SignalIn) -> NewEvent:
    person = None
    if body.contact is not None:
        c = body.contact
        aliases = [AliasInput("email", c.email, True)] if c.email else []
        if c.phone:
            aliases.append(AliasInput("phone", c.phone))
        if c.external_id:
            aliases.append(AliasInput("external_id", c.external_id))
        person = PersonRef(
            lead_id=c.id, aliases=aliases, first_name=c.first_name, last_name=c.last_name,
            attributes=c.attributes(), field_name="contact",
        )
    account = None
    if body.account is not None:
        a = body.account
        account = AccountRef(
            account_id=a.id, domain=a.domain, name=a.name, attributes=a.attributes(), field_name="account"
        )
    return NewEvent(
        event_type=body.type,
        occurred_at=body.occurred_at,
        properties=dict(body.properties),
        source=body.source,
        person=person,
        account=account,
        properties_field="properties",
    )


def _meta(request: Request, now: datetime, **extra: Any) -> dict[str, Any]:
    return {**extra, "request_id": request_id_of(request), "timestamp": iso(now)}


@router.post("/v1/signals", status_code=201, response_model=SignalCreatedOut, summary="Create a signal")
async def create_signal(body: SignalIn, request: Request, tenant: Ingester, db: DatabaseDep, now: Now) -> JSONResponse:
    def answer(result: Ingested) -> tuple[int, Any]:
        return 201, {"data": signal_from_ingested(result), "meta": _meta(request, now)}

    return await respond_with_event(request, db, tenant, now, signal_to_event(body), answer)


@router.get("/v1/signals", response_model=SignalListOut, summary="List signals, newest first, with cursor paging")
def list_signals(
    request: Request,
    session: ReadSession,
    tenant: Reader,
    now: Now,
    account_domain: Annotated[str | None, Query(max_length=2048)] = None,
    contact_email: Annotated[str | None, Query(max_length=320)] = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[str | None, Query(max_length=200)] = None,
    from_: Annotated[UtcDatetime | None, Query(alias="from", description="RFC 3339; UTC without an offset")] = None,
    to: DatetimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    result = event_log.list_signals(
        session, tenant, account_domain=account_domain, contact_email=contact_email, type=type, source=source,
        from_=from_, to=to, limit=limit, cursor=cursor,
    )
    return {
        "data": result.data,
        "meta": _meta(request, now, next_cursor=result.next_cursor, total=result.total),
    }
