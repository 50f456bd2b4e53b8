"""Two real `serve-api` processes behind one database: with REDIS_URL they share one rate limit; without it each
process counts on its own (what the README warns about)."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from db.engine import Database
from services.tenancy.api_keys import create_api_key
from services.tenancy.tenants import create_unit
from tests.e2e.test_serve_api import manage, running_api

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
pytestmark = pytest.mark.e2e


def serve(stack: ExitStack, fresh_database_url: str, redis_url: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LEADVANE_REDIS_URL")}
    env["DATABASE_URL"] = fresh_database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return stack.enter_context(running_api(env, "--no-scheduler"))


def burst_over_two_workers(fresh_database_url: str, redis_url: str | None) -> list[tuple[int, int]]:
    """(worker, status) of 30 requests alternating between two workers under a limit of 10 per 10 s."""
    manage(fresh_database_url, "migrate")
    # A unit of its own (a random id): every fresh database's default unit has the same id, and Redis outlives runs.
    database = Database(fresh_database_url)
    try:
        with database.write() as session:
            unit = create_unit(session, org_name="E2E org", unit_name="rate limited", now=datetime.now(UTC))
            key = create_api_key(session, unit, name="e2e", now=datetime.now(UTC)).secret
    finally:
        database.dispose()
    auth = {"Authorization": f"Bearer {key}"}
    with ExitStack() as stack:
        bases = [serve(stack, fresh_database_url, redis_url), serve(stack, fresh_database_url, redis_url)]
        config = {"enabled": True, "mode": "enforce", "key_by": "unit", "rps": 1, "burst": 10}
        put = requests.put(f"{bases[0]}/v1/settings/rate-limit", json=config, headers=auth, timeout=10)
        assert put.status_code == 200, put.text
        # The 10-second window turns over on multiples of 10 s: start well inside one.
        into_window = time.time() % 10
        if not 0.2 <= into_window <= 7:
            time.sleep((10.2 - into_window) % 10)
        results = []
        with requests.Session() as http:
            for i in range(30):
                worker = i % 2
                resp = http.get(f"{bases[worker]}/v1/settings/rate-limit", headers=auth, timeout=10)
                if resp.status_code == 429:
                    assert resp.json()["error"]["code"] == "rate_limited"
                    assert int(resp.headers["Retry-After"]) >= 1 and resp.headers["RateLimit-Remaining"] == "0"
                results.append((worker, resp.status_code))
        return results


def test_two_workers_sharing_redis_hold_one_limit(fresh_database_url: str) -> None:
    results = burst_over_two_workers(fresh_database_url, REDIS_URL)
    assert [status for _, status in results] == [200] * 10 + [429] * 20
    assert {worker for worker, status in results if status == 429} == {0, 1}


def test_without_redis_each_worker_counts_alone(tmp_path: Path) -> None:
    results = burst_over_two_workers(f"sqlite:///{tmp_path / 'leadvane.db'}", None)
    for worker in (0, 1):
        assert [status for w, status in results if w == worker] == [200] * 10 + [429] * 5
