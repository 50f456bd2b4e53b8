"""The property keys seen on leads (profiles) and accounts (reference: Profile, Account)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReadSession
from api.permissions import Reader
from api.routers.accounts import ABM_NOTE
from services.people import properties

router = APIRouter(tags=["properties"])


@router.get(
    "/v1/profile/properties", response_model=list[str], summary="List distinct lead metadata properties",
    description="Distinct keys observed in the unit's lead metadata, sorted.",
)
def profile_properties(session: ReadSession, tenant: Reader) -> list[str]:
    return properties.profile_properties(session, tenant)


@router.get(
    "/v1/account/properties", response_model=list[str], summary="List distinct account metadata property keys",
    description="Distinct keys observed in the unit's account metadata, sorted." + ABM_NOTE,
)
def account_properties(session: ReadSession, tenant: Reader) -> list[str]:
    return properties.account_properties(session, tenant)
