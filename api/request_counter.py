"""Counts every authenticated API request per unit and UTC day, for GET /v1/usage (services.tenancy.usage).

A request only adds one to a dict in this process's memory (AuditMiddleware calls count() once its response is
sent): no database write on the request path. One background thread per process adds what has gathered to
`usage_days` every FLUSH_SECONDS in one short transaction (an upsert `api_requests = api_requests + n`, so any
number of processes add up). What is still in memory is written at interpreter exit (atexit) and by flush() (the
API lifespan's shutdown, tests); a process killed outright loses at most its last few seconds of counts.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime

from db.engine import Database
from services.context import Tenant
from services.tenancy import usage

log = logging.getLogger("leadvane.usage")

FLUSH_SECONDS = 2.0


class RequestCounter:
    """Request counts per (unit, UTC day) in memory, added to the database in batches from one thread."""

    def __init__(self, db: Database, every: float = FLUSH_SECONDS) -> None:
        self.db = db
        self.every = every
        self._counts: Counter[usage.UnitDay] = Counter()
        self._lock = threading.Lock()  # guards _counts (held for a dict update, never across I/O)
        self._flush_lock = threading.Lock()  # one writer at a time: the thread or an explicit flush()
        self._thread: threading.Thread | None = None

    def count(self, tenant: Tenant) -> None:
        key = usage.UnitDay(tenant.org_id, tenant.unit_id, datetime.now(UTC).date())
        with self._lock:
            self._counts[key] += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leadvane-usage-writer", daemon=True)
                self._thread.start()
                atexit.register(self._flush_at_exit)

    def pending(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            try:
                self.flush()
            except Exception:  # the database may be briefly unavailable: the counts are kept for the next try
                log.warning("could not write API request counts", exc_info=True)

    def _flush_at_exit(self) -> None:
        try:
            self.flush()
        except Exception:
            log.warning("API request counts not written at exit", exc_info=True)

    def flush(self) -> int:
        """Adds every count gathered so far to usage_days; returns how many requests that was."""
        with self._flush_lock:
            with self._lock:
                batch, self._counts = self._counts, Counter()
            if not batch:
                return 0
            try:
                with self.db.write() as session:
                    usage.add_api_requests(session, batch)
            except BaseException:
                with self._lock:  # not written: put them back for the next try
                    self._counts.update(batch)
                raise
            return sum(batch.values())


def counter_of(app: object) -> RequestCounter:
    state = app.state  # type: ignore[attr-defined]
    counter = getattr(state, "request_counter", None)
    if counter is None:
        counter = state.request_counter = RequestCounter(state.db)
    return counter
