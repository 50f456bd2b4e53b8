"""The read side: leads, accounts, the event log and explanations, over the API and the shared services."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db import models
from db.ids import new_id
from services.people import leads as lead_service
from tests.conftest import ApiHarness, add_rule, enable_abm

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
    enable_abm(api)  # the account reads answer 403 abm_disabled while it is off
    return {
        "ann": ann["lead_id"], "bob": bob["lead_id"], "cat": cat["lead_id"], "dan": dan["lead_id"],
        "secondary": secondary, "first_event": ann["event"]["id"],
    }


def test_list_leads_shape_scores_and_sorts(api: ApiHarness, scored: dict[str, Any]) -> None:
    resp = api.get("/v1/leads")
    assert resp.status_code == 200
    body = resp.json()
    assert body["total"] == 4 and body["page"] == 1 and body["limit"] == 50
    by_email = {ld["email"]: ld for ld in body["leads"]}
    assert [ld["email"] for ld in body["leads"]][:2] == ["ann@acme.com", "bob@acme.com"]
    ann = by_email["ann@acme.com"]
    assert set(ann) >= {"id", "email", "first_name", "last_name", "account", "score", "scores", "level",
                        "last_activity_at", "created_at"}
    assert ann["score"] == 60 and ann["account"]["domain"] == "acme.com" and ann["level"] is None
    assert ann["last_activity_at"] == at(20)
    assert by_email["cat@globex.com"]["score"] == 0
    assert by_email["cat@globex.com"]["scores"][scored["secondary"]] == 7
    assert by_email["dan@gmail.com"]["account"] is None

    by_activity = api.get("/v1/leads", params={"sort": "last_activity"}).json()["leads"]
    assert [ld["email"] for ld in by_activity] == ["dan@gmail.com", "cat@globex.com", "bob@acme.com", "ann@acme.com"]
    ascending = api.get("/v1/leads", params={"sort": "score", "order": "asc"}).json()["leads"]
    assert ascending[-1]["email"] == "ann@acme.com"
    assert api.get("/v1/leads", params={"sort": "created"}).status_code == 200


def test_list_leads_filters_and_paging(api: ApiHarness, scored: dict[str, Any]) -> None:
    def emails(**params: Any) -> list[str]:
        resp = api.get("/v1/leads", params=params)
        assert resp.status_code == 200, resp.text
        return sorted(ld["email"] for ld in resp.json()["leads"])

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
    assert page1["total"] == page2["total"] == 4 and len(page1["leads"]) == 3 and len(page2["leads"]) == 1
    assert not {ld["id"] for ld in page1["leads"]} & {ld["id"] for ld in page2["leads"]}


def test_lead_detail_score_and_events(api: ApiHarness, scored: dict[str, Any]) -> None:
    lead_id = scored["ann"]
    body = api.get(f"/v1/leads/{lead_id}").json()
    assert body["lead"]["id"] == lead_id and body["lead"]["score"] == 60
    assert body["lead"]["aliases"] == [
        {"alias_kind": "email", "value": "ann@acme.com", "raw_value": "ann@acme.com", "is_primary": False}
    ]
    assert body["lead"]["metadata"] == {}
    assert body["account"]["domain"] == "acme.com"
    assert api.get(f"/v1/leads/{scored['dan']}").json()["account"] is None

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
    acme = body["accounts"][0]
    assert acme["domain"] == "acme.com" and acme["score"] == 65
    assert acme["leads_count"] == 2 and acme["top_score"] == 60 and acme["last_activity_at"] == at(30)
    assert set(acme) == {
        "id", "domain", "name", "score", "scores", "level", "top_score", "leads_count", "owner_name", "surging",
        "fit_score", "fit_scores", "fit_level", "last_activity_at", "created_at",
    }
    globex = body["accounts"][1]
    assert globex["score"] == 0 and globex["scores"][scored["secondary"]] == 7
    assert [a["domain"] for a in api.get("/v1/accounts", params={"min_score": 1}).json()["accounts"]] == ["acme.com"]
    searched = api.get("/v1/accounts", params={"search": "GLOB"}).json()["accounts"]
    assert [a["domain"] for a in searched] == ["globex.com"]
    by_name = api.get("/v1/accounts", params={"sort": "name", "order": "asc"}).json()["accounts"]
    assert [a["domain"] for a in by_name] == ["acme.com", "globex.com"]

    detail = api.get(f"/v1/accounts/{acme['id']}").json()
    assert detail["account_id"] == acme["id"] and detail["score"] == 65 and detail["top_score"] == 60
    assert [(ld["email"], ld["score"]) for ld in detail["leads"]] == [("ann@acme.com", 60), ("bob@acme.com", 5)]
    assert [e["event_type"] for e in detail["recent_events"]] == [
        "page_view", "demo_request", "page_view", "page_view"
    ]
    assert len(api.get(f"/v1/accounts/{acme['id']}", params={"events_limit": 1}).json()["recent_events"]) == 1


def test_unknown_and_foreign_ids_are_404(api: ApiHarness, other_api: ApiHarness, scored: dict[str, Any]) -> None:
    enable_abm(other_api)
    account_id = api.get("/v1/accounts").json()["accounts"][0]["id"]
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
    assert other_api.get("/v1/leads").json() == {"leads": [], "total": 0, "page": 1, "limit": 50}
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
        # a documented filter is never silently ignored: unknown parameters are refused by name
        ("/v1/leads", {"minscore": 5}, "minscore"),
        ("/v1/accounts", {"intent": "high"}, "intent"),
        ("/v1/events", {"event_type": "page_view"}, "event_type"),
        ("/v1/leads/x/score", {"ruleset": "rs_x"}, "ruleset"),
        ("/v1/signals", {"contact": "a@b.com"}, "contact"),
        ("/v1/deliveries", {"state": "failed"}, "state"),  # every route, not only these routers
        ("/v1/triggers/milestones", {"active": "true"}, "active"),
        # integers beyond the signed 64-bit range
        ("/v1/leads", {"page": 2**63}, "page"),
        ("/v1/leads", {"min_score": -(2**63) - 1}, "min_score"),
        ("/v1/leads", {"max_score": 2**64}, "max_score"),
        ("/v1/accounts", {"min_score": 2**63}, "min_score"),
        ("/v1/events", {"page": 10**30}, "page"),
        ("/v1/leads", {"range": "last_week"}, "range"),
        ("/v1/leads", {"last_active": "90d"}, "last_active"),
        ("/v1/accounts", {"range": "forever"}, "range"),
        ("/v1/leads", {"last_active_after": "9999-12-31T23:00:00-05:00"}, "last_active_after"),
        ("/v1/events", {"metadata": 'utm"x:fall'}, "metadata"),
        ("/v1/events", {"metadata": "utm\x00:fall"}, "metadata"),
        ("/v1/leads", {"q": "a\x00b"}, "q"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    api: ApiHarness, path: str, params: dict[str, Any], field: str
) -> None:
    resp = api.get(path, params=params)
    assert resp.status_code == 422, resp.text
    assert field in resp.json()["error"]["message"]


def test_pages_beyond_any_offset_are_empty_not_errors(api: ApiHarness, scored: dict[str, Any]) -> None:
    big = 2**63 - 1
    assert api.get("/v1/leads", params={"page": big, "limit": 500}).json()["leads"] == []
    assert api.get("/v1/accounts", params={"page": big}).json()["accounts"] == []
    assert api.get("/v1/events", params={"page": big}).json() == []
    assert api.get(f"/v1/leads/{scored['ann']}/events", params={"page": big}).json() == []


def test_lead_filters_of_the_reference(api: ApiHarness) -> None:
    """range (created_at), last_active (recency) and event_type (the latest event's type), relative to now."""
    now = datetime.now(UTC)

    def visit(email: str, event_type: str, ago: timedelta) -> str:
        stamp = (now - ago).isoformat()
        resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                       "event_type": event_type, "timestamp": stamp})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["lead_id"])

    fresh = visit("fresh@acme.com", "page_view", timedelta(days=2))
    visit("fresh@acme.com", "form_submit", timedelta(days=1))
    month = visit("month@acme.com", "form_submit", timedelta(days=20))
    visit("month@acme.com", "page_view", timedelta(days=10))
    old = visit("old@acme.com", "page_view", timedelta(days=60))
    # "today" starts at UTC midnight: a fixed "an hour ago" is yesterday when the suite runs at 00:30
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    created = {fresh: midnight + (now - midnight) / 2, month: now - timedelta(days=20), old: now - timedelta(days=60)}
    with api.db.write() as session:
        for lead_id, at_ in created.items():
            session.get(models.Lead, lead_id).created_at = at_  # type: ignore[union-attr]

    def ids(**params: Any) -> set[str]:
        resp = api.get("/v1/leads", params=params)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["total"] == len(body["leads"])
        return {ld["id"] for ld in body["leads"]}

    assert ids() == ids(range="all") == ids(last_active="any") == {fresh, month, old}
    assert ids(range="today") == ids(range="last_24h") == {fresh}
    assert ids(range="yesterday") == set()
    assert ids(range="last_7d") == {fresh} and ids(range="last_30d") == {fresh, month}
    assert ids(range="last_90d") == {fresh, month, old}
    assert ids(last_active="7d") == {fresh} and ids(last_active="30d") == {fresh, month}
    # event_type is the type of each lead's latest event, not any event it ever had
    assert ids(event_type="form_submit") == {fresh}
    assert ids(event_type="page_view") == {month, old}
    assert ids(event_type="page_view", last_active="30d", range="last_30d") == {month}


