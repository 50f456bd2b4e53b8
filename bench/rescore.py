#!/usr/bin/env python
"""Full rescore speed: the vectorised engine (core.replay) against the per-event replay it replaced.

    python bench/rescore.py                         # 1,000,000 events across 100,000 leads (fill: several minutes)
    python bench/rescore.py --events 200000         # a smaller unit
    python bench/rescore.py --db data/rescore.db    # keep the filled file ...
    python bench/rescore.py --db data/rescore.db --reuse --repeat 5   # ... and time it again

The unit gets the demo's rules and levels (manage.py seed-demo's), then `--fill bulk` (default) inserts accounts,
leads and events with plain executemany (bench/dashboard.py's mix of event kinds, pages and a long tail of
activity; each lead keeps its account) and a first untimed rescore scores them all; `--fill ingest` sends every
event through the batch ingest service path instead (bench/dashboard.py's filler; ~1,000-2,000 events/s here,
so 1M events take 10-20 minutes on this shared machine). Then it prints:

- the old per-event replay (a `Scoreboard.apply` loop over rows read through SQLAlchemy with type processing, as
  services/scoring/rescore.py did before) in events/s on a 100,000-event sample; the old rescore also compared
  and rewrote every event after that, so its real throughput was lower still;
- the new full rescore after a rule weight change (the primary ruleset's page_visit rule +1, then back, so every
  rescore rewrites nearly every event's explanation): the whole `rescore_unit` in one write transaction, commit
  included, with its phases (read the columns, replay, write), and events/s;
- `verify_unit` (manage.py verify-scores) time; the ratio new ÷ old events/s. Target: rescore <= 10 s per 1M events;
- a publish aside (services.scoring.publisher) while a thread ingests single events through the service layer in a
  loop, each in its own write transaction (the bench process is the API process: same GIL, same writer lock): the
  longest and p99 single-event ingest wait before and during the publish, the change's own transaction, the time
  until the swap (the new version live), and the aside's phases. Targets: longest wait <= 1 s, time until the
  swap <= 10 s per 1M events;
- the what-if simulate over the last 30 days of the unit (bench/simulate.py's draft: a weight change and a new rule,
  a milestone trigger's dry run). Target: <= 5 s;
- the decay job over `--decay-leads` (100,000) inactive leads with one drop due each (bench/decay.py's unit), in one
  transaction and as the scheduler's job. Target: <= 10 s;

and ends with one table of these figures against their targets.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import threading

from sqlalchemy import func, select, update

from bench.dashboard import DAYS, KINDS, PAGES, fill
from core import scoring
from core.replay import replay_columns
from db import models
from db.engine import Database
from db.ids import new_id
from db.migrate import upgrade
from services.ingest.contract import Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import publisher, rules
from services.scoring.model import begin_change, live_model, load_from_tables, record_version
from services.scoring.rescore import load_event_columns, rescore_unit, verify_unit
from services.tenancy.tenants import DEFAULT_TENANT
from services.triggers import triggers
from settings import get_settings

SAMPLE = 100_000


def bulk_fill(db: Database, *, leads: int, accounts: int, events: int, now: datetime) -> None:
    """Accounts, leads and events inserted with executemany, then one rescore scores them (not timed)."""
    from services.operations.demo import seed_demo

    tenant = DEFAULT_TENANT
    with db.write() as session:
        seed_demo(session, tenant, now=now, leads=1)
    rng = random.Random(7)
    stamp = now.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    account_ids = [new_id("acc") for _ in range(accounts)]
    lead_ids = [new_id("ld") for _ in range(leads)]
    cum_weights = list(itertools.accumulate(1.0 / (rank + 1) ** 0.7 for rank in range(leads)))
    kinds, kind_weights = zip(*KINDS, strict=True)
    start = now - timedelta(days=DAYS)
    with db.write() as session:
        conn = session.connection()
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, org_id, unit_id, domain, name, name_key, metadata, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?)",
            [(a, tenant.org_id, tenant.unit_id, f"company{i}.example", f"Company {i}", f"company {i}", stamp, stamp)
             for i, a in enumerate(account_ids)],
        )
        conn.exec_driver_sql(
            "INSERT INTO leads (id, org_id, unit_id, account_id, email, first_name, last_name, metadata, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)",
            [(ld, tenant.org_id, tenant.unit_id, account_ids[i % accounts], f"person{i}@company{i % accounts}.example",
              f"First{i}", f"Last{i}", stamp, stamp) for i, ld in enumerate(lead_ids)],
        )
    done = 0
    while done < events:
        size = min(100_000, events - done)
        drawn = rng.choices(range(leads), cum_weights=cum_weights, k=size)
        rows = []
        for i in range(size):
            person = done + i if done + i < leads else drawn[i]
            kind = rng.choices(kinds, kind_weights)[0]
            props = f'{{"page":"{rng.choice(PAGES)}"}}' if kind == "page_visit" else '{"campaign":"fall"}'
            at = (start + timedelta(seconds=(done + i) * DAYS * 86_400 / events)).replace(tzinfo=None)
            rows.append((
                new_id("evt"), tenant.org_id, tenant.unit_id, lead_ids[person], account_ids[person % accounts], kind,
                "bench", "web", at.isoformat(sep=" ", timespec="microseconds"), stamp, props,
            ))
        with db.write() as session:
            session.connection().exec_driver_sql(
                "INSERT INTO events (id, org_id, unit_id, lead_id, account_id, event_type, source, channel, "
                "occurred_at, received_at, metadata, score_delta, explanation) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '{}')",
                rows,
            )
        done += size
        print(f"  {done:>9,} events inserted", flush=True)
    with db.write() as session:
        rescore_unit(session, tenant)


def old_replay_rate(db: Database, sample: int) -> tuple[int, float]:
    """The per-event engine as the old replay_unit ran it, over the first `sample` events."""
    tenant, ev = DEFAULT_TENANT, models.Event
    with db.read() as session:
        ctx = live_model(session, tenant)
        began = time.perf_counter()
        board = scoring.Scoreboard(ctx.book, ctx.policy)
        rows = session.execute(
            select(ev.seq, ev.lead_id, ev.account_id, ev.event_type, ev.occurred_at, ev.metadata_, ev.score_delta,
                   ev.explanation)
            .where(ev.unit_id == tenant.unit_id).order_by(ev.seq).limit(sample).execution_options(yield_per=20_000)
        )
        n = 0
        for _seq, lead_id, account_id, event_type, occurred_at, metadata, _delta, _explanation in rows:
            outcomes = board.apply(scoring.EventFacts(event_type, occurred_at, metadata or {}), lead_id, account_id)
            {rs: o.as_explanation() for rs, o in outcomes.items()}  # the old rescore built these to compare
            n += 1
        return n, time.perf_counter() - began


def page_visit_rule(db: Database) -> models.Rule:
    with db.read() as session:
        ctx = live_model(session, DEFAULT_TENANT)
        rule = session.scalars(
            select(models.Rule).where(
                models.Rule.unit_id == DEFAULT_TENANT.unit_id,
                models.Rule.ruleset_id == ctx.primary_ruleset_id,
                models.Rule.event_type == "page_visit",
            )
        ).first()
    if rule is None:
        raise SystemExit("no page_visit rule in the primary ruleset to change")
    return rule


def change_weight(db: Database, step: int) -> None:
    """A rule weight change published as a live version, but without the service's own rescore (timed
    separately): the rescore that follows scores with it."""
    rule = page_visit_rule(db)
    with db.write() as session:
        now = _now()
        begin_change(session, DEFAULT_TENANT, now)
        session.execute(
            update(models.Rule).where(models.Rule.id == rule.id).values(weight=rule.weight + step, updated_at=now)
        )
        session.flush()
        record_version(session, DEFAULT_TENANT, load_from_tables(session, DEFAULT_TENANT), now=now,
                       summary="bench: page_visit weight", published_by=None, live=True)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def publish_while_ingesting(db: Database, step: int, quiet_s: float = 3.0) -> dict[str, float]:
    """Single-event ingests in a loop on a thread (known leads, each its own write transaction) for `quiet_s`, then
    a weight change published through the rule service while they go on, until the new version is live."""
    tenant = DEFAULT_TENANT
    with db.read() as session:
        lead_ids = list(
            session.scalars(select(models.Lead.id).where(models.Lead.unit_id == tenant.unit_id).limit(5000))
        )
    waits: list[tuple[float, float]] = []  # (start, wait)
    stop = threading.Event()
    rng = random.Random(11)

    def ingest_loop() -> None:
        while not stop.is_set():
            event = NewEvent("page_visit", properties={"page": "/pricing"},
                             person=PersonRef(lead_id=rng.choice(lead_ids)))
            began = time.perf_counter()
            with db.write() as session:
                (result,) = ingest(session, tenant, [event], _now())
            waits.append((began, time.perf_counter() - began))
            if not isinstance(result, Ingested):
                raise SystemExit(f"ingest failed: {result}")

    thread = threading.Thread(target=ingest_loop, name="bench-ingest", daemon=True)
    thread.start()
    try:
        time.sleep(quiet_s)
        rule = page_visit_rule(db)
        published = time.perf_counter()
        with db.write() as session:
            fields = {"event_type": rule.event_type, "weight": rule.weight + step, "icon": rule.icon,
                      "active": rule.active, "start_at": rule.start_at, "end_at": rule.end_at,
                      "conditions": list(rule.conditions or [])}
            rules.update_rule(session, tenant, rule.id, fields, now=_now())
        committed = time.perf_counter()
        with db.read() as session:
            pending = publisher.status(session, tenant).pending
        while pending:
            time.sleep(0.02)
            with db.read() as session:
                pending = publisher.status(session, tenant).pending
        live = time.perf_counter()
        publisher.wait_idle()
    finally:
        stop.set()
        thread.join()
    before = [w for t, w in waits if t < published]
    during = [w for t, w in waits if published <= t <= live]
    return {
        "change_s": committed - published, "until_live_s": live - published, "ingests_during": len(during),
        "max_before_s": max(before, default=0.0), "p99_before_s": _percentile(before, 0.99),
        "max_during_s": max(during, default=0.0), "p99_during_s": _percentile(during, 0.99),
        "median_during_s": statistics.median(during) if during else 0.0,
    }


def _now() -> datetime:
    return datetime.now(UTC)


def unit_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `open_unit` reads: the unit's size and where it lives."""
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--db", help="SQLite file (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="time an existing, already filled --db")


