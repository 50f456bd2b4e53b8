"""GET /v1/analytics, /stats, /top-leads and /recent-gains: counts from the daily counters, scores from the lead
scores, gains from the events' deltas; each unit sees only its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import ApiHarness, add_rule


def send(api: ApiHarness, email: str, event_type: str, at: datetime, **metadata: object) -> str:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type,
                                   "timestamp": at.isoformat(), "metadata": metadata})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["lead_id"])


def test_analytics_totals_stats_top_leads_and_gains(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    add_rule(api, "page_visit", 5)
    now = datetime.now(UTC)
    old = now - timedelta(days=20)
    ann = send(api, "ann@acme.io", "demo_request", old)  # 30 points, long ago
    send(api, "ann@acme.io", "page_visit", now - timedelta(hours=2))
    bob = send(api, "bob@beta.io", "page_visit", now - timedelta(days=3))
    send(api, "bob@beta.io", "page_visit", now - timedelta(hours=1))
    send(api, "bob@beta.io", "email_open", now - timedelta(hours=3), channel="email")
    cid = send(api, "cid@gamma.io", "demo_request", now - timedelta(days=2))
    send(other_api, "zed@other.io", "demo_request", now - timedelta(hours=1))

    body = api.get("/v1/analytics").json()
    assert body["by_type"] == {"page_visit": 3, "demo_request": 2, "email_open": 1}
    totals = body["totals"]
    assert (totals["events"], totals["event_types"], totals["channels"], totals["leads"]) == (6, 3, 2, 3)
    newest = now - timedelta(hours=1)  # bob's last page visit
    assert totals["first_day"] == old.date().isoformat() and totals["last_day"] == newest.date().isoformat()

    stats = api.get("/v1/analytics/stats").json()
    assert stats["last_24h"] == {"events": 3, "active_leads": 2, "points": 10}
    assert stats["top_events"][0] == {"event_type": "page_visit", "events": 3}
    assert {t["event_type"] for t in api.get("/v1/analytics/stats", params={"days": 7}).json()["top_events"]} == {
        "page_visit", "demo_request", "email_open"}  # ann's old demo request is outside the 7 days
    assert api.get("/v1/analytics/stats", params={"days": 7}).json()["top_events"][1] == {
        "event_type": "demo_request", "events": 1}

    top = api.get("/v1/analytics/top-leads").json()
    assert [(r["id"], r["score"]) for r in top] == [(ann, 35), (cid, 30), (bob, 10)]
    assert top[0]["email"] == "ann@acme.io" and "level" in top[0] and "name" in top[0]
    assert len(api.get("/v1/analytics/top-leads", params={"limit": 1}).json()) == 1

    gains = api.get("/v1/analytics/recent-gains").json()  # last 7 days: ann's old 30 does not count
    assert [(g["id"], g["gained"], g["events"]) for g in gains] == [(cid, 30, 1), (bob, 10, 3), (ann, 5, 1)]
    assert next(g["id"] for g in api.get("/v1/analytics/recent-gains", params={"days": 30}).json()) == ann

    other = other_api.get("/v1/analytics").json()
    assert other["totals"]["events"] == 1 and other["by_type"] == {"demo_request": 1}
    assert all(r["id"] not in (ann, bob, cid) for r in other_api.get("/v1/analytics/top-leads").json())
    assert api.get("/v1/analytics/recent-gains", params={"days": 0}).status_code == 422