def test_lead_score_is_the_highest_or_the_named_rulesets(api: ApiHarness, scored: dict[str, Any]) -> None:
    secondary = scored["secondary"]
    cat = api.get(f"/v1/leads/{scored['cat']}/score").json()
    assert cat["score"] == 7 and cat["ruleset_id"] == secondary  # only the secondary ruleset scores a signup
    ann = api.get(f"/v1/leads/{scored['ann']}/score").json()
    assert ann["score"] == 60 and ann["ruleset_id"] != secondary
    named = api.get(f"/v1/leads/{scored['cat']}/score", params={"ruleset_id": ann["ruleset_id"]}).json()
    assert named["score"] == 0 and named["ruleset_id"] == ann["ruleset_id"]
    assert api.get(f"/v1/leads/{scored['ann']}/score", params={"ruleset_id": secondary}).json()["score"] == 0
    missing = api.get(f"/v1/leads/{scored['ann']}/score", params={"ruleset_id": "rs_nope"})
    assert missing.status_code == 404 and "rs_nope" in missing.json()["error"]["message"]


def test_accounts_honour_range(api: ApiHarness, scored: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    with api.db.write() as session:
        for acc in session.query(models.Account).all():
            acc.created_at = now - timedelta(days=40 if acc.domain == "globex.com" else 0, minutes=5)

    def domains(**params: Any) -> list[str]:
        return sorted(a["domain"] for a in api.get("/v1/accounts", params=params).json()["accounts"])

    assert domains(range="today") == ["acme.com"]
    assert domains(range="last_30d") == ["acme.com"] and domains(range="last_90d") == ["acme.com", "globex.com"]
    assert domains(range="last_90d", search="glob") == ["globex.com"]


@pytest.mark.parametrize(
    "url",
    [
        "/v1/leads/ld%00x", "/v1/leads/ld%00x/score", "/v1/accounts/acc%00", "/v1/events/ev%00/explanation",
        "/v1/leads?q=%00", "/v1/leads?event_type=a%00", "/v1/leads?level=%00", "/v1/accounts?search=%00",
        "/v1/signals?type=%00", "/v1/signals?contact_email=a%00@b.com", "/v1/events?metadata=a:%00",
        "/v1/leads/x/score?ruleset_id=%00", "/v1/rules?ruleset_id=%00",
    ],
)
def test_nul_in_paths_and_queries_is_422_on_every_backend(api: ApiHarness, url: str) -> None:
    resp = api.get(url)
    assert resp.status_code == 422, resp.text
    assert "NUL" in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    ["/v1/leads?q=%ED%A0%80", "/v1/leads/%ED%A0%80", "/v1/signals?source=%ED%A0%80", "/v1/accounts?search=%FF%FE",
     "/v1/signals?account_domain=%5B", "/v1/signals?cursor=cur_WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwxZTMwXQ",
     "/v1/signals?from=0001-01-01T00:00:00%2B01:00"],
)
def test_odd_bytes_in_urls_never_break_the_server(api: ApiHarness, url: str) -> None:
    resp = api.get(url)
    assert resp.status_code in (200, 404, 422), resp.text
    assert set(resp.json()) == ({"error"} if resp.status_code >= 400 else set(resp.json()))


@pytest.mark.parametrize(
    "position",
    [["2026-01-01T00:00:00+00:00", 2**63], ["2026-01-01T00:00:00+00:00", -1], ["0001-01-01T00:00:00+01:00", 1]],
)
def test_forged_cursors_are_422(api: ApiHarness, position: list[Any]) -> None:
    raw = json.dumps(position).encode()
    cursor = "cur_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    resp = api.get("/v1/signals", params={"cursor": cursor})
    assert resp.status_code == 422, resp.text
    assert "cursor" in resp.json()["error"]["message"]
