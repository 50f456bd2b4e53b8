"""The live stream (GET /v1/stream): what committed writes tell connected clients.

A write that has something to tell stores ONE `stream_batches` row per unit with all its messages, in the same
transaction (just before it commits):
a rolled-back write tells nothing and a committed one is never lost. A message's SSE id is "<batch id>-<index>";
a client resumes after the last id it saw. Messages are `event`, `score_update`, `level_change` and
`trigger_fired` (built here from what ingest and trigger firing already know).

Waking readers: after commit the writer wakes this process's waiters of the unit (services.after_commit); on
PostgreSQL the same transaction also sends `pg_notify('leadvane_stream', unit_id)`, which a `Listener` thread per
API process turns into the same wake-up, so a client connected to any worker sees events ingested by any worker.
On SQLite (one machine) readers also poll the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from core import levels as core_levels
from core.messages import rfc3339
from db import models
from services.after_commit import before_commit, on_commit, on_rollback
from services.context import Tenant
from services.scoring.levels import load_levels
from services.tenancy import policy
from services.tenancy.policy import Action

if TYPE_CHECKING:
    from services.ingest.contract import Ingested

log = logging.getLogger("leadvane.stream")

CHANNEL = "leadvane_stream"
KINDS = ("event", "score_update", "level_change", "trigger_fired")
RETENTION = timedelta(hours=24)
_STAGED = "leadvane_stream_staged"

Cursor = tuple[int, int]  # (batch id, message index)


@dataclass(frozen=True, slots=True)
class StreamMessage:
    id: str  # "<batch id>-<index>": the SSE id a client sends back as Last-Event-ID
    kind: str  # the SSE event name: event | score_update | level_change | trigger_fired
    data: dict[str, Any]
    created_at: datetime

    @property
    def cursor(self) -> Cursor:
        batch, index = self.id.split("-")
        return int(batch), int(index)


def parse_cursor(value: str) -> Cursor:
    """'<batch id>-<index>' as sent in Last-Event-ID; ValueError when it is not one."""
    batch, sep, index = value.strip().partition("-")
    if not sep or not batch.isdigit() or not index.isdigit() or len(batch) > 18 or len(index) > 9:
        raise ValueError(f"{value!r} is not a stream message id (<batch>-<index>)")
    return int(batch), int(index)


# --- writing -------------------------------------------------------------------------------------------------------


def publish(session: Session, tenant: Tenant, messages: Sequence[dict[str, Any]], now: datetime) -> None:
    """Tell `messages` (each {"type": kind, "data": {...}}) on the unit's live stream when the caller's transaction
    commits. Everything a transaction publishes for a unit becomes ONE batch row, written just before it commits
    (services.after_commit.before_commit) and dropped with it if it rolls back; readers are woken once it commits."""
    if not messages:
        return
    staged: dict[tuple[str, str], _Staged] | None = session.info.get(_STAGED)
    if staged is None:
        staged = session.info[_STAGED] = {}
        before_commit(session, lambda: _write_staged(session))
        on_rollback(session, lambda: session.info.pop(_STAGED, None))
    entry = staged.setdefault((tenant.org_id, tenant.unit_id), _Staged([], now))
    entry.messages.extend(messages)
    entry.now = max(entry.now, now)


@dataclass(slots=True)
class _Staged:
    messages: list[dict[str, Any]]
    now: datetime


def _write_staged(session: Session) -> None:
    staged: dict[tuple[str, str], _Staged] = session.info.pop(_STAGED, {})
    postgres = session.get_bind().dialect.name == "postgresql"
    for (org_id, unit_id), entry in sorted(staged.items()):  # units in one order: two writers never deadlock here
        if postgres:
            # Per unit, batch ids must become visible in id order, or a reader past id 11 would never see a slower
            # transaction's id 10: hold the unit's stream lock from taking the id until commit, which follows at
            # once. The notification is delivered at commit, to every API worker's listener.
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key)), pg_notify(:channel, :unit)"),
                {"key": f"{CHANNEL}:{unit_id}", "channel": CHANNEL, "unit": unit_id},
            )
        # A Core insert of fixed shape: the ORM-enabled insert cost a single-event ingest several per cent more.
        session.execute(
            cast(Table, models.StreamBatch.__table__).insert(),
            {"org_id": org_id, "unit_id": unit_id, "created_at": entry.now, "messages": entry.messages},
        )
        on_commit(session, functools.partial(WAKEUPS.wake, unit_id))


def message(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "data": data}


def ingest_messages(session: Session, tenant: Tenant, results: Sequence[Ingested]) -> list[dict[str, Any]]:
    """`event` per ingested event, `score_update` per lead score it moved, `level_change` when that move crossed
    a level. The unit's levels are read only when some lead's score moved."""
    out: list[dict[str, Any]] = []
    levels: list[core_levels.Level] | None = None
    for r in results:
        primary = r.primary
        delta = primary.delta if primary else 0
        after = primary.lead_after if primary else None
        out.append(message("event", {
            "event_id": r.event_id, "event_type": r.event_type, "occurred_at": rfc3339(r.occurred_at),
            "lead_id": r.lead_id, "email": (r.lead or {}).get("email"), "account_id": r.account_id,
            "score_delta": delta, "score": after,
        }))
        before = (primary.lead_before or 0) if primary else 0  # a new lead starts at 0
        if r.lead_id is None or after is None or before == after:
            continue
        out.append(message("score_update", {"lead_id": r.lead_id, "delta": after - before, "score": after}))
        if levels is None:
            levels = load_levels(session, tenant)
        old, new = core_levels.level_for(before, levels), core_levels.level_for(after, levels)
        if (old.id if old else None) != (new.id if new else None):
            out.append(message("level_change", {
                "lead_id": r.lead_id, "from": old.name if old else None, "to": new.name if new else None,
            }))
    return out


def trigger_fired(trigger_id: str, trigger_name: str | None, lead_id: str | None, firing_id: str) -> dict[str, Any]:
    return message("trigger_fired", {
        "trigger_id": trigger_id, "trigger_name": trigger_name or None, "lead_id": lead_id, "firing_id": firing_id,
    })


def prune(session: Session, now: datetime, retention: timedelta = RETENTION) -> int:
    """Delete batches older than `retention` (every unit), keeping the newest batch overall so ids never restart
    (SQLite reuses the highest rowid once it is deleted, which would confuse resuming clients)."""
    newest = session.scalar(select(func.max(models.StreamBatch.id)))
    if newest is None:
        return 0
    sb = models.StreamBatch
    result = session.execute(delete(sb).where(sb.created_at < now - retention, sb.id < newest))
    return int(getattr(result, "rowcount", 0) or 0)


# --- reading -------------------------------------------------------------------------------------------------------


def read_after(session: Session, tenant: Tenant, after: Cursor | None, limit: int = 500) -> list[StreamMessage]:
    """The unit's messages after `after` (exclusive), oldest first, at most about `limit` (whole batches).
    `after=None` starts at the end: nothing now, what comes next later (see `head`)."""
    policy.require(tenant, Action.READ)
    if after is None:
        return []
    batch_id, index = after
    sb = models.StreamBatch
    rows = session.execute(
        select(sb.id, sb.messages, sb.created_at)
        .where(sb.unit_id == tenant.unit_id, sb.id >= batch_id)
        .order_by(sb.id)
        .limit(max(1, limit))
    ).all()
    out: list[StreamMessage] = []
    for row_id, messages, created_at in rows:
        for pos, item in enumerate(messages or []):
            if row_id == batch_id and pos <= index:
                continue
            out.append(StreamMessage(f"{row_id}-{pos}", str(item.get("type")), dict(item.get("data") or {}),
                                     created_at))
        if len(out) >= limit:
            break
    return out


def head(session: Session, tenant: Tenant) -> Cursor:
    """The cursor just past everything stored now for the unit: a new client starts here."""
    policy.require(tenant, Action.READ)
    sb = models.StreamBatch
    newest = session.scalar(select(func.max(sb.id)).where(sb.unit_id == tenant.unit_id))
    return (int(newest), 1 << 30) if newest is not None else (0, 0)


def latest(session: Session, tenant: Tenant, n: int = 20) -> list[StreamMessage]:
    """The unit's newest `n` messages, newest first (the dashboard's live panel)."""
    policy.require(tenant, Action.READ)
    sb = models.StreamBatch
    rows = session.execute(
        select(sb.id, sb.messages, sb.created_at).where(sb.unit_id == tenant.unit_id).order_by(sb.id.desc()).limit(n)
    ).all()
    out: list[StreamMessage] = []
    for row_id, messages, created_at in rows:
        items = list(enumerate(messages or []))
        for pos, item in reversed(items):
            out.append(StreamMessage(f"{row_id}-{pos}", str(item.get("type")), dict(item.get("data") or {}),
                                     created_at))
            if len(out) >= n:
                return out
    return out


# --- waking readers ------------------------------------------------------------------------------------------------


class Wakeups:
    """This process's waiting stream readers by unit; `wake` may be called from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def subscribe(self, unit_id: str) -> asyncio.Event:
        """An event set whenever the unit may have new messages (call from the reader's event loop)."""
        ev = asyncio.Event()
        with self._lock:
            self._waiters.setdefault(unit_id, set()).add((asyncio.get_running_loop(), ev))
        return ev

    def unsubscribe(self, unit_id: str, ev: asyncio.Event) -> None:
        with self._lock:
            waiters = self._waiters.get(unit_id)
            if waiters is None:
                return
            for entry in [w for w in waiters if w[1] is ev]:
                waiters.discard(entry)
            if not waiters:
                del self._waiters[unit_id]

    def wake(self, unit_id: str | None) -> None:
        """Wake the readers of `unit_id` (None: every reader, e.g. after a listener reconnected)."""
        with self._lock:
            if unit_id is None:
                targets = [w for ws in self._waiters.values() for w in ws]
            else:
                targets = list(self._waiters.get(unit_id, ()))
        for loop, ev in targets:
            with contextlib.suppress(RuntimeError):  # that reader's loop has closed
                loop.call_soon_threadsafe(ev.set)

    def count(self) -> int:
        with self._lock:
            return sum(len(ws) for ws in self._waiters.values())


# One per process: the after-commit hook of a write and the PostgreSQL listener both wake readers through it.
WAKEUPS = Wakeups()


class Listener:
    """One thread per API process doing LISTEN leadvane_stream on its own psycopg connection, waking this process's
    readers of the notified unit; it reconnects after a failure (waking every reader, who re-read) until stopped."""

    def __init__(self, url: URL, wakeups: Wakeups = WAKEUPS) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._wakeups = wakeups
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leadvane-stream-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    self._wakeups.wake(None)  # anything committed while we were not listening
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._wakeups.wake(note.payload or None)
            except Exception:  # any failure: reconnect; readers also poll meanwhile
                self._listening.clear()
                if not self._stop.is_set():
                    log.warning("stream listener lost its connection; reconnecting", exc_info=True)
                    self._stop.wait(1.0)
