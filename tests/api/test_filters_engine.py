"""Filters, scopes and the bot switch end to end: a change publishes a version (with a readable summary) whose
rescore holds events back or releases them; ingest quarantines a burst as it arrives; the what-if of a draft filter,
scope, bot switch or surge policy shows exactly what publishing it stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from tests.api.test_fit_config import ok
from tests.conftest import ApiHarness

BASE = "/v1/filters/inorganic"
BOT_AGENT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HUMAN_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def send(api: ApiHarness, email: str, event_type: str, seconds_ago: float, **metadata: Any) -> str:
    at = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")
    body = {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type, "timestamp": at,
            "metadata": metadata}
    return str(ok(api.post("/v1/events", body), 201)["lead_id"])


def score(api: ApiHarness, lead_id: str) -> int:
    return int(ok(api.get(f"/v1/leads/{lead_id}/score"))["score"])


def held(api: ApiHarness, lead_id: str) -> list[tuple[str | None, str | None, int]]:
    """The lead's events in log order: (quarantine_filter_id, quarantine_reason, score_delta)."""
    with api.db.read() as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(models.Event.quarantine_filter_id, models.Event.quarantine_reason, models.Event.score_delta)
            .where(models.Event.unit_id == api.tenant.unit_id, models.Event.lead_id == lead_id)
            .order_by(models.Event.seq)
        )]


def summaries(api: ApiHarness) -> list[str]:
    return [v["summary"] for v in ok(api.get("/v1/scoring/versions"))]


@pytest.fixture
def rules(api: ApiHarness) -> None:
    ok(api.post("/v1/rules", {"event_type": "page_view", "weight": 5}), 201)
    ok(api.post("/v1/rules", {"event_type": "demo_request", "weight": 30}), 201)


@pytest.mark.usefixtures("rules")
def test_a_burst_is_quarantined_at_ingest_and_released_when_its_filter_goes(api: ApiHarness) -> None:
    made = ok(api.post(BASE, {"event_type": "page_view", "count_threshold": 3, "time_window_ms": 60_000}), 201)
    assert "filter 3x page_view in 60000 ms added" in summaries(api)[0]
    ann = ""
    for seconds_ago in (30, 29, 28):  # three page views within a minute: a burst
        ann = send(api, "ann@acme.io", "page_view", seconds_ago)
    bob = send(api, "bob@acme.io", "page_view", 300)
    send(api, "bob@acme.io", "page_view", 100)  # two, minutes apart: organic
    assert score(api, ann) == 0 and score(api, bob) == 10
    reason = "inorganic burst (3+ page_view events within 60000 ms)"
    assert held(api, ann) == [(made["filter_id"], reason, 0)] * 3
    assert held(api, bob) == [(None, None, 5)] * 2
    assert ok(api.get(BASE))[0]["quarantined_count"] == 3

    # A stricter threshold releases the burst (a replay, not a patch).
    changed = ok(api.put(f"{BASE}/{made['filter_id']}", {"count_threshold": 4}))
    assert changed["quarantined_count"] == 0 and score(api, ann) == 15
    assert "filter 4x page_view in 60000 ms: count_threshold 3 → 4" in summaries(api)[0]
    ok(api.put(f"{BASE}/{made['filter_id']}", {"count_threshold": 3, "group_events": True}))
    assert score(api, ann) == 5  # the burst counts as its first event
    assert [h[0] for h in held(api, ann)] == [None, made["filter_id"], made["filter_id"]]

    assert api.delete(f"{BASE}/{made['filter_id']}").status_code == 204
    assert score(api, ann) == 15 and held(api, ann) == [(None, None, 5)] * 3
    assert "removed" in summaries(api)[0]


@pytest.mark.usefixtures("rules")
def test_an_observed_type_scores_nothing_until_activated(api: ApiHarness) -> None:
    lead = send(api, "ann@acme.io", "demo_request", 60)
    send(api, "ann@acme.io", "page_view", 30)
    assert score(api, lead) == 35
    before = len(summaries(api))
    ok(api.put("/v1/settings/event-types/demo_request", {"max_processing_scope": "observe"}))
    assert score(api, lead) == 5
    assert len(summaries(api)) == before + 1 and "event type demo_request" in summaries(api)[0]
    ok(api.put("/v1/settings/event-types/demo_request", {"hidden": True}))  # hiding is no model change
    assert len(summaries(api)) == before + 1
    ok(api.put("/v1/settings/event-types/demo_request", {"max_processing_scope": "decide"}))
    assert score(api, lead) == 35  # decide scores (and fires no trigger)
    ok(api.put("/v1/settings/event-types/demo_request", {"max_processing_scope": "activate"}))
    assert score(api, lead) == 35 and len(summaries(api)) == before + 3


