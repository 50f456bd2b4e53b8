#!/usr/bin/env python
"""The research API's speed.

1. `completion_latency`: a real `manage.py serve-api` (with its scheduler and dispatcher) on a fresh SQLite
   database, a webhook receiver on loopback, no enrichment provider. Each research request is timed from sending
   POST /v1/research/contacts to receiving its signed completion webhook (target p99 < 2 s).
2. `contact_search`: 100,000 leads (with accounts, titles, countries, skills, scores and one recent event each)
   bulk-inserted into a fresh database; POST /v1/research/contacts/search's service timed over several queries
   (target < 500 ms), on SQLite and, with --database-url, PostgreSQL.

    python bench/research.py [--requests 200] [--leads 100000] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import Table, text  # noqa: E402

from bench.harness import free_port, fresh_database, manage, pct, server  # noqa: E402
from db import models  # noqa: E402
from db.engine import Database  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from services.integrations.research_search import search_contacts  # noqa: E402
from services.scoring.model import live_model  # noqa: E402
from services.tenancy.tenants import create_unit  # noqa: E402
from tests.notify.receivers import start_http_receiver  # noqa: E402


def completion_latency(requests_total: int = 200, rate: float = 20.0) -> dict[str, float]:
    """Research request -> completion webhook received, through a real serve-api process; prints p50/p99 (ms)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'research.db'}"
        upgrade(url)
        key = manage(url, "create-api-key", "--name", "bench").strip().splitlines()[-1]
        database = Database(url)
        with database.write() as db_session:  # the research rate limit (60 a minute by default) is raised
            db_session.add(models.RateLimitSettings(
                unit_id="unit_default", org_id="org_default", enabled=False, mode="observe", key_by="credential",
                rps=50, burst=100, research_per_minute=100_000, updated_at=datetime.now(UTC)))
        database.dispose()
        receiver = start_http_receiver()
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "LEADVANE_OUTBOUND_ALLOW": "127.0.0.1/32,::1/128"}
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        sent_at: dict[str, float] = {}
        received_at: dict[str, float] = {}
        failed: list[int] = []
        try:
            with server([sys.executable, "manage.py", "serve-api", "--port", str(port)], env, port):
                http = requests.Session()
                for i in range(50):  # some people to find
                    http.post(f"{base}/v1/events", headers=headers, timeout=10, json={
                        "aliases": [{"alias_kind": "email", "raw_value": f"p{i}@acme.io"},
                                    {"alias_kind": "social", "raw_value": f"https://linkedin.com/in/p{i}"}],
                        "event_type": "page_view"}).raise_for_status()

                def watch() -> None:
                    seen = 0
                    while len(received_at) < requests_total:
                        with receiver.lock:
                            fresh = receiver.requests[seen:]
                            seen = len(receiver.requests)
                        stamp = time.perf_counter()
                        for req in fresh:
                            received_at.setdefault(req.json()["data"]["external_id"], stamp)
                        time.sleep(0.002)

                watcher = threading.Thread(target=watch, daemon=True)
                watcher.start()
                local = threading.local()

                def send(i: int) -> None:
                    session = getattr(local, "s", None) or requests.Session()
                    local.s = session
                    ref = f"bench-{i}"
                    sent_at[ref] = time.perf_counter()
                    answer = session.post(f"{base}/v1/research/contacts", headers=headers, timeout=30, json={
                        "profile_url": f"https://www.linkedin.com/in/P{i % 60}/", "external_id": ref,
                        "source": "bench", "webhook_url": receiver.url + "/hook"})
                    if answer.status_code != 201:
                        failed.append(answer.status_code)

                begin = time.perf_counter()
                with ThreadPoolExecutor(max_workers=8) as pool:
                    for i in range(requests_total):
                        delay = begin + i / rate - time.perf_counter()
                        if delay > 0:
                            time.sleep(delay)
                        pool.submit(send, i)
                watcher.join(timeout=60)
        finally:
            receiver.close()
    latencies = [(received_at[k] - sent_at[k]) * 1000 for k in sent_at if k in received_at]
    if failed:
        print(f"  {len(failed)} requests refused: statuses {sorted(set(failed))}")
    figures = {"requests": requests_total, "received": len(latencies),
               "p50_ms": statistics.median(latencies) if latencies else float("nan"),
               "p99_ms": pct(latencies, 99) if latencies else float("nan")}
    print(f"research completion webhook (no provider, SQLite, {rate:g} requests/s): {figures['received']}/"
          f"{requests_total} received, p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms "
          "(target p99 < 2000 ms)")
    return figures


TITLES = ("Engineering Manager", "VP Engineering", "Software Engineer", "Designer", "Head of Sales", "CTO",
          "Account Executive", "Data Scientist", "VP Sales", "Product Manager")
