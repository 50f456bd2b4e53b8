"""Idempotency-Key: one request however it is addressed or spelled; keys live 24 hours and a job prunes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.routing import Mount

from db import models
from scheduler import jobs
from services.ingest.idempotency import request_fingerprint
from services.operations import leases
from tests.conftest import ApiHarness

JSON = {"Content-Type": "application/json"}
EVENT = b'{"event_type": "demo", "aliases": [{"alias_kind": "email", "raw_value": "i@acme.com"}], "metadata": {"a": 1, "b": [1, {"y": 2, "x": 3}]}}'  # noqa: E501
# The same request: other key order at every level, other spacing, an escaped character.
EVENT_REORDERED = b'{"metadata":{"b":[1,{"x":3,"y":2}],"a":1},"aliases":[{"raw_value":"i@acme.com","alias_kind":"email"}],"event_type":"d\\u0065mo"}'  # noqa: E501


def count_events(api: ApiHarness) -> int:
    with api.db.read() as session:
        query = select(func.count()).select_from(models.Event).where(models.Event.unit_id == api.tenant.unit_id)
        return session.scalar(query) or 0


def post(client: TestClient, api: ApiHarness, path: str, body: bytes, key: str) -> Any:
    return client.post(path, content=body, headers={**api.headers, **JSON, "Idempotency-Key": key})


def test_fingerprint_ignores_key_order_and_spacing_but_not_values() -> None:
    same = request_fingerprint("post", "/v1/events", EVENT_REORDERED)
    assert request_fingerprint("POST", "/v1/events", EVENT) == same
    assert request_fingerprint("POST", "/v1/events", EVENT) != request_fingerprint(
        "POST", "/v1/events", EVENT.replace(b'"a": 1', b'"a": 2')
    )
    assert request_fingerprint("POST", "/v1/events", EVENT) != request_fingerprint("POST", "/v1/signals", EVENT)


def test_a_retry_with_other_key_order_is_replayed(api: ApiHarness) -> None:
    first = post(api.client, api, "/v1/events", EVENT, "order-1")
    assert first.status_code == 201, first.text
    again = post(api.client, api, "/v1/events", EVENT_REORDERED, "order-1")
    assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert count_events(api) == 1
    changed = post(api.client, api, "/v1/events", EVENT.replace(b'"a": 1', b'"a": 2'), "order-1")
    assert changed.status_code == 409
    assert count_events(api) == 1


def test_the_mount_prefix_is_not_part_of_the_request(api: ApiHarness) -> None:
    """Inside the Streamlit server the API is under /api: a retry through either address is the same request."""
    mounted = TestClient(Starlette(routes=[Mount("/api", app=api.client.app)]), raise_server_exceptions=False)
    first = post(mounted, api, "/api/v1/events", EVENT, "mount-1")
    assert first.status_code == 201, first.text
    direct = post(api.client, api, "/v1/events", EVENT, "mount-1")
    assert direct.status_code == 201 and direct.headers.get("idempotent-replayed") == "true"
    assert direct.json() == first.json()
    batch = b'{"events": [' + EVENT + b"]}"
    first = post(api.client, api, "/v1/events/batch", batch, "mount-2")
    assert first.status_code == 200
    again = post(mounted, api, "/api/v1/events/batch", batch, "mount-2")
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
    assert count_events(api) == 2


def test_a_key_older_than_24_hours_starts_afresh(api: ApiHarness) -> None:
    first = post(api.client, api, "/v1/events", EVENT, "old-1")
    assert first.status_code == 201
    table = models.IdempotencyRecord.__table__
    with api.db.write() as session:
        session.execute(
            update(table)
            .where(table.c.unit_id == api.tenant.unit_id, table.c.key == "old-1")
            .values(created_at=datetime.now(UTC) - timedelta(hours=24, minutes=1))
        )
    # Another body under the old key is not a conflict any more: it is a new request, stored anew.
    other = post(api.client, api, "/v1/events", EVENT.replace(b'"a": 1', b'"a": 2'), "old-1")
    assert other.status_code == 201 and "idempotent-replayed" not in other.headers
    assert count_events(api) == 2
    replay = post(api.client, api, "/v1/events", EVENT.replace(b'"a": 1', b'"a": 2'), "old-1")
    assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == other.json()


def _keys(api: ApiHarness) -> set[str]:
    table = models.IdempotencyRecord.__table__
    with api.db.read() as session:
        return set(session.scalars(select(table.c.key).where(table.c.unit_id == api.tenant.unit_id)))


def _add_key(api: ApiHarness, key: str, created_at: datetime) -> None:
    with api.db.write() as session:
        session.add(models.IdempotencyRecord(
            unit_id=api.tenant.unit_id, key=key, request_hash="0" * 64, status_code=201, response_body="{}",
            created_at=created_at,
        ))


def test_the_prune_job_deletes_keys_older_than_24_hours(api: ApiHarness, other_api: ApiHarness) -> None:
    now = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    _add_key(api, "stale", now - timedelta(hours=25))
    _add_key(api, "fresh", now - timedelta(hours=23))
    _add_key(other_api, "stale-too", now - timedelta(days=3))
    # Another process holds the job's lease: nothing runs here.
    with api.db.write() as session:
        assert leases.acquire(session, jobs.IDEMPOTENCY_JOB, "elsewhere", now, timedelta(minutes=5))
    try:
        assert jobs.run_idempotency_prune(api.db, now=now, holder="here") is None
        assert _keys(api) == {"stale", "fresh"}
    finally:
        with api.db.write() as session:
            leases.release(session, jobs.IDEMPOTENCY_JOB, "elsewhere")
    deleted = jobs.run_idempotency_prune(api.db, now=now, holder="here")
    assert deleted is not None and deleted >= 2  # every unit's stale keys (other tests' keys are older still)
    assert _keys(api) == {"fresh"} and _keys(other_api) == set()


def test_the_prune_job_is_registered_once_with_a_fixed_id(api: ApiHarness) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)  # started, so replace_existing applies; paused, so nothing runs
    try:
        jobs.register(scheduler, api.db)
        jobs.register(scheduler, api.db)  # a second registration (a restart) does not add a copy
        pruning = [job for job in scheduler.get_jobs() if job.id == jobs.IDEMPOTENCY_JOB]
    finally:
        scheduler.shutdown(wait=False)
    assert len(pruning) == 1
    assert pruning[0].func is jobs.run_idempotency_prune
    assert pruning[0].trigger.interval == timedelta(hours=1)
