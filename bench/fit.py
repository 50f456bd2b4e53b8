#!/usr/bin/env python
"""Fit and lead lifecycle speed (issue 10's "Speed"): one function per scenario, `main()` runs them all.

    python bench/fit.py                          # a 100,000-event unit, 5 runs of each scenario
    python bench/fit.py --events 1000000 --leads 100000 --repeat 3
    python bench/fit.py --db data/fit.db         # keep the filled file ... (--reuse to time it again: each run
                                                 # adds its own leads, so a reused file only grows)

The unit is bench/rescore.py's (`bulk_fill`: the demo's rules and levels, accounts, leads and events with a long
tail of activity), plus `--stream-batches` live-stream batches naming its leads (the erasure scans that buffer).
Each run of a scenario gets its own freshly inserted leads (executemany, then scored by `rescore_leads`, untimed):

- **merge**: two leads of one account with `--lead-events` (10,000) events each, interleaved in the log;
  `merge_leads` in one write transaction, commit included. Baseline in the same run: the read-only per-event
  replay of the merged lead's events (`score_as_of`, what GET /v1/leads/{id}/score?at= runs). Target <= 2 s.
- **erasure**: one lead with `--lead-events` events in an account shared with other leads (the merge scenario's
  leads too: ~100,000 events with the defaults), so the account is replayed; `erase_lead` in one write
  transaction, commit included. Baseline in the same run: a plain `DELETE FROM events` of that lead's events
  (rolled back). Target <= 2 s.

Printed: each run, best / median / worst, the spread (worst - best), and the ratio median ÷ baseline median.
Figures, never assertions: the machine is shared.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, func, select, text

from bench.rescore import open_unit, unit_arguments
from db import models
from db.engine import Database
from db.ids import new_id
from services.people import erasure
from services.people.leads import score_as_of
from services.people.merge import merge_leads
from services.scoring.rescore import rescore_leads
from services.tenancy.tenants import DEFAULT_TENANT

TARGETS = {"merge": 2.0, "erasure": 2.0}


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    runs: list[float]
    baseline_name: str
    baseline: list[float]
    target_s: float

    def line(self) -> str:
        best, median, worst = min(self.runs), statistics.median(self.runs), max(self.runs)
        base = statistics.median(self.baseline) if self.baseline else float("nan")
        verdict = "meets" if median <= self.target_s else "MISSES"
        return (f"| {self.name} | {best:.3f} / {median:.3f} / {worst:.3f} s | {worst - best:.3f} s | "
                f"{self.baseline_name}: {base:.3f} s | {median / base:.1f}x | <= {self.target_s:.0f} s: {verdict} |")


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def add_leads(db: Database, account_id: str, n_leads: int, events_each: int, rng: random.Random) -> list[str]:
    """`n_leads` new leads of `account_id` with `events_each` events each, interleaved in the log (seq order), with an
    email alias each; scored with rescore_leads (and the account with them) so the unit stays consistent."""
    tenant = DEFAULT_TENANT
    now = _now()
    stamp = _stamp(now)
    ids = [new_id("ld") for _ in range(n_leads)]
    kinds = ("page_visit", "email_open", "email_click", "form_submit", "demo_request")
    start = now - timedelta(days=30)
    with db.write() as session:
        conn = session.connection()
        conn.exec_driver_sql(
            "INSERT INTO leads (id, org_id, unit_id, account_id, email, first_name, last_name, metadata, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, 'Bench', 'Person', '{}', ?, ?)",
            [(ld, tenant.org_id, tenant.unit_id, account_id, f"{ld}@fit.example", stamp, stamp) for ld in ids],
        )
        conn.exec_driver_sql(
            "INSERT INTO lead_aliases (org_id, unit_id, lead_id, kind, value, raw_value, is_primary, created_at) "
            "VALUES (?, ?, ?, 'email', ?, ?, 1, ?)",
            [(tenant.org_id, tenant.unit_id, ld, f"{ld}@fit.example", f"{ld}@fit.example", stamp) for ld in ids],
        )
        rows = []
        for i in range(events_each * n_leads):
            at = _stamp(start + timedelta(seconds=i * 30 * 86_400 / (events_each * n_leads)))
            rows.append((new_id("evt"), tenant.org_id, tenant.unit_id, ids[i % n_leads], account_id,
                         rng.choice(kinds), "bench", "web", at, stamp, '{"page":"/pricing"}'))
        conn.exec_driver_sql(
            "INSERT INTO events (id, org_id, unit_id, lead_id, account_id, event_type, source, channel, occurred_at, "
            "received_at, metadata, score_delta, explanation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '{}')",
            rows,
        )
        rescore_leads(session, tenant, ids)
    return ids


def add_stream_batches(db: Database, batches: int, rng: random.Random) -> None:
    """A day's live-stream buffer: `batches` batches of five messages naming existing leads."""
    tenant = DEFAULT_TENANT
    with db.read() as session:
        leads = [tuple(r) for r in session.execute(select(models.Lead.id, models.Lead.email).where(
            models.Lead.unit_id == tenant.unit_id).limit(5000)).all()]
    now = _now()
    with db.write() as session:
        session.execute(cast(Table, models.StreamBatch.__table__).insert(), [
            {"org_id": tenant.org_id, "unit_id": tenant.unit_id, "created_at": now, "messages": [
                {"type": "event", "data": {"lead_id": lid, "email": email, "event_type": "page_visit", "score": 5}}
                for lid, email in rng.sample(leads, min(5, len(leads)))
            ]}
            for _ in range(batches)
        ])


