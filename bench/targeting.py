#!/usr/bin/env python
"""Targeting and clean data: what filters and surge cost, measured against the same work without them.

    python bench/targeting.py                        # 1,000,000 events across 100,000 leads (fill: minutes)
    python bench/targeting.py --events 200000        # a smaller unit
    python bench/targeting.py --db data/t.db --reuse # time an existing file again (bench/rescore.py's --db)

Scenarios (each repeated `--repeat` times; best / median / worst printed, with the load average):

1. **Quarantine replay after a filter change** on the unit (bench/rescore.py's bulk fill: the demo's rules, a mix of
   event kinds with a long tail per lead, plus `--bursts` scanner bursts of 6 email clicks within a second): a
   burst filter on email_click (5 within 2 s) is created, then removed, each published as a live version and
   followed by the full rescore (`rescore_unit`, one write transaction, the trust issue's engine). Baseline in the
   same run: the full rescore after a plain rule weight change (no filters). Target: <= 10 s per 1M events.
2. **Single-event ingest with 3 filters and surge on**, as a ratio to both off: rounds of `--ingests` single events
   through the ingest service (each its own write transaction, a unit with history), alternating off / on so load
   drifts hit both alike. Target: ratio >= 0.8.
3. Segment count (bench/segments.py) and the Analytics page cold (bench/analytics.py) run as their own scripts;
   their figures are in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, func, select

from bench.rescore import change_weight, open_unit, unit_arguments
from db import models
from db.engine import Database
from db.ids import new_id
from services.ingest.contract import AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring.model import begin_change, load_from_tables, record_version
from services.scoring.rescore import rescore_unit, verify_unit
from services.tenancy.tenants import DEFAULT_TENANT

TENANT = DEFAULT_TENANT
FILTER_TYPES = ("email_click", "email_open", "page_visit")


def _now() -> datetime:
    return datetime.now(UTC)


def add_bursts(db: Database, bursts: int) -> None:
    """Scanner bursts: 6 email clicks within one second for `bursts` random leads (inserted, then scored by the
    first timed rescore like everything else)."""
    rng = random.Random(11)
    with db.read() as session:
        leads = list(session.execute(select(models.Lead.id, models.Lead.account_id)
                                     .where(models.Lead.unit_id == TENANT.unit_id).limit(50_000)))
    stamp = _now().replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    rows = []
    for _ in range(bursts):
        lead_id, account_id = rng.choice(leads)
        start = _now() - timedelta(days=rng.randint(1, 80))
        for k in range(6):
            at = (start + timedelta(milliseconds=150 * k)).astimezone(UTC).replace(tzinfo=None)
            rows.append((new_id("evt"), TENANT.org_id, TENANT.unit_id, lead_id, account_id, "email_click", "bench",
                         "email", at.isoformat(sep=" ", timespec="microseconds"), stamp, '{"campaign":"fall"}'))
    with db.write() as session:
        session.connection().exec_driver_sql(
            "INSERT INTO events (id, org_id, unit_id, lead_id, account_id, event_type, source, channel, occurred_at, "
            "received_at, metadata, score_delta, explanation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '{}')", rows)


def set_targeting(db: Database, *, filters: list[tuple[str, int, int]], surge: str | None) -> None:
    """Filters (type, count, window ms) and the surge mode as the scoring model's live version, without the
    service's own rescore (timed separately, as bench/rescore.py's change_weight)."""
    now = _now()
    with db.write() as session:
        begin_change(session, TENANT, now)
        session.execute(delete(models.InorganicFilter).where(models.InorganicFilter.unit_id == TENANT.unit_id))
        for event_type, count, window in filters:
            session.add(models.InorganicFilter(
                id=new_id("flt"), org_id=TENANT.org_id, unit_id=TENANT.unit_id, event_type=event_type,
                count_threshold=count, time_window_ms=window, group_events=False, created_at=now, updated_at=now))
        session.execute(delete(models.SurgePolicy).where(models.SurgePolicy.unit_id == TENANT.unit_id))
        if surge is not None:
            session.add(models.SurgePolicy(unit_id=TENANT.unit_id, org_id=TENANT.org_id, mode=surge, bands=[],
                                           idle_reset_seconds=1800, multiplier_cap=2.0, updated_at=now))
        session.flush()
        record_version(session, TENANT, load_from_tables(session, TENANT), now=now, summary="bench: targeting",
                       published_by=None, live=True)


def timed_rescore(db: Database) -> tuple[float, int, int]:
    began = time.perf_counter()
    with db.write() as session:
        summary = rescore_unit(session, TENANT)
    with db.read() as session:
        held = session.scalar(select(func.count()).select_from(models.Event).where(
            models.Event.unit_id == TENANT.unit_id, models.Event.quarantine_filter_id.is_not(None))) or 0
    return time.perf_counter() - began, summary.changed_events, int(held)


def ingest_rate(db: Database, n: int, rng: random.Random, people: int) -> float:
    """Single events per second through the ingest service, each in its own write transaction."""
    began = time.perf_counter()
    for _ in range(n):
        person = rng.randrange(people)
        email = f"person{person}@company{person % 2000}.example"
        event = NewEvent(rng.choice(FILTER_TYPES), occurred_at=_now(), properties={"page": "/pricing"},
                         person=PersonRef(aliases=[AliasInput("email", email)]))
        with db.write() as session:
            (result,) = ingest(session, TENANT, [event], _now())
        assert isinstance(result, Ingested), result
    return n / (time.perf_counter() - began)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bursts", type=int, default=2_000, help="scanner bursts added to a new unit")
    parser.add_argument("--ingests", type=int, default=300, help="single events per ingest round")
    args = parser.parse_args()
    db = open_unit(args, prefix="leadvane-targeting-")
    if not args.reuse and args.bursts:
        add_bursts(db, args.bursts)
        with db.write() as session:
            rescore_unit(session, TENANT)
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(models.Event)
                               .where(models.Event.unit_id == TENANT.unit_id)) or 0
    print(f"unit: {total:,} events; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    baseline: list[float] = []
    with_filter: list[float] = []
    without_filter: list[float] = []
    for i in range(args.repeat):
        change_weight(db, 1 if i % 2 == 0 else -1)
        took, changed, _ = timed_rescore(db)
        baseline.append(took)
        print(f"  baseline rescore after a weight change #{i + 1}: {took:.2f} s ({changed:,} events rewritten)")
        set_targeting(db, filters=[("email_click", 5, 2000)], surge=None)
        took, changed, held = timed_rescore(db)
        with_filter.append(took)
        print(f"  rescore after creating the filter #{i + 1}: {took:.2f} s ({changed:,} rewritten, {held:,} held)")
        set_targeting(db, filters=[], surge=None)
        took, changed, held = timed_rescore(db)
        without_filter.append(took)
        print(f"  rescore after removing it #{i + 1}: {took:.2f} s ({changed:,} rewritten, {held:,} held)")
    with db.read() as session:
        problems = verify_unit(session, TENANT)
    print(f"verify-scores after the changes: {len(problems)} differences")

    rng = random.Random(5)
    people = 100_000
    off: list[float] = []
    on: list[float] = []
    for _ in range(args.repeat):
        set_targeting(db, filters=[], surge=None)
        with db.write() as session:
            rescore_unit(session, TENANT)
        off.append(ingest_rate(db, args.ingests, rng, people))
        set_targeting(db, filters=[(t, 5, 2000) for t in FILTER_TYPES], surge="standard")
        with db.write() as session:
            rescore_unit(session, TENANT)
        on.append(ingest_rate(db, args.ingests, rng, people))
        print(f"  ingest round: off {off[-1]:,.0f} events/s, 3 filters + surge on {on[-1]:,.0f} events/s")
    set_targeting(db, filters=[], surge=None)
    ratios = [b / a for a, b in zip(off, on, strict=True)]
    per_million = statistics.median(with_filter) * 1_000_000 / max(total, 1)
    print()
    print("| measure | best / median / worst | target |")
    print("|---|---|---|")
    print(f"| full rescore after a weight change, {total:,} events (baseline) | {spread(baseline)} s | |")
    print(f"| full rescore after creating a burst filter | {spread(with_filter)} s "
          f"({statistics.median(with_filter) / statistics.median(baseline):.2f}x the baseline; "
          f"{per_million:.1f} s per 1M) | <= 10 s per 1M: {'met' if per_million <= 10 else 'missed'} |")
    print(f"| full rescore after removing it | {spread(without_filter)} s | |")
    print(f"| single-event ingest, off | {spread(off, '{:,.0f}')} events/s | |")
    print(f"| single-event ingest, 3 filters + surge on | {spread(on, '{:,.0f}')} events/s | |")
    print(f"| ratio on / off (per round) | {spread(ratios)} | >= 0.8: "
          f"{'met' if statistics.median(ratios) >= 0.8 else 'missed'} (median) |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
