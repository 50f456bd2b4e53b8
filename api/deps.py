"""Typed dependencies: the database, a read session, the authenticated tenant, the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from api.credential_auth import authenticate_credential
from api.key_auth import authenticate_key, unauthorized
from api.person_auth import authenticate_person
from api.ratelimit import apply_rate_limit
from db.engine import Database
from services.context import Tenant
from services.tenancy import api_keys

T = TypeVar("T")


# Plain dependencies are async so FastAPI does not hop to a worker thread for each of them.
async def get_db(request: Request) -> Database:
    return request.app.state.db


DatabaseDep = Annotated[Database, Depends(get_db)]


def get_read_session(db: DatabaseDep) -> Iterator[Session]:
    with db.read() as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]


async def get_now() -> datetime:
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(get_now)]


async def get_tenant(request: Request, db: DatabaseDep) -> Tenant:
    """Who is asking, from the Authorization header: `Bearer sk_live_...` (an API key), `Bearer <token>` (a
    person's token from POST /v1/auth/token, in the active unit) or `Basic client_id:client_secret` (a credential
    from /v1/secrets)."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    scheme, secret = scheme.lower(), secret.strip()
    if not secret or scheme not in ("bearer", "basic"):
        raise unauthorized()
    if scheme == "basic":
        tenant = await authenticate_credential(request, db, secret)
    elif not secret.startswith(api_keys.KEY_PREFIX):
        tenant = await authenticate_person(request, db, secret)
    else:
        tenant = await authenticate_key(request, db, secret)
    request.state.tenant = tenant  # for the audit of mutating requests (api.audit_middleware)
    return tenant


async def get_limited_tenant(request: Request, tenant: Annotated[Tenant, Depends(get_tenant)]) -> Tenant:
    """The authenticated tenant, once the request is counted against its unit's rate limit (api.ratelimit)."""
    await apply_rate_limit(request, tenant)
    return tenant



def run_write(db: Database, work: Callable[[Session], T], attempts: int = 3) -> T:
    """Run `work` in one write transaction and commit it.

    Concurrent writers can race on unique keys (two requests creating the same lead) or, on
    PostgreSQL, deadlock; the loser rolls back and runs again against the winner's rows.
    """
    for attempt in range(attempts):
        try:
            with db.write() as session:
                return work(session)
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
