"""What-if over the API: POST /v1/scoring/simulate answers without storing anything; POST /v1/scoring/publish
publishes the same draft as one version, and the stored scores are the simulation's `after`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db import models
from services.scoring import publisher
from settings import get_settings
from tests.api.test_roles import with_key
from tests.conftest import ApiHarness
from tests.db.test_publish_aside import hold_unit, let_go


def send(api: ApiHarness, email: str, event_type: str, days_ago: float) -> str:
    at = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                   "event_type": event_type, "timestamp": at})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["lead_id"])


@pytest.fixture
def unit(api: ApiHarness) -> dict[str, Any]:
    demo = api.post("/v1/rules", {"event_type": "demo_request", "weight": 30}).json()
    view = api.post("/v1/rules", {"event_type": "page_view", "weight": 5}).json()
    for name, low, high in (("Cold", 0, 29), ("Warm", 30, 79), ("Hot", 80, 100_000)):
        assert api.post("/v1/levels/engagement", {"name": name, "min_score": low, "max_score": high}).status_code == 201
    leads = {
        "ann": send(api, "ann@acme.io", "demo_request", 40),
        "bob": send(api, "bob@acme.io", "page_view", 3),
    }
    send(api, "ann@acme.io", "demo_request", 2)
    send(api, "bob@acme.io", "demo_request", 1)
    return {"demo": demo["id"], "view": view["id"], **leads}


def stored(api: ApiHarness) -> tuple[Any, ...]:
    with api.db.read() as session:
        unit_id = api.tenant.unit_id
        return (
            sorted(session.execute(select(models.LeadScore.lead_id, models.LeadScore.ruleset_id,
                                          models.LeadScore.score).where(models.LeadScore.unit_id == unit_id))),
            sorted((s, repr(e)) for s, e in session.execute(
                select(models.Event.seq, models.Event.explanation).where(models.Event.unit_id == unit_id))),
            session.scalar(select(func.count()).select_from(models.ScoringVersion).where(
                models.ScoringVersion.unit_id == unit_id)),
        )


def test_simulate_then_publish(api: ApiHarness, unit: dict[str, Any]) -> None:
    changes = {"rules": {"update": [{"rule_id": unit["demo"], "weight": 50}], "remove": [unit["view"]]}}
    before = stored(api)
    resp = api.post("/v1/scoring/simulate", {"changes": changes})
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert stored(api) == before  # simulate never writes
    assert result["leads_evaluated"] == 2 and result["leads_changed"] == 2 and result["since"] is None
    movers = {m["email"]: (m["before"], m["after"]) for m in result["top_movers"]}
    assert movers == {"ann@acme.io": (60, 100), "bob@acme.io": (35, 50)}
    assert result["level_changes"] == [{"from": "Warm", "to": "Hot", "count": 1}]
    assert [(b["min"], b["max"]) for b in result["distribution_before"]["bins"]] == [
        (b["min"], b["max"]) for b in result["distribution_after"]["bins"]]
    assert result["trigger_firings"] == {}

    published = api.post("/v1/scoring/publish", {"changes": changes, "summary": "demo requests matter more"})
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["summary"] == "demo requests matter more" and body["rescored"] is True and body["pending"] is False
    assert body["version"] == stored(api)[2] and body["published_at"] is not None
    scores = {lead: api.get(f"/v1/leads/{lead}/score").json() for lead in (unit["ann"], unit["bob"])}
    assert {lead: s["score"] for lead, s in scores.items()} == {unit["ann"]: 100, unit["bob"]: 50}
    assert [r["event_type"] for r in api.get("/v1/rules").json()] == ["demo_request"]
    # The same draft again changes nothing: no new version.
    again = api.post("/v1/scoring/publish", {"changes": {"rules": {"update": [{"rule_id": unit["demo"],
                                                                                "weight": 50}]}}}).json()
    assert again == {"version": body["version"], "published_at": None, "summary": "no changes", "rescored": False,
                     "pending": False}


def test_a_window_counts_only_recent_events(api: ApiHarness, unit: dict[str, Any]) -> None:
    resp = api.post("/v1/scoring/simulate", {"changes": {"rules": {"update": [{"rule_id": unit["demo"],
                                                                                  "weight": 50}]}}, "days": 7})
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["events"] == 3 and result["since"].endswith("Z")
    movers = {m["email"]: (m["before"], m["after"]) for m in result["top_movers"]}
    assert movers == {"ann@acme.io": (30, 50), "bob@acme.io": (35, 55)}


def test_levels_in_a_draft(api: ApiHarness, unit: dict[str, Any]) -> None:
    levels = api.get("/v1/levels/engagement").json()
    draft = [{"id": lv["id"], "name": lv["name"], "min_score": lv["min_score"], "max_score": lv["max_score"]}
             for lv in levels]
    draft[1]["max_score"], draft[2]["min_score"] = 49, 50
    result = api.post("/v1/scoring/simulate", {"changes": {"levels": draft}}).json()
    assert result["level_changes"] == [{"from": "Warm", "to": "Hot", "count": 1}] and result["leads_changed"] == 0
    published = api.post("/v1/scoring/publish", {"changes": {"levels": draft}}).json()
    assert published["rescored"] is False
    assert [lv["min_score"] for lv in api.get("/v1/levels/engagement").json()] == [0, 30, 50]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rules": {"add": [{"event_type": "x", "weight": 2_000_000}]}}, "changes.rules.add[0].weight"),
        ({"rules": {"add": [{"event_type": "x", "weight": 1, "rule_id": "rl_mine"}]}}, "changes.rules.add[0].rule_id"),
        ({"rules": {"update": [{"rule_id": "rl_unknown", "weight": 1}]}}, "changes.rules.update[0].rule_id"),
        ({"rules": {"remove": ["rl_unknown"]}}, "changes.rules.remove[0]"),
        ({"levels": [{"name": "Cold", "min_score": 0, "max_score": 10},
                     {"name": "Hot", "min_score": 5, "max_score": 20}]}, "changes.levels[1].min_score"),
    ],
)
def test_problems_are_422_naming_the_field(
    api: ApiHarness, unit: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    before = stored(api)
    for path in ("/v1/scoring/simulate", "/v1/scoring/publish"):
        resp = api.post(path, {"changes": changes})
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"]["message"].startswith(f"{field}:"), resp.text
    assert stored(api) == before


def test_days_must_be_a_positive_whole_number(api: ApiHarness) -> None:
    for days in (0, -1, 1.5, "7"):
        assert api.post("/v1/scoring/simulate", {"days": days}).status_code == 422


def test_a_viewer_may_not_simulate_or_publish(api: ApiHarness, unit: dict[str, Any]) -> None:
    viewer = with_key(api, "Viewer")
    before = stored(api)
    for path in ("/v1/scoring/simulate", "/v1/scoring/publish"):
        resp = viewer.post(path, {"changes": {"rules": {"remove": [unit["demo"]]}}})
        assert resp.status_code == 403, resp.text
    assert stored(api) == before


def test_another_units_rule_is_unknown(api: ApiHarness, other_api: ApiHarness, unit: dict[str, Any]) -> None:
    resp = other_api.post("/v1/scoring/simulate", {"changes": {"rules": {"update": [{"rule_id": unit["demo"],
                                                                                        "weight": 99}]}}})
    assert resp.status_code == 422 and "changes.rules.update[0].rule_id" in resp.text
    resp = other_api.post("/v1/scoring/publish", {"changes": {"rules": {"remove": [unit["demo"]]}}})
    assert resp.status_code == 422
    assert [r["id"] for r in api.get("/v1/rules").json() if r["id"] == unit["demo"]] == [unit["demo"]]


def test_a_large_unit_publishes_aside_and_says_so(
    api: ApiHarness, unit: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above inline_rescore_max_events the answer comes before the rescore: `pending`, the old scores and the old
    version live, until the aside rescore swaps the new scores in (then the versions list marks it live)."""
    monkeypatch.setattr(get_settings(), "inline_rescore_max_events", 0)
    before = {lead: api.get(f"/v1/leads/{lead}/score").json()["score"] for lead in (unit["ann"], unit["bob"])}
    hold_unit(api.db, api.tenant, "test")  # the background worker leaves the unit alone until let go
    try:
        body = api.post("/v1/scoring/publish", {"changes": {"rules": {"update": [
            {"rule_id": unit["demo"], "weight": 50}]}}}).json()
        assert body["pending"] is True and body["rescored"] is False
        assert {lead: api.get(f"/v1/leads/{lead}/score").json()["score"] for lead in before} == before
        newest = api.get("/v1/scoring/versions").json()[0]
        assert newest["version"] == body["version"] and newest["live"] is False
    finally:
        let_go(api.db, api.tenant, "test")
    publisher.settle(api.db, api.tenant)
    assert api.get("/v1/scoring/versions").json()[0]["live"] is True
    assert api.get(f"/v1/leads/{unit['ann']}/score").json()["score"] == 100
