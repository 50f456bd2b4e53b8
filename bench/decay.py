#!/usr/bin/env python
"""The daily decay job: 100,000 inactive leads with one drop due each, the system-event fast path against the old
full-ingest path, on SQLite.

    python bench/decay.py                      # 100,000 leads, 3 runs, old path on a 10,000-lead sample
    python bench/decay.py --leads 20000 --repeat 1 --old-sample 5000   # a quick look

The unit gets the demo's rules, levels and decay rule (two quiet weeks cost 10 points) via manage.py
seed-demo's code, then accounts (one per 10 leads) and leads are inserted with executemany, each lead with one
`demo_request` 20 days ago (so exactly one drop is due now) and a first untimed rescore scores them (30 points:
Warm; the drop takes them to 20: Cold, so every drop also tells a `level_change` on the live stream).
The filled file is copied before every timed step, so each one starts from the same unit. Per run it prints:

- **new**: `apply_decay` over the whole unit in one write transaction, commit included (the fast path:
  services.ingest.ingest.ingest_system_events);
- **job**: `scheduler.jobs.run_decay` (the scheduler's decay job: slices of 2,000 leads, one transaction each);
- **old** on the first `--old-sample` leads: the due drops sent through `ingest` as apply_decay did before, and
  **new** on the same sample, with the ratio.

Then the best/median/worst of each over the runs, and verify-scores on the last decayed copy (must be 0 leads off).
Target: the daily job over 100,000 leads with one drop each in at most 10 s.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import Database
from db.ids import new_id
from db.migrate import upgrade
from scheduler import jobs
from services.errors import ServiceError
from services.ingest.ingest import ingest
from services.operations.demo import seed_demo
from services.scoring import decay
from services.scoring.rescore import rescore_unit, verify_unit
from services.tenancy.tenants import DEFAULT_TENANT

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
BATCH = 2000  # apply_decay's batch of drops before this change


def fill(path: Path, leads: int) -> None:
    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database(url)
    tenant = DEFAULT_TENANT
    with db.write() as session:
        seed_demo(session, tenant, now=NOW - timedelta(days=30), leads=1)
    accounts = max(1, leads // 10)
    stamp = (NOW - timedelta(days=30)).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    active = (NOW - timedelta(days=20)).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    account_ids = [new_id("acc") for _ in range(accounts)]
    lead_ids = [new_id("ld") for _ in range(leads)]
    with db.write() as session:
        conn = session.connection()
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, org_id, unit_id, domain, name, name_key, metadata, created_at, updated_at, "
            "last_activity_at) VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?, ?)",
            [(a, tenant.org_id, tenant.unit_id, f"company{i}.example", f"Company {i}", f"company {i}", stamp, stamp,
              active) for i, a in enumerate(account_ids)],
        )
        conn.exec_driver_sql(
            "INSERT INTO leads (id, org_id, unit_id, account_id, email, first_name, last_name, metadata, created_at, "
            "updated_at, last_activity_at) VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?)",
            [(ld, tenant.org_id, tenant.unit_id, account_ids[i % accounts], f"person{i}@company{i % accounts}.example",
              f"First{i}", f"Last{i}", stamp, stamp, active) for i, ld in enumerate(lead_ids)],
        )
        conn.exec_driver_sql(
            "INSERT INTO events (id, org_id, unit_id, lead_id, account_id, event_type, source, channel, "
            "occurred_at, received_at, metadata, score_delta, explanation) "
            "VALUES (?, ?, ?, ?, ?, 'demo_request', 'bench', 'web', ?, ?, '{}', 0, '{}')",
            [(new_id("ev"), tenant.org_id, tenant.unit_id, ld, account_ids[i % accounts], active, active)
             for i, ld in enumerate(lead_ids)],
        )
    with db.write() as session:
        rescore_unit(session, tenant)  # scores, explanations, lead_scores and account_scores as ingest would
    db.dispose()


def copy(src: Path, dst: Path) -> Database:
    """A consistent copy of the filled file (the SQLite backup API: WAL included)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()
    return Database(f"sqlite:///{dst}")


