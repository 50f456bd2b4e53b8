#!/usr/bin/env python
"""Analytics speed (issue 11): the Analytics page's data and the /v1/analytics API read the daily counters
(services.insight.daily_counts) instead of scanning the event log.

    python bench/analytics.py                          # a 1,000,000-event unit (about a minute to fill)
    python bench/analytics.py --db data/analytics.db   # keep the filled file ... then --reuse to time it again
    python bench/analytics.py --events 100000 --leads 10000 --repeat 3

The unit is bench/rescore.py's (`bulk_fill`: the demo's rules and levels, 100,000 leads, 2,000 accounts and the
events over 42 days, scored by one rescore); its counters are then rebuilt from the log (`daily_counts.recount`,
what migration 0010 does), since the fill writes the events table by hand. Measured in the same run:

- **page data, cold**: the service calls the Analytics page makes on first render (30-day overview from the
  counters, the last 24 hours, the score histogram, 7-day recent gains, top leads, levels) on a fresh engine
  (new connections: SQLite's page cache empty; the OS file cache stays warm). Baseline: the page's old calls
  (`overview` grouping the log twice for the 30 days: per day/type/channel and per lead; the histogram; the top 10
  of the lead list). Target: < 1 s.
- **API**: each GET /v1/analytics route through the FastAPI app in process (TestClient, an Owner API key): the
  first call on a fresh app and engine, then the median of `--repeat` calls. Baselines: the log scans that would
  answer the same counts (events per type over the whole log for /v1/analytics; per type over 30 days for the
  stats' top events). Target: < 200 ms.

Printed: figures, never assertions (the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.rescore import open_unit, unit_arguments
from core.profile import PROFILE_EVENT_TYPES
from db import models
from db.engine import Database
from services.context import Tenant
from services.insight import analytics, daily_counts
from services.people import leads
from services.scoring import levels
from services.tenancy import api_keys
from services.tenancy.tenants import DEFAULT_TENANT

PAGE_TARGET_S, API_TARGET_S = 1.0, 0.2
ROUTES = ("/v1/analytics", "/v1/analytics/stats", "/v1/analytics/top-leads", "/v1/analytics/recent-gains")


def old_overview(session: Session, tenant: Tenant, *, start: datetime, end: datetime) -> None:
    """The Analytics page's overview before the counters: two grouped scans of the log over the period."""
    ev = models.Event
    in_range = (ev.unit_id == tenant.unit_id, ev.occurred_at >= start, ev.occurred_at < end,
                ev.event_type.not_in(PROFILE_EVENT_TYPES))
    day = daily_counts.utc_day(session, ev.occurred_at).label("day")
    session.execute(
        select(day, ev.event_type, ev.channel, func.count(), func.sum(ev.score_delta))
        .where(*in_range).group_by(day, ev.event_type, ev.channel)
    ).all()
    per_lead = session.execute(
        select(ev.lead_id, func.sum(ev.score_delta), func.count())
        .where(*in_range, ev.lead_id.is_not(None)).group_by(ev.lead_id)
    ).all()
    top = sorted((r for r in per_lead if (r[1] or 0) > 0), key=lambda r: -int(r[1]))[:10]
    session.execute(select(models.Lead.id, models.Lead.email).where(models.Lead.id.in_([r[0] for r in top]))).all()


def page_new(url: str, now: datetime) -> None:
    tenant, start = DEFAULT_TENANT, now - timedelta(days=30)
    with Database(url).read() as session:
        analytics.overview(session, tenant, start=start, end=now)
        analytics.stats(session, tenant, now=now)
        analytics.score_histogram(session, tenant, upper=120, bins=30)
        analytics.recent_gains(session, tenant, now=now, days=7)
        analytics.top_leads(session, tenant, limit=10)
        levels.list_levels(session, tenant)


