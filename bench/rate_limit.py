"""Rate-limit overhead: `python bench/rate_limit.py [--rounds N] [--duration S] [--redis URL] [--database-url URL]`.

Single-event POST /v1/signals requests/s of one `manage.py serve-api` process (the load of bench/ingest.py (a):
keep-alive connections from two load processes), and the server process's CPU time per request over a fixed number
of requests, with the unit's rate limit disabled, and enabled in `observe`
mode, in alternating rounds on the same server and database (A B B A ..., so a database that grows during the run
favours neither). The limit is low enough (default 50/s, burst 100) that most requests go over it: the worse case,
every such request counted. The figure is observe / disabled; target >= 0.95.

The end-to-end ratio is noisy on a busy machine, so the limiter's own cost per request is measured too, in process:
the configuration lookup alone (limiting off) and lookup plus counting (observe), in memory and, with --redis, in
Redis (one round trip per window, through the asyncio client as the API does).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import free_port, fresh_database, manage, requests_per_second, server, signal_body  # noqa: E402

TARGET_RATIO = 0.95


def put_limit(port: int, headers: dict[str, str], body: dict[str, object]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("PUT", "/v1/settings/rate-limit", json.dumps(body), headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"PUT /v1/settings/rate-limit failed: {response.status} {payload!r}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_per_request(port: int, pid: int, headers: dict[str, str], n: int, connections: int) -> float:
    """Server CPU microseconds per request over exactly `n` single-event requests (robust to a busy machine)."""
    errors = 0

    def send(seed: int, count: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(count):
            conn.request("POST", "/v1/signals", signal_body(rng), headers)
            response = conn.getresponse()
            response.read()
            errors += response.status != 201
        conn.close()

    used = cpu_seconds(pid)
    threads = [threading.Thread(target=send, args=(seed, n // connections)) for seed in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{errors} requests were not accepted")
    return (cpu_seconds(pid) - used) / (n // connections * connections) * 1e6


def limiter_microseconds(
    database_url: str, redis_url: str | None, rps: int, burst: int, n: int = 20_000, mode: str = "observe",
) -> float:
    """Microseconds per request of the cached configuration lookup plus one count (a unit over its limit)."""
    from api.ratelimit import RateLimiter
    from db.engine import Database
    from services.tenancy.rate_limits import RateLimitConfig

    db = Database(database_url)
    limiter = RateLimiter(db, redis_url)
    unit = "unit_default"
    limiter.load_config(unit)
    config = RateLimitConfig(True, "observe", "credential", rps, burst)
    enforce = RateLimitConfig(True, "enforce", "credential", rps, burst)
    key = f"credential:bench-{uuid.uuid4().hex[:8]}"

    async def shared() -> None:  # enforce's path with Redis: the asyncio client on the server's event loop
        for _ in range(n):
            limiter.cached_config(unit)
            await limiter.hit_shared(enforce, unit, key)

    began = time.perf_counter()
    if redis_url and mode == "enforce":
        asyncio.run(shared())
    elif redis_url:  # observe with Redis: counted in memory, pushed by the limiter's thread
        for _ in range(n):
            limiter.cached_config(unit)
            limiter.observe_shared(config, unit, key)
    else:
        for _ in range(n):
            limiter.cached_config(unit)
            limiter.hit(config, unit, key)
    elapsed = time.perf_counter() - began
    db.dispose()
    return elapsed / n * 1e6


def lookup_microseconds(database_url: str, n: int = 200_000) -> float:
    from api.ratelimit import RateLimiter
    from db.engine import Database

    db = Database(database_url)
    limiter = RateLimiter(db)
    limiter.load_config("unit_default")
    began = time.perf_counter()
    for _ in range(n):
        limiter.cached_config("unit_default")
    elapsed = time.perf_counter() - began
    db.dispose()
    return elapsed / n * 1e6


@dataclass
class ObserveRounds:
    """Requests/s and server CPU microseconds per request, per mode ("disabled", "observe"), and observe/disabled
    per round."""

    figures: dict[str, list[float]]
    cpu: dict[str, list[float]]
    pairs: list[float]
    errors: int


def observe_rounds(
    url: str, redis: str | None, *, rounds: int, duration: float, connections: int, rps: int = 50, burst: int = 100,
    key_by: str = "credential", cpu_requests: int = 1000,
) -> ObserveRounds:
    """Alternating rounds of limiting off and on in observe mode, against one fresh `serve-api` on `url`."""
    figures: dict[str, list[float]] = {"disabled": [], "observe": []}
    cpu: dict[str, list[float]] = {"disabled": [], "observe": []}  # server CPU microseconds per request
    pairs: list[float] = []
    errors = 0
    manage(url, "migrate")
    key = manage(url, "create-api-key", "--name", "bench").strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LEADVANE_REDIS_URL")}
    env["DATABASE_URL"] = url
    if redis:
        env["REDIS_URL"] = redis
    port = free_port()
    command = [sys.executable, "manage.py", "serve-api", "--host", "127.0.0.1", "--port", str(port),
               "--no-scheduler"]
    observe = {"enabled": True, "mode": "observe", "key_by": key_by, "rps": rps, "burst": burst}
    with server(command, env, port) as pid:
        for round_no in range(rounds):
            order = ["disabled", "observe"] if round_no % 2 == 0 else ["observe", "disabled"]
            measured: dict[str, float] = {}
            for mode in order:
                put_limit(port, headers, observe if mode == "observe" else {"enabled": False})
                value, err = requests_per_second(port, headers, duration, connections)
                cpu[mode].append(server_cpu_per_request(port, pid, headers, cpu_requests, connections))
                measured[mode] = value
                figures[mode].append(value)
                errors += err
            pairs.append(measured["observe"] / measured["disabled"])
    return ObserveRounds(figures, cpu, pairs, errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="pairs of measurements (disabled, observe)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--cpu-requests", type=int, default=1000, help="requests per server-CPU measurement")
    parser.add_argument("--rps", type=int, default=50, help="the observed limit's rps")
    parser.add_argument("--burst", type=int, default=100, help="the observed limit's burst")
    parser.add_argument("--key-by", default="credential", choices=["credential", "ip", "unit"])
    parser.add_argument("--redis", metavar="URL", help="count in Redis (REDIS_URL) instead of process memory")
    parser.add_argument("--database-url", help="PostgreSQL server URL to bench against (a fresh database is made)")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="leadvane-bench-") as tmp, \
            fresh_database(args.database_url, Path(tmp)) as url:
        backend = url.split(":", 1)[0].split("+", 1)[0]
        result = observe_rounds(url, args.redis, rounds=args.rounds, duration=args.duration,
                                connections=args.connections, rps=args.rps, burst=args.burst, key_by=args.key_by,
                                cpu_requests=args.cpu_requests)
        figures, cpu, pairs, errors = result.figures, result.cpu, result.pairs, result.errors
        off_us = lookup_microseconds(url)
        memory_us = limiter_microseconds(url, None, args.rps, args.burst)
        redis_us = limiter_microseconds(url, args.redis, args.rps, args.burst) if args.redis else None
        enforce_us = (limiter_microseconds(url, args.redis, args.rps, args.burst, n=5_000, mode="enforce")
                      if args.redis else None)

    disabled, observed = statistics.median(figures["disabled"]), statistics.median(figures["observe"])
    ratio = observed / disabled
    storage = f"Redis {args.redis}" if args.redis else "process memory"
    print(f"Rate-limit overhead — backend {backend}, counted in {storage}, {os.cpu_count()} cores, load average "
          f"before {load_before:.2f}, {args.connections} connections, {args.duration:.0f} s x {args.rounds} rounds")
    print(f"single-event POST /v1/signals, requests/s: disabled median {disabled:,.0f} "
          f"({', '.join(f'{v:,.0f}' for v in figures['disabled'])}); observe (rps {args.rps}, burst {args.burst}) "
          f"median {observed:,.0f} ({', '.join(f'{v:,.0f}' for v in figures['observe'])})")
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"observe / disabled: {ratio:.2f} (target >= {TARGET_RATIO:.2f}: {verdict});"
          f" per round {', '.join(f'{p:.2f}' for p in pairs)} (spread {min(pairs):.2f}-{max(pairs):.2f});"
          f" non-201 answers {errors}")
    cpu_off, cpu_observe = statistics.median(cpu["disabled"]), statistics.median(cpu["observe"])
    print(f"server CPU per request (robust to other load on the machine): disabled median {cpu_off:,.0f} us, "
          f"observe median {cpu_observe:,.0f} us; disabled / observe {cpu_off / cpu_observe:.2f}")
    per_request = 1e6 / disabled
    print(f"limiter cost per request, in process: off {off_us:.2f} us; observe in memory {memory_us:.1f} us"
          + (f"; observe with Redis {redis_us:.1f} us, enforce in Redis {enforce_us:.0f} us"
             if redis_us is not None and enforce_us is not None else "")
          + f" (a request here takes {per_request:,.0f} us of the server's time at {disabled:,.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
