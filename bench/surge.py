#!/usr/bin/env python
"""Surge reads and surge triggers: what they cost on a unit whose history surge scoring boosted.

    python bench/surge.py                        # 200,000 events across 20,000 leads (fill: a minute or two)
    python bench/surge.py --events 1000000 --leads 100000
    python bench/surge.py --db data/s.db --reuse # time an existing file again

The unit is bench/rescore.py's bulk fill, rescored under the Standard surge policy (bench/targeting.py's
set_targeting). Scenarios (each repeated `--repeat` times; best / median / worst printed, with the load average):

1. **Surge metrics** (GET /v1/ous/{ouId}/surge's service): the last 30 days by hour (720 buckets) and the last
   90 days by day. Target: < 1 s each on 1M events.
2. **Accounts page with `surging`**: the first page of 50 accounts by score, with and without the surging look-up
   (no `now`: surging not computed), as a ratio.
3. **Single-event ingest with 3 active surge triggers** (one per frequent type, 5 within 10 minutes, email
   destination) as a ratio to none: rounds of `--ingests` single events through the ingest service, alternating
   so load drifts hit both alike. Target: ratio >= 0.8.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, func, select

from bench.rescore import open_unit, unit_arguments
from bench.targeting import FILTER_TYPES, TENANT, ingest_rate, set_targeting, spread
from db import models
from db.engine import Database
from services.insight.surge import surge_metrics
from services.people.accounts import list_accounts
from services.scoring.rescore import rescore_unit
from services.scoring.scoring_settings import update_settings
from services.triggers import surge


def _now() -> datetime:
    return datetime.now(UTC)


def timed(work: Callable[[], None], repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        runs.append(time.perf_counter() - began)
    return runs


def set_triggers(db: Database, on: bool) -> None:
    with db.write() as session:
        session.execute(delete(models.Trigger).where(models.Trigger.unit_id == TENANT.unit_id,
                                                     models.Trigger.kind == surge.KIND))
        if on:
            for event_type in FILTER_TYPES:
                surge.create_surge_trigger(session, TENANT, {
                    "event_type": event_type, "window_seconds": 10, "window_unit": "minutes", "threshold_count": 5,
                    "emails": ["sales@example.com"],
                }, _now())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit_arguments(parser)
    parser.set_defaults(events=200_000, leads=20_000, accounts=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ingests", type=int, default=300, help="single events per ingest round")
    args = parser.parse_args()
    db = open_unit(args, prefix="leadvane-surge-")
    set_targeting(db, filters=[], surge="standard")
    with db.write() as session:
        rescore_unit(session, TENANT)
        update_settings(session, TENANT, abm_enabled=True, now=_now())
    with db.read() as session:
        e = models.Event
        total, boosted = session.execute(
            select(func.count(), func.count().filter(e.surge_milli > 1000)).where(e.unit_id == TENANT.unit_id)
        ).one()
    print(f"unit: {total:,} events, {boosted:,} boosted; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")

    def metrics(days: int, interval: str) -> None:
        end = _now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        with db.read() as session:
            surge_metrics(session, TENANT, TENANT.unit_id, start=end - timedelta(days=days), end=end,
                          interval=interval)

    hourly = timed(lambda: metrics(30, "1h"), args.repeat)
    daily = timed(lambda: metrics(90, "1d"), args.repeat)

    def accounts(with_surging: bool) -> None:
        with db.read() as session:
            list_accounts(session, TENANT, limit=50, now=_now() if with_surging else None)

    plain = timed(lambda: accounts(False), args.repeat)
    surging = timed(lambda: accounts(True), args.repeat)

    rng = random.Random(5)
    off: list[float] = []
    on: list[float] = []
    for _ in range(args.repeat):
        set_triggers(db, False)
        off.append(ingest_rate(db, args.ingests, rng, args.leads))
        set_triggers(db, True)
        on.append(ingest_rate(db, args.ingests, rng, args.leads))
        print(f"  ingest round: no surge triggers {off[-1]:,.0f} events/s, 3 surge triggers {on[-1]:,.0f} events/s")
    set_triggers(db, False)
    ratios = [b / a for a, b in zip(off, on, strict=True)]
    print()
    print("| measure | best / median / worst | target |")
    print("|---|---|---|")
    print(f"| surge metrics, 30 days by hour ({total:,} events) | {spread(hourly, '{:.3f}')} s | < 1 s per 1M |")
    print(f"| surge metrics, 90 days by day | {spread(daily, '{:.3f}')} s | < 1 s per 1M |")
    print(f"| accounts page of 50, without surging | {spread(plain, '{:.3f}')} s | |")
    print(f"| accounts page of 50, with surging | {spread(surging, '{:.3f}')} s | |")
    print(f"| single-event ingest, no surge triggers | {spread(off, '{:,.0f}')} events/s | |")
    print(f"| single-event ingest, 3 surge triggers | {spread(on, '{:,.0f}')} events/s | |")
    print(f"| ratio with / without (per round) | {spread(ratios)} | >= 0.8: "
          f"{'met' if statistics.median(ratios) >= 0.8 else 'missed'} (median) |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
