"""Surge scoring end to end, through ingest and the engine: a unit's surge policy boosts a lead's quick run of events
(Standard: x1.25 from the 3rd event of a session, x1.5 from the 5th), turning it on or off or changing the session
timeout rescores the stored scores, and every read shows the boost: the lead explanation's surge fields, the OU
surge metrics and the account's `surging`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from db import models
from tests.api.test_fit_config import ok
from tests.conftest import ApiHarness, add_rule, enable_abm

POLICY = "/v1/settings/ou/surge-policy"
WEIGHT = 10
# 10, 10, then 10 + floor(10 x 0.25) = 12 twice, then 10 + floor(10 x 0.5) = 15.
BOOSTED = [10, 10, 12, 12, 15]


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_of_events(api: ApiHarness, email: str, start: datetime, gap: timedelta, n: int = 5) -> list[dict[str, Any]]:
    return [
        dict(ok(api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                        "event_type": "page_view", "timestamp": (start + gap * i).isoformat()}), 201))
        for i in range(n)
    ]


def stored(api: ApiHarness, lead_id: str) -> list[tuple[int, int | None]]:
    """(score_delta, surge_milli) of the lead's events, in time order."""
    e = models.Event
    with api.db.read() as session:
        rows = session.execute(
            select(e.score_delta, e.surge_milli).where(e.lead_id == lead_id).order_by(e.occurred_at, e.seq)
        ).all()
    return [(int(d), m) for d, m in rows]


def lead_score(api: ApiHarness, lead_id: str) -> int:
    return int(ok(api.get(f"/v1/leads/{lead_id}"))["lead"]["score"])


def test_five_quick_events_under_the_standard_policy_score_more(api: ApiHarness) -> None:
    add_rule(api, "page_view", WEIGHT)
    ok(api.put(POLICY, {"mode": "standard"}))
    # Ten past an hour, two hours ago: the five minutes of events fall in one hourly bucket whatever the clock says.
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=10, second=0, microsecond=0)
    events = run_of_events(api, "ann@acme.com", start, timedelta(minutes=1))
    lead_id = events[0]["lead_id"]
    assert [e["score"] for e in events] == [sum(BOOSTED[: i + 1]) for i in range(5)]
    assert [d for d, _ in stored(api, lead_id)] == BOOSTED
    assert [m for _, m in stored(api, lead_id)][2:] == [1250, 1250, 1500]

    explanation = ok(api.get(f"/v1/leads/{lead_id}/explanation"))
    assert explanation["surge_event_count"] == 3 and explanation["surge_total"] == 2 + 2 + 5
    assert [(b["event_id"], b["multiplier"], b["boost"]) for b in explanation["surge_boost"]] == [
        (events[2]["event"]["id"], 1.25, 2), (events[3]["event"]["id"], 1.25, 2), (events[4]["event"]["id"], 1.5, 5),
    ]
    hour = start.replace(minute=0, second=0, microsecond=0)
    metrics = ok(api.get(f"/v1/ous/{api.tenant.unit_id}/surge", params={
        "start": z(hour), "end": z(hour + timedelta(hours=2)), "interval": "1h"}))
    assert metrics["totals"] == {"surge_events": 0, "leads": 1, "boosted_events": 3, "boost_points": 9}
    assert metrics["peak"]["count"] == 3


def test_turning_the_policy_on_and_off_rescores_the_lead(api: ApiHarness) -> None:
    add_rule(api, "page_view", WEIGHT)
    events = run_of_events(api, "ann@acme.com", datetime.now(UTC) - timedelta(hours=2), timedelta(minutes=1))
    lead_id = events[0]["lead_id"]
    assert lead_score(api, lead_id) == 5 * WEIGHT  # no policy: surge is off
    versions = len(ok(api.get("/v1/scoring/versions")))
    ok(api.put(POLICY, {"mode": "standard"}))
    assert lead_score(api, lead_id) == sum(BOOSTED)
    newest = ok(api.get("/v1/scoring/versions"))
    assert len(newest) > versions and "surge" in str(newest[0]["summary"])
    ok(api.put(POLICY, {"mode": "off"}))
    assert lead_score(api, lead_id) == 5 * WEIGHT
    assert all(m is None or m <= 1000 for _, m in stored(api, lead_id))


def test_a_pause_longer_than_the_idle_reset_or_the_session_timeout_starts_a_new_session(api: ApiHarness) -> None:
    add_rule(api, "page_view", WEIGHT)
    ok(api.put(POLICY, {"mode": "standard", "idle_reset_seconds": 600}))
    slow = run_of_events(api, "slow@acme.com", datetime.now(UTC) - timedelta(hours=3), timedelta(minutes=11))
    assert lead_score(api, slow[0]["lead_id"]) == 5 * WEIGHT  # 11 minutes apart: every event opens a session
    quick = run_of_events(api, "quick@acme.com", datetime.now(UTC) - timedelta(hours=2), timedelta(minutes=2))
    assert lead_score(api, quick[0]["lead_id"]) == sum(BOOSTED)
    # The scoring setting's session timeout (1 minute) is shorter than the idle reset now: no more sessions.
    ok(api.put("/v1/settings/scoring", {"session_timeout_minutes": 1}))
    assert lead_score(api, quick[0]["lead_id"]) == 5 * WEIGHT
    ok(api.put("/v1/settings/scoring", {"session_timeout_minutes": 30}))
    assert lead_score(api, quick[0]["lead_id"]) == sum(BOOSTED)


def test_a_lead_boosted_today_makes_its_account_surge(api: ApiHarness) -> None:
    enable_abm(api)
    add_rule(api, "page_view", WEIGHT)
    ok(api.put(POLICY, {"mode": "gentle"}))
    run_of_events(api, "ann@acme.com", datetime.now(UTC) - timedelta(hours=1), timedelta(minutes=1), n=3)
    run_of_events(api, "bob@globex.com", datetime.now(UTC) - timedelta(hours=1), timedelta(minutes=40), n=3)
    rows = ok(api.get("/v1/accounts"))["accounts"]
    assert {r["domain"]: r["surging"] for r in rows} == {"acme.com": True, "globex.com": False}
