"""People on the API: a bearer token from POST /v1/auth/token, acting in the active unit.

The active unit is, in this order: the `X-Active-OU` header, the `ouId` query parameter (only on routes that
declare it, such as GET /v1/stream), the `activeOu` cookie set by POST /v1/org-units/active, else the person's
first unit. A unit the person may not open is a 403 `forbidden`; a bad or expired token a 401.

The person and their role are looked up at most every PERSON_CACHE_SECONDS per (member, unit) and process, so a
removed member, a removed membership or a changed role applies within that time everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.key_auth import KeyCache
from api.types import known_query_names
from db.engine import Database
from services.context import Tenant
from services.tenancy import tokens, units

ACTIVE_UNIT_HEADER = "X-Active-OU"
ACTIVE_UNIT_QUERY = "ouId"
ACTIVE_UNIT_COOKIE = "activeOu"
PERSON_CACHE_SECONDS = 5.0
_CACHE_FIELD = "person_cache"


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def requested_unit(request: Request) -> str | None:
    """The unit the request asks to act in, if it names one."""
    header = request.headers.get(ACTIVE_UNIT_HEADER, "").strip()
    if header:
        return header
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and ACTIVE_UNIT_QUERY in known_query_names(route):
        query = request.query_params.get(ACTIVE_UNIT_QUERY, "").strip()
        if query:
            return query
    cookie = request.cookies.get(ACTIVE_UNIT_COOKIE, "").strip()
    return cookie or None


def person_cache(request: Request) -> KeyCache:
    """The process's cache of people's tenants (api.key_auth.KeyCache, keyed by member and unit)."""
    cache: KeyCache | None = getattr(request.app.state, _CACHE_FIELD, None)
    if cache is None:
        cache = KeyCache(ttl=PERSON_CACHE_SECONDS)
        setattr(request.app.state, _CACHE_FIELD, cache)
    return cache


def _lookup(db: Database, claims: tokens.TokenClaims, unit_id: str | None) -> Tenant | None:
    with db.read() as session:
        return units.person_tenant(session, claims.member_id, claims.org_id, unit_id)


async def authenticate_person(request: Request, db: Database, token: str) -> Tenant:
    try:
        claims = tokens.verify(token, datetime.now(UTC))
    except tokens.InvalidToken as exc:
        raise _unauthorized(
            f"Invalid API key or token ({exc}): send an sk_live_ API key, or a person's token from POST /v1/auth/token."
        ) from None
    unit_id = requested_unit(request)
    cache = person_cache(request)
    cache_key = f"{claims.member_id}\x00{claims.org_id}\x00{unit_id or ''}"
    tenant: Tenant | None = cache.get(cache_key)
    if tenant is None:
        tenant = await run_in_threadpool(_lookup, db, claims, unit_id)  # Forbidden (403) for a unit not theirs
        if tenant is None:
            raise _unauthorized("This person no longer exists or is disabled.")
        cache.put(cache_key, tenant)
    return tenant
