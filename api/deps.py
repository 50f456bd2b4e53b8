"""Typed dependencies: the database, a read session, the authenticated tenant, the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from db.engine import Database
from services import api_keys
from services.context import Tenant

T = TypeVar("T")


def get_db(request: Request) -> Database:
    return request.app.state.db


DatabaseDep = Annotated[Database, Depends(get_db)]


def get_read_session(db: DatabaseDep) -> Iterator[Session]:
    with db.read() as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]


def get_now() -> datetime:
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(get_now)]


def get_tenant(request: Request, db: DatabaseDep) -> Tenant:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise HTTPException(401, "Invalid or missing API key.", headers={"WWW-Authenticate": "Bearer"})
    with db.read() as session:
        tenant = api_keys.authenticate(session, secret.strip())
    if tenant is None:
        raise HTTPException(401, "Invalid or missing API key.", headers={"WWW-Authenticate": "Bearer"})
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]


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
