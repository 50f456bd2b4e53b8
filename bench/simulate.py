#!/usr/bin/env python
"""What-if speed: `services.scoring.simulate.simulate` over a 30-day window (and all history) of a large unit.

    python bench/simulate.py                          # 1,000,000 events across 100,000 leads (fill: several minutes)
    python bench/simulate.py --db data/rescore.db --reuse --repeat 5   # time an already filled unit again

The unit is filled as bench/rescore.py fills it (its `bulk_fill`: the demo's rules and levels, events spread
evenly over bench/dashboard.py's 42 days, one untimed rescore), so a 30-day window holds ~5/7 of the log. The draft
raises the primary ruleset's page_visit rule by 5 and adds a rule; a milestone trigger at 80 makes the dry run of
firings part of the timing. "now" is the newest event's time, so a reused file keeps the same window. Prints each
run's wall and CPU time with its phases (read the window's columns, two replays, the comparison). Target: <= 5 s
for a 30-day window of a 1,000,000-event unit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bench.rescore import draft, ensure_trigger, open_unit, unit_arguments
from core import replay as vector
from db import models
from services.scoring import simulate
from services.scoring.model import live_model
from services.scoring.rescore import load_event_columns
from services.tenancy.tenants import DEFAULT_TENANT


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3, help="simulations to time per window (default 3)")
    parser.add_argument("--days", type=int, default=30, help="window (default 30)")
    parser.add_argument("--all", action="store_true", help="also time all history (days=None)")
    args = parser.parse_args()
    db = open_unit(args, prefix="leadvane-simulate-")
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(models.Event).where(
            models.Event.unit_id == DEFAULT_TENANT.unit_id))
        newest = session.scalar(select(func.max(models.Event.occurred_at)).where(
            models.Event.unit_id == DEFAULT_TENANT.unit_id))
    now = (newest or datetime.now(UTC)).astimezone(UTC)
    ensure_trigger(db, now)
    changes = draft(db)
    print(f"unit: {total:,} events, newest {now:%Y-%m-%d %H:%M}")
    windows: list[int | None] = [args.days] + ([None] if args.all else [])
    for days in windows:
        label = f"{days}-day window" if days else "all history"
        walls: list[float] = []
        for i in range(args.repeat):
            with db.read() as session:  # the phases, on their own
                since = None if days is None else now - timedelta(days=days)
                t0 = time.perf_counter()
                cols = load_event_columns(session, DEFAULT_TENANT, since=since)
                t1 = time.perf_counter()
                vector.replay(live_model(session, DEFAULT_TENANT), cols)
                t2 = time.perf_counter()
            began, cpu = time.perf_counter(), time.process_time()
            with db.read() as session:
                result = simulate.simulate(session, DEFAULT_TENANT, changes, days, now)
            took, cpu = time.perf_counter() - began, time.process_time() - cpu
            walls.append(took)
            print(f"{label} #{i + 1}: {took:.2f} s (CPU {cpu:.2f} s): {result.events:,} events, "
                  f"{result.leads_evaluated:,} leads, {result.leads_changed:,} changed, "
                  f"{sum(c.count for c in result.level_changes):,} level moves, firings {result.trigger_firings}; "
                  f"read columns {t1 - t0:.2f} s, one replay {t2 - t1:.2f} s")
        print(f"{label}: median {statistics.median(walls):.2f} s, best {min(walls):.2f} s"
              + (" (target <= 5 s)" if days == 30 else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