def new_path(db: Database, max_leads: int | None = None) -> int:
    with db.write() as session:
        return decay.apply_decay(session, DEFAULT_TENANT, NOW, max_leads=max_leads).drops


def job(db: Database) -> int:
    return jobs.run_decay(db, NOW, holder="bench") or 0


def old_path(db: Database, max_leads: int | None = None) -> int:
    """apply_decay as it was: the due drops through the full ingest path, 2,000 at a time."""
    with db.write() as session:
        plan = decay.plan_decay(session, DEFAULT_TENANT, NOW, max_leads=max_leads)
        for start in range(0, len(plan.events), BATCH):
            for result in ingest(session, DEFAULT_TENANT, plan.events[start : start + BATCH], NOW,
                                 context=plan.context):
                if isinstance(result, ServiceError):
                    raise result
        return len(plan.events)


def timed(template: Path, work: Path, step: Callable[[Database], int]) -> tuple[float, int, Database]:
    db = copy(template, work)
    began = time.perf_counter()
    drops = step(db)
    return time.perf_counter() - began, drops, db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--old-sample", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-decay-"))
    template, work = tmp / "filled.db", tmp / "work.db"
    began = time.perf_counter()
    fill(template, args.leads)
    took = time.perf_counter() - began
    print(f"filled {args.leads:,} leads (one drop due each) in {took:.1f} s; cpus={os.cpu_count()}")
    sample = min(args.old_sample, args.leads)
    figures: dict[str, list[float]] = {"new": [], "job": [], "old_sample": [], "new_sample": []}
    db: Database | None = None
    for run in range(1, args.repeat + 1):
        t_new, n_new, db = timed(template, work, new_path)
        db.dispose()
        t_job, n_job, db = timed(template, work, job)
        db.dispose()
        t_old, n_old, db = timed(template, work, lambda d: old_path(d, sample))
        db.dispose()
        t_ns, n_ns, db = timed(template, work, lambda d: new_path(d, sample))
        assert n_old == n_ns, (n_old, n_ns)
        figures["new"].append(t_new)
        figures["job"].append(t_job)
        figures["old_sample"].append(t_old)
        figures["new_sample"].append(t_ns)
        print(
            f"run {run}: new {t_new:.2f} s ({n_new:,} drops, {n_new / t_new:,.0f}/s) | job {t_job:.2f} s ({n_job:,})"
            f" | {sample:,}-lead sample: old {t_old:.2f} s ({n_old / t_old:,.0f}/s), new {t_ns:.2f} s"
            f" ({n_ns / t_ns:,.0f}/s), x{t_old / t_ns:.1f}",
            flush=True,
        )
        if run < args.repeat:
            db.dispose()
    for name, values in figures.items():
        print(f"{name:>10}: best {min(values):.2f} s, median {statistics.median(values):.2f} s, "
              f"worst {max(values):.2f} s")
    old_med, new_med = statistics.median(figures["old_sample"]), statistics.median(figures["new_sample"])
    print(f"old path extrapolated to {args.leads:,} leads: ~{old_med * args.leads / sample:.0f} s; "
          f"new ÷ old speed-up on the sample: x{old_med / new_med:.1f}")
    assert db is not None
    db.dispose()
    # The last full-unit decay through the fast path, checked by verify-scores (replay equals stored).
    _t, _n, db = timed(template, work, new_path)
    with db.read() as session:
        off = verify_unit(session, DEFAULT_TENANT)
    print(f"verify-scores after the fast path: {len(off)} leads off")
    db.dispose()
    for suffix in ("", "-wal", "-shm"):
        for base in (template, work):
            Path(f"{base}{suffix}").unlink(missing_ok=True)
    tmp.rmdir()


if __name__ == "__main__":
    main()
