"""Per-unit API rate limits: the settings routes, and what a client over its limit sees, counted in this process's
memory and in Redis (127.0.0.1:6379 unless TEST_REDIS_URL says otherwise)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from api.ratelimit import RateLimiter, exceeded_count
from db import models
from db.engine import Database
from services.tenancy import api_keys
from tests.conftest import ApiHarness

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DEFAULTS = {"enabled": False, "mode": "observe", "key_by": "credential", "rps": 50, "burst": 100,
            "research_per_minute": 60}


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest, api_app: Any, db: Database) -> Iterator[str]:
    """The API app counting in memory, then in Redis (each unit's counts are its own, so tests do not collide)."""
    previous = getattr(api_app.state, "rate_limiter", None)
    api_app.state.rate_limiter = RateLimiter(db, REDIS_URL if request.param == "redis" else None)
    yield request.param
    api_app.state.rate_limiter = previous


def with_key(api: ApiHarness, role: str = "Owner") -> ApiHarness:
    with api.db.write() as session:
        secret = api_keys.create_api_key(session, api.tenant, name=f"{role} key", role=role,
                                         now=datetime.now(UTC)).secret
    return ApiHarness(api.client, api.tenant, secret, api.db)


def at_start_of_a_second() -> None:
    """Counting windows turn over on whole seconds: a short burst sent right after one stays inside one window."""
    time.sleep(1.02 - time.time() % 1)


def statuses(api: ApiHarness, n: int, path: str = "/v1/settings/rate-limit") -> list[int]:
    return [api.get(path).status_code for _ in range(n)]


def test_a_unit_starts_with_rate_limiting_off(api: ApiHarness) -> None:
    resp = api.get("/v1/settings/rate-limit")
    assert resp.status_code == 200 and resp.json() == DEFAULTS
    me = api.get("/v1/me/rate-limit")
    assert me.status_code == 200
    with api.db.read() as session:
        key_id = session.scalar(select(models.ApiKey.id).where(models.ApiKey.unit_id == api.tenant.unit_id))
    assert me.json() == {**DEFAULTS, "key": f"credential:{key_id}", "stage": "disabled"}


def test_an_owner_changes_the_limit_partially_and_it_is_kept(api: ApiHarness) -> None:
    resp = api.put("/v1/settings/rate-limit", {"enabled": True, "mode": "enforce", "rps": 20, "burst": 40})
    assert resp.status_code == 200, resp.text
    expected = {"enabled": True, "mode": "enforce", "key_by": "credential", "rps": 20, "burst": 40,
                "research_per_minute": 60}
    assert resp.json() == expected
    assert api.get("/v1/settings/rate-limit").json() == expected
    assert api.put("/v1/settings/rate-limit", {"key_by": "ip"}).json() == {**expected, "key_by": "ip"}
    me = api.get("/v1/me/rate-limit").json()
    assert me["key"] == "ip:testclient" and me["stage"] == "ok" and me["key_by"] == "ip"
    with api.db.read() as session:
        row = session.get(models.RateLimitSettings, api.tenant.unit_id)
    assert row is not None and row.updated_by == "api key tests"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "block"}, "mode"),
        ({"key_by": "org"}, "key_by"),
        ({"rps": 0}, "rps"),
        ({"rps": "10"}, "rps"),
        ({"burst": 2_000_000}, "burst"),
        ({"enabled": "yes"}, "enabled"),
        ({"rps": 200}, "burst"),  # above the default burst of 100
        ({"rps": 10, "burst": 5}, "burst"),
        ({"limit": 5}, "limit"),
    ],
)
def test_an_invalid_limit_is_a_422_naming_the_field_and_nothing_changes(
    api: ApiHarness, body: dict[str, Any], field: str
) -> None:
    resp = api.put("/v1/settings/rate-limit", body)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "validation_error" and error["message"].startswith(f"{field}:"), error
    assert api.get("/v1/settings/rate-limit").json() == DEFAULTS


@pytest.mark.parametrize("role", ["Viewer", "Operator"])
def test_only_an_owner_may_change_the_limit(api: ApiHarness, role: str) -> None:
    caller = with_key(api, role)
    assert caller.get("/v1/settings/rate-limit").status_code == 200
    resp = caller.put("/v1/settings/rate-limit", {"enabled": True, "mode": "enforce", "rps": 1, "burst": 1})
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "forbidden" and role in resp.json()["error"]["message"]
    assert api.get("/v1/settings/rate-limit").json() == DEFAULTS
    with api.db.read() as session:
        assert session.get(models.RateLimitSettings, api.tenant.unit_id) is None


