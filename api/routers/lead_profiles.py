"""Lead create and edit: a new lead, its profile (metadata) replaced or patched, its account link, and the profile
with its fit. Every profile change is a log event and recomputes the lead's fit (services.people.lead_profiles)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import Field
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import LeadEditor, Reader
from api.schemas import InModel, LeadMetadataOut, LeadProfileOut, LeadRecordOut
from services.people import lead_profiles

router = APIRouter(tags=["leads"])

class LeadCreateIn(InModel):
    id: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="the new lead's id (unused in this unit); omitted: a new `ld_...` id",
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="the lead's profile")
    account_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="link the new lead to this account of the unit"
    )


class LeadUpdateIn(InModel):
    metadata: dict[str, Any] = Field(description="the lead's whole new profile (replaces the old one)")
    account_id: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="link the lead to this account of the unit; null unlinks it; omitted keeps the link",
    )


@router.post(
    "/v1/leads", response_model=LeadRecordOut, status_code=201, summary="Create a new lead",
    description="Creates a lead with the given profile (recorded as a profile event; its fit is computed) and "
    "account. 409 when `id` is already in use, 404 when `account_id` is not an account of this unit.",
)
def create_lead(body: LeadCreateIn, tenant: LeadEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return lead_profiles.create_lead(
            session, tenant, lead_id=body.id, metadata=body.metadata, account_id=body.account_id, now=now
        )

    return run_write(db, work)


@router.put(
    "/v1/leads/{lead_id}", response_model=LeadRecordOut, summary="Update a lead (replace metadata, optionally account)",
    description="Replaces the lead's profile (recorded as a profile event; the fit is recomputed) and, when "
    "`account_id` is given, sets (a string) or clears (null) its account.",
)
def update_lead(lead_id: str, body: LeadUpdateIn, tenant: LeadEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return lead_profiles.update_lead(
            session, tenant, lead_id, metadata=body.metadata, account_id=body.account_id,
            set_account="account_id" in body.model_fields_set, now=now,
        )

    return run_write(db, work)


@router.patch(
    "/v1/leads/{lead_id}/metadata", response_model=LeadMetadataOut, summary="Patch lead metadata",
    description="Merges the given properties into the lead's profile; a `null` value removes that property. "
    "Recorded as a profile event; the fit is recomputed.",
)
def patch_lead_metadata(
    lead_id: str,
    patch: Annotated[dict[str, Any], Body(examples=[{"industry": "SaaS", "plan": "Pro"}])],
    tenant: LeadEditor,
    db: DatabaseDep,
    now: Now,
) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return lead_profiles.patch_metadata(session, tenant, lead_id, patch, now=now)

    return run_write(db, work)


@router.get(
    "/v1/leads/{lead_id}/profile", response_model=LeadProfileOut, summary="Get lead profile metadata",
    description="The lead's profile with its fit score, level and the profile rules it matches.",
)
def get_lead_profile(lead_id: str, session: ReadSession, tenant: Reader) -> dict[str, Any]:
    return lead_profiles.lead_profile(session, tenant, lead_id)