def _an_account(db: Database) -> str:
    with db.read() as session:
        account = session.scalar(select(models.Account.id).where(models.Account.unit_id == DEFAULT_TENANT.unit_id)
                                 .order_by(models.Account.id).limit(1))
    if account is None:
        raise SystemExit("the unit has no account")
    return account


def merge_scenario(db: Database, *, repeat: int, lead_events: int) -> Figures:
    """Merge two leads of `lead_events` events each, `repeat` times (fresh leads each time)."""
    rng = random.Random(3)
    account = _an_account(db)
    runs, baseline = [], []
    for i in range(repeat):
        target, source = add_leads(db, account, 2, lead_events, rng)
        began = time.perf_counter()
        with db.write() as session:
            result = merge_leads(session, DEFAULT_TENANT, target_id=target, source_ids=[source], now=_now())
        took = time.perf_counter() - began
        runs.append(took)
        with db.read() as session:
            began = time.perf_counter()
            score_as_of(session, DEFAULT_TENANT, target, None)
            baseline.append(time.perf_counter() - began)
        print(f"  merge #{i + 1}: {took:.3f} s ({result.moved_events:,} events moved, {result.rescored_events:,} "
              f"replayed, score {result.score}); per-event replay of the merged lead {baseline[-1]:.3f} s", flush=True)
    return Figures("merge 2 x 10,000 events".replace("10,000", f"{lead_events:,}"), runs,
                   "read-only per-event replay", baseline, TARGETS["merge"])


def erasure_scenario(db: Database, *, repeat: int, lead_events: int) -> Figures:
    """Erase a lead of `lead_events` events (its account replayed without them), `repeat` times."""
    rng = random.Random(5)
    account = _an_account(db)
    runs, baseline = [], []
    for i in range(repeat):
        (lead,) = add_leads(db, account, 1, lead_events, rng)
        with db.write() as session:
            erasure.request_erasure(session, DEFAULT_TENANT, lead, _now())
            account_events = session.scalar(select(func.count()).select_from(models.Event).where(
                models.Event.unit_id == DEFAULT_TENANT.unit_id, models.Event.account_id == account))
        with db.write() as session:
            began = time.perf_counter()
            session.execute(text("DELETE FROM events WHERE unit_id = :u AND lead_id = :l"),
                            {"u": DEFAULT_TENANT.unit_id, "l": lead})
            baseline.append(time.perf_counter() - began)
            session.rollback()
        began = time.perf_counter()
        with db.write() as session:
            counts = erasure.erase_lead(session, DEFAULT_TENANT, lead, _now())
        took = time.perf_counter() - began
        runs.append(took)
        if counts is None:
            raise SystemExit("the erasure did not run")
        print(f"  erasure #{i + 1}: {took:.3f} s ({counts.events:,} events, {counts.stream_messages} stream messages, "
              f"{counts.accounts_rescored} account of {account_events:,} events replayed); "
              f"plain DELETE of the events {baseline[-1]:.3f} s",
              flush=True)
    return Figures(f"erasure of {lead_events:,} events", runs, "plain DELETE of the events", baseline,
                   TARGETS["erasure"])


SCENARIOS: dict[str, Callable[..., Figures]] = {"merge": merge_scenario, "erasure": erasure_scenario}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit_arguments(parser)
    parser.set_defaults(events=100_000, leads=5_000, accounts=200)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each scenario (default 5)")
    parser.add_argument("--lead-events", type=int, default=10_000, help="events per merged / erased lead")
    parser.add_argument("--stream-batches", type=int, default=5_000, help="live-stream batches in the buffer")
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append", help="run only these scenarios")
    args = parser.parse_args()
    db = open_unit(args, prefix="leadvane-fit-")
    if not args.reuse:
        add_stream_batches(db, args.stream_batches, random.Random(9))
    with db.read() as session:
        total = session.query(models.Event).filter(models.Event.unit_id == DEFAULT_TENANT.unit_id).count()
    print(f"unit: {total:,} events, {args.stream_batches:,} stream batches; {args.repeat} runs per scenario")
    figures = []
    for name in args.only or list(SCENARIOS):
        print(f"{name}:")
        figures.append(SCENARIOS[name](db, repeat=args.repeat, lead_events=args.lead_events))
    print()
    print("| scenario | best / median / worst | spread | baseline (median) | ratio | target |")
    print("|---|---|---|---|---|---|")
    for f in figures:
        print(f.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
