"""The live stream (GET /v1/stream): what an ingest tells is written in its own transaction, a client resumes with
Last-Event-ID, and a unit's stream never carries another unit's activity. The SSE endpoint is spoken to over a
real socket (uvicorn serving the test app in a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
import uvicorn
from sqlalchemy import select

from api.routers.stream import stop_listener
from db import models
from db.engine import Database
from scheduler import jobs
from services.context import Tenant
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.insight import stream
from services.scoring import levels as level_service
from services.triggers import triggers
from settings import get_settings
from tests.conftest import ApiHarness, add_rule
from tests.e2e.test_serve_api import free_port


def sse_messages(resp: requests.Response) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream into {"id", "event", "data"} messages (comments such as pings are skipped)."""
    fields: dict[str, str] = {}
    for raw in resp.iter_lines(decode_unicode=True):
        line = raw or ""
        if not line:
            if "data" in fields:
                yield {"id": fields.get("id"), "event": fields.get("event"), "data": json.loads(fields["data"])}
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value[1:] if value.startswith(" ") else value


def collect(resp: requests.Response, until: Any, limit: int = 200) -> list[dict[str, Any]]:
    """Messages read until `until(message)` is true (the read timeout of the request bounds the wait)."""
    out = []
    for msg in sse_messages(resp):
        out.append(msg)
        if until(msg) or len(out) >= limit:
            break
    return out


