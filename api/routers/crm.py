"""CRM events: persons and companies matched or created (reference: crm-create-event-api)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import DatabaseDep, Now
from api.ingest_support import respond_idempotently
from api.permissions import Ingester
from api.schemas import ContactPoint, CrmEventCreatedOut, CrmEventIn, iso
from services.errors import InvalidInput, ServiceError
from services.ingest.contract import AccountRef, AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.people.aliases import person_contact_points

router = APIRouter(tags=["crm"])

_KNOWN_FIELDS = {"type", "personId", "person", "company", "metadata", "occurredAt"}


def _points(kind: str, values: list[str | ContactPoint]) -> list[AliasInput]:
    """Plain strings: the first is primary. Objects: isPrimary as given (the first if none is marked)."""
    points = [
        AliasInput(kind, v, False) if isinstance(v, str) else AliasInput(kind, v.value, v.isPrimary) for v in values
    ]
    if points and not any(p.is_primary for p in points):
        points[0].is_primary = True
    return points


def crm_to_event(body: CrmEventIn) -> NewEvent:
    if body.personId is None and body.person is None:
        raise InvalidInput("personId", "provide personId or a person with emails or phones")
    person = None
    if body.personId is not None:
        person = PersonRef(lead_id=body.personId, field_name="personId")
    if body.person is not None:
        p = body.person
        aliases = _points("email", p.emails) + _points("phone", p.phones)
        if body.personId is None and not aliases:
            raise InvalidInput("person", "needs at least one email or phone to match or create a person")
        extra = {k: v for k, v in (p.model_extra or {}).items()}
        person = PersonRef(
            lead_id=body.personId,
            aliases=aliases,
            first_name=p.firstName,
            last_name=p.lastName,
            attributes=extra,
            field_name="person",
        )
    account = None
    if body.company is not None:
        c = body.company
        if not (c.id or c.name or c.website or c.domain):
            raise InvalidInput("company", "needs an id, a name or a website")
        account = AccountRef(
            account_id=c.id,
            domain=c.domain or c.website,
            name=c.name,
            attributes=dict(c.model_extra or {}),
            field_name="company",
        )
    metadata: dict[str, Any] = dict(body.metadata)
    for key, value in (body.model_extra or {}).items():
        metadata[key] = value
    if body.message is not None:
        metadata["message"] = body.message
    return NewEvent(
        event_type=body.type,
        occurred_at=body.occurredAt,
        properties=metadata,
        person=person,
        account=account,
        default_channel="crm",
        source="crm",
    )


@router.post(
    "/v1/crm/events",
    response_model=CrmEventCreatedOut,
    status_code=201,
    summary="Create an event (CRM format)",
    responses={200: {"model": CrmEventCreatedOut, "description": "Matched an existing person (and company)"}},
)
async def create_crm_event(
    body: CrmEventIn, request: Request, tenant: Ingester, db: DatabaseDep, now: Now
) -> JSONResponse:
    event = crm_to_event(body)

    def work(session: Any) -> tuple[int, Any]:
        (result,) = ingest(session, tenant, [event], now)
        if isinstance(result, ServiceError):
            raise result
        primary = result.primary
        lead = result.lead or {}
        emails, phones = person_contact_points(session, tenant, result.lead_id) if result.lead_id else ([], [])
        payload: dict[str, Any] = {
            "event": {
                "id": result.event_id,
                "eventType": result.event_type,
                "personId": result.lead_id,
                "companyId": result.account_id,
                "occurredAt": iso(result.occurred_at),
                "createdAt": iso(result.received_at),
                "metadata": result.properties,
                "score": primary.delta if primary else 0,
            },
            "person": {
                "id": result.lead_id,
                "firstName": lead.get("first_name"),
                "lastName": lead.get("last_name"),
                "emails": emails,
                "phones": phones,
                "companyId": lead.get("account_id"),
                "score": primary.lead_after if primary and primary.lead_after is not None else 0,
            },
            "wasPersonCreated": result.lead_created,
        }
        if body.company is not None and result.account is not None:
            payload["company"] = {
                "id": result.account["id"],
                "name": result.account["name"],
                "domain": result.account["domain"],
                "score": primary.account_after if primary and primary.account_after is not None else 0,
            }
            payload["wasCompanyCreated"] = result.account_created
        created = result.lead_created or (body.company is not None and result.account_created)
        return (201 if created else 200), payload

    return await respond_idempotently(request, db, tenant, now, work)