def test_enforce_refuses_requests_over_the_limit_with_429_and_its_headers(api: ApiHarness, storage: str) -> None:
    assert api.put("/v1/settings/rate-limit", {"enabled": True, "mode": "enforce", "rps": 1, "burst": 3}).is_success
    at_start_of_a_second()
    got = [api.get("/v1/settings/rate-limit") for _ in range(6)]
    assert [r.status_code for r in got] == [200, 200, 200, 429, 429, 429]
    refused = got[3]
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and error["request_id"] == refused.headers["x-request-id"]
    assert refused.headers["RateLimit-Limit"] == "3"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    assert refused.headers["RateLimit-Reset"] == refused.headers["Retry-After"]
    assert refused.headers["RateLimit-Policy"] == "3;w=1, 10;w=10"
    # Ingest is limited like any other authenticated request.
    event = {"aliases": [{"alias_kind": "email", "raw_value": "ann@acme.com"}], "event_type": "page_view"}
    assert api.post("/v1/events", event).status_code == 429
    time.sleep(int(refused.headers["Retry-After"]) + 0.05)
    assert api.get("/v1/settings/rate-limit").status_code == 200


def test_observe_lets_requests_over_the_limit_pass_and_counts_them(api: ApiHarness, storage: str) -> None:
    assert api.put("/v1/settings/rate-limit", {"enabled": True, "mode": "observe", "rps": 1, "burst": 2}).is_success
    before = exceeded_count(api.tenant.unit_id, "observe")
    at_start_of_a_second()
    assert statuses(api, 6) == [200] * 6
    assert exceeded_count(api.tenant.unit_id, "observe") - before == 4
    me = api.get("/v1/me/rate-limit").json()
    assert me["stage"] == "over_limit" and me["mode"] == "observe"
    assert exceeded_count(api.tenant.unit_id, "enforce") == 0


def test_an_over_limit_unit_never_slows_another(api: ApiHarness, other_api: ApiHarness, storage: str) -> None:
    # Both units count by client address, and both clients have the same one: the counts still stay apart.
    config = {"enabled": True, "mode": "enforce", "key_by": "ip", "rps": 1, "burst": 2}
    assert api.put("/v1/settings/rate-limit", config).is_success
    assert other_api.put("/v1/settings/rate-limit", {**config, "burst": 3}).is_success
    at_start_of_a_second()
    assert statuses(api, 3) == [200, 200, 429]
    assert statuses(other_api, 4) == [200, 200, 200, 429]
    assert api.get("/v1/settings/rate-limit").status_code == 429
    assert other_api.get("/v1/me/rate-limit").status_code == 429
    time.sleep(1.1)
    assert api.get("/v1/settings/rate-limit").json()["burst"] == 2
    assert other_api.get("/v1/settings/rate-limit").json()["burst"] == 3


def test_key_by_credential_counts_each_key_and_key_by_unit_counts_them_together(api: ApiHarness, storage: str) -> None:
    second = with_key(api)
    assert api.put("/v1/settings/rate-limit", {"enabled": True, "mode": "enforce", "rps": 1, "burst": 1}).is_success
    at_start_of_a_second()
    assert statuses(api, 2) == [200, 429]
    assert statuses(second, 2) == [200, 429]
    time.sleep(1.1)
    # burst 1 per second, 10 per 10 s: a key that already used 2 of its 10 still has room once a second passes.
    assert second.put("/v1/settings/rate-limit", {"key_by": "unit"}).is_success
    at_start_of_a_second()
    assert statuses(api, 1) == [200]
    assert statuses(second, 1) == [429]
    time.sleep(1.1)
    assert second.get("/v1/me/rate-limit").json()["key"] == f"unit:{api.tenant.unit_id}"


def test_requests_pass_when_redis_cannot_be_reached(api: ApiHarness, api_app: Any, db: Database) -> None:
    previous = getattr(api_app.state, "rate_limiter", None)
    api_app.state.rate_limiter = RateLimiter(db, "redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        assert api.put("/v1/settings/rate-limit", {"enabled": True, "mode": "enforce", "rps": 1, "burst": 1}).is_success
        assert statuses(api, 3) == [200, 200, 200]
        assert api.get("/v1/me/rate-limit").json()["stage"] == "ok"
    finally:
        api_app.state.rate_limiter = previous