SKILLS = ("Kubernetes", "DevOps", "Python", "Sales", "Figma", "Go", "Terraform", "SQL")
COUNTRIES = ("US", "GB", "DE", "FR", "NL", "ES", "IN", "BR", "CA", "AU")


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _fill(db: Database, leads: int, now: datetime) -> tuple[Any, float]:
    rng = random.Random(7)
    started = time.perf_counter()
    with db.write() as session:
        tenant = create_unit(session, org_name="Bench org", unit_name="research bench", now=now)
        session.flush()
        primary = live_model(session, tenant).primary_ruleset_id
    scope = {"org_id": tenant.org_id, "unit_id": tenant.unit_id}
    accounts = [{**scope, "id": f"acc_{i:06d}", "domain": f"company{i}.com", "name": f"Company {i}",
                 "name_key": f"company {i}", "metadata": {"linkedin_url": f"https://linkedin.com/company/company{i}"},
                 "created_at": now, "updated_at": now, "fit_score": 0, "fit_scores": {}}
                for i in range(2000)]
    accounts.append({**scope, "id": "acc_google", "domain": "google.com", "name": "Google", "name_key": "google",
                     "metadata": {}, "created_at": now, "updated_at": now, "fit_score": 0, "fit_scores": {}})
    with db.write() as session:
        session.execute(_table(models.Account).insert(), accounts)
    chunk = 10_000
    for start in range(0, leads, chunk):
        lead_rows, score_rows, event_rows = [], [], []
        for n in range(start, min(leads, start + chunk)):
            lead_id = f"ld_{n:07d}"
            account = "acc_google" if n % 500 == 0 else f"acc_{n % 2000:06d}"
            lead_rows.append({**scope, "id": lead_id, "account_id": account, "email": f"p{n}@company{n % 2000}.com",
                              "first_name": f"First{n % 997}", "last_name": f"Last{n % 991}",
                              "metadata": {"title": rng.choice(TITLES), "country": rng.choice(COUNTRIES),
                                           "skills": rng.choice(SKILLS)},
                              "created_at": now, "updated_at": now, "fit_score": 0, "fit_scores": {}})
            score_rows.append({**scope, "lead_id": lead_id, "ruleset_id": primary, "score": rng.randrange(0, 500)})
            event_rows.append({**scope, "id": f"ev_{uuid.uuid4().hex}", "lead_id": lead_id, "account_id": account,
                               "event_type": "page_view", "source": "bench", "channel": "web",
                               "occurred_at": now - timedelta(days=rng.randrange(0, 120)), "received_at": now,
                               "metadata": {"topic": rng.choice(SKILLS)}, "score_delta": 1, "explanation": {}})
        with db.write() as session:
            session.execute(_table(models.Lead).insert(), lead_rows)
            session.execute(_table(models.LeadScore).insert(), score_rows)
            session.execute(_table(models.Event).insert(), event_rows)
    with db.write() as session:  # fresh planner statistics, as a database in use has
        session.execute(text("ANALYZE"))
    return tenant, time.perf_counter() - started


QUERIES: dict[str, dict[str, Any]] = {
    "no criteria (top by score)": {},
    "company LinkedIn URL": {"company_linkedin_url": "https://www.linkedin.com/company/google/"},
    "company via profile URL": {"company_linkedin_url": "https://linkedin.com/company/company17"},
    "job titles": {"job_titles": ["VP Engineering", "Engineering Manager"]},
    "name": {"first_name": "First5", "last_name": "Last5"},
    "countries": {"countries": ["DE", "GB"]},
    "keywords (profile + recent events)": {"keywords": ["kubernetes", "terraform"]},
    "titles + countries + keywords": {"job_titles": ["VP"], "countries": ["US"], "keywords": ["devops"]},
}


def contact_search(leads: int = 100_000, database_url: str | None = None, rounds: int = 5) -> dict[str, float]:
    """Contact search over `leads` leads: p50/p99 (ms) per query and overall; prints them."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp, fresh_database(database_url, Path(tmp)) as url:
        upgrade(url)
        db = Database(url)
        tenant, fill_seconds = _fill(db, leads, now)
        dialect = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"contact search, {dialect}: {leads:,} leads generated in {fill_seconds:.1f} s")
        # The least any search answers, in plain SQL: the unit's top 25 leads by score and how many there are.
        baseline: list[float] = []
        with db.read() as session:
            primary = live_model(session, tenant).primary_ruleset_id
            for _ in range(rounds):
                started = time.perf_counter()
                session.execute(text(
                    "SELECT l.id, COALESCE(s.score, 0) AS score, COUNT(*) OVER () FROM leads l "
                    "LEFT JOIN lead_scores s ON s.lead_id = l.id AND s.ruleset_id = :ruleset "
                    "WHERE l.unit_id = :unit ORDER BY score DESC, l.id LIMIT 25"),
                    {"unit": tenant.unit_id, "ruleset": primary}).all()
                baseline.append((time.perf_counter() - started) * 1000)
        print(f"  {'baseline: plain SQL top 25 + total':<38} {'':>12}  p50 {statistics.median(baseline):6.1f} ms")
        every: list[float] = []
        for name, query in QUERIES.items():
            times = []
            for _ in range(rounds):
                with db.read() as session:
                    started = time.perf_counter()
                    found = search_contacts(session, tenant, now=now, **query)
                    times.append((time.perf_counter() - started) * 1000)
            every += times
            print(f"  {name:<38} total {found['meta']['total']:>6}  p50 {statistics.median(times):6.1f} ms  "
                  f"max {max(times):6.1f} ms")
        db.dispose()
    figures = {"p50_ms": statistics.median(every), "p99_ms": pct(every, 99), "baseline_ms": statistics.median(baseline)}
    print(f"  all queries: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms (target < 500 ms); "
          f"p50 / baseline {figures['p50_ms'] / max(figures['baseline_ms'], 0.001):.1f}x")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="also run contact search on this PostgreSQL server")
    args = parser.parse_args()
    completion_latency(args.requests)
    contact_search(args.leads)
    if args.database_url:
        contact_search(args.leads, args.database_url)


if __name__ == "__main__":
    main()
