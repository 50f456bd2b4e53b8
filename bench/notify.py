#!/usr/bin/env python
"""Notification latency and decay throughput.

1. Starts a real `manage.py serve-api` (with its scheduler) on a fresh SQLite database and a webhook
   receiver on loopback, creates a milestone trigger, sends events that cross it at --rate events/s and
   reports p50/p99 from sending the ingest request to the webhook's receipt (target p99 < 1 s).
2. Times the decay job over --leads inactive leads (target < 10 s on SQLite), and its idempotent re-run.

    python bench/notify.py [--rate 100] [--seconds 10] [--leads 100000]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.harness import pct  # noqa: E402
from db import models  # noqa: E402
from db.engine import Database  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from services.context import Tenant  # noqa: E402
from services.scoring import rules  # noqa: E402
from services.tenancy.tenants import DEFAULT_TENANT  # noqa: E402
from tests.notify.receivers import free_port, start_http_receiver  # noqa: E402


def add_rule(db: Database, tenant: Tenant, event_type: str, weight: int) -> None:
    now = datetime.now(UTC)
    with db.write() as session:
        rules.create_rule(session, tenant, {"event_type": event_type, "weight": weight}, now=now)


def bench_latency(rate: float, seconds: float, workdir: Path) -> None:
    url = f"sqlite:///{workdir / 'notify.db'}"
    # The receiver is on loopback, which the outbound guard refuses unless allowed.
    env = {**os.environ, "DATABASE_URL": url, "LEADVANE_OUTBOUND_ALLOW": "127.0.0.1/32,::1/128"}
    upgrade(url)
    db = Database(url)
    add_rule(db, DEFAULT_TENANT, "demo_request", 100)
    key = subprocess.run(
        [sys.executable, "manage.py", "create-api-key", "--name", "bench"], cwd=ROOT, env=env, capture_output=True,
        text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    receiver = start_http_receiver()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve-api", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    received_at: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    answered_at: dict[str, float] = {}
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        http = requests.Session()
        headers = {"Authorization": f"Bearer {key}"}
        created = http.post(f"{base}/v1/triggers/milestones", headers=headers, timeout=10,
                            json={"score_threshold": 50, "webhook_url": receiver.url + "/hook"})
        created.raise_for_status()
        total = int(rate * seconds)

        def record_receipts() -> None:
            seen = 0
            while len(received_at) < total:
                with receiver.lock:
                    fresh = receiver.requests[seen:]
                    seen = len(receiver.requests)
                stamp = time.perf_counter()
                for req in fresh:
                    received_at.setdefault(req.json()["lead_id"], stamp)
                time.sleep(0.002)

        # Stamp receipts as they arrive (the receiver itself only records bodies).
        watcher = threading.Thread(target=record_receipts, daemon=True)
        watcher.start()

        local = threading.local()

        def send(i: int) -> None:
            session = getattr(local, "s", None) or requests.Session()
            local.s = session
            start = time.perf_counter()
            resp = session.post(f"{base}/v1/events", headers=headers, timeout=30, json={
                "aliases": [{"alias_kind": "email", "raw_value": f"bench{i}@acme.io"}], "event_type": "demo_request"})
            resp.raise_for_status()
            lead_id = resp.json()["event"]["lead_id"]
            sent_at[lead_id] = start
            answered_at[lead_id] = time.perf_counter()

        begin = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for i in range(total):
                delay = begin + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(send, i)
        watcher.join(timeout=60)
        with db.read() as session:
            rows = session.execute(select(models.Delivery.created_at, models.Delivery.delivered_at)).all()
        outbox = [(done - made).total_seconds() for made, done in rows if done is not None]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        receiver.close()
        db.dispose()
    if outbox:
        print(f"notify: server side, request start -> delivery acknowledged p50 {pct(outbox, 50) * 1000:.0f} ms, "
              f"p99 {pct(outbox, 99) * 1000:.0f} ms")
    latencies = [received_at[k] - sent_at[k] for k in sent_at if k in received_at]
    lost = len(sent_at) - len(latencies)
    ingest_times = [answered_at[k] - sent_at[k] for k in sent_at]
    if ingest_times:
        print(f"notify: ingest request alone p50 {pct(ingest_times, 50) * 1000:.0f} ms, "
              f"p99 {pct(ingest_times, 99) * 1000:.0f} ms")
    print(f"notify: {len(sent_at)} milestone crossings at {rate:.0f} events/s over {seconds:.0f} s")
    if latencies:
        print(f"notify: ingest -> webhook receipt p50 {pct(latencies, 50) * 1000:.0f} ms, "
              f"p99 {pct(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
              f"mean {statistics.mean(latencies) * 1000:.0f} ms; not received: {lost}")


def bench_decay(leads: int, workdir: Path) -> None:
    from scheduler import jobs
    from services.ingest.ingest import AliasInput, NewEvent, PersonRef, ingest
    from services.scoring import decay

    url = f"sqlite:///{workdir / 'decay.db'}"
    upgrade(url)
    db = Database(url)
    add_rule(db, DEFAULT_TENANT, "page_view", 40)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    for start in range(0, leads, 2000):
        with db.write() as session:
            ingest(session, DEFAULT_TENANT, [
                NewEvent("page_view", t0, person=PersonRef(aliases=[AliasInput("email", f"l{i}@decay{i % 500}.io")]))
                for i in range(start, min(leads, start + 2000))
            ], t0)
    print(f"decay: seeded {leads} leads in {time.perf_counter() - started:.1f} s")
    with db.write() as session:
        decay.create_decay(session, DEFAULT_TENANT, inactive_for=7, unit="days", decrease=10, now=t0)
    runs = [
        ("run after 8 days, one drop per lead", t0 + timedelta(days=8)),
        ("same run again (nothing due)", t0 + timedelta(days=8)),
        ("run after 22 days, catching up two periods", t0 + timedelta(days=22)),
    ]
    for label, at in runs:
        started = time.perf_counter()
        drops = jobs.run_decay(db, at, holder="bench")  # the scheduler job: slices of leads, a transaction each
        print(f"decay job: {label}: {drops} drops in {time.perf_counter() - started:.2f} s")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-decay", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadvane-bench-") as tmp:
        if not args.skip_latency:
            bench_latency(args.rate, args.seconds, Path(tmp))
        if not args.skip_decay:
            bench_decay(args.leads, Path(tmp))


if __name__ == "__main__":
    main()
