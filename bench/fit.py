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

- **fit**: `--fit-leads` (100,000) leads with generated profiles (title, seniority, country, employees, industry,
  ...) and a primary profile ruleset of 20 rules of every condition kind; a change of one rule's weight that
  matches most profiles, published through the fit configuration service (`fit_config.update_fit_rule`: a new
  scoring version, `publish`, `rescore_fit` writing every moved fit), one write transaction, commit included.
  Baseline in the same run: reading those leads' profiles and stored fit (the rescore's own reads). Target <= 5 s.

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

import orjson
from sqlalchemy import Table, func, select, text

from bench.rescore import open_unit, unit_arguments
from db import models
from db.engine import Database
from db.ids import new_id
from services.people import erasure
from services.people.leads import score_as_of
from services.people.merge import merge_leads
from services.scoring import fit_config
from services.scoring.rescore import rescore_leads
from services.tenancy.tenants import DEFAULT_TENANT

TARGETS = {"merge": 2.0, "erasure": 2.0, "fit": 5.0}


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


def merge_scenario(db: Database, *, repeat: int, lead_events: int, **_: object) -> Figures:
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


def erasure_scenario(db: Database, *, repeat: int, lead_events: int, **_: object) -> Figures:
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


TITLES = ("VP Sales", "Head of Marketing", "CTO", "Software Engineer", "Student", "Sales Intern", "Founder & CEO",
          "Director of Operations", "Account Executive", "vp engineering")
COUNTRIES = ("DE", "AT", "CH", "FR", "US", "GB", "NL", "ES", "IT", "PL")
INDUSTRIES = ("SaaS", "Fintech", "Education", "Retail", "Healthcare", "Manufacturing", "Media")
FIT_RULES: tuple[tuple[str, str, str, int], ...] = (  # property, condition, comparison value, weight: 20 rules
    ("title", "contains", "vp", 20), ("title", "contains", "head", 15), ("title", "starts_with", "cto", 20),
    ("title", "contains", "intern", -20), ("title", "equals", "student", -30), ("seniority", "in", "exec,director", 10),
    ("country", "in", "DE,AT,CH", 10), ("country", "not_in", "US,GB", 2), ("employees", "gte", "200", 15),
    ("employees", "lt", "10", -10), ("employees", "gt", "5000", 5), ("industry", "equals", "saas", 10),
    ("industry", "not_equals", "education", 3), ("email", "ends_with", "@gmail.com", -15),
    ("email", "not_contains", "test", 1), ("phone", "exists", "", 5), ("linkedin", "not_exists", "", -2),
    ("revenue", "lte", "1000000", -5), ("plan", "equals", "enterprise", 12), ("tech", "contains", "salesforce", 8),
)


def add_profiled_leads(db: Database, n_leads: int, rng: random.Random) -> list[str]:
    """`n_leads` leads with generated profiles (no events: fit reads profiles only)."""
    tenant = DEFAULT_TENANT
    stamp = _stamp(_now())
    ids = [new_id("ld") for _ in range(n_leads)]
    rows = []
    for ld in ids:
        profile = {
            "title": rng.choice(TITLES), "seniority": rng.choice(("exec", "director", "manager", "ic")),
            "country": rng.choice(COUNTRIES), "employees": rng.choice((3, 8, 40, 250, 900, 12000)),
            "industry": rng.choice(INDUSTRIES), "email": f"{ld}@{rng.choice(('gmail.com', 'acme.io', 'corp.de'))}",
            "plan": rng.choice(("free", "pro", "enterprise")), "revenue": rng.choice((50_000, 2_000_000, 90_000_000)),
        }
        if rng.random() < 0.5:
            profile["phone"] = "+4930123456"
        if rng.random() < 0.3:
            profile["tech"] = rng.choice(("Salesforce, Slack", "HubSpot", "Pipedrive"))
        rows.append((ld, tenant.org_id, tenant.unit_id, profile["email"], orjson.dumps(profile).decode(), stamp, stamp))
    with db.write() as session:
        session.connection().exec_driver_sql(
            "INSERT INTO leads (id, org_id, unit_id, email, metadata, created_at, updated_at, fit_score, fit_scores) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, '{}')",
            rows,
        )
    return ids


def fit_scenario(db: Database, *, repeat: int, fit_leads: int, **_: object) -> Figures:
    """Publish a fit rule weight change over `fit_leads` profiled leads, `repeat` times (the weight goes up and down,
    so every run moves the fit of every lead the rule matches)."""
    rng = random.Random(11)
    add_profiled_leads(db, fit_leads, rng)
    with db.write() as session:
        ruleset = fit_config.create_fit_ruleset(session, DEFAULT_TENANT, "profile", name=f"Bench ICP {new_id('x')}",
                                                is_primary=True, now=_now())
    rule_ids = []
    for order, (prop, condition, value, weight) in enumerate(FIT_RULES):
        with db.write() as session:  # the first publishes score every lead once (untimed)
            rule_ids.append(fit_config.create_fit_rule(
                session, DEFAULT_TENANT, "profile", ruleset["id"], property=prop, condition=condition,
                comparison_value=value, weight=weight, ui_order=order, now=_now(),
            )["id"])
    moved_rule = rule_ids[7]  # country not_in US,GB: matches about 80% of the profiles
    runs, baseline = [], []
    for i in range(repeat):
        with db.read() as session:
            began = time.perf_counter()
            read = session.execute(select(models.Lead.id, models.Lead.metadata_, models.Lead.fit_score,
                                          models.Lead.fit_scores).where(models.Lead.unit_id == DEFAULT_TENANT.unit_id)
                                   ).all()
            baseline.append(time.perf_counter() - began)
        began = time.perf_counter()
        with db.write() as session:
            fit_config.update_fit_rule(session, DEFAULT_TENANT, "profile", ruleset["id"], moved_rule,
                                       fields={"weight": 2 + (i % 2 == 0)}, now=_now())
        took = time.perf_counter() - began
        runs.append(took)
        print(f"  fit #{i + 1}: {took:.3f} s over {len(read):,} leads; reading their profiles {baseline[-1]:.3f} s",
              flush=True)
    return Figures(f"fit rescore of {fit_leads:,} leads, 20 rules", runs, "read the profiles", baseline,
                   TARGETS["fit"])


SCENARIOS: dict[str, Callable[..., Figures]] = {
    "merge": merge_scenario, "erasure": erasure_scenario, "fit": fit_scenario,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit_arguments(parser)
    parser.set_defaults(events=100_000, leads=5_000, accounts=200)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each scenario (default 5)")
    parser.add_argument("--lead-events", type=int, default=10_000, help="events per merged / erased lead")
    parser.add_argument("--stream-batches", type=int, default=5_000, help="live-stream batches in the buffer")
    parser.add_argument("--fit-leads", type=int, default=100_000, help="profiled leads for the fit rescore")
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
        figures.append(SCENARIOS[name](db, repeat=args.repeat, lead_events=args.lead_events,
                                       fit_leads=args.fit_leads))
    print()
    print("| scenario | best / median / worst | spread | baseline (median) | ratio | target |")
    print("|---|---|---|---|---|---|")
    for f in figures:
        print(f.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
