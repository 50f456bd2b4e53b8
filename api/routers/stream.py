"""The live stream: GET /v1/stream, server-sent events of what the unit's committed writes told
(services.insight.stream). The route holds no database session while idle: each re-read is a short one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from api.deps import DatabaseDep
from api.permissions import Reader
from db.engine import Database
from services.context import Tenant
from services.errors import InvalidInput
from services.insight import stream as stream_service
from settings import get_settings

router = APIRouter(tags=["stream"])
log = logging.getLogger("leadvane.stream")
READ_LIMIT = 500  # messages per re-read; a client far behind catches up in several

_STREAM_DOC = """Server-sent events (`text/event-stream`) of the unit's activity as it is committed, within about a
second, whichever API worker ingested it. Each message has an `id` (`<batch>-<index>`), an `event` name and JSON
`data`:

- `event`: `{event_id, event_type, occurred_at, lead_id, email, account_id, score_delta, score}` (score after)
- `score_update`: `{lead_id, delta, score}`
- `level_change`: `{lead_id, from, to}` (level names)
- `trigger_fired`: `{trigger_id, trigger_name, lead_id, firing_id}`

A `: ping` comment is sent when the stream has been idle for 15 s (LEADVANE_STREAM_HEARTBEAT_SECONDS). A new
connection starts with what happens next; send `Last-Event-ID` (browsers' EventSource do on reconnect) to receive
exactly the messages after that id (kept for 24 hours)."""


def _listener_lock(app: FastAPI) -> threading.Lock:
    lock: threading.Lock | None = getattr(app.state, "stream_listener_lock", None)
    if lock is None:
        lock = app.state.stream_listener_lock = threading.Lock()
    return lock


def ensure_listener(app: FastAPI, db: Database) -> stream_service.Listener | None:
    """On PostgreSQL, this process's LISTEN thread (started by the first stream client); None on SQLite."""
    if db.is_sqlite:
        return None
    with _listener_lock(app):
        listener: stream_service.Listener | None = getattr(app.state, "stream_listener", None)
        if listener is None:
            listener = stream_service.Listener(db.engine.url)
            listener.start()
            app.state.stream_listener = listener
        return listener


def stop_listener(app: FastAPI) -> None:
    """Stop the LISTEN thread if a stream client started one (the app's shutdown)."""
    listener: stream_service.Listener | None = getattr(app.state, "stream_listener", None)
    if listener is not None:
        app.state.stream_listener = None
        listener.stop()


def _start_cursor(db: Database, tenant: Tenant) -> stream_service.Cursor:
    with db.read() as session:
        return stream_service.head(session, tenant)


def _read(db: Database, tenant: Tenant, cursor: stream_service.Cursor) -> list[stream_service.StreamMessage]:
    with db.read() as session:
        return stream_service.read_after(session, tenant, cursor, READ_LIMIT)


def _event(msg: stream_service.StreamMessage) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(msg.data, separators=(",", ":")), event=msg.kind, id=msg.id)


def _ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping")


async def _events(
    request: Request, db: Database, tenant: Tenant, cursor: stream_service.Cursor
) -> AsyncIterator[ServerSentEvent]:
    """The unit's messages after `cursor`, as they are committed. sse-starlette sends the heartbeats and cancels
    this generator when the client goes away."""
    settings = get_settings()
    wake = stream_service.WAKEUPS.subscribe(tenant.unit_id)
    try:
        listener = ensure_listener(request.app, db)
        if listener is not None:  # answer once notifications reach this process (or after 5 s, polling meanwhile)
            await run_in_threadpool(listener.wait_listening, 5.0)
        yield ServerSentEvent(comment="connected", retry=1000)
        while True:
            wake.clear()
            messages = await run_in_threadpool(_read, db, tenant, cursor)
            for message in messages:
                yield _event(message)
            if messages:
                cursor = messages[-1].cursor
                if len(messages) >= READ_LIMIT:
                    continue  # more to catch up on
            listening = listener is not None and listener.wait_listening(0)
            poll = settings.stream_fallback_poll_seconds if listening else settings.stream_poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=poll)
    except Exception:  # the response has started: end the stream; the client resumes by Last-Event-ID
        log.warning("live stream for unit %s ended by an error", tenant.unit_id, exc_info=True)
    finally:
        stream_service.WAKEUPS.unsubscribe(tenant.unit_id, wake)


@router.get(
    "/v1/stream",
    response_class=StreamingResponse,  # error statuses stay documented as JSON; 200 is the event stream
    summary="Live stream of events, score and level changes and trigger firings",
    description=_STREAM_DOC,
    responses={200: {"description": "An endless text/event-stream", "content": {"text/event-stream": {
        "schema": {"type": "string", "description": "server-sent events: id, event, data (JSON)"}}}}},
)
async def live_stream(
    request: Request,
    tenant: Reader,
    db: DatabaseDep,
    ou_id: Annotated[
        str | None, Query(alias="ouId", max_length=200, description="a person's token: the unit to stream")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=40, description="resume after this message id (<batch>-<index>)"),
    ] = None,
) -> EventSourceResponse:
    # ouId is read by authentication (a person's token picks its unit from it); here it is only declared.
    if last_event_id is not None and last_event_id.strip():
        try:
            cursor = stream_service.parse_cursor(last_event_id)
        except ValueError as exc:
            raise InvalidInput("Last-Event-ID", str(exc)) from None
    else:
        cursor = await run_in_threadpool(_start_cursor, db, tenant)
    return EventSourceResponse(
        _events(request, db, tenant, cursor),
        ping=get_settings().stream_heartbeat_seconds,
        ping_message_factory=_ping,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