@pytest.mark.usefixtures("rules")
def test_the_bot_switch_holds_crawler_events_back(api: ApiHarness) -> None:
    lead = send(api, "ann@acme.io", "page_view", 60, user_agent=BOT_AGENT)
    send(api, "ann@acme.io", "page_view", 30, user_agent=HUMAN_AGENT)
    assert score(api, lead) == 10
    ok(api.put("/v1/settings/scoring", {"bot_filter_enabled": True}))
    assert "bot_filter_enabled false → true" in summaries(api)[0]
    assert score(api, lead) == 5
    assert held(api, lead) == [("bot_user_agent", "known bot user agent", 0), (None, None, 5)]
    send(api, "ann@acme.io", "page_view", 10, user_agent=BOT_AGENT)  # held back at ingest too
    assert score(api, lead) == 5
    ok(api.put("/v1/settings/scoring", {"bot_filter_enabled": False}))
    assert score(api, lead) == 15


@pytest.mark.usefixtures("rules")
@pytest.mark.parametrize(
    "changes",
    [
        {"filters": {"add": [{"event_type": "page_view", "count_threshold": 3, "time_window_ms": 60_000}]}},
        {"event_types": [{"event_type": "demo_request", "max_processing_scope": "observe"}]},
        {"bot_filter_enabled": True},
        {"surge_policy": {"mode": "custom", "bands": [{"min_events": 2, "multiplier": 2}]}},
    ],
    ids=["filter", "scope", "bot", "surge"],
)
def test_the_preview_of_a_draft_is_what_publishing_it_stores(api: ApiHarness, changes: dict[str, Any]) -> None:
    ann = ""
    for seconds_ago in (50, 40, 30):
        ann = send(api, "ann@acme.io", "page_view", seconds_ago, user_agent=BOT_AGENT)
    send(api, "ann@acme.io", "demo_request", 20)
    bob = send(api, "bob@acme.io", "page_view", 600)
    send(api, "bob@acme.io", "demo_request", 10)
    now = {ann: score(api, ann), bob: score(api, bob)}
    preview = ok(api.post("/v1/scoring/simulate", {"changes": changes}))
    movers = {m["lead_id"]: (m["before"], m["after"]) for m in preview["top_movers"]}
    assert movers and all(before == now[lead] for lead, (before, _after) in movers.items())
    assert all(after != before for before, after in movers.values())
    assert score(api, ann) == now[ann]  # a preview stores nothing
    published = ok(api.post("/v1/scoring/publish", {"changes": changes}))
    assert published["rescored"] is True
    stored = {ann: score(api, ann), bob: score(api, bob)}
    assert {lead: after for lead, (_before, after) in movers.items()} == {
        lead: stored[lead] for lead in movers}
    assert all(stored[lead] == now[lead] for lead in stored if lead not in movers)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"filters": {"add": [{"event_type": "page_view", "count_threshold": 1, "time_window_ms": 10}]}},
         "count_threshold"),
        ({"filters": {"update": [{"filter_id": "if_nope", "count_threshold": 3}]}}, "changes.filters.update[0]"),
        ({"filters": {"remove": ["if_nope"]}}, "changes.filters.remove[0]"),
        ({"event_types": [{"event_type": "a", "max_processing_scope": "all"}]}, "max_processing_scope"),
        ({"event_types": [{"event_type": "DECAY", "max_processing_scope": "observe"}]}, "event_type"),
        ({"bot_filter_enabled": "on"}, "bot_filter_enabled"),
        ({"surge_policy": {"mode": "custom"}}, "changes.surge_policy.bands"),
        ({"surge_policy": {"mode": "custom", "bands": [{"min_events": 0, "multiplier": 2}]}}, "min_events"),
        ({"surge_policy": {"mode": "standard", "multiplier_cap": 4}}, "multiplier_cap"),
    ],
)
def test_bad_draft_parts_are_422_naming_the_field(api: ApiHarness, changes: dict[str, Any], field: str) -> None:
    for path in ("/v1/scoring/simulate", "/v1/scoring/publish"):
        resp = api.post(path, {"changes": changes})
        assert resp.status_code == 422, resp.text
        assert field in resp.json()["error"]["message"], resp.text
