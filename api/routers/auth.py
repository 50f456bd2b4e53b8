"""People on the API (reference: scoring-platform-openapi "Auth", "Me"): sign in for a token, who am I, and
clearing cookies of older sign-in flows."""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Public, Self
from api.person_auth import ACTIVE_UNIT_COOKIE
from api.schemas import InModel
from services.tenancy import members, sign_in, tokens

router = APIRouter(tags=["auth"])

# Cookies earlier sign-in flows may have left: the active unit and the dashboard's session cookie.
LEGACY_COOKIES = (ACTIVE_UNIT_COOKIE, "leadvane_session")
_COOKIE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


class TokenIn(InModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


class MeOut(BaseModel):
    org_member_id: str
    first_name: str
    last_name: str
    email: str
    role: str = Field(description="organization role: Owner | Operator | Viewer")
    verified: bool


def _sign_in(db: Any, body: TokenIn, now: Any) -> tuple[str | None, str | None, int]:
    def work(session: Any) -> tuple[str | None, str | None, int]:
        result = sign_in.sign_in(session, body.email, body.password, now)
        if result.user is None:
            return None, None, result.retry_after_seconds
        return result.user.id, result.user.org_id, 0

    return run_write(db, work)


@router.post(
    "/v1/auth/token", response_model=TokenOut, dependencies=[Public], summary="Sign in: a bearer token for a person"
)
async def create_token(body: TokenIn, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """Email and password for a JWT to send as `Authorization: Bearer <token>`. Repeated failures for an email
    are throttled: 429 with Retry-After."""
    member_id, org_id, retry_after = await run_in_threadpool(_sign_in, db, body, now)
    if retry_after:
        raise HTTPException(
            429, f"Too many failed sign-ins for this email: try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
    if member_id is None or org_id is None:
        raise HTTPException(401, "Email or password is incorrect.", headers={"WWW-Authenticate": "Bearer"})
    issued = tokens.issue(member_id, org_id, now)
    return {"access_token": issued.access_token, "token_type": "bearer", "expires_in": issued.expires_in}


@router.post(
    "/v1/auth/cleanup", status_code=204, response_class=Response, dependencies=[Public],
    summary="Cleanup legacy auth cookies",
)
async def cleanup_cookies(request: Request) -> Response:
    """Removes any residual cookies from previous auth flows (the active unit, the dashboard session)."""
    response = Response(status_code=204)
    names = set(LEGACY_COOKIES) | {
        name for name in request.cookies if name.lower().startswith("leadvane") and _COOKIE_NAME.fullmatch(name)
    }
    for name in sorted(names):
        response.delete_cookie(name, path="/")
    return response


@router.get("/v1/me", response_model=MeOut, summary="Current user")
def current_user(session: ReadSession, tenant: Self) -> members.MeView:
    """The signed-in person's profile (a person's token only; an API key or credential gets 403)."""
    return members.me(session, tenant)
