"""The Analytics screen's figures: per-day counts by type and channel (from the daily counters), top types, recent
gains, the score spread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.engine import Database
from services.context import Tenant
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.insight import analytics
from services.scoring.rules import create_rule


def _event(kind: str, email: str, when: datetime, **props: object) -> NewEvent:
    return NewEvent(kind, when, dict(props), person=PersonRef(aliases=[AliasInput("email", email)]))


def test_overview_counts_per_day_and_ranks_gains(db: Database, tenant: Tenant, now: datetime) -> None:
    day1, day2 = datetime(2026, 10, 1, 23, 30, tzinfo=UTC), datetime(2026, 10, 2, 0, 30, tzinfo=UTC)
    with db.write() as session:
        create_rule(session, tenant, {"event_type": "demo_request", "weight": 30}, now=now)
        create_rule(session, tenant, {"event_type": "page_visit", "weight": 1}, now=now)
        ingest(session, tenant, [
            _event("page_visit", "a@x.com", day1, page="/"), _event("page_visit", "b@x.com", day2, page="/"),
            _event("demo_request", "b@x.com", day2), _event("email_open", "a@x.com", day2),
            _event("page_visit", "a@x.com", day2 + timedelta(days=30), page="/"),  # outside the period
        ], now)
    with db.read() as session:
        got = analytics.overview(session, tenant, start=datetime(2026, 10, 1, tzinfo=UTC),
                                 end=datetime(2026, 10, 3, tzinfo=UTC))
        spread = analytics.score_distribution(session, tenant, bins=5)
        gains = analytics.recent_gains(session, tenant, now=day2 + timedelta(days=1), days=7)
    assert got["totals"] == {"events": 4}
    assert {(r["day"], r["event_type"], r["events"]) for r in got["by_type"]} == {
        ("2026-10-01", "page_visit", 1), ("2026-10-02", "page_visit", 1), ("2026-10-02", "demo_request", 1),
        ("2026-10-02", "email_open", 1),
    }
    assert sum(r["events"] for r in got["by_channel"]) == 4
    assert got["top_types"][0] == {"event_type": "page_visit", "events": 2}
    assert [(g["email"], g["gained"]) for g in gains] == [("b@x.com", 31), ("a@x.com", 1)]
    assert sum(b["leads"] for b in spread) == 2 and spread[0]["low"] == 2 and spread[-1]["high"] >= 31


def test_levels_histogram_clips_outliers_into_one_count(db: Database, tenant: Tenant, now: datetime) -> None:
    when = now - timedelta(days=1)
    with db.write() as session:
        create_rule(session, tenant, {"event_type": "demo_request", "weight": 30}, now=now)
        ingest(session, tenant, [_event("demo_request", "a@x.com", when)]  # 30
               + [_event("demo_request", "b@x.com", when) for _ in range(40)]  # 1200: an outlier
               + [_event("email_open", "c@x.com", when)], now)  # 0 (no rule)
    with db.read() as session:
        got = analytics.score_histogram(session, tenant, upper=120, bins=12)
    assert got["above"] == 1 and got["max"] == 1200
    assert got["buckets"][0]["low"] == 0 and got["buckets"][-1]["high"] == 119 and len(got["buckets"]) == 12
    assert [(b["low"], b["leads"]) for b in got["buckets"] if b["leads"]] == [(0, 1), (30, 1)]
