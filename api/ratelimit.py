"""Units' API rate limits applied to authenticated requests, counted with the `limits` library.

Counts live in this process's memory by default; with REDIS_URL set they live in Redis, so every API worker
shares them. Each unit's configuration (services.tenancy.rate_limits) is cached per process for CONFIG_CACHE_SECONDS,
so the hot ingest path does not read it on every request: a change made through this process applies at once,
in other processes within that time. When Redis cannot be reached requests pass (and a warning is logged):
a limiter outage must not take the API down with it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from fastapi import FastAPI, HTTPException, Request
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncSlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import SlidingWindowCounterRateLimiter
from prometheus_client import REGISTRY
from starlette.concurrency import run_in_threadpool

from db.engine import Database
from services.context import Tenant
from services.operations.metrics import RATE_LIMIT_EXCEEDED
from services.tenancy import rate_limits
from services.tenancy.rate_limits import SUSTAINED_WINDOW_SECONDS, RateLimitConfig
from settings import get_settings

log = logging.getLogger("leadvane.api")

CONFIG_CACHE_SECONDS = 5.0
REDIS_KEY_PREFIX = "leadvane-ratelimit"
REDIS_TIMEOUT_SECONDS = 0.5


def exceeded_count(unit_id: str, mode: str) -> float:
    """How many requests of `unit_id` went over its limit in `mode`, in this process."""
    value = REGISTRY.get_sample_value("rate_limit_exceeded_total", {"unit_id": unit_id, "mode": mode})
    return value or 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """A request over the limit: the window that refused it and when a request will pass again."""

    limit: int
    window_seconds: int
    reset_after: int
    policy: str

    def headers(self) -> dict[str, str]:
        return {
            "Retry-After": str(self.reset_after),
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(self.reset_after),
            "RateLimit-Policy": self.policy,
        }


class SweepingMemoryStorage(MemoryStorage):
    """limits' memory storage, dropping expired counters once a second.

    The library starts a new timer thread 10 ms after every count to drop them, which on a busy API meant about a
    hundred thread starts a second. Reads already ignore expired counters, so sweeping less often changes nothing
    but memory held for a second longer.
    """

    SWEEP_SECONDS = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the library's private scheduler (limits 5.8)
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_SECONDS, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True
            self.timer.start()


@lru_cache(maxsize=1024)
def limit_items(rps: int, burst: int) -> tuple[RateLimitItem, RateLimitItem]:
    """`burst` in any one second and `rps` on average over the sustained window (sliding window counters)."""
    return (
        RateLimitItemPerSecond(burst, 1, namespace="leadvane"),
        RateLimitItemPerSecond(rps * SUSTAINED_WINDOW_SECONDS, SUSTAINED_WINDOW_SECONDS, namespace="leadvane"),
    )


def policy_header(config: RateLimitConfig) -> str:
    return f"{config.burst};w=1, {config.rps * SUSTAINED_WINDOW_SECONDS};w={SUSTAINED_WINDOW_SECONDS}"


class RateLimiter:
    """One per API process: the counting storage (memory or Redis) and a short cache of units' configurations."""

    def __init__(self, db: Database, redis_url: str | None = None, config_ttl: float = CONFIG_CACHE_SECONDS) -> None:
        self.db = db
        self.config_ttl = config_ttl
        self.shared = bool(redis_url)
        self._redis_url = redis_url
        # The request path counts through redis-py's asyncio client: no worker-thread hop per request. Its
        # connections belong to one event loop (a server has one; test clients start one per request).
        self._async_strategies: dict[asyncio.AbstractEventLoop, AsyncSlidingWindowCounterRateLimiter] = {}
        storage: Storage
        if redis_url:
            storage = RedisStorage(
                redis_url, key_prefix=REDIS_KEY_PREFIX, wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        else:
            storage = SweepingMemoryStorage()
        self.strategy = SlidingWindowCounterRateLimiter(storage)
        self._lock = threading.Lock()
        self._configs: dict[str, tuple[float, RateLimitConfig]] = {}
        self._warned_at = 0.0

    # --- configuration cache ---

    def cached_config(self, unit_id: str) -> RateLimitConfig | None:
        entry = self._configs.get(unit_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def load_config(self, unit_id: str) -> RateLimitConfig:
        with self.db.read() as session:
            config = rate_limits.load_config(session, unit_id)
        with self._lock:
            if len(self._configs) >= 10_000:
                self._configs.clear()
            self._configs[unit_id] = (time.monotonic() + self.config_ttl, config)
        return config

    def forget(self, unit_id: str) -> None:
        """After this process changed the unit's configuration: the next request reads it again."""
        with self._lock:
            self._configs.pop(unit_id, None)

    # --- counting ---

    def hit(self, config: RateLimitConfig, unit_id: str, key: str) -> RateLimitItem | None:
        """Count one request of `key` in `unit_id`; the window it is over, or None when it is within the limit."""
        try:
            for item in limit_items(config.rps, config.burst):
                if not self.strategy.hit(item, unit_id, key):
                    return item
        except StorageError:
            self._storage_down()
        return None

    async def hit_shared(self, config: RateLimitConfig, unit_id: str, key: str) -> RateLimitItem | None:
        """hit() against Redis without blocking the event loop."""
        try:
            strategy = self._async_strategy()
            for item in limit_items(config.rps, config.burst):
                if not await strategy.hit(item, unit_id, key):
                    return item
        except StorageError:
            self._storage_down()
        return None

    def _async_strategy(self) -> AsyncSlidingWindowCounterRateLimiter:
        loop = asyncio.get_running_loop()
        strategy = self._async_strategies.get(loop)
        if strategy is None:
            storage = AsyncRedisStorage(
                f"async+{self._redis_url}", implementation="redispy", key_prefix=REDIS_KEY_PREFIX,
                wrap_exceptions=True, socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            strategy = AsyncSlidingWindowCounterRateLimiter(storage)
            with self._lock:
                if len(self._async_strategies) >= 8:  # loops that are gone (tests)
                    self._async_strategies.clear()
                self._async_strategies[loop] = strategy
        return strategy

    def verdict(self, config: RateLimitConfig, item: RateLimitItem, unit_id: str, key: str) -> Verdict:
        """What a refused request is told: the window's size and when a request will pass again."""
        try:
            stats = self.strategy.get_window_stats(item, unit_id, key)
            reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        except StorageError:
            self._storage_down()
            reset_after = 1
        return Verdict(item.amount, item.get_expiry(), reset_after, policy_header(config))

    def over_limit(self, config: RateLimitConfig, unit_id: str, key: str) -> bool:
        """Whether the next request of `key` would be over the limit (nothing is counted)."""
        try:
            return not all(self.strategy.test(item, unit_id, key) for item in limit_items(config.rps, config.burst))
        except StorageError:
            self._storage_down()
            return False

    def _storage_down(self) -> None:
        moment = time.monotonic()
        if moment - self._warned_at > 60:  # one line a minute, not one per request
            self._warned_at = moment
            log.warning("rate limit storage unreachable: requests pass unlimited", exc_info=True)


def limiter_of(app: FastAPI) -> RateLimiter:
    limiter = getattr(app.state, "rate_limiter", None)
    if limiter is None:
        limiter = app.state.rate_limiter = RateLimiter(app.state.db, get_settings().redis_url)
    return limiter


def caller_key(key_by: str, tenant: Tenant, request: Request) -> str:
    """What the caller is counted by, e.g. `credential:key_...`, `ip:203.0.113.5` or `unit:unit_...`."""
    if key_by == "ip":
        return f"ip:{request.client.host if request.client else 'unknown'}"
    if key_by == "unit":
        return f"unit:{tenant.unit_id}"
    return f"credential:{tenant.credential_id or tenant.actor or 'unknown'}"


@dataclass(frozen=True, slots=True)
class Standing:
    key: str
    stage: str  # disabled | ok | over_limit


def standing(request: Request, tenant: Tenant, config: RateLimitConfig) -> Standing:
    """The caller's key and where it stands: limiting off, within the limit, or over it right now."""
    key = caller_key(config.key_by, tenant, request)
    if not config.enabled:
        return Standing(key, "disabled")
    over = limiter_of(request.app).over_limit(config, tenant.unit_id, key)
    return Standing(key, "over_limit" if over else "ok")


async def apply_rate_limit(request: Request, tenant: Tenant) -> None:
    """Count this authenticated request against its unit's limit; over it in enforce mode raises a 429."""
    limiter = limiter_of(request.app)
    config = limiter.cached_config(tenant.unit_id)
    if config is None:
        config = await run_in_threadpool(limiter.load_config, tenant.unit_id)
    if not config.enabled:
        return
    key = caller_key(config.key_by, tenant, request)
    if limiter.shared:
        over = await limiter.hit_shared(config, tenant.unit_id, key)
    else:
        over = limiter.hit(config, tenant.unit_id, key)
    if over is None:
        return
    RATE_LIMIT_EXCEEDED.labels(unit_id=tenant.unit_id, mode=config.mode).inc()
    if config.mode == "enforce":
        if limiter.shared:  # rare (a refusal): the synchronous client, off the event loop
            verdict = await run_in_threadpool(limiter.verdict, config, over, tenant.unit_id, key)
        else:
            verdict = limiter.verdict(config, over, tenant.unit_id, key)
        raise HTTPException(
            429,
            f"rate limit exceeded: at most {verdict.limit} requests per {verdict.window_seconds} s; "
            f"retry in {verdict.reset_after} s",
            headers=verdict.headers(),
        )
