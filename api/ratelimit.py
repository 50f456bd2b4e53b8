"""Units' API rate limits applied to authenticated requests, counted with the `limits` library.

Counts live in this process's memory by default; with REDIS_URL set they live in Redis, so every API worker
shares them. Each unit's configuration (services.tenancy.rate_limits) is cached per process for CONFIG_CACHE_SECONDS,
so the hot ingest path does not read it on every request: a change made through this process applies at once,
in other processes within that time. When Redis cannot be reached requests pass (and a warning is logged):
a limiter outage must not take the API down with it.

With Redis, `enforce` counts every request in Redis before answering (exact across processes). `observe` refuses
nothing, so its requests do not wait on Redis: each is counted in this process's memory (a dict update) and judged
against the shared count Redis held at the last push plus this process's hits since; a background thread pushes
the gathered hits to Redis every OBSERVE_PUSH_SECONDS (one sliding-window update per caller key and window, not
one per request). An observing unit's "over the limit" figures are thus exact in one process and within that
push interval across processes.
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
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
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
OBSERVE_PUSH_SECONDS = 0.1
OBSERVE_MAX_KEYS = 100_000  # pending observe counts beyond this many caller keys (Redis down for long) are dropped

ObservedKey = tuple[RateLimitItem, str, str]  # (window, unit id, caller key)


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
        # observe mode with Redis: hits not yet pushed, and each key's shared count as of its last push
        self._observe_lock = threading.Lock()
        self._observed: dict[ObservedKey, int] = {}
        self._shared_counts: dict[ObservedKey, tuple[float, float]] = {}  # key -> (weighted count, monotonic at)
        self._push_lock = threading.Lock()
        self._pusher: threading.Thread | None = None

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

    def observe_shared(self, config: RateLimitConfig, unit_id: str, key: str) -> RateLimitItem | None:
        """hit() for an observing unit with Redis, without waiting on Redis: the window it is over, or None.

        Judged against the shared count at the last push (fresh for OBSERVE_PUSH_SECONDS and a little more) plus
        this process's hits since; the hit is pushed to Redis by the background thread.
        """
        moment = time.monotonic()
        over: RateLimitItem | None = None
        with self._observe_lock:
            if len(self._observed) >= OBSERVE_MAX_KEYS:
                self._observed.clear()
            for item in limit_items(config.rps, config.burst):
                entry = (item, unit_id, key)
                local = self._observed.get(entry, 0) + 1
                shared = self._shared_counts.get(entry)
                base = shared[0] if shared is not None and moment - shared[1] < 1.0 else 0.0
                if base + local > item.amount:
                    over = item
                    break
                self._observed[entry] = local
            if self._pusher is None:
                self._pusher = threading.Thread(target=self._push_loop, name="leadvane-ratelimit-push", daemon=True)
                self._pusher.start()
        return over

    def _push_loop(self) -> None:
        while True:
            time.sleep(OBSERVE_PUSH_SECONDS)
            self.push_observed()

    def push_observed(self) -> None:
        """Adds the observe hits gathered in this process to Redis and notes the shared counts it now holds."""
        with self._push_lock:
            with self._observe_lock:
                batch, self._observed = self._observed, {}
            if not batch:
                return
            storage = self.strategy.storage
            try:
                for (item, unit_id, key), hits in batch.items():
                    name, expiry = item.key_for(unit_id, key), item.get_expiry()
                    previous, previous_ttl, current, _ = storage.get_sliding_window(name, expiry)  # type: ignore[attr-defined]
                    weighted = previous * previous_ttl / expiry + current
                    room = math.floor(item.amount - weighted)  # Redis keeps at most the limit, as hit() does
                    added = min(hits, room)
                    if added > 0 and storage.acquire_sliding_window_entry(name, item.amount, expiry, added):  # type: ignore[attr-defined]
                        weighted += added
                    else:  # full already, or filled by another process meanwhile
                        weighted = float(item.amount)
                    with self._observe_lock:
                        if len(self._shared_counts) >= OBSERVE_MAX_KEYS:
                            self._shared_counts.clear()
                        self._shared_counts[(item, unit_id, key)] = (weighted, time.monotonic())
            except StorageError:
                self._storage_down()

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
        return Verdict(item.amount, item.get_expiry(), self.reset_after(item, unit_id, key), policy_header(config))

    def reset_after(self, item: RateLimitItem, unit_id: str, key: str) -> int:
        """Seconds until a request of `key` passes `item`'s window again."""
        try:
            stats = self.strategy.get_window_stats(item, unit_id, key)
            return max(1, math.ceil(stats.reset_time - time.time()))
        except StorageError:
            self._storage_down()
            return 1

    def hit_item(self, item: RateLimitItem, unit_id: str, key: str) -> bool:
        """Count one request against one window (synchronous; memory or Redis); False when over it."""
        try:
            return self.strategy.hit(item, unit_id, key)
        except StorageError:
            self._storage_down()
            return True

    def over_limit(self, config: RateLimitConfig, unit_id: str, key: str) -> bool:
        """Whether the next request of `key` would be over the limit (nothing is counted)."""
        if self.shared:
            self.push_observed()  # this process's observe hits first, so the answer includes them
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
    if limiter.shared and config.mode == "observe":
        over = limiter.observe_shared(config, tenant.unit_id, key)  # nothing is refused: no wait on Redis
    elif limiter.shared:
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


@lru_cache(maxsize=1024)
def research_item(per_minute: int) -> RateLimitItem:
    return RateLimitItemPerMinute(per_minute, 1, namespace="leadvane-research")


async def apply_research_limit(request: Request, tenant: Tenant) -> None:
    """The research API's own limit (always on): the unit's `research_per_minute` requests per minute, counted
    per unit in the same storage as the API limit; over it raises a 429 with Retry-After."""
    limiter = limiter_of(request.app)
    config = limiter.cached_config(tenant.unit_id)
    if config is None:
        config = await run_in_threadpool(limiter.load_config, tenant.unit_id)
    item, key = research_item(config.research_per_minute), "research"
    if limiter.shared:
        passed = await run_in_threadpool(limiter.hit_item, item, tenant.unit_id, key)
    else:
        passed = limiter.hit_item(item, tenant.unit_id, key)
    if passed:
        return
    if limiter.shared:
        reset_after = await run_in_threadpool(limiter.reset_after, item, tenant.unit_id, key)
    else:
        reset_after = limiter.reset_after(item, tenant.unit_id, key)
    raise HTTPException(
        429,
        f"research rate limit exceeded: at most {item.amount} research requests per minute; retry in {reset_after} s",
        headers=Verdict(item.amount, item.get_expiry(), reset_after, f"{item.amount};w=60").headers(),
    )
