"""Units and unit memberships (reference: scoring-platform-openapi "OrgUnits", "OUMemberships").

Routes with a unit in the path act in that unit, which may differ from the caller's active unit: the service
resolves the caller's role there (services.tenancy.units.unit_tenant; 404 for a unit they cannot see) and asks the
policy with it, so these routes declare only `Self` here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import OrgManager, Self
from api.person_auth import ACTIVE_UNIT_COOKIE, ACTIVE_UNIT_HEADER
from api.schemas import InModel
from services.tenancy import members, units
from services.tenancy.policy import Role

router = APIRouter(tags=["org-units"])

UnitId = Annotated[str, Path(description="the unit_id", max_length=64)]
MemberId = Annotated[str, Path(alias="memberId", description="the org_member_id", max_length=64)]


class UnitNameIn(InModel):
    name: str = Field(min_length=1, max_length=200)


class ActiveUnitIn(InModel):
    ouId: str = Field(min_length=1, max_length=64, description="The unit_id to activate for the current session")


class MembershipIn(InModel):
    org_member_id: str = Field(min_length=1, max_length=64)
    role: Role = "Viewer"


class MembershipRoleIn(InModel):
    role: Role


class UnitOut(BaseModel):
    unit_id: str
    name: str
    slug: str


class UnitRoleOut(UnitOut):
    role: str = Field(description="the caller's role in the unit")


class OrganizationOut(BaseModel):
    org_id: str
    name: str


class UnitListOut(BaseModel):
    units: list[UnitRoleOut]
    organization: OrganizationOut


class MembershipOut(BaseModel):
    org_member_id: str
    first_name: str
    last_name: str
    email: str
    role: str = Field(description="role in the unit: Owner | Operator | Viewer")
    unit_id: str


@router.get("/v1/org-units", response_model=UnitListOut, summary="List organization units for current user")
def list_units(session: ReadSession, tenant: Self) -> dict[str, Any]:
    """A person's units (every unit for an organization Owner) with their role in each; for an API key or
    credential, its own unit."""
    return {"units": units.units_for(session, tenant), "organization": units.organization_of(session, tenant)}


@router.post("/v1/org-units", status_code=201, response_model=UnitOut, summary="Create organization unit")
async def create_unit(body: UnitNameIn, tenant: OrgManager, db: DatabaseDep, now: Now) -> units.UnitView:
    """Organization Owners only. The unit starts with a primary ruleset, default scoring settings and the default
    engagement levels; the creator is its Owner."""
    return await run_in_threadpool(
        run_write, db, lambda s: units.create_unit(s, tenant, name=body.name, now=now)
    )


@router.post("/v1/org-units/active", response_model=UnitRoleOut, summary="Set active Organization Unit (OU)")
def set_active_unit(body: ActiveUnitIn, session: ReadSession, tenant: Self, response: Response) -> units.UnitView:
    """Validates membership and sets the HttpOnly `activeOu` cookie; the unit is also echoed in X-Active-OU."""
    unit = units.activate(session, tenant, body.ouId)
    response.set_cookie(ACTIVE_UNIT_COOKIE, unit.unit_id, httponly=True, samesite="lax", path="/")
    response.headers[ACTIVE_UNIT_HEADER] = unit.unit_id
    return unit


@router.put("/v1/org-units/{id}", response_model=UnitOut, summary="Update organization unit")
async def rename_unit(id: UnitId, body: UnitNameIn, tenant: Self, db: DatabaseDep, now: Now) -> units.UnitView:
    """A new name; the slug follows it and stays unique in the organization (Owners of the unit)."""
    return await run_in_threadpool(
        run_write, db, lambda s: units.rename_unit(s, tenant, id, name=body.name, now=now)
    )


@router.get("/v1/org-units/{id}/members", response_model=list[MembershipOut], summary="List OU memberships")
def list_memberships(id: UnitId, session: ReadSession, tenant: Self) -> list[members.MembershipView]:
    """The unit's members with their role there; the caller must belong to the unit (or be an organization
    Owner)."""
    return members.list_unit_members(session, tenant, id)


@router.post(
    "/v1/org-units/{id}/members", status_code=201, response_model=MembershipOut,
    responses={200: {"model": MembershipOut, "description": "Already a member: the membership"}},
    summary="Assign member to OU",
)
async def assign_member(
    id: UnitId, body: MembershipIn, tenant: Self, db: DatabaseDep, now: Now, response: Response
) -> members.MembershipView:
    """Idempotent: 201 when the membership is new, 200 when the member already had it (another role is changed).
    Owners and Operators of the unit; only Owners grant the Owner role."""
    view, created = await run_in_threadpool(
        run_write, db,
        lambda s: members.assign(s, tenant, id, member_id=body.org_member_id, role=body.role, now=now),
    )
    response.status_code = 201 if created else 200
    return view


@router.put(
    "/v1/org-units/{id}/members/{memberId}", response_model=MembershipOut,
    summary="Update OU membership role (Owner/Operator required)",
)
async def change_membership(
    id: UnitId, member_id: MemberId, body: MembershipRoleIn, tenant: Self, db: DatabaseDep, now: Now
) -> members.MembershipView:
    """The last Owner of a unit cannot be demoted (409)."""
    return await run_in_threadpool(
        run_write, db, lambda s: members.change_role(s, tenant, id, member_id, role=body.role, now=now)
    )


@router.delete(
    "/v1/org-units/{id}/members/{memberId}", status_code=204, response_class=Response,
    summary="Remove OU membership (Owner/Operator required)",
)
async def remove_membership(id: UnitId, member_id: MemberId, tenant: Self, db: DatabaseDep, now: Now) -> Response:
    """The last Owner of a unit cannot be removed (409)."""
    await run_in_threadpool(run_write, db, lambda s: members.remove(s, tenant, id, member_id, now))
    return Response(status_code=204)
