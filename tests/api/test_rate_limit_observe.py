"""Observe mode with Redis: requests never wait on Redis, yet processes' counts still meet there."""

from __future__ import annotations

import os
import time
import uuid

from api.ratelimit import RateLimiter
from db.engine import Database
from services.tenancy.rate_limits import RateLimitConfig

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
OBSERVE = RateLimitConfig(enabled=True, mode="observe", key_by="unit", rps=2, burst=3)


def test_observed_hits_of_two_processes_add_up_in_redis(db: Database) -> None:
    first, second = RateLimiter(db, REDIS_URL), RateLimiter(db, REDIS_URL)  # two API processes
    unit, key = f"unit_{uuid.uuid4().hex[:8]}", "unit:shared"
    time.sleep(1.02 - time.time() % 1)  # one counting second for the whole burst
    assert [first.observe_shared(OBSERVE, unit, key) for _ in range(2)] == [None, None]
    first.push_observed()  # what its background thread does every 0.1 s
    assert second.observe_shared(OBSERVE, unit, key) is None  # the third of a burst of 3
    second.push_observed()
    over = second.observe_shared(OBSERVE, unit, key)
    assert over is not None and over.amount == 3  # the fourth is over the burst, counted by the other process
    assert first.over_limit(OBSERVE, unit, key)  # and every process sees the unit over its limit


def test_observe_without_redis_counts_alone_in_memory(db: Database) -> None:
    limiter = RateLimiter(db)
    unit, key = f"unit_{uuid.uuid4().hex[:8]}", "unit:alone"
    time.sleep(1.02 - time.time() % 1)
    results = [limiter.hit(OBSERVE, unit, key) for _ in range(4)]
    assert results[:3] == [None, None, None] and results[3] is not None
