"""Shared plumbing of the ingest routes: one transaction, optional Idempotency-Key replay, group commit."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import run_write
from api.guards import route_path
from db.engine import Database
from services.context import Tenant
from services.errors import ServiceError
from services.ingest import idempotency
from services.ingest.contract import Ingested, NewEvent
from services.ingest.ingest import ingest
from services.tenancy import policy
from services.tenancy.policy import Action

Work = Callable[[Session], tuple[int, Any]]
Present = Callable[[Ingested], tuple[int, Any]]
GROUP_MAX = 500


class FastJSONResponse(JSONResponse):
    """orjson renders the large ingest responses (a 1000-event batch) several times faster than json."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # what orjson refuses (integers beyond 64 bits) json still writes
            return super().render(content)


async def respond_idempotently(
    request: Request, db: Database, tenant: Tenant, now: datetime, work: Work
) -> JSONResponse:
    """Run `work` (returning status and JSON body) once per Idempotency-Key and request body."""
    raw_key = request.headers.get("idempotency-key")
    if raw_key is None:
        status, body = await run_in_threadpool(run_write, db, work)
        return FastJSONResponse(body, status_code=status)
    key = idempotency.check_key(raw_key)
    fingerprint = idempotency.request_fingerprint(request.method, route_path(request.scope), await request.body())

    def work_once(session: Session) -> tuple[int, Any, bool]:
        stored = idempotency.find_response(session, tenant, key, fingerprint, now)
        if stored is not None:
            return stored.status_code, stored.body, True
        status, body = work(session)
        idempotency.save_response(session, tenant, key, fingerprint, status, body, now)
        return status, body, False

    status, body, replayed = await run_in_threadpool(run_write, db, work_once)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return FastJSONResponse(body, status_code=status, headers=headers)


async def respond_with_event(
    request: Request, db: Database, tenant: Tenant, now: datetime, event: NewEvent, present: Present
) -> JSONResponse:
    """Ingest one event and answer with `present(result)` (status, JSON body).

    With an Idempotency-Key it runs in a transaction of its own (the key is stored with it). Without one,
    it is group-committed: single-event requests that arrive while the previous group is being written
    share the next transaction and one ingest call, so concurrent clients cost one commit and one set of
    lookups per group instead of per request. Each request still gets its own result or error.
    """
    if request.headers.get("idempotency-key") is not None:

        def work(session: Session) -> tuple[int, Any]:
            (result,) = ingest(session, tenant, [event], now)
            if isinstance(result, ServiceError):
                raise result
            return present(result)

        return await respond_idempotently(request, db, tenant, now, work)
    # Refused before queuing: a refused request would otherwise fail its whole group and send every request
    # of that group down the slow one-transaction-each path.
    policy.require(tenant, Action.INGEST)
    result = await _committer(request, db).submit(tenant, event, now)
    if isinstance(result, ServiceError):
        raise result
    status, body = present(result)
    return FastJSONResponse(body, status_code=status)


_Pending = tuple[Tenant, NewEvent, datetime, "asyncio.Future[Ingested | ServiceError]"]


class GroupCommitter:
    """Collects single events on one event loop and writes them in groups from a worker thread."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending: list[_Pending] = []
        # One group in flight per process. SQLite has one writer anyway; on PostgreSQL, 4 groups in flight were
        # slower in bench/ingest.py (groups touching the same accounts queue on their row locks).
        self.max_active = 1
        self.active = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, tenant: Tenant, event: NewEvent, now: datetime) -> Ingested | ServiceError:
        if event.occurred_at is None:
            event.occurred_at = now  # the request's own clock, even if its group is written a moment later
        future: asyncio.Future[Ingested | ServiceError] = asyncio.get_running_loop().create_future()
        self.pending.append((tenant, event, now, future))
        if self.active < self.max_active:
            self.active += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        while True:
            if not self.pending:  # another drain took them first
                self.active -= 1
                return
            group, self.pending = self.pending[:GROUP_MAX], self.pending[GROUP_MAX:]
            try:
                try:
                    outcomes: list[Any] = await run_in_threadpool(self._write_group, group)
                except Exception:
                    # Something beyond one bad item failed the group: give every request its own transaction.
                    outcomes = await run_in_threadpool(self._write_each, group)
            except BaseException as exc:  # cancelled: never leave a request waiting or the committer stuck
                self.active -= 1
                for *_item, future in group:
                    if future.done():
                        continue
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
                raise
            last = not self.pending
            if last:
                self.active -= 1  # before waking the requests: the loop may end with the last of them
            for (_tenant, _event, _now, future), outcome in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException) and not isinstance(outcome, ServiceError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            if last:
                return

    def _write_group(self, group: list[_Pending]) -> list[Ingested | ServiceError]:
        by_tenant: dict[Tenant, list[int]] = {}
        for position, (tenant, *_rest) in enumerate(group):
            by_tenant.setdefault(tenant, []).append(position)
        now = max(item[2] for item in group)

        def work(session: Session) -> list[Ingested | ServiceError]:
            outcomes: list[Ingested | ServiceError | None] = [None] * len(group)
            for tenant, positions in by_tenant.items():
                results = ingest(session, tenant, [group[p][1] for p in positions], now)
                for position, result in zip(positions, results, strict=True):
                    outcomes[position] = result
            return [o for o in outcomes if o is not None]

        return run_write(self.db, work)

    def _write_each(self, group: list[_Pending]) -> list[Any]:
        outcomes: list[Any] = []
        for tenant, event, now, _future in group:

            def work(session: Session, t: Tenant = tenant, e: NewEvent = event, n: datetime = now) -> Any:
                return ingest(session, t, [e], n)[0]

            try:
                outcomes.append(run_write(self.db, work))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


def _committer(request: Request, db: Database) -> GroupCommitter:
    """One committer per application and event loop (a test client may run each request on a new loop)."""
    state = request.app.state
    committers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommitter] | None = getattr(
        state, "group_committers", None
    )
    if committers is None:
        committers = state.group_committers = weakref.WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    committer = committers.get(loop)
    if committer is None:
        committer = committers[loop] = GroupCommitter(db)
    return committer
