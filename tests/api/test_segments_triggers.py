"""Triggers restricted to a segment and to profile / lead attribute filters: they fire for leads that pass and not
for the others; the filters are validated and returned in trigger reads."""

from __future__ import annotations

from typing import Any

from tests.api.test_fit_config import error, ok
from tests.api.test_segments_api import segment
from tests.conftest import ApiHarness, add_rule


def event(api: ApiHarness, email: str, event_type: str) -> str:
    body = {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type}
    return str(ok(api.post("/v1/events", body), 201)["lead_id"])


def person(api: ApiHarness, email: str, **profile: Any) -> str:
    lead_id = event(api, email, "page_view")
    ok(api.client.patch(f"/v1/leads/{lead_id}/metadata", json=profile, headers=api.headers))
    return lead_id


def fired_for(api: ApiHarness, trigger_id: str) -> set[str]:
    rows = ok(api.get("/v1/triggers/milestones/events", params={"trigger_id": trigger_id}))
    return {r["lead_id"] for r in rows}


def test_a_milestone_restricted_to_a_segment_fires_for_members_only(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 60)
    pro = segment(api, "Pro", {"rule_type": "lead_metadata", "field_name": "plan", "operator": "equals",
                               "value": "pro"})
    ann = person(api, "ann@acme.com", plan="Pro")
    bob = person(api, "bob@acme.com", plan="free")
    cy = person(api, "cy@other.io", plan="pro", country="US")
    only_pro = ok(api.post("/v1/triggers/milestones", {"score_threshold": 50, "segment_id": pro}), 201)
    pro_at_acme = ok(api.post("/v1/triggers/milestones", {
        "score_threshold": 50, "segment_id": pro,
        "lead_attribute_filters": [{"field_name": "email", "operator": "ends_with", "value": "@ACME.com"}],
    }), 201)
    us = ok(api.post("/v1/triggers/milestones", {
        "score_threshold": 50, "profile_filters": [{"field_name": "country", "operator": "in", "value": "us,ca"}],
    }), 201)
    anyone = ok(api.post("/v1/triggers/milestones", {"score_threshold": 50}), 201)
    for email in ("ann@acme.com", "bob@acme.com", "cy@other.io"):
        event(api, email, "demo_request")
    assert fired_for(api, only_pro["trigger_id"]) == {ann, cy}
    assert fired_for(api, pro_at_acme["trigger_id"]) == {ann}
    assert fired_for(api, us["trigger_id"]) == {cy}
    assert fired_for(api, anyone["trigger_id"]) == {ann, bob, cy}


def test_a_restricted_milestone_simulates_for_members_only(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 60)
    pro = segment(api, "Pro", {"rule_type": "lead_metadata", "field_name": "plan", "operator": "equals",
                               "value": "pro"})
    ann = person(api, "ann@acme.com", plan="pro")
    person(api, "bob@acme.com", plan="free")
    for email in ("ann@acme.com", "bob@acme.com"):
        event(api, email, "demo_request")
    trigger = ok(api.post("/v1/triggers/milestones", {"score_threshold": 50, "segment_id": pro}), 201)
    answer = ok(api.post(f"/v1/triggers/milestones/{trigger['trigger_id']}/simulate", {"days": 7}))
    assert {m["lead_id"] for m in answer["matched_leads"]} == {ann} and answer["total_matches"] == 1


def test_filters_are_validated_and_returned(api: ApiHarness, other_api: ApiHarness) -> None:
    sid = segment(api, "S")
    plain = ok(api.post("/v1/triggers/milestones", {"score_threshold": 5}), 201)
    assert (plain["segment_id"], plain["profile_filters"], plain["lead_attribute_filters"]) == (None, [], [])
    assert "segment_id" in error(api.post("/v1/triggers/milestones", {"score_threshold": 5,
                                                                      "segment_id": "sg_nope"}), 422)
    other_segment = segment(other_api, "Theirs")
    assert "segment_id" in error(api.post("/v1/triggers/milestones", {"score_threshold": 5,
                                                                      "segment_id": other_segment}), 422)
    bad_attr = {"score_threshold": 5, "lead_attribute_filters": [{"field_name": "shoe", "operator": "exists"}]}
    assert "lead_attribute_filters[0].field_name" in error(api.post("/v1/triggers/milestones", bad_attr), 422)
    bad_num = {"score_threshold": 5, "lead_attribute_filters": [{"field_name": "score", "operator": "gt",
                                                                  "value": "high"}]}
    assert "lead_attribute_filters[0].value" in error(api.post("/v1/triggers/milestones", bad_num), 422)
    body = {"event_types": ["a", "b"], "window_seconds": 60, "segment_id": sid,
            "profile_filters": [{"field_name": "plan", "operator": "equals", "value": "pro"}]}
    seq = ok(api.post("/v1/triggers/sequences", body), 201)
    assert seq["segment_id"] == sid and seq["profile_filters"] == [
        {"field_name": "plan", "operator": "equals", "value": "pro"}]
    updated = ok(api.put(f"/v1/triggers/sequences/{seq['trigger_id']}", {
        "lead_attribute_filters": [{"field_name": "level", "operator": "equals", "value": "Hot"}]}))
    assert updated["segment_id"] == sid and updated["profile_filters"] == seq["profile_filters"]
    assert updated["lead_attribute_filters"] == [{"field_name": "level", "operator": "equals", "value": "Hot"}]
    listed = ok(api.get("/v1/triggers/sequences"))
    assert listed[0]["lead_attribute_filters"] == updated["lead_attribute_filters"]


def test_a_segment_a_trigger_fires_for_cannot_be_deleted_until_the_trigger_lets_go(api: ApiHarness) -> None:
    sid = segment(api, "Pro")
    trig = ok(api.post("/v1/triggers/milestones", {"name": "Pro hot", "score_threshold": 5, "segment_id": sid}), 201)
    message = error(api.client.delete(f"/v1/segments/{sid}", headers=api.headers), 409)
    assert "Pro hot" in message  # says who uses it
    ok(api.client.delete(f"/v1/triggers/milestones/{trig['trigger_id']}", headers=api.headers), 204)
    ok(api.client.delete(f"/v1/segments/{sid}", headers=api.headers), 204)
