"""API keys and credentials on the API: the short-lived cache of valid ones, their last use, and the 401.

`Bearer sk_live_...` is looked up here; `Basic client_id:client_secret` in api.credential_auth, through the same
cache and usage recorder.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from db.engine import Database
from services.context import Tenant
from services.tenancy import api_keys

log = logging.getLogger("leadvane.api")


KEY_CACHE_SECONDS = 5.0


class KeyCache:
    """Valid API keys and credentials seen in the last few seconds (by the hash of the whole secret), so a request
    skips the look-up; a wrong secret hashes differently and never finds an entry.

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


def key_cache(request: Request) -> KeyCache:
    cache = getattr(request.app.state, "key_cache", None)
    if cache is None:
        cache = request.app.state.key_cache = KeyCache()
    return cache


class KeyUsage:
    """Keeps API keys' and credentials' last_used_at (both by key_hash), off the request path and at most once a
    minute per key.

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


def key_usage(request: Request) -> KeyUsage:
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




async def authenticate_key(request: Request, db: Database, secret: str) -> Tenant:
    cache = key_cache(request)
    key_hash = api_keys.hash_secret(secret)
    tenant = cache.get(key_hash)
    if tenant is None:
        tenant = await run_in_threadpool(_authenticate, db, secret)
        if tenant is None:
            raise unauthorized("Invalid or missing API key.")
        cache.put(key_hash, tenant)
    key_usage(request).seen(key_hash, datetime.now(UTC))
    return tenant


async def authenticate_credential(request: Request, db: Database, client_id: str, client_secret: str) -> Tenant:
    """The credential's tenant; its cache entry is keyed by the hash of id and secret together, so only the
    exact pair that was valid finds it."""
    cache = key_cache(request)
    pair_hash = api_keys.hash_secret(f"{client_id}:{client_secret}")
    tenant = cache.get(pair_hash)
    if tenant is None:
        tenant = await run_in_threadpool(_authenticate_credential, db, client_id, client_secret)
        if tenant is None:
            raise unauthorized("Invalid client id or client secret.")
        cache.put(pair_hash, tenant)
    key_usage(request).seen(api_keys.hash_secret(client_secret), datetime.now(UTC))
    return tenant


def _authenticate_credential(db: Database, client_id: str, client_secret: str) -> Tenant | None:
    with db.read() as session:
        return api_keys.authenticate_credential(session, client_id, client_secret)
