"""/metrics scrape time at 10 units: `python bench/metrics.py [--events N] [--scrapes N] [--rounds N] [--workers N]
[--database-url URL]`.

A fresh migrated database gets 10 units; each has a scoring rule and a milestone webhook trigger, and takes
`--events` events (default 2,000) over 200 leads through the ingest service, so every lead crosses the threshold
once: 200 outbox deliveries per unit, 2,000 in all, half of them marked delivered and half left due (what
queue_depth counts). A real `manage.py serve-api --no-scheduler` (nothing sends the deliveries) serves it; each
unit's key makes a few API requests first, so http_requests_total has several label sets. Then `--rounds` rounds of
`--scrapes` sequential GET /metrics over one keep-alive connection; per round the median and p95 are printed, and
the spread of the round medians. With `--workers 2` the server runs two worker processes with
PROMETHEUS_MULTIPROC_DIR, so each scrape also reads and merges both workers' files.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import free_port, fresh_database, manage, server  # noqa: E402

UNITS = 10
LEADS_PER_UNIT = 200


def fill(database_url: str, events_per_unit: int) -> tuple[list[str], int]:
    """10 units with events and deliveries; returns their API keys and the number of due deliveries."""
    from sqlalchemy import select, update

    from db import models
    from db.engine import Database
    from services.ingest.contract import AliasInput, NewEvent, PersonRef
    from services.ingest.ingest import ingest
    from services.scoring import rules
    from services.tenancy.api_keys import create_api_key
    from services.tenancy.tenants import create_unit
    from services.triggers import triggers
    from settings import get_settings

    # The deliveries are never sent (no scheduler runs): a loopback target, let through the outbound guard here.
    get_settings().outbound_allow = "127.0.0.1/32"
    now = datetime.now(UTC) - timedelta(hours=1)
    db = Database(database_url)
    keys: list[str] = []
    try:
        for u in range(UNITS):
            with db.write() as session:
                tenant = create_unit(session, org_name=f"Bench org {u}", unit_name=f"unit {u}", now=now)
                keys.append(create_api_key(session, tenant, name="bench", now=now).secret)
                rules.create_rule(session, tenant, {"event_type": "demo_request", "weight": 10}, now=now)
                triggers.create_trigger(session, tenant, "milestone", {
                    "score_threshold": 10, "webhook_url": "http://127.0.0.1:9/leadvane"}, now)
            events = [
                NewEvent(event_type="demo_request", occurred_at=now,
                         person=PersonRef(aliases=[AliasInput("email", f"p{i % LEADS_PER_UNIT}@c{u}.example.com")]))
                for i in range(events_per_unit)
            ]
            for start in range(0, len(events), 500):
                with db.write() as session:
                    ingest(session, tenant, events[start:start + 500], now)
        with db.write() as session:
            d = models.Delivery
            ids = list(session.scalars(select(d.id).order_by(d.id)))
            session.execute(update(d).where(d.id.in_(ids[::2])).values(
                status="delivered", delivered_at=now, next_attempt_at=None))
        return keys, len(ids) - len(ids[::2])
    finally:
        db.dispose()


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def scrape_medians(
    database_url: str | None, *, events: int = 2000, scrapes: int = 100, rounds: int = 5, workers: int = 1,
    say: Callable[[str], None] = print,
) -> list[float]:
    """The median /metrics scrape time (ms) of each round, on a fresh database filled with 10 units."""
    with tempfile.TemporaryDirectory() as tmp, fresh_database(database_url, Path(tmp)) as url:
        manage(url, "migrate")
        started = time.perf_counter()
        keys, due = fill(url, events)
        say(f"filled {UNITS} units: {UNITS * events} events, {due} deliveries due "
            f"({time.perf_counter() - started:.1f} s)")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        env["DATABASE_URL"] = url
        if workers > 1:
            env["PROMETHEUS_MULTIPROC_DIR"] = str(Path(tmp) / "prometheus")
        command = [sys.executable, "manage.py", "serve-api", "--host", "127.0.0.1", "--port", str(port),
                   "--no-scheduler", "--no-request-log", "--workers", str(workers)]
        with server(command, env, port):
            for key in keys:  # a little traffic from every unit: several label sets on /metrics
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for path in ("/v1/leads", "/v1/deliveries", "/v1/leads/ld_missing"):
                    get(conn, path, {"Authorization": f"Bearer {key}"})
                conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, body = get(conn, "/metrics")
            if status != 200:
                raise SystemExit(f"/metrics answered {status}: {body[:200]!r}")
            depth = next(line for line in body.decode().splitlines() if line.startswith("queue_depth "))
            say(f"/metrics: {len(body):,} bytes, {len(body.splitlines())} lines, {depth}")
            medians: list[float] = []
            for round_no in range(1, rounds + 1):
                times: list[float] = []
                for _ in range(scrapes):
                    t0 = time.perf_counter()
                    status, _body = get(conn, "/metrics")
                    times.append((time.perf_counter() - t0) * 1000)
                    assert status == 200
                times.sort()
                median = statistics.median(times)
                medians.append(median)
                p95 = times[int(len(times) * 0.95) - 1]
                say(f"round {round_no}: median {median:.2f} ms, p95 {p95:.2f} ms, max {times[-1]:.2f} ms "
                    f"({scrapes} scrapes)")
            conn.close()
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=2000, help="events per unit")
    parser.add_argument("--scrapes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    medians = scrape_medians(args.database_url, events=args.events, scrapes=args.scrapes, rounds=args.rounds,
                             workers=args.workers)
    print(json.dumps({"workers": args.workers, "median_ms_best": round(min(medians), 2),
                      "median_ms_spread": [round(min(medians), 2), round(max(medians), 2)]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
