"""Credentials for integrations (reference: scoring-platform-openapi "Secrets"): a client id and a client secret
that authenticate as HTTP Basic, acting in the unit with the credential's role. The secret is shown once."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import Field

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import KeyManager
from api.responses import error_responses
from api.schemas import InModel, OutModel
from services.tenancy import api_keys
from services.tenancy.policy import KeyRole

router = APIRouter(tags=["secrets"])


class SecretIn(InModel):
    name: str = Field(min_length=1, max_length=api_keys.NAME_MAX, description="A label, 1 to 50 characters")
    role: KeyRole = Field(
        default=api_keys.DEFAULT_CREDENTIAL_ROLE,
        description="What the credential may do: Owner, Operator, Viewer, or Ingest (only send events; default)",
    )


class SecretOut(OutModel):
    secret_id: str
    client_id: str
    name: str
    role: KeyRole
    created_at: datetime
    last_used_at: datetime | None


class SecretCreatedOut(OutModel):
    secret_id: str
    client_id: str
    client_secret: str = Field(description="Shown only in this answer; store it now")
    name: str
    created_at: datetime
    role: KeyRole


@router.get("/v1/secrets", response_model=list[SecretOut], summary="List API credentials")
def list_secrets(tenant: KeyManager, session: ReadSession) -> list[SecretOut]:
    return [
        SecretOut(secret_id=row.id, client_id=row.client_id or "", name=row.name, role=row.role,
                  created_at=row.created_at, last_used_at=row.last_used_at)
        for row in api_keys.list_credentials(session, tenant)
    ]


@router.post("/v1/secrets", status_code=201, response_model=SecretCreatedOut, summary="Create API credential pair",
             responses=error_responses(403, 422))
def create_secret(body: SecretIn, tenant: KeyManager, db: DatabaseDep, now: Now) -> SecretCreatedOut:
    created = run_write(db, lambda s: api_keys.create_credential(s, tenant, name=body.name, role=body.role, now=now))
    return SecretCreatedOut(secret_id=created.id, client_id=created.client_id, client_secret=created.client_secret,
                            name=created.name, created_at=created.created_at, role=body.role)


@router.delete("/v1/secrets/{id}", status_code=204, response_class=Response, summary="Delete API credential",
               responses=error_responses(403, 404))
def delete_secret(id: str, tenant: KeyManager, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda s: api_keys.revoke_credential(s, tenant, id, now=now))
    return Response(status_code=204)
