"""The read side: leads, accounts, the event log and explanations, over the API and the shared services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db import models
from db.ids import new_id
from services import leads as lead_service
from tests.conftest import ApiHarness, add_rule

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)



def add_ruleset(api: ApiHarness, name: str) -> str:
    t = api.tenant
    with api.db.write() as session:
        rs_id = new_id("rs")
        session.add(models.Ruleset(id=rs_id, org_id=t.org_id, unit_id=t.unit_id, name=name, is_primary=False,
                                   created_at=T0, updated_at=T0))
    return rs_id


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def event(api: ApiHarness, email: str, event_type: str, minutes: int, **metadata: Any) -> dict[str, Any]:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                   "event_type": event_type, "timestamp": at(minutes), "metadata": metadata})
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.fixture
def scored(api: ApiHarness) -> dict[str, Any]:
    """Three leads at two companies plus a free-mail lead, with rules making their scores 0..60."""
    secondary = add_ruleset(api, "Product")
    add_rule(api, "page_view", 5)
    add_rule(api, "demo_request", 50)
    add_rule(api, "signup", 7, ruleset_id=secondary)
    ann = event(api, "ann@acme.com", "page_view", 0, utm_campaign="fall", page="/pricing")
    event(api, "ann@acme.com", "page_view", 10, utm_campaign="spring", page="/docs")
    event(api, "ann@acme.com", "demo_request", 20, utm_campaign="fall", page="/demo")
    bob = event(api, "bob@acme.com", "page_view", 30, utm_campaign="fall", page="/pricing")
    cat = event(api, "cat@globex.com", "signup", 40, plan="pro", seats=5)
    dan = event(api, "dan@gmail.com", "newsletter_open", 50)
    return {
        "ann": ann["lead_id"], "bob": bob["lead_id"], "cat": cat["lead_id"], "dan": dan["lead_id"],
        "secondary": secondary, "first_event": ann["event"]["id"],
    }


def test_list_leads_shape_scores_and_sorts(api: ApiHarness, scored: dict[str, Any]) -> None:
    resp = api.get("/v1/leads")
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 4 and body["page"] == 1 and body["limit"] == 50
    by_email = {ld["email"]: ld for ld in body["data"]}
    assert [ld["email"] for ld in body["data"]][:2] == ["ann@acme.com", "bob@acme.com"]
    ann = by_email["ann@acme.com"]
    assert set(ann) >= {"id", "email", "first_name", "last_name", "account", "score", "scores", "level",
                        "last_activity_at", "created_at"}
    assert ann["score"] == 60 and ann["account"]["domain"] == "acme.com" and ann["level"] is None
    assert ann["last_activity_at"] == at(20)
    assert by_email["cat@globex.com"]["score"] == 0
    assert by_email["cat@globex.com"]["scores"][scored["secondary"]] == 7
    assert by_email["dan@gmail.com"]["account"] is None

    by_activity = api.get("/v1/leads", params={"sort": "last_activity"}).json()["data"]
    assert [ld["email"] for ld in by_activity] == ["dan@gmail.com", "cat@globex.com", "bob@acme.com", "ann@acme.com"]
    ascending = api.get("/v1/leads", params={"sort": "score", "order": "asc"}).json()["data"]
    assert ascending[-1]["email"] == "ann@acme.com"
    assert api.get("/v1/leads", params={"sort": "created"}).status_code == 200


def test_list_leads_filters_and_paging(api: ApiHarness, scored: dict[str, Any]) -> None:
    def emails(**params: Any) -> list[str]:
        resp = api.get("/v1/leads", params=params)
        assert resp.status_code == 200, resp.text
        return sorted(ld["email"] for ld in resp.json()["data"])

    assert emails(min_score=5) == ["ann@acme.com", "bob@acme.com"]
    assert emails(min_score=6, max_score=60) == ["ann@acme.com"]
    assert emails(max_score=0) == ["cat@globex.com", "dan@gmail.com"]  # no score row counts as 0
    assert emails(event_type="demo_request") == ["ann@acme.com"]
    assert emails(q="ACME") == ["ann@acme.com", "bob@acme.com"]
    assert emails(q="globex") == ["cat@globex.com"]
    assert emails(q="100%") == []
    assert emails(last_active_after=at(35)) == ["cat@globex.com", "dan@gmail.com"]
    page1 = api.get("/v1/leads", params={"limit": 3, "page": 1}).json()
    page2 = api.get("/v1/leads", params={"limit": 3, "page": 2}).json()
    assert page1["total"] == page2["total"] == 4 and len(page1["data"]) == 3 and len(page2["data"]) == 1
    assert not {ld["id"] for ld in page1["data"]} & {ld["id"] for ld in page2["data"]}


def test_lead_detail_score_and_events(api: ApiHarness, scored: dict[str, Any]) -> None:
    lead_id = scored["ann"]
    body = api.get(f"/v1/leads/{lead_id}").json()
    assert body["lead"]["id"] == lead_id and body["lead"]["score"] == 60
    assert body["lead"]["aliases"] == [
        {"alias_kind": "email", "value": "ann@acme.com", "raw_value": "ann@acme.com", "is_primary": False}
    ]
    assert body["lead"]["metadata"] == {}
    assert body["account"]["domain"] == "acme.com"
    assert api.get(f"/v1/leads/{scored['dan']}").json()["account"] == {}

    score = api.get(f"/v1/leads/{lead_id}/score").json()
    assert score["lead_id"] == lead_id and score["score"] == 60 and score["level"] is None
    assert list(score["scores"].values()).count(60) == 1

    events = api.get(f"/v1/leads/{lead_id}/events").json()
    assert [(e["event_type"], e["score_delta"]) for e in events] == [
        ("demo_request", 50), ("page_view", 5), ("page_view", 5),
    ]
    assert events[0]["timestamp"] == at(20) and events[0]["metadata"]["page"] == "/demo"
    assert [e["event_type"] for e in api.get(f"/v1/leads/{lead_id}/events", params={"limit": 1}).json()] == [
        "demo_request"
    ]


def test_score_history_and_top_contributions(api: ApiHarness, scored: dict[str, Any]) -> None:
    with api.db.read() as session:
        history = lead_service.lead_score_history(session, api.tenant, scored["ann"])
        top = lead_service.lead_top_contributions(session, api.tenant, scored["ann"], 5)
    assert [score for _, score in history] == [5, 10, 60]
    assert history[0][0] == T0
    assert [(t["event_type"], t["points"], t["events"]) for t in top] == [("demo_request", 50, 1), ("page_view", 10, 2)]
    assert all(t["rule_id"] for t in top)


def test_events_list_and_metadata_filters(api: ApiHarness, scored: dict[str, Any]) -> None:
    everything = api.get("/v1/events").json()
    assert len(everything) == 6
    assert everything[0]["event_type"] == "newsletter_open"
    assert set(everything[0]) >= {"id", "lead_id", "account_id", "event_type", "channel", "source", "timestamp",
                                  "received_at", "metadata", "score_delta"}

    def types(*filters: str, logic: str | None = None) -> list[str]:
        params: dict[str, Any] = {"metadata": list(filters)}
        if logic:
            params["logic"] = logic
        resp = api.get("/v1/events", params=params)
        assert resp.status_code == 200, resp.text
        return [f"{e['event_type']}:{e['metadata'].get('page', '')}" for e in resp.json()]

    assert types("utm_campaign:fall") == ["page_view:/pricing", "demo_request:/demo", "page_view:/pricing"]
    assert types("utm_campaign:fall", "page:/pricing") == ["page_view:/pricing", "page_view:/pricing"]
    assert types("utm_campaign:spring", "page:/demo", logic="or") == ["demo_request:/demo", "page_view:/docs"]
    assert types("seats:5") == ["signup:"]
    assert types("plan:enterprise") == []
    assert len(api.get("/v1/events", params={"limit": 2, "page": 3}).json()) == 2
    assert api.get("/v1/events", params={"limit": 2, "page": 4}).json() == []


def test_event_explanation(api: ApiHarness, scored: dict[str, Any]) -> None:
    events = api.get(f"/v1/leads/{scored['ann']}/events").json()
    demo = events[0]
    body = api.get(f"/v1/events/{demo['id']}/explanation").json()
    assert body["event_id"] == demo["id"] and body["lead_id"] == scored["ann"]
    assert body["event_type"] == "demo_request" and body["occurred_at"] == at(20)
    primary = body["rulesets"][0]
    assert primary["is_primary"] and primary["name"] == "Engagement"
    assert (primary["delta"], primary["before"], primary["after"]) == (50, 10, 60)
    assert [(r["event_type"], r["weight"]) for r in primary["rules"]] == [("demo_request", 50)]
    assert set(primary["rules"][0]) == {"rule_id", "event_type", "weight"}
    other = body["rulesets"][1]
    assert other["ruleset_id"] == scored["secondary"] and not other["is_primary"] and other["delta"] == 0


def test_accounts_list_and_detail(api: ApiHarness, scored: dict[str, Any]) -> None:
    body = api.get("/v1/accounts").json()
    assert body["total"] == 2 and body["page"] == 1
    acme = body["data"][0]
    assert acme["domain"] == "acme.com" and acme["score"] == 65
    assert acme["lead_count"] == 2 and acme["top_lead_score"] == 60 and acme["last_activity_at"] == at(30)
    assert set(acme) >= {"id", "domain", "name", "score", "scores", "top_lead_score", "lead_count", "last_activity_at"}
    globex = body["data"][1]
    assert globex["score"] == 0 and globex["scores"][scored["secondary"]] == 7
    assert [a["domain"] for a in api.get("/v1/accounts", params={"min_score": 1}).json()["data"]] == ["acme.com"]
    assert [a["domain"] for a in api.get("/v1/accounts", params={"q": "GLOB"}).json()["data"]] == ["globex.com"]
    by_name = api.get("/v1/accounts", params={"sort": "name", "order": "asc"}).json()["data"]
    assert [a["domain"] for a in by_name] == ["acme.com", "globex.com"]

    detail = api.get(f"/v1/accounts/{acme['id']}").json()
    assert detail["account"]["id"] == acme["id"] and detail["account"]["score"] == 65
    assert [(ld["email"], ld["score"]) for ld in detail["leads"]] == [("ann@acme.com", 60), ("bob@acme.com", 5)]
    assert [e["event_type"] for e in detail["events"]] == ["page_view", "demo_request", "page_view", "page_view"]
    assert len(api.get(f"/v1/accounts/{acme['id']}", params={"events_limit": 1}).json()["events"]) == 1


def test_unknown_and_foreign_ids_are_404(api: ApiHarness, other_api: ApiHarness, scored: dict[str, Any]) -> None:
    account_id = api.get("/v1/accounts").json()["data"][0]["id"]
    lead = scored["ann"]
    for path in (
        f"/v1/leads/{lead}", f"/v1/leads/{lead}/score", f"/v1/leads/{lead}/events",
        f"/v1/accounts/{account_id}", f"/v1/events/{scored['first_event']}/explanation",
    ):
        assert api.get(path).status_code == 200, path
        resp = other_api.get(path)
        assert resp.status_code == 404, path
        assert resp.json()["error"]["code"] == "not_found"
    for path in ("/v1/leads/ld_nope", "/v1/leads/ld_nope/score", "/v1/leads/ld_nope/events",
                 "/v1/accounts/acc_nope", "/v1/events/ev_nope/explanation"):
        assert api.get(path).status_code == 404, path
    assert other_api.get("/v1/leads").json() == {"data": [], "total": 0, "page": 1, "limit": 50}
    assert other_api.get("/v1/accounts").json()["total"] == 0
    assert other_api.get("/v1/events").json() == []
    assert other_api.get("/v1/events", params={"metadata": "utm_campaign:fall"}).json() == []


@pytest.mark.parametrize(
    "path",
    ["/v1/leads", "/v1/leads/x", "/v1/leads/x/score", "/v1/leads/x/events", "/v1/accounts", "/v1/accounts/x",
     "/v1/events", "/v1/events/x/explanation", "/v1/levels/engagement"],
)
def test_reads_need_a_valid_key(api: ApiHarness, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer lv_not_a_key"}, {"Authorization": "Basic abc"}):
        resp = api.client.get(path, headers=headers)
        assert resp.status_code == 401, (path, headers)
        assert resp.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/leads", {"page": 0}, "page"),
        ("/v1/leads", {"limit": 501}, "limit"),
        ("/v1/leads", {"limit": 0}, "limit"),
        ("/v1/leads", {"min_score": "high"}, "min_score"),
        ("/v1/leads", {"max_score": "1.5"}, "max_score"),
        ("/v1/leads", {"sort": "email"}, "sort"),
        ("/v1/leads", {"order": "up"}, "order"),
        ("/v1/leads", {"last_active_after": "last week"}, "last_active_after"),
        ("/v1/leads", {"level": "Nope"}, "level"),
        ("/v1/accounts", {"page": -1}, "page"),
        ("/v1/accounts", {"limit": 1000}, "limit"),
        ("/v1/accounts", {"min_score": "x"}, "min_score"),
        ("/v1/accounts", {"sort": "revenue"}, "sort"),
        ("/v1/events", {"page": 0}, "page"),
        ("/v1/events", {"limit": 501}, "limit"),
        ("/v1/events", {"logic": "xor"}, "logic"),
        ("/v1/events", {"metadata": "no-colon"}, "metadata"),
        ("/v1/events", {"metadata": ":value"}, "metadata"),
        ("/v1/leads/x/events", {"limit": 0}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    api: ApiHarness, path: str, params: dict[str, Any], field: str
) -> None:
    resp = api.get(path, params=params)
    assert resp.status_code == 422, resp.text
    assert field in resp.json()["error"]["message"]
