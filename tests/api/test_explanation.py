"""GET /v1/leads/{lead_id}/explanation?hours=N: top drivers in a window, rule weights now, what decay took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.scoring import decay
from tests.conftest import ApiHarness


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rule(api: ApiHarness, event_type: str, weight: int, **fields: Any) -> str:
    resp = api.post("/v1/rules", {"event_type": event_type, "weight": weight, **fields})
    assert resp.status_code == 201, resp.text
    rule_id: str = resp.json()["id"]
    return rule_id


def event(api: ApiHarness, email: str, event_type: str, moment: datetime, **metadata: Any) -> str:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                   "event_type": event_type, "timestamp": stamp(moment), "metadata": metadata})
    assert resp.status_code == 201, resp.text
    lead_id: str = resp.json()["lead_id"]
    return lead_id


def explain(api: ApiHarness, lead_id: str, **params: Any) -> dict[str, Any]:
    resp = api.get(f"/v1/leads/{lead_id}/explanation", params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def drivers(body: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(d["rule_id"], d["event_type"], d["points"], d["count"]) for d in body["top_drivers"]]


def test_top_drivers_sum_the_rules_inside_the_window(api: ApiHarness) -> None:
    real_now = datetime.now(UTC)  # the endpoint's window ends at the request's clock
    view = rule(api, "page_view", 5)
    pricing = rule(api, "page_view", 10, conditions=[{"property": "page", "operator": "equals", "value": "/pricing"}])
    demo = rule(api, "demo_request", 50)
    opened = rule(api, "email_open", 2)
    lead = event(api, "ann@acme.com", "demo_request", real_now - timedelta(hours=30))  # outside 24 h
    event(api, "ann@acme.com", "page_view", real_now - timedelta(hours=5), page="/docs")
    event(api, "ann@acme.com", "page_view", real_now - timedelta(hours=4), page="/pricing")
    event(api, "ann@acme.com", "page_view", real_now - timedelta(hours=3), page="/blog")
    event(api, "ann@acme.com", "email_open", real_now - timedelta(hours=2))
    event(api, "ann@acme.com", "newsletter_open", real_now - timedelta(hours=1))  # no rule: no driver
    event(api, "bob@acme.com", "demo_request", real_now - timedelta(hours=1))  # another lead's points

    day = explain(api, lead)
    assert day["range_hours"] == 24
    assert drivers(day) == [(view, "page_view", 15, 3), (pricing, "page_view", 10, 1), (opened, "email_open", 2, 1)]
    assert day["surge_boost"] == [] and day["surge_total"] == 0 and day["surge_event_count"] == 0
    assert day["decay_applied"] == 0

    two_days = explain(api, lead, hours=48)
    assert two_days["range_hours"] == 48
    assert drivers(two_days)[0] == (demo, "demo_request", 50, 1)
    assert len(two_days["top_drivers"]) == 4
    # The window ends at the request's clock, a moment after `real_now`: the page view 3 h before that is outside.
    assert drivers(explain(api, lead, hours=3)) == [(opened, "email_open", 2, 1)]


def test_snapshot_lists_the_primary_rulesets_weights_in_force_now(api: ApiHarness) -> None:
    real_now = datetime.now(UTC)
    view = rule(api, "page_view", 5)
    pricing = rule(api, "page_view", 10, conditions=[{"property": "page", "operator": "equals", "value": "/pricing"}])
    switched_off = rule(api, "webinar", 30, active=False)
    ended = rule(api, "trial", 40, end_at=stamp(real_now - timedelta(days=1)))
    other_set = api.post("/v1/rulesets", {"name": "Product"}).json()["id"]
    rule(api, "signup", 7, ruleset_id=other_set)
    lead = event(api, "cat@acme.com", "page_view", real_now - timedelta(hours=1))

    snapshot = {r["rule_id"]: r for r in explain(api, lead)["snapshot"]}
    assert set(snapshot) == {view, pricing, switched_off, ended}  # the primary ruleset's rules only
    assert snapshot[view] == {"rule_id": view, "event_type": "page_view", "weight": 5, "conditions": None,
                              "active": True}
    assert snapshot[pricing]["conditions"] == [{"property": "page", "operator": "equals", "value": "/pricing"}]
    assert snapshot[switched_off]["active"] is False and snapshot[ended]["active"] is False

    assert api.put(f"/v1/rules/{view}", {"weight": 8}).status_code == 200
    # The snapshot shows the weight now; the drivers are the rescored events' rules.
    after = explain(api, lead)
    assert {r["rule_id"]: r["weight"] for r in after["snapshot"]}[view] == 8
    assert drivers(after) == [(view, "page_view", 8, 1)]


def test_decay_applied_sums_what_decay_took_in_the_window(api: ApiHarness) -> None:
    real_now = datetime.now(UTC)
    rule(api, "demo_request", 50)
    rule(api, "email_open", 10)
    with api.db.write() as session:
        decay.create_decay(session, api.tenant, inactive_for=2, unit="hours", decrease=7, now=real_now)
    lead = event(api, "dan@acme.com", "demo_request", real_now - timedelta(hours=9, minutes=30))
    small = event(api, "eve@acme.com", "email_open", real_now - timedelta(hours=9, minutes=30))
    with api.db.write() as session:  # dan: drops 7.5, 5.5, 3.5 and 1.5 hours ago; eve: 10 -> 3 -> 0, then none
        assert decay.apply_decay(session, api.tenant, real_now).drops == 6

    body = explain(api, lead)
    assert body["decay_applied"] == -28
    assert drivers(body)[0][1:] == ("demo_request", 50, 1)  # decay is not a rule: never a driver
    assert explain(api, lead, hours=6)["decay_applied"] == -21
    assert explain(api, lead, hours=1)["decay_applied"] == 0
    assert api.get(f"/v1/leads/{lead}/score").json()["score"] == 50 - 28
    # What decay really took: 7, then the 3 left above the floor (not 7 + 7).
    assert explain(api, small)["decay_applied"] == -10
    assert api.get(f"/v1/leads/{small}/score").json()["score"] == 0


@pytest.mark.parametrize("hours", ["0", "-1", "8761", "abc", "1.5"])
def test_hours_out_of_range_is_refused_naming_hours(api: ApiHarness, hours: str) -> None:
    lead = event(api, "fay@acme.com", "page_view", datetime.now(UTC) - timedelta(hours=1))
    resp = api.get(f"/v1/leads/{lead}/explanation", params={"hours": hours})
    assert resp.status_code == 422
    assert "hours" in resp.json()["error"]["message"]


def test_explanation_is_tenant_scoped(api: ApiHarness, other_api: ApiHarness) -> None:
    lead = event(api, "gus@acme.com", "page_view", datetime.now(UTC) - timedelta(hours=1))
    foreign = other_api.get(f"/v1/leads/{lead}/explanation")
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    assert api.get("/v1/leads/ld_missing/explanation").status_code == 404
    assert explain(api, lead, hours=8760)["range_hours"] == 8760
