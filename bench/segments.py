#!/usr/bin/env python
"""Segment count speed (issue 11: "a segment with 5 rules in 2 groups over 100,000 leads answers in under 1 s on
SQLite").

    python bench/segments.py                         # 100,000 leads, 300,000 events, 5 runs of each scenario
    python bench/segments.py --leads 20000 --repeat 3
    python bench/segments.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Builds a fresh database (a temporary SQLite file by default, or a new PostgreSQL database on the given server,
dropped afterwards): one unit with engagement levels, `--leads` leads whose profiles hold plan, country, seats,
industry (1 in 200 with a non-ASCII value, which SQL leaves to the pure evaluator), a primary score, an account for
half of them, and `--events` events (page_view / form_submit with a page in their metadata) over 60 days.

Scenarios, each timed `--repeat` times (a read transaction each, as GET /v1/segments/{id}/count):
- **baseline**: a plain COUNT(*) of the unit's leads (not merged), the floor any count pays;
- **5 rules, 2 groups**: (plan equals "pro" OR country in "US,CA") AND seats gte 50 | score gte 30 AND the lead
  submitted a form on a page containing "pricing" in the last 30 days;
- **text + fallback**: industry contains "soft" OR industry equals "café" (non-ASCII values go to Python);
- **account + level**: account domain ends_with ".io" AND level equals "Hot".

Printed: a table of best / median / worst, spread, the ratio to the baseline median and the count. Figures, never
assertions: the machine is shared.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, func, insert, select, text

from bench.harness import fresh_database
from core import segments as core
from db import models
from db.engine import Database
from db.ids import new_id
from db.migrate import upgrade
from services.context import Tenant
from services.scoring.model import live_model
from services.targeting import segments as targeting
from services.tenancy.tenants import create_unit

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
PLANS = ("free", "pro", "Pro", "team", "enterprise")
COUNTRIES = ("US", "CA", "DE", "FR", "GB", "us", "IN")
INDUSTRIES = ("Software", "software", "Retail", "Finance", "Health", "SaaS software")


def R(rule_type: str, field_name: str, operator: str, value: str | None = None, **extra: Any) -> core.SegmentRule:
    return core.SegmentRule(rule_type=rule_type, field_name=field_name, operator=operator, value=value, **extra)


SCENARIOS: dict[str, list[core.SegmentRule]] = {
    "5 rules, 2 groups": [
        R("lead_metadata", "plan", "equals", "pro", logic_group=0, order_index=0),
        R("lead_metadata", "country", "in", "US,CA", logic_group=0, logic_op="OR", order_index=1),
        R("lead_metadata", "seats", "gte", "50", logic_group=0, logic_op="AND", order_index=2),
        R("score", "", "gte", "30", logic_group=1, order_index=0),
        R("event_metadata", "page", "contains", "pricing", event_type="form_submit", within_days=30, logic_group=1,
          order_index=1),
    ],
    "text + fallback": [
        R("lead_metadata", "industry", "contains", "soft"),
        R("lead_metadata", "industry", "equals", "café", logic_op="OR", order_index=1),
    ],
    "account + level": [
        R("account", "domain", "ends_with", ".io"),
        R("level", "level", "equals", "Hot", order_index=1),
    ],
}


def fill(db: Database, leads: int, events: int, seed: int) -> Tenant:
    rng = random.Random(seed)
    with db.write() as session:
        tenant = create_unit(session, org_name="bench", unit_name="segments", now=NOW)
        primary = live_model(session, tenant).primary_ruleset_id
        for name, low, high in (("Cold", 0, 30), ("Warm", 31, 70), ("Hot", 71, 10**9)):
            session.add(models.EngagementLevel(id=new_id("lvl"), org_id=tenant.org_id, unit_id=tenant.unit_id,
                                               name=name, min_score=low, max_score=high, created_at=NOW,
                                               updated_at=NOW))
        accounts = []
        for n in range(max(1, leads // 20)):
            domain = f"company{n}.{'io' if n % 3 == 0 else 'com'}"
            accounts.append({"id": new_id("acc"), "org_id": tenant.org_id, "unit_id": tenant.unit_id,
                             "domain": domain, "name": f"Company {n}", "name_key": f"company {n}",
                             "metadata": {"employees": rng.randrange(1, 5000)}, "created_at": NOW,
                             "updated_at": NOW, "fit_score": rng.randrange(0, 100), "fit_scores": {}})
        session.execute(insert(cast(Table, models.Account.__table__)), accounts)
        lead_rows, score_rows = [], []
        ids = []
        for n in range(leads):
            lid = new_id("lead")
            ids.append(lid)
            industry = "Café" if n % 200 == 0 else rng.choice(INDUSTRIES)
            lead_rows.append({
                "id": lid, "org_id": tenant.org_id, "unit_id": tenant.unit_id, "email": f"p{n}@example.com",
                "account_id": accounts[n % len(accounts)]["id"] if n % 2 == 0 else None,
                "metadata": {"plan": rng.choice(PLANS), "country": rng.choice(COUNTRIES),
                             "seats": rng.randrange(1, 200), "industry": industry},
                "created_at": NOW, "updated_at": NOW, "fit_score": rng.randrange(0, 100), "fit_scores": {},
            })
            score_rows.append({"lead_id": lid, "ruleset_id": primary, "org_id": tenant.org_id,
                               "unit_id": tenant.unit_id, "score": rng.randrange(0, 120)})
        session.execute(insert(cast(Table, models.Lead.__table__)), lead_rows)
        session.execute(insert(cast(Table, models.LeadScore.__table__)), score_rows)
        batch: list[dict[str, Any]] = []
        for _ in range(events):
            at = NOW - timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
            batch.append({
                "id": new_id("ev"), "org_id": tenant.org_id, "unit_id": tenant.unit_id,
                "lead_id": ids[rng.randrange(leads)], "event_type": rng.choice(("page_view", "form_submit")),
                "channel": "web", "occurred_at": at, "received_at": at,
                "metadata": {"page": rng.choice(("/", "/pricing", "/blog", "/Pricing/enterprise"))},
                "score_delta": 0, "explanation": {},
            })
            if len(batch) == 20_000:
                session.execute(insert(cast(Table, models.Event.__table__)), batch)
                batch = []
        if batch:
            session.execute(insert(cast(Table, models.Event.__table__)), batch)
    if db.engine.dialect.name == "postgresql":
        with db.write() as session:
            session.execute(text("ANALYZE"))  # fresh statistics, as autovacuum keeps them after a bulk load
    return Tenant(tenant.org_id, tenant.unit_id, role="Owner", actor="bench")


def timed(db: Database, work: Callable[[Any], int], repeat: int) -> tuple[list[float], int]:
    runs, result = [], 0
    for _ in range(repeat):
        with db.read() as session:
            start = time.perf_counter()
            result = work(session)
            runs.append(time.perf_counter() - start)
    return runs, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (default: a temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, fresh_database(args.database_url, Path(workdir)) as url:
        upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        tenant = fill(db, args.leads, args.events, args.seed)
        print(f"{db.engine.dialect.name}: {args.leads:,} leads, {args.events:,} events "
              f"(filled in {time.perf_counter() - started:.1f} s), {args.repeat} runs each\n")
        lead = models.Lead

        def baseline(session: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(lead).where(
                lead.unit_id == tenant.unit_id, lead.merged_into.is_(None))) or 0)

        base_runs, total = timed(db, baseline, args.repeat)
        base = statistics.median(base_runs)
        print("| scenario | best / median / worst | spread | x baseline | count (of leads) |")
        print("|---|---|---|---|---|")
        print(f"| baseline COUNT(*) | {min(base_runs):.3f} / {base:.3f} / {max(base_runs):.3f} s | "
              f"{max(base_runs) - min(base_runs):.3f} s | 1.0x | {total:,} |")
        for name, rules in SCENARIOS.items():
            runs, found = timed(db, lambda s, r=rules: targeting.count_rules(s, tenant, r, NOW), args.repeat)
            median = statistics.median(runs)
            print(f"| {name} | {min(runs):.3f} / {median:.3f} / {max(runs):.3f} s | {max(runs) - min(runs):.3f} s | "
                  f"{median / base:.1f}x | {found:,} |")
        db.dispose()


if __name__ == "__main__":
    main()