def page_old(url: str, now: datetime) -> None:
    tenant, start = DEFAULT_TENANT, now - timedelta(days=30)
    with Database(url).read() as session:
        old_overview(session, tenant, start=start, end=now)
        analytics.score_histogram(session, tenant, upper=120, bins=30)
        leads.list_leads(session, tenant, limit=10)
        levels.list_levels(session, tenant)


def log_by_type(url: str, now: datetime, days: int | None) -> None:
    ev = models.Event
    stmt = select(ev.event_type, func.count()).where(ev.unit_id == DEFAULT_TENANT.unit_id).group_by(ev.event_type)
    if days is not None:
        stmt = stmt.where(ev.occurred_at >= now - timedelta(days=days))
    with Database(url).read() as session:
        session.execute(stmt).all()


def timed(fn: Callable[[], Any]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def api_times(url: str, repeat: int) -> dict[str, tuple[float, float]]:
    """Per route: (first call on a fresh app and engine, median of `repeat` further calls), in seconds."""
    from fastapi.testclient import TestClient

    from api.app import create_api

    db = Database(url)
    with db.write() as session:
        key = api_keys.create_api_key(session, DEFAULT_TENANT, name="bench", now=datetime.now(UTC)).secret
    client = TestClient(create_api(Database(url)))
    headers = {"Authorization": f"Bearer {key}"}
    client.get("/healthz")
    out: dict[str, tuple[float, float]] = {}
    for route in ROUTES:
        def call(route: str = route) -> None:
            resp = client.get(route, headers=headers)
            assert resp.status_code == 200, resp.text

        first = timed(call)
        out[route] = (first, statistics.median(timed(call) for _ in range(repeat)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    unit_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measure (default 5)")
    args = parser.parse_args()
    db = open_unit(args, prefix="leadvane-analytics-")
    url = str(db.engine.url)
    with db.write() as session:
        began = time.perf_counter()
        rows = daily_counts.recount(session, DEFAULT_TENANT)
        print(f"counters rebuilt from the log: {rows:,} rows in {time.perf_counter() - began:.2f} s")
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(models.Event)
                               .where(models.Event.unit_id == DEFAULT_TENANT.unit_id))
    print(f"unit: {total:,} events; {args.repeat} runs per measure")
    now = datetime.now(UTC)

    new = [timed(lambda: page_new(url, now)) for _ in range(args.repeat)]
    old = [timed(lambda: page_old(url, now)) for _ in range(args.repeat)]
    api = api_times(url, args.repeat)
    totals_scan = statistics.median(timed(lambda: log_by_type(url, now, None)) for _ in range(args.repeat))
    stats_scan = statistics.median(timed(lambda: log_by_type(url, now, 30)) for _ in range(args.repeat))

    def ms(s: float) -> str:
        return f"{s * 1000:,.0f} ms"

    print()
    print("| measure | counters: best / median | old log-scan path (median) | ratio | target |")
    print("|---|---|---|---|---|")
    med_new, med_old = statistics.median(new), statistics.median(old)
    verdict = "meets" if med_new < PAGE_TARGET_S else "MISSES"
    print(f"| Analytics page data, cold | {ms(min(new))} / {ms(med_new)} | {ms(med_old)} | "
          f"{med_old / med_new:.0f}x faster | < 1 s: {verdict} |")
    baselines = {"/v1/analytics": ("per type over the whole log", totals_scan),
                 "/v1/analytics/stats": ("per type over 30 days of the log", stats_scan)}
    for route, (first, median) in api.items():
        verdict = "meets" if median < API_TARGET_S else "MISSES"
        if route in baselines:
            name, base = baselines[route]
            old, ratio = f"{name}: {ms(base)}", f"{base / median:.0f}x faster"
        else:
            old, ratio = "-", "-"  # no log-scan twin: these read the score tables
        print(f"| GET {route}: first / median | {ms(first)} / {ms(median)} | {old} | {ratio} | "
              f"< 200 ms: {verdict} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
