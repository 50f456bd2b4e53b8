"""Segments over the API: CRUD and rules (validation naming the field, 409 on a taken name, partial rule updates),
count / members / CSV export following the rules, merged leads left out, the leads list filtered by segment,
roles, audit and tenancy."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from db import models
from tests.api.test_fit_config import error, ok, with_key
from tests.conftest import ApiHarness, add_rule


def lead(api: ApiHarness, **profile: Any) -> str:
    return str(ok(api.post("/v1/leads", {"metadata": profile}), 201)["id"])


def visit(api: ApiHarness, email: str, event_type: str = "page_view", **metadata: Any) -> str:
    body = {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type, "metadata": metadata}
    return str(ok(api.post("/v1/events", body), 201)["lead_id"])


def segment(api: ApiHarness, name: str, *rules: dict[str, Any]) -> str:
    sid = str(ok(api.post("/v1/segments", {"name": name, "description": "d"}), 201)["segment_id"])
    for rule in rules:
        ok(api.post(f"/v1/segments/{sid}/rules", rule), 201)
    return sid


def count(api: ApiHarness, sid: str) -> int:
    return int(ok(api.get(f"/v1/segments/{sid}/count"))["count"])


def member_ids(api: ApiHarness, sid: str) -> set[str]:
    return {row["id"] for row in ok(api.get(f"/v1/segments/{sid}/leads", params={"limit": 500}))}


def test_segment_crud_and_names(api: ApiHarness) -> None:
    created = ok(api.post("/v1/segments", {"name": "Marketing Leads", "description": "from marketing"}), 201)
    assert created["name"] == "Marketing Leads" and created["active"] is True
    assert created["segment_id"].startswith("sg_") and created["created_by"] == "api key tests"
    assert error(api.post("/v1/segments", {"name": "marketing leads"}), 409)
    assert api.post("/v1/segments", {"description": "no name"}).status_code == 422
    sid = created["segment_id"]
    updated = ok(api.put(f"/v1/segments/{sid}", {"name": "Marketing", "active": False}))
    assert updated["name"] == "Marketing" and updated["active"] is False and updated["description"] is None
    assert [s["segment_id"] for s in ok(api.get("/v1/segments"))] == [sid]
    assert api.delete(f"/v1/segments/{sid}").status_code == 204
    assert ok(api.get("/v1/segments")) == []
    assert api.get(f"/v1/segments/{sid}/count").status_code == 404


def test_rule_crud_validation_and_partial_update(api: ApiHarness) -> None:
    sid = segment(api, "S")
    rule = ok(api.post(f"/v1/segments/{sid}/rules", {
        "rule_name": "plan", "rule_type": "lead_metadata", "field_name": "plan", "operator": "equals",
        "value": "pro"}), 201)
    assert rule["segment_id"] == sid and rule["org_id"] == api.tenant.org_id
    assert (rule["logic_group"], rule["logic_op"], rule["order_index"], rule["active"]) == (0, "AND", 0, True)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"rule_type": "nope", "field_name": "a", "operator": "equals", "value": "x"}, "rule_type"),
        ({"rule_type": "lead_metadata", "field_name": "a", "operator": "like", "value": "x"}, "operator"),
        ({"rule_type": "lead_metadata", "field_name": "a", "operator": "equals", "value": "x", "logic_op": "XOR"},
         "logic_op"),
        ({"rule_type": "score", "field_name": "", "operator": "gt", "value": "lots"}, "value"),
        ({"rule_type": "lead_metadata", "field_name": "a", "operator": "equals"}, "value"),
        ({"rule_type": "event_metadata", "field_name": "a", "operator": "exists"}, "event_type"),
    ]
    for body, field in bad:
        resp = api.post(f"/v1/segments/{sid}/rules", body)
        assert resp.status_code == 422, (body, resp.text)
        assert field in resp.json()["error"]["message"], (field, resp.text)
    changed = ok(api.put(f"/v1/segments/{sid}/rules/{rule['rule_id']}", {"value": "team", "logic_group": 2}))
    assert (changed["value"], changed["logic_group"], changed["field_name"]) == ("team", 2, "plan")
    assert api.put(f"/v1/segments/{sid}/rules/{rule['rule_id']}", {"operator": "gt"}).status_code == 422
    assert [r["rule_id"] for r in ok(api.get(f"/v1/segments/{sid}/rules"))] == [rule["rule_id"]]
    assert api.delete(f"/v1/segments/{sid}/rules/{rule['rule_id']}").status_code == 204
    assert ok(api.get(f"/v1/segments/{sid}/rules")) == []


def test_membership_follows_profile_score_level_and_events(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 50)
    ok(api.post("/v1/levels/engagement", {"name": "Cold", "min_score": 0, "max_score": 40}), 201)
    ok(api.post("/v1/levels/engagement", {"name": "Hot", "min_score": 41, "max_score": 1000}), 201)
    ann = visit(api, "ann@acme.com", "demo_request", source="Webinar")
    bob = visit(api, "bob@acme.com", "page_view", source="webinar")
    cy = lead(api, plan="PRO", seats=12)
    dee = lead(api, plan="free", seats="3")
    ok(api.client.patch(f"/v1/leads/{ann}/metadata", json={"plan": "pro"}, headers=api.headers))
    # one group: plan is pro OR seats > 10
    pro = segment(api, "Pro",
                  {"rule_type": "lead_metadata", "field_name": "plan", "operator": "equals", "value": "Pro"},
                  {"rule_type": "lead_metadata", "field_name": "seats", "operator": "gt", "value": "10",
                   "logic_op": "OR", "order_index": 1})
    assert member_ids(api, pro) == {ann, cy} and count(api, pro) == 2
    hot = segment(api, "Hot", {"rule_type": "level", "field_name": "level", "operator": "equals", "value": "hot"})
    assert member_ids(api, hot) == {ann}
    scored = segment(api, "Scored", {"rule_type": "score", "field_name": "", "operator": "gte", "value": "50"})
    assert count(api, scored) == 1
    webinar = segment(api, "Webinar", {"rule_type": "event_metadata", "event_type": "page_view",
                                       "field_name": "source", "operator": "contains", "value": "WEB",
                                       "within_days": 7})
    assert member_ids(api, webinar) == {bob}
    # two groups AND: pro-ish AND a demo request event
    both = segment(api, "Both", {"rule_type": "lead_metadata", "field_name": "plan", "operator": "in",
                                 "value": "pro, team"},
                   {"rule_type": "event_metadata", "event_type": "demo_request", "field_name": "source",
                    "operator": "exists", "logic_group": 1})
    assert member_ids(api, both) == {ann}
    assert count(api, segment(api, "Everyone")) == 4  # no rules: every lead
    inactive_rule = segment(api, "Off", {"rule_type": "lead_metadata", "field_name": "plan", "operator": "exists",
                                         "active": False})
    assert count(api, inactive_rule) == 4
    ok(api.put(f"/v1/segments/{pro}", {"name": "Pro", "active": False}))
    assert count(api, pro) == 2  # an inactive segment still counts
    assert dee not in member_ids(api, pro)


def test_leads_list_export_and_merged_leads(api: ApiHarness) -> None:
    a = lead(api, plan="pro")
    b = lead(api, plan="pro")
    c = lead(api, plan="free")
    sid = segment(api, "Pro", {"rule_type": "lead_metadata", "field_name": "plan", "operator": "equals",
                               "value": "pro"})
    page = ok(api.get("/v1/leads", params={"segment_id": sid}))
    assert {row["id"] for row in page["leads"]} == {a, b} and page["total"] == 2
    assert ok(api.get("/v1/leads", params={"segment_id": sid, "q": a[-6:]}))["total"] == 1  # other filters hold
    assert "segment_id" in error(api.get("/v1/leads", params={"segment_id": "sg_missing"}), 422)
    first = ok(api.get(f"/v1/segments/{sid}/leads", params={"page": 1, "limit": 1}))
    second = ok(api.get(f"/v1/segments/{sid}/leads", params={"page": 2, "limit": 1}))
    assert len(first) == len(second) == 1 and {first[0]["id"], second[0]["id"]} == {a, b}
    assert set(first[0]) >= {"id", "email", "score", "level", "fit_score", "fit_level", "account"}
    assert api.get(f"/v1/segments/{sid}/leads", params={"limit": 501}).status_code == 422
    ok(api.post("/v1/leads/merge", {"targetLeadId": c, "sourceLeadIds": [b]}))
    assert member_ids(api, sid) == {a} and count(api, sid) == 1
    resp = api.get(f"/v1/segments/{sid}/leads/export")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["id"] for r in rows] == [a] and rows[0]["score"] == "0" and "fit_level" in rows[0]


def test_roles_audit_and_tenancy(api: ApiHarness, other_api: ApiHarness) -> None:
    sid = segment(api, "S", {"rule_type": "lead_metadata", "field_name": "plan", "operator": "exists"})
    rid = ok(api.get(f"/v1/segments/{sid}/rules"))[0]["rule_id"]
    viewer = with_key(api, "Viewer")
    rule = {"rule_type": "lead_metadata", "field_name": "x", "operator": "exists"}
    for method, path, body in [
        ("post", "/v1/segments", {"name": "V"}), ("put", f"/v1/segments/{sid}", {"name": "V"}),
        ("delete", f"/v1/segments/{sid}", None), ("post", f"/v1/segments/{sid}/rules", rule),
        ("put", f"/v1/segments/{sid}/rules/{rid}", {"value": "y"}), ("delete", f"/v1/segments/{sid}/rules/{rid}", None),
    ]:
        call = getattr(viewer, method)
        resp = call(path, body) if body is not None else call(path)
        assert resp.status_code == 403, (method, path, resp.text)
    assert ok(viewer.get(f"/v1/segments/{sid}/count"))["count"] == 0
    ok(with_key(api, "Operator").post("/v1/segments", {"name": "By operator"}), 201)
    ok(api.put(f"/v1/segments/{sid}/rules/{rid}", {"field_name": "tier"}))
    assert api.delete(f"/v1/segments/{sid}").status_code == 204
    with api.db.read() as session:
        entries = set(session.execute(
            select(models.AuditLog.action, models.AuditLog.entity_type)
            .where(models.AuditLog.unit_id == api.tenant.unit_id)
        ).all())
    assert {("create", "segment"), ("create", "segment_rule"), ("update", "segment_rule"),
            ("delete", "segment")} <= entries
    mine = segment(api, "Mine", rule)
    mine_rule = ok(api.get(f"/v1/segments/{mine}/rules"))[0]["rule_id"]
    for path in (f"/v1/segments/{mine}/count", f"/v1/segments/{mine}/leads", f"/v1/segments/{mine}/rules",
                 f"/v1/segments/{mine}/leads/export"):
        assert other_api.get(path).status_code == 404, path
    assert other_api.put(f"/v1/segments/{mine}", {"name": "x"}).status_code == 404
    assert other_api.delete(f"/v1/segments/{mine}/rules/{mine_rule}").status_code == 404
    assert ok(other_api.get("/v1/segments")) == []
