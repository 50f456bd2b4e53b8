"""Typed dependencies: the database, a read session, the authenticated tenant, the clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.credential_auth import authenticate_credential
from api.person_auth import authenticate_person
from api.ratelimit import apply_rate_limit
from db.engine import Database
from services.context import Tenant
from services.tenancy import api_keys

T = TypeVar("T")
log = logging.getLogger("leadvane.api")


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


KEY_CACHE_SECONDS = 5.0


class KeyCache:
    """Valid API keys seen in the last few seconds (by hash), so a request skips the key lookup.

    Only successful lookups are kept, for KEY_CACHE_SECONDS: a revoked key stops working in every
    API process within that time; a new key works at once.
    """

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Tenant]] = {}

    def get(self, key_hash: str) -> Tenant | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_hash: str, tenant: Tenant) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key_hash] = (time.monotonic() + self.ttl, tenant)


def _key_cache(request: Request) -> KeyCache:
    cache = getattr(request.app.state, "key_cache", None)
    if cache is None:
        cache = request.app.state.key_cache = KeyCache()
    return cache


class KeyUsage:
    """Keeps API keys' last_used_at, off the request path and at most once a minute per key.

    Each process remembers when it last recorded each key and skips the key for a minute; a due record is
    handed to one background thread (the request never waits for it) that runs a conditional UPDATE
    (services.tenancy.api_keys.record_use), so all processes together still write a key about once a minute.
    """

    def __init__(self, db: Database, every: float = api_keys.USE_RECORD_INTERVAL.total_seconds()) -> None:
        self.db = db
        self.every = every
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._executor: ThreadPoolExecutor | None = None

    def seen(self, key_hash: str, now: datetime) -> None:
        moment = time.monotonic()
        with self._lock:
            if self._next.get(key_hash, 0.0) > moment:
                return
            if len(self._next) >= 10_000:
                self._next.clear()
            self._next[key_hash] = moment + self.every
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadvane-key-usage")
            self._executor.submit(self._record, key_hash, now)

    def _record(self, key_hash: str, now: datetime) -> None:
        try:
            with self.db.write() as session:
                api_keys.record_use(session, key_hash, now)
        except Exception:  # a missed "last used" must never surface anywhere else
            log.warning("could not record an API key's last use", exc_info=True)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until the records handed over so far are written (tests, shutdown)."""
        with self._lock:
            executor = self._executor
        if executor is not None:
            done: Future[None] = executor.submit(lambda: None)  # one worker: runs after everything before it
            done.result(timeout)


def _key_usage(request: Request) -> KeyUsage:
    usage = getattr(request.app.state, "key_usage", None)
    if usage is None:
        usage = request.app.state.key_usage = KeyUsage(request.app.state.db)
    return usage


def _authenticate(db: Database, secret: str) -> Tenant | None:
    with db.read() as session:
        return api_keys.authenticate(session, secret)


_UNAUTHORIZED = (
    "Invalid or missing credentials: send an API key or a token as Bearer, or a client id and secret as Basic."
)


def unauthorized(message: str = _UNAUTHORIZED) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer, Basic realm="leadvane"'})


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
        tenant = await _authenticate_key(request, db, secret)
    request.state.tenant = tenant  # for the audit of mutating requests (api.audit_middleware)
    return tenant


async def _authenticate_key(request: Request, db: Database, secret: str) -> Tenant:
    cache = _key_cache(request)
    key_hash = api_keys.hash_secret(secret)
    tenant = cache.get(key_hash)
    if tenant is None:
        tenant = await run_in_threadpool(_authenticate, db, secret)
        if tenant is None:
            raise unauthorized("Invalid or missing API key.")
        cache.put(key_hash, tenant)
    _key_usage(request).seen(key_hash, datetime.now(UTC))
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
