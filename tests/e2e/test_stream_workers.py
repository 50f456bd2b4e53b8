"""The live stream as users run it: real `serve-api` processes. A client connected to the stream receives an event
posted with POST /v1/events; on PostgreSQL with two workers, an event posted to one worker reaches a client of the
other (LISTEN/NOTIFY)."""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from db.engine import Database
from services.tenancy.api_keys import create_api_key
from services.tenancy.tenants import create_unit
from tests.api.test_stream import collect
from tests.e2e.test_serve_api import manage, running_api

pytestmark = pytest.mark.e2e


def setup_unit(fresh_database_url: str) -> dict[str, str]:
    manage(fresh_database_url, "migrate")
    database = Database(fresh_database_url)
    try:
        with database.write() as session:
            unit = create_unit(session, org_name="E2E org", unit_name="streamed", now=datetime.now(UTC))
            key = create_api_key(session, unit, name="e2e", now=datetime.now(UTC)).secret
    finally:
        database.dispose()
    return {"Authorization": f"Bearer {key}"}


def serve(stack: ExitStack, fresh_database_url: str, **settings: str) -> str:
    env = {**os.environ, "DATABASE_URL": fresh_database_url, **settings}
    return stack.enter_context(running_api(env, "--no-scheduler"))


def post_and_receive(listen_base: str, post_base: str, auth: dict[str, str], email: str) -> dict[str, Any]:
    """Connect to the stream of one process, post an event to another (or the same), return the message received.
    The read timeout (5 s) bounds the wait; the 1 s target is measured by bench/stream.py."""
    with requests.get(f"{listen_base}/v1/stream", headers=auth, stream=True, timeout=(5, 5)) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        body = {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": "page_view"}
        posted = requests.post(f"{post_base}/v1/events", json=body, headers=auth, timeout=10)
        assert posted.status_code in (200, 201), posted.text
        got = collect(resp, lambda m: m["event"] == "event")
    assert got[-1]["event"] == "event"
    return got[-1]


def test_a_stream_client_receives_an_event_posted_to_the_api(fresh_database_url: str) -> None:
    auth = setup_unit(fresh_database_url)
    with ExitStack() as stack:
        base = serve(stack, fresh_database_url)
        msg = post_and_receive(base, base, auth, "live@stream.example")
    assert msg["data"]["email"] == "live@stream.example" and msg["data"]["event_type"] == "page_view"
    assert msg["id"] and msg["data"]["event_id"].startswith("ev")


def test_two_postgresql_workers_share_the_stream(fresh_database_url: str) -> None:
    if fresh_database_url.startswith("sqlite"):
        pytest.skip("several API workers need PostgreSQL")
    auth = setup_unit(fresh_database_url)
    with ExitStack() as stack:
        # No safety re-read within the test: only the NOTIFY from the other worker can deliver the event in time.
        quiet = {"LEADVANE_STREAM_FALLBACK_POLL_SECONDS": "120"}
        first, second = serve(stack, fresh_database_url, **quiet), serve(stack, fresh_database_url, **quiet)
        msg = post_and_receive(first, second, auth, "across@stream.example")
    assert msg["data"]["email"] == "across@stream.example"

