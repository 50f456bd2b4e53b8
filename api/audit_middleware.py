"""Every mutating API request (POST, PUT, PATCH, DELETE) of an authenticated caller goes into the audit log.

The entry (method, path, status, request id, caller, IP, latency) is taken once the response status is known
and handed to a RequestAuditor: one background thread per process that writes what has gathered once a second
in one short transaction (services.tenancy.audit.write_requests, an executemany insert). A request never waits for the
database, and at a high ingest rate a second's requests cost one insert, not one transaction each. What is
still in memory is written at interpreter exit (atexit) and by flush() (tests, an orderly shutdown); a process
killed outright loses at most its last second of request entries (configuration changes are recorded in their
own transactions and are never lost). Unauthenticated requests (401) have no unit and are not recorded.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.request_counter import counter_of
from db.engine import Database
from services.context import Tenant
from services.tenancy import audit

log = logging.getLogger("leadvane.audit")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FLUSH_SECONDS = 1.0
MAX_PENDING = 100_000  # beyond this (the database unreachable for long) the oldest entries are dropped


class RequestAuditor:
    """Gathers request entries in memory and writes them in batches from one thread."""

    def __init__(self, db: Database, every: float = FLUSH_SECONDS) -> None:
        self.db = db
        self.every = every
        self._pending: deque[audit.RequestEntry] = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()  # one writer at a time: the thread or an explicit flush()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def add(self, entry: audit.RequestEntry) -> None:
        self._pending.append(entry)  # deque.append is thread-safe
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="leadvane-audit-writer", daemon=True)
            self._thread.start()
            atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.every)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the database may be briefly unavailable: the entries are kept for the next try
                log.warning("could not write request audit entries", exc_info=True)

    def flush(self) -> int:
        """Writes every entry gathered so far; returns how many."""
        with self._lock:
            batch = list(self._pending)
            if not batch:
                return 0
            with self.db.write() as session:
                audit.write_requests(session, batch)
            for _ in batch:  # only what was written: entries added meanwhile stay queued
                self._pending.popleft()
            return len(batch)


def auditor_of(app: object) -> RequestAuditor:
    state = app.state  # type: ignore[attr-defined]
    auditor = getattr(state, "request_auditor", None)
    if auditor is None:
        auditor = state.request_auditor = RequestAuditor(state.db)
    return auditor


class AuditMiddleware:
    """After a request: records a mutating one in the audit log once its response status is known, and counts
    every authenticated one for usage (api.request_counter). Inside RequestIdMiddleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in MUTATING:
            try:
                await self.app(scope, receive, send)
            finally:
                tenant = (scope.get("state") or {}).get("tenant")
                if isinstance(tenant, Tenant):
                    counter_of(scope["app"]).count(tenant)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            state = scope.get("state") or {}
            tenant = state.get("tenant")
            if isinstance(tenant, Tenant):
                counter_of(scope["app"]).count(tenant)
                client = scope.get("client")
                auditor_of(scope["app"]).add(audit.RequestEntry(
                    org_id=tenant.org_id, unit_id=tenant.unit_id, user_email=tenant.actor, method=scope["method"],
                    path=scope["path"], status=status, request_id=state.get("request_id"),
                    ip=client[0] if client else None, latency_ms=round((time.perf_counter() - started) * 1000),
                    at=datetime.now(UTC),
                ))
