"""Organization members (reference: scoring-platform-openapi "Members"): people, their organization role and
sign-in. Any person of the organization lists them; only organization Owners change them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import OrgManager, Self
from api.schemas import InModel
from services.tenancy import members
from services.tenancy.policy import Role

router = APIRouter(tags=["members"])

MemberId = Annotated[str, Path(description="the org_member_id", max_length=64)]


class MemberIn(InModel):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=200, description="at least 8 characters")
    role: Role = Field(description="organization role, also the role in the caller's active unit")


class MemberUpdateIn(InModel):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, min_length=3, max_length=320)
    role: Role | None = None
    password: str | None = Field(default=None, min_length=1, max_length=200)


class MemberOut(BaseModel):
    org_member_id: str
    first_name: str
    last_name: str
    email: str
    role: str = Field(description="organization role: Owner | Operator | Viewer")


@router.get("/v1/members", response_model=list[MemberOut], summary="List organization members")
def list_members(session: ReadSession, tenant: Self) -> list[members.MemberView]:
    """Every member of the caller's organization (people only: an API key or credential gets 403)."""
    return members.list_members(session, tenant)


@router.post("/v1/members", status_code=201, response_model=MemberOut, summary="Create organization member")
async def create_member(body: MemberIn, tenant: OrgManager, db: DatabaseDep, now: Now) -> members.MemberView:
    """Organization Owners only. The member gets `role` in the organization and in the caller's active unit;
    409 when the email is taken."""
    return await run_in_threadpool(
        run_write, db,
        lambda s: members.create_member(
            s, tenant, first_name=body.first_name, last_name=body.last_name, email=body.email,
            password=body.password, role=body.role, now=now,
        ),
    )


@router.put("/v1/members/{id}", response_model=MemberOut, summary="Update organization member")
async def update_member(
    id: MemberId, body: MemberUpdateIn, tenant: OrgManager, db: DatabaseDep, now: Now
) -> members.MemberView:
    """Any of names, email, organization role and password. The last organization Owner cannot be demoted (409)."""
    return await run_in_threadpool(
        run_write, db,
        lambda s: members.update_member(
            s, tenant, id, first_name=body.first_name, last_name=body.last_name, email=body.email, role=body.role,
            password=body.password, now=now,
        ),
    )


@router.delete("/v1/members/{id}", status_code=204, response_class=Response, summary="Delete organization member")
async def delete_member(id: MemberId, tenant: OrgManager, db: DatabaseDep, now: Now) -> Response:
    """Removes the person and every unit membership; audit entries they wrote remain. The last organization Owner
    cannot be deleted (409)."""
    await run_in_threadpool(run_write, db, lambda s: members.delete_member(s, tenant, id, now))
    return Response(status_code=204)