def open_unit(args: argparse.Namespace, *, prefix: str, filler: Callable[..., None] = bulk_fill) -> Database:
    """The bench's SQLite unit: `args.db` as it is with `--reuse` (migrated to the code's schema first), else a new
    file (temporary without `--db`) filled with `args.leads`, `args.accounts` and `args.events` by `filler`."""
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix=prefix)) / "bench.db"
    url = f"sqlite:///{path.resolve()}"
    if args.reuse:
        upgrade(url)  # a file filled by an older checkout
        return Database(url)
    if path.exists():
        raise SystemExit(f"{path} exists; pass --reuse to time it, or choose another --db")
    print(f"filling {path}: {args.leads:,} leads, {args.accounts:,} accounts, {args.events:,} events")
    upgrade(url)
    db = Database(url)
    began = time.perf_counter()
    filler(db, leads=args.leads, accounts=args.accounts, events=args.events, now=_now())
    print(f"filled in {time.perf_counter() - began:,.0f} s")
    return db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3, help="full rescores to time (default 3)")
    parser.add_argument("--fill", choices=("bulk", "ingest"), default="bulk", help="how to fill (default bulk)")
    parser.add_argument("--aside-repeat", type=int, default=2, help="publishes aside under ingest (default 2)")
    parser.add_argument("--simulate-repeat", type=int, default=3, help="30-day simulations to time (0: skip)")
    parser.add_argument("--decay-leads", type=int, default=100_000, help="leads of the decay unit (0: skip)")
    parser.add_argument("--decay-repeat", type=int, default=2, help="decay runs to time (default 2)")
    args = parser.parse_args()
    db = open_unit(args, prefix="leadvane-rescore-", filler=bulk_fill if args.fill == "bulk" else fill)
    with db.read() as session:
        total = session.query(models.Event).filter(models.Event.unit_id == DEFAULT_TENANT.unit_id).count()
    print(f"unit: {total:,} events")

    load = os.getloadavg()[0]
    n, old_s = old_replay_rate(db, min(SAMPLE, total))
    old_rate = n / old_s
    print(f"old per-event replay: {n:,} events in {old_s:.2f} s = {old_rate:,.0f} events/s "
          f"(=> {total / old_rate:.1f} s for the whole unit, before any write)")

    rescores: list[float] = []
    cpus: list[float] = []
    for i in range(args.repeat):
        change_weight(db, 1 if i % 2 == 0 else -1)
        with db.read() as session:  # the phases, on their own
            ctx = live_model(session, DEFAULT_TENANT)
            t0 = time.perf_counter()
            cols = load_event_columns(session, DEFAULT_TENANT)
            t1 = time.perf_counter()
            replay_columns(ctx.book, ctx.policy, cols)
            t2 = time.perf_counter()
        began, cpu = time.perf_counter(), time.process_time()
        with db.write() as session:
            summary = rescore_unit(session, DEFAULT_TENANT)
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        rescores.append(took)
        cpus.append(cpu)
        print(f"new full rescore #{i + 1}: {took:.2f} s (CPU {cpu:.2f} s) = {summary.events / took:,.0f} events/s "
              f"({summary.changed_events:,} events rewritten, {summary.leads:,} leads, {summary.accounts:,} accounts;"
              f" read columns {t1 - t0:.2f} s, replay {t2 - t1:.2f} s, the rest is compare + write + commit)")
    began = time.perf_counter()
    with db.read() as session:
        problems = verify_unit(session, DEFAULT_TENANT)
    print(f"verify-scores: {time.perf_counter() - began:.2f} s, {len(problems)} differences")
    best, median = min(rescores), statistics.median(rescores)
    per_million = median * 1_000_000 / max(total, 1)
    print()
    print("| events | old replay events/s | new rescore (best / median / worst) | new events/s (median) | ratio |")
    print(f"| {total:,} | {old_rate:,.0f} | {best:.2f} / {median:.2f} / {max(rescores):.2f} s | "
          f"{total / median:,.0f} | {total / median / old_rate:.1f}x |")
    print(f"CPU time of the rescore process (best / median): {min(cpus):.2f} / {statistics.median(cpus):.2f} s; "
          f"load average before the runs: {load:.1f} on {os.cpu_count()} cores")
    print(f"target <= 10 s per 1M events: {per_million:.1f} s per 1M (median) -> "
          f"{'met' if per_million <= 10 else 'missed'}")

    worst: list[float] = []
    untils: list[float] = []
    if args.aside_repeat:
        limit = get_settings().inline_rescore_max_events
        logging.basicConfig(format="  %(message)s")
        logging.getLogger("leadvane.publisher").setLevel(logging.INFO)  # the aside's phases
        print()
        print(f"publish aside (inline_rescore_max_events = {limit:,}; this unit has {total:,} events) while a thread "
              "ingests single events, each in its own write transaction:")
        print("| run | ingests during | longest wait before / during | p99 wait before / during | median during | "
              "change transaction | until the swap (live) |")
        print("|---|---|---|---|---|---|---|")
        for i in range(args.aside_repeat):
            r = publish_while_ingesting(db, 1 if (args.repeat + i) % 2 == 0 else -1)
            worst.append(r["max_during_s"])
            untils.append(r["until_live_s"])
            ms = {k: v * 1000 for k, v in r.items()}
            print(f"| #{i + 1} | {r['ingests_during']:,.0f} | "
                  f"{ms['max_before_s']:,.0f} / {ms['max_during_s']:,.0f} ms | "
                  f"{ms['p99_before_s']:,.0f} / {ms['p99_during_s']:,.0f} ms | {ms['median_during_s']:,.1f} ms | "
                  f"{ms['change_s']:,.0f} ms | {r['until_live_s']:.2f} s |")
        until_per_million = statistics.median(untils) * 1_000_000 / max(total, 1)
        print(f"target longest ingest wait <= 1 s: {max(worst):.2f} s -> {'met' if max(worst) <= 1 else 'missed'}; "
              f"until the swap {until_per_million:.1f} s per 1M (median) -> "
              f"{'met' if until_per_million <= 10 else 'missed'}")
        with db.read() as session:
            problems = verify_unit(session, DEFAULT_TENANT)
        print(f"after the aside publishes: verify-scores {len(problems)} differences")

    simulate_runs = time_simulate(db, args.simulate_repeat, days=30) if args.simulate_repeat else []
    db.dispose()
    decay_runs = time_decay(args.decay_leads, args.decay_repeat) if args.decay_leads else {}

    print()
    print("| measure | figure | target |")
    print("|---|---|---|")
    print(f"| old per-event replay (100k sample) | {old_rate:,.0f} events/s | |")
    print(f"| new full rescore, {total:,} events (best / median) | {best:.2f} / {median:.2f} s, "
          f"{total / median:,.0f} events/s, {total / median / old_rate:.1f}x the old | <= 10 s per 1M |")
    if worst:
        print(f"| longest single-event ingest wait while a publish rescores | {max(worst):.2f} s | <= 1 s |")
        print(f"| publish until the new version is live (median, ingest running) | {statistics.median(untils):.1f} s "
              "| |")
    if simulate_runs:
        print(f"| simulate, 30-day window (best / median) | {min(simulate_runs):.2f} / "
              f"{statistics.median(simulate_runs):.2f} s | <= 5 s |")
    for name, values in decay_runs.items():
        print(f"| decay over {args.decay_leads:,} leads, one drop each, {name} (best / median) | "
              f"{min(values):.2f} / {statistics.median(values):.2f} s | <= 10 s |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


# The what-if scenario (also bench/simulate.py's): the primary ruleset's page_visit rule +5 and a new rule, with a
# milestone trigger at 80 so the dry run of firings is part of the timing.
def draft(db: Database) -> dict[str, object]:
    with db.read() as session:
        rule = next(r for r in rules.list_rules(session, DEFAULT_TENANT) if r.event_type == "page_visit"
                    and not r.conditions)
    return {"rules": {"update": [{"rule_id": rule.id, "weight": rule.weight + 5}],
                      "add": [{"event_type": "email_click", "weight": 3}]}}


def ensure_trigger(db: Database, now: datetime) -> None:
    with db.write() as session:
        if not triggers.list_triggers(session, DEFAULT_TENANT, "milestone"):
            hook = "https://hooks.example.com/lv"  # never called: the bench only counts would-be firings
            triggers.create_trigger(session, DEFAULT_TENANT, "milestone", {"score_threshold": 80, "webhook_url": hook},
                                    now, checked=frozenset({hook}))


def time_simulate(db: Database, repeat: int, *, days: int) -> list[float]:
    """services.scoring.simulate over the last `days` days of the unit (bench/simulate.py's draft and trigger)."""
    from services.scoring import simulate

    with db.read() as session:
        newest = session.scalar(select(func.max(models.Event.occurred_at)).where(
            models.Event.unit_id == DEFAULT_TENANT.unit_id))
    now = (newest or _now()).astimezone(UTC)
    ensure_trigger(db, now)
    changes = draft(db)
    walls: list[float] = []
    print()
    for i in range(repeat):
        began = time.perf_counter()
        with db.read() as session:
            result = simulate.simulate(session, DEFAULT_TENANT, changes, days, now)
        walls.append(time.perf_counter() - began)
        print(f"simulate #{i + 1}, {days}-day window: {walls[-1]:.2f} s ({result.events:,} events, "
              f"{result.leads_evaluated:,} leads, {result.leads_changed:,} changed)")
    return walls


def time_decay(leads: int, repeat: int) -> dict[str, list[float]]:
    """The decay job over `leads` inactive leads with one drop due each (bench/decay.py's unit): in one write
    transaction, and as the scheduler's job (planned once, written in short transactions of
    scheduler.jobs.DECAY_SLICE drops)."""
    from bench import decay as decay_bench

    tmp = Path(tempfile.mkdtemp(prefix="leadvane-rescore-decay-"))
    template, work = tmp / "filled.db", tmp / "work.db"
    print()
    print(f"decay: filling {leads:,} inactive leads")
    decay_bench.fill(template, leads)
    runs: dict[str, list[float]] = {"one transaction": [], "scheduler job": []}
    for i in range(repeat):
        for name, step in (("one transaction", decay_bench.new_path), ("scheduler job", decay_bench.job)):
            took, drops, copy_db = decay_bench.timed(template, work, step)
            copy_db.dispose()
            runs[name].append(took)
            print(f"decay #{i + 1} {name}: {took:.2f} s ({drops:,} drops)")
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
