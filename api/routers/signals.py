"""Signals: drop-in compatible ingest and listing (reference: signals-ingest-api, signals-list-api)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import DatabaseDep, Now, TenantDep
from api.errors import request_id_of
from api.ingest_support import respond_idempotently
from api.presenters import signal_from_ingested
from api.schemas import SignalIn, iso
from services.errors import ServiceError
from services.ingest import AccountRef, AliasInput, NewEvent, PersonRef, ingest

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
            lead_id=c.id, aliases=aliases, first_name=c.first_name, last_name=c.last_name, field_name="contact"
        )
    account = None
    if body.account is not None:
        a = body.account
        account = AccountRef(account_id=a.id, domain=a.domain, name=a.name, field_name="account")
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


@router.post("/v1/signals", status_code=201, summary="Create a signal")
async def create_signal(body: SignalIn, request: Request, tenant: TenantDep, db: DatabaseDep, now: Now) -> JSONResponse:
    event = signal_to_event(body)

    def work(session: Any) -> tuple[int, Any]:
        (result,) = ingest(session, tenant, [event], now)
        if isinstance(result, ServiceError):
            raise result
        return 201, {"data": signal_from_ingested(result), "meta": _meta(request, now)}

    return await respond_idempotently(request, db, tenant, now, work)