@pytest.fixture(scope="module")
def served(api_app: Any, db: Database) -> Iterator[str]:
    """The test app on a loopback port (a real socket: SSE is an endless response)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api_app, host="127.0.0.1", port=port, lifespan="off", log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    stop_listener(api_app)


def open_stream(base: str, api: ApiHarness, last_event_id: str | None = None) -> requests.Response:
    headers = {**api.headers, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    resp = requests.get(f"{base}/v1/stream", headers=headers, stream=True, timeout=(5, 5))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    return resp


def event(email: str, event_type: str = "demo_request") -> NewEvent:
    return NewEvent(event_type, person=PersonRef(aliases=[AliasInput("email", email)]))


def batches(db: Database, tenant: Tenant) -> list[list[dict[str, Any]]]:
    with db.read() as session:
        sb = models.StreamBatch
        return [m for (m,) in session.execute(select(sb.messages).where(sb.unit_id == tenant.unit_id).order_by(sb.id))]


def test_ingest_tells_its_event_score_and_level_in_its_own_transaction(api: ApiHarness, now: datetime) -> None:
    add_rule(api, "demo_request", 30)
    with api.db.write() as session:
        level_service.create_level(session, api.tenant, name="Cold", min_score=0, max_score=19, now=now)
        level_service.create_level(session, api.tenant, name="Warm", min_score=20, max_score=1000, now=now)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), api.db.write() as session:
        ingest(session, api.tenant, [event("gone@acme.com")], now)
        raise Abort
    assert batches(api.db, api.tenant) == []  # a rolled-back ingest tells nothing

    with api.db.write() as session:
        [result] = ingest(session, api.tenant, [event("ann@acme.com")], now)
    [batch] = batches(api.db, api.tenant)  # one batch for the whole ingest
    assert [m["type"] for m in batch] == ["event", "score_update", "level_change"]
    ev, update, level = (m["data"] for m in batch)
    assert ev["event_id"] == result.event_id and ev["email"] == "ann@acme.com"  # type: ignore[union-attr]
    assert ev["event_type"] == "demo_request" and ev["score_delta"] == 30 and ev["score"] == 30
    assert ev["lead_id"] == update["lead_id"] == level["lead_id"]
    assert update == {"lead_id": ev["lead_id"], "delta": 30, "score": 30}
    assert (level["from"], level["to"]) == ("Cold", "Warm")


def test_latest_lists_the_newest_messages_first(api: ApiHarness, now: datetime) -> None:
    for email in ("a@acme.com", "b@acme.com"):
        with api.db.write() as session:
            ingest(session, api.tenant, [event(email, "page_view")], now)
    with api.db.read() as session:
        newest = stream.latest(session, api.tenant, 5)
    assert [m.data["email"] for m in newest if m.kind == "event"] == ["b@acme.com", "a@acme.com"]


def test_stream_delivers_a_posted_event_and_resumes_after_last_event_id(served: str, api: ApiHarness) -> None:
    add_rule(api, "demo_request", 10)
    with open_stream(served, api) as resp:
        posted = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "live@acme.com"}],
                                         "event_type": "demo_request"})
        assert posted.status_code in (200, 201), posted.text
        got = collect(resp, lambda m: m["event"] == "score_update")
    assert [m["event"] for m in got] == ["event", "score_update"]
    assert got[0]["data"]["email"] == "live@acme.com" and got[1]["data"]["score"] == 10

    # Missed while disconnected: two more ingests. Resuming after the first message gives exactly the rest.
    for email in ("m1@acme.com", "m2@acme.com"):
        assert api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                       "event_type": "demo_request"}).status_code in (200, 201)
    with api.db.read() as session:
        missed = stream.read_after(session, api.tenant, stream.parse_cursor(got[0]["id"]), 100)
    assert [m.kind for m in missed] == ["score_update", "event", "score_update", "event", "score_update"]
    with open_stream(served, api, last_event_id=got[0]["id"]) as resp:
        resumed = collect(resp, lambda m: m["id"] == missed[-1].id)
    assert [(m["id"], m["event"], m["data"]) for m in resumed] == [(m.id, m.kind, m.data) for m in missed]


def test_a_units_stream_never_carries_another_units_activity(
    served: str, api: ApiHarness, other_api: ApiHarness
) -> None:
    with open_stream(served, other_api) as resp:
        mine = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "a@unit-a.com"}],
                                       "event_type": "page_view"})
        theirs = other_api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "b@unit-b.com"}],
                                               "event_type": "page_view"})
        assert mine.status_code in (200, 201) and theirs.status_code in (200, 201)
        got = collect(resp, lambda m: m["data"].get("email") == "b@unit-b.com")
    assert [m["data"]["email"] for m in got] == ["b@unit-b.com"]


def test_stream_refuses_a_bad_last_event_id_and_a_missing_key(served: str, api: ApiHarness) -> None:
    resp = requests.get(f"{served}/v1/stream", headers={**api.headers, "Last-Event-ID": "nope"}, timeout=5)
    assert resp.status_code == 422 and "Last-Event-ID" in resp.json()["error"]["message"]
    assert requests.get(f"{served}/v1/stream", timeout=5).status_code == 401


def test_the_prune_job_drops_batches_older_than_a_day(api: ApiHarness, now: datetime) -> None:
    for event_id, age in (("old", timedelta(hours=48)), ("new", timedelta(hours=1))):
        with api.db.write() as session:
            stream.publish(session, api.tenant, [stream.message("event", {"event_id": event_id})], now - age)
    assert jobs.run_stream_prune(api.db, now) is not None
    assert [m[0]["data"]["event_id"] for m in batches(api.db, api.tenant)] == ["new"]


def test_an_idle_stream_sends_heartbeats_and_stops_when_the_client_leaves(
    served: str, api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "stream_heartbeat_seconds", 0.3)
    with open_stream(served, api) as resp:
        lines = resp.iter_lines(decode_unicode=True)
        assert next(line for line in lines if line and line.startswith(": ping")) == ": ping"
        assert stream.WAKEUPS.count() >= 1
    deadline = time.monotonic() + 10  # the server notices the closed connection at its next re-read or ping
    while stream.WAKEUPS.count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stream.WAKEUPS.count() == 0


def test_a_trigger_firing_rides_in_the_ingests_batch(api: ApiHarness, now: datetime) -> None:
    add_rule(api, "demo_request", 30)
    with api.db.write() as session:
        trigger = triggers.create_trigger(session, api.tenant, "milestone", {"name": "Hot lead", "score_threshold": 20},
                                          now)
    with api.db.write() as session:
        ingest(session, api.tenant, [event("hot@acme.com")], now)
    [batch] = batches(api.db, api.tenant)
    assert [m["type"] for m in batch] == ["event", "score_update", "trigger_fired"]
    fired = batch[-1]["data"]
    assert fired["trigger_id"] == trigger.id and fired["trigger_name"] == "Hot lead"
    assert fired["lead_id"] == batch[0]["data"]["lead_id"] and fired["firing_id"].startswith("fir")
