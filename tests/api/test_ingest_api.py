"""The ingest endpoints as clients use them: signals, events, batches, CRM events, idempotency, limits, identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db import models
from tests.conftest import ApiHarness, add_rule

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
BIG = "x" * (100 * 1024 + 1)



def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def count(api: ApiHarness, model: Any) -> int:
    with api.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.unit_id == api.tenant.unit_id)) or 0


def email_event(email: str, event_type: str = "page_view", minutes: int = 0, **extra: Any) -> dict[str, Any]:
    return {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type,
            "timestamp": at(minutes), **extra}


def error_message(resp: Any) -> str:
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}, body
    return body["error"]["message"]


# --- signals -------------------------------------------------------------------------------------------------------


def test_signal_created_scored_and_shaped(api: ApiHarness) -> None:
    add_rule(api, "page_visit", 12)
    resp = api.post("/v1/signals", {
        "type": "page_visit", "source": "my-website", "occurred_at": at(0),
        "account": {"domain": "https://www.Acme.com/pricing", "name": "Acme Corp"},
        "contact": {"email": "  Alice@ACME.com ", "first_name": "Alice", "last_name": "Liddell"},
        "properties": {"page": "/pricing", "duration_seconds": 45},
    })
    assert resp.status_code == 201, resp.text
    body = resp.json()
    data = body["data"]
    assert data["type"] == "page_visit" and data["score"] == 12 and data["source"] == "my-website"
    assert data["account"]["domain"] == "acme.com" and data["account"]["name"] == "Acme Corp"
    assert data["account"]["score"] == 12
    assert data["contact"]["email"] == "alice@acme.com" and data["contact"]["score"] == 12
    assert data["contact"]["first_name"] == "Alice" and data["contact"]["last_name"] == "Liddell"
    assert data["properties"] == {"page": "/pricing", "duration_seconds": 45}
    assert data["occurred_at"] == at(0) and data["created_at"].endswith("Z")
    assert body["meta"]["request_id"] == resp.headers["x-request-id"]


def test_signal_identity_rules(api: ApiHarness) -> None:
    first = api.post("/v1/signals", {"type": "a", "contact": {"email": "bob@globex.com"}}).json()["data"]
    again = api.post("/v1/signals", {"type": "a", "contact": {"email": " BOB@Globex.COM"}}).json()["data"]
    assert first["contact"]["id"] == again["contact"]["id"]
    # The email's company domain names the account; free-mail never does.
    assert first["account"]["domain"] == "globex.com"
    free = api.post("/v1/signals", {"type": "a", "contact": {"email": "someone@gmail.com"}}).json()["data"]
    assert free["account"] is None
    # www. is stripped and accounts are matched by domain.
    www = api.post("/v1/signals", {"type": "a", "account": {"domain": "www.globex.com"}}).json()["data"]
    assert www["account"]["id"] == first["account"]["id"]
    # Accounts without a domain are matched by name, case- and space-insensitively.
    named = api.post("/v1/signals", {"type": "a", "account": {"name": "Initech  Inc"}}).json()["data"]
    same = api.post("/v1/signals", {"type": "a", "account": {"name": "initech inc"}}).json()["data"]
    assert named["account"]["id"] == same["account"]["id"] and same["account"]["name"] == "Initech  Inc"
    assert count(api, models.Account) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contact": {"email": "a@b.com"}}, "type"),
        ({"type": "", "contact": {"email": "a@b.com"}}, "type"),
        ({"type": "a"}, "contact"),
        ({"type": "a", "contact": {"email": "not-an-email"}}, "contact"),
        ({"type": "a", "account": {"domain": "not a domain"}}, "account.domain"),
        ({"type": "a", "account": {}}, "account"),
        ({"type": "a", "contact": {"email": "a@b.com"}, "colour": "red"}, "colour"),
        ({"type": "a", "contact": {"email": "a@b.com"}, "occurred_at": "9999-12-31T23:00:00-05:00"}, "occurred_at"),
        ({"type": "a", "contact": {"email": "a@b.com"}, "properties": {"nested": {"x": 1}}}, "properties"),
        ({"type": "a", "contact": {"id": "ld_missing"}}, "lead"),
    ],
)
def test_signal_bad_input_names_the_field(api: ApiHarness, body: dict[str, Any], field: str) -> None:
    resp = api.post("/v1/signals", body)
    assert resp.status_code in (404, 422), resp.text
    assert field in error_message(resp)
    assert count(api, models.Event) == 0


def test_oversized_properties_and_metadata_are_413(api: ApiHarness) -> None:
    resp = api.post("/v1/signals", {"type": "a", "contact": {"email": "a@b.com"}, "properties": {"blob": BIG}})
    assert resp.status_code == 413 and "properties" in error_message(resp)
    resp = api.post("/v1/events", email_event("a@b.com", metadata={"blob": BIG}))
    assert resp.status_code == 413 and "metadata" in error_message(resp)
    resp = api.post("/v1/crm/events", {"type": "a", "person": {"emails": ["a@b.com"]}, "metadata": {"blob": BIG}})
    assert resp.status_code == 413
    assert count(api, models.Event) == 0
    ok = api.post("/v1/signals", {"type": "a", "contact": {"email": "a@b.com"}, "properties": {"blob": "x" * 1000}})
    assert ok.status_code == 201


@pytest.mark.parametrize("path", ["/v1/signals", "/v1/events", "/v1/events/batch", "/v1/crm/events"])
def test_ingest_needs_a_valid_key(api: ApiHarness, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer lv_wrong"}, {"Authorization": "Bearer "}):
        resp = api.client.post(path, json={"type": "a"}, headers=headers)
        assert resp.status_code == 401
        error = resp.json()["error"]
        assert (error["code"], error["request_id"]) == ("unauthorized", resp.headers["x-request-id"])
        assert "API key" in error["message"]
        assert resp.headers["www-authenticate"].startswith("Bearer")


# --- events --------------------------------------------------------------------------------------------------------


def test_event_ingest_and_lead_matching(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    resp = api.post("/v1/events", email_event("Carol@Initech.com", "demo_request", metadata={"utm_source": "ads"}))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["message"] == "event ingested" and body["score"] == 30 and body["metadata"] == {"utm_source": "ads"}
    assert body["event"]["score_delta"] == 30 and body["event"]["lead_created"] is True
    lead_id = body["lead_id"]
    by_id = api.post("/v1/events", {"lead_id": lead_id, "event_type": "demo_request", "timestamp": at(1)}).json()
    assert by_id["lead_id"] == lead_id and by_id["score"] == 60 and by_id["event"]["lead_created"] is False
    legacy = api.post("/v1/events", {"alias_kind": "email", "alias": "carol@initech.com", "event_type": "x",
                                     "timestamp": at(2)})
    assert legacy.status_code == 201 and legacy.json()["lead_id"] == lead_id
    assert count(api, models.Lead) == 1


def test_phones_are_normalized(api: ApiHarness) -> None:
    def phone_event(raw: str) -> str:
        resp = api.post("/v1/events", {"aliases": [{"alias_kind": "phone", "raw_value": raw}], "event_type": "call",
                                       "timestamp": at(0)})
        assert resp.status_code == 201, resp.text
        return resp.json()["lead_id"]

    first = phone_event("(415) 555-0100")
    assert phone_event("+1 415 555 0100") == first
    assert phone_event("415.555.0100") == first
    assert phone_event("+44 20 7946 0958") != first
    with api.db.read() as session:
        values = set(session.scalars(select(models.LeadAlias.value).where(
            models.LeadAlias.unit_id == api.tenant.unit_id, models.LeadAlias.kind == "phone")))
    assert values == {"+14155550100", "+442079460958"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"event_type": "x"}, 422, "aliases"),
        ({"aliases": [{"alias_kind": "email", "raw_value": "a@b.com"}]}, 422, "event_type"),
        ({"aliases": [{"alias_kind": "fax", "raw_value": "1"}], "event_type": "x"}, 422, "alias_kind"),
        ({"aliases": [{"alias_kind": "email", "raw_value": "nope"}], "event_type": "x"}, 422, "aliases[0]"),
        ({"alias_kind": "email", "event_type": "x"}, 422, "alias"),
        ({"lead_id": "ld_missing", "event_type": "x"}, 404, "lead_id"),
        ({**email_event("a@b.com"), "timestamp": "9999-12-31T23:00:00-05:00"}, 422, "timestamp"),
        ({**email_event("a@b.com"), "event_type": "DECAY"}, 422, "event_type"),
        ({**email_event("a@b.com"), "extra": 1}, 422, "extra"),
    ],
)
def test_event_bad_input(api: ApiHarness, body: dict[str, Any], status: int, field: str) -> None:
    resp = api.post("/v1/events", body)
    assert resp.status_code == status, resp.text
    assert field in error_message(resp)


def test_malformed_json_is_400(api: ApiHarness) -> None:
    resp = api.client.post("/v1/events", content=b"{not json", headers={**api.headers,
                                                                      "Content-Type": "application/json"})
    assert resp.status_code == 400 and "JSON" in error_message(resp)


def test_batch_reports_per_item_errors_by_index(api: ApiHarness) -> None:
    add_rule(api, "page_view", 2)
    events = [
        email_event("a@acme.com", minutes=0),
        {"event_type": "page_view"},
        email_event("a@acme.com", minutes=1),
        {"lead_id": "ld_missing", "event_type": "page_view"},
        email_event("b@acme.com", minutes=2, metadata={"blob": BIG}),
    ]
    resp = api.post("/v1/events/batch", {"events": events})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ingested"] == 2 and body["rejected"] == 3
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == ["ingested", "rejected", "ingested", "rejected", "rejected"]
    assert results[1]["error"]["message"].startswith("events[1]")
    assert "aliases" in results[1]["error"]["message"]
    assert results[3]["error"]["code"] == "not_found" and "events[3]" in results[3]["error"]["message"]
    assert results[4]["error"]["code"] == "payload_too_large"
    assert results[2]["score"] == 4
    assert count(api, models.Event) == 2


def test_batch_limits(api: ApiHarness) -> None:
    too_many = [email_event(f"p{i}@acme.com") for i in range(1001)]
    resp = api.post("/v1/events/batch", {"events": too_many})
    assert resp.status_code == 422 and "events" in error_message(resp) and "1000" in error_message(resp)
    assert count(api, models.Event) == 0
    resp = api.post("/v1/events/batch", {"events": []})
    assert resp.status_code == 422 and "events" in error_message(resp)
    resp = api.post("/v1/events/batch", {"events": [email_event(f"p{i}@acme.com") for i in range(1000)]})
    assert resp.status_code == 200 and resp.json()["ingested"] == 1000


# --- CRM events ----------------------------------------------------------------------------------------------------


def test_crm_person_object_form_company_created_then_matched(api: ApiHarness) -> None:
    add_rule(api, "form_submission", 10)
    resp = api.post("/v1/crm/events", {
        "type": "form_submission",
        "person": {"firstName": "Jane", "lastName": "Smith",
                   "emails": [{"value": "jane@home.example", "isPrimary": False},
                              {"value": "Jane@AcmeCorp.com", "isPrimary": True}],
                   "phones": [{"value": "+1-555-123-4567", "isPrimary": True}]},
        "company": {"name": "Acme Corporation", "website": "https://acmecorp.com", "industry": "Technology"},
        "message": "Demo request submitted",
        "metadata": {"formName": "Contact Us"},
        "pageUrl": "https://acmecorp.com/demo",
        "occurredAt": at(0),
    })
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["wasPersonCreated"] is True and body["wasCompanyCreated"] is True
    assert body["event"]["eventType"] == "form_submission" and body["event"]["score"] == 10
    assert body["event"]["metadata"] == {"formName": "Contact Us", "pageUrl": "https://acmecorp.com/demo",
                                         "message": "Demo request submitted"}
    person, company = body["person"], body["company"]
    assert person["firstName"] == "Jane" and person["companyId"] == company["id"] and person["score"] == 10
    assert {e["value"]: e["isPrimary"] for e in person["emails"]} == {"jane@home.example": False,
                                                                       "Jane@AcmeCorp.com": True}
    assert person["phones"] == [{"value": "+1-555-123-4567", "isPrimary": True}]
    assert company["name"] == "Acme Corporation" and company["domain"] == "acmecorp.com"

    # Same person by another of her emails, company by name in another case: nothing created -> 200.
    again = api.post("/v1/crm/events", {"type": "page_view", "person": {"emails": ["jane@home.example"]},
                                        "company": {"name": "ACME corporation"}})
    assert again.status_code == 200, again.text
    assert again.json()["wasPersonCreated"] is False and again.json()["wasCompanyCreated"] is False
    assert again.json()["person"]["id"] == person["id"] and again.json()["company"]["id"] == company["id"]
    # Company by id.
    by_id = api.post("/v1/crm/events", {"type": "x", "personId": person["id"], "company": {"id": company["id"]}})
    assert by_id.status_code == 200 and by_id.json()["company"]["id"] == company["id"]
    assert count(api, models.Account) == 1 and count(api, models.Lead) == 1


def test_crm_string_arrays_mark_the_first_as_primary(api: ApiHarness) -> None:
    resp = api.post("/v1/crm/events", {"type": "form_submission", "person": {
        "firstName": "John", "emails": ["john@doe.example", "jd@doe.example"], "phones": ["+1-555-1234", "+1-555-5678"],
    }})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert "company" not in body and "wasCompanyCreated" not in body
    assert body["person"]["emails"] == [{"value": "john@doe.example", "isPrimary": True},
                                        {"value": "jd@doe.example", "isPrimary": False}]
    assert [p["isPrimary"] for p in body["person"]["phones"]] == [True, False]
    # A phone alone finds him again.
    again = api.post("/v1/crm/events", {"type": "call", "person": {"phones": ["+1 555 5678"]}})
    assert again.status_code == 200 and again.json()["person"]["id"] == body["person"]["id"]


def test_crm_person_id(api: ApiHarness) -> None:
    created = api.post("/v1/crm/events", {"type": "a", "person": {"emails": ["p@q.example"]}}).json()
    pid = created["person"]["id"]
    resp = api.post("/v1/crm/events", {"type": "page_view", "personId": pid, "pageTitle": "Home", "pageDuration": 45})
    assert resp.status_code == 200 and resp.json()["event"]["personId"] == pid
    assert resp.json()["event"]["metadata"] == {"pageTitle": "Home", "pageDuration": 45}
    resp = api.post("/v1/crm/events", {"type": "page_view", "personId": "ld_missing"})
    assert resp.status_code == 404 and "personId" in error_message(resp)
    new_company = api.post("/v1/crm/events", {"type": "a", "personId": pid, "company": {"name": "Newco"}})
    assert new_company.status_code == 201 and new_company.json()["wasCompanyCreated"] is True
    assert new_company.json()["person"]["companyId"] == new_company.json()["company"]["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"person": {"emails": ["a@b.example"]}}, "type"),
        ({"type": "a"}, "personId"),
        ({"type": "a", "person": {"firstName": "X"}}, "person"),
        ({"type": "a", "person": {"emails": ["nope"]}}, "person"),
        ({"type": "a", "person": {"emails": ["a@b.example"]}, "company": {}}, "company"),
        ({"type": "a", "person": {"emails": ["a@b.example"]}, "company": {"id": "acc_missing"}}, "company"),
    ],
)
def test_crm_bad_input_names_the_field(api: ApiHarness, body: dict[str, Any], field: str) -> None:
    resp = api.post("/v1/crm/events", body)
    assert resp.status_code in (404, 422), resp.text
    assert field in error_message(resp)


# --- idempotency ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/signals", {"type": "demo_request", "contact": {"email": "i@acme.com"}, "occurred_at": at(0)}),
        ("/v1/events", email_event("i@acme.com", "demo_request")),
        ("/v1/events/batch", {"events": [email_event("i@acme.com", "demo_request")]}),
        ("/v1/crm/events", {"type": "demo_request", "person": {"emails": ["i@acme.com"]}, "occurredAt": at(0)}),
    ],
)
def test_idempotency_key_replays_the_first_response(api: ApiHarness, path: str, body: dict[str, Any]) -> None:
    add_rule(api, "demo_request", 40)
    headers = {"Idempotency-Key": "retry-1"}
    first = api.post(path, body, headers=headers)
    assert first.status_code in (200, 201), first.text
    second = api.post(path, body, headers=headers)
    assert second.status_code == first.status_code and second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert count(api, models.Event) == 1
    with api.db.read() as session:
        assert session.scalar(select(func.max(models.LeadScore.score)).where(
            models.LeadScore.unit_id == api.tenant.unit_id)) == 40
    other = api.post(path, {**body, "extra_field_changes_body": 1} if path == "/v1/crm/events" else
                     {**body, "timestamp": at(5)} if path == "/v1/events" else
                     {**body, "occurred_at": at(5)} if path == "/v1/signals" else
                     {"events": [email_event("j@acme.com")]}, headers=headers)
    assert other.status_code == 409 and "Idempotency-Key" in error_message(other)
    assert count(api, models.Event) == 1
    fresh = api.post(path, body, headers={"Idempotency-Key": "retry-2"})
    assert fresh.status_code in (200, 201) and count(api, models.Event) == 2


def test_idempotency_keys_are_per_tenant(api: ApiHarness, other_api: ApiHarness) -> None:
    body = {"type": "a", "contact": {"email": "t@acme.com"}}
    mine = api.post("/v1/signals", body, headers={"Idempotency-Key": "k"})
    theirs = other_api.post("/v1/signals", body, headers={"Idempotency-Key": "k"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["data"]["id"] != theirs.json()["data"]["id"]
    assert "idempotent-replayed" not in theirs.headers


# --- one log, visible everywhere -----------------------------------------------------------------------------------


def test_every_path_is_visible_in_signals_events_and_leads(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "touch", 1)
    api.post("/v1/signals", {"type": "touch", "contact": {"email": "v@acme.com"}, "occurred_at": at(0)})
    api.post("/v1/events", email_event("v@acme.com", "touch", 1))
    api.post("/v1/events/batch", {"events": [email_event("v@acme.com", "touch", 2)]})
    api.post("/v1/crm/events", {"type": "touch", "person": {"emails": ["V@acme.com"]}, "occurredAt": at(3)})
    signals = api.get("/v1/signals").json()
    events = api.get("/v1/events").json()
    leads = api.get("/v1/leads").json()
    assert signals["meta"]["total"] == 4 and len(events) == 4
    assert {e["id"] for e in events} == {s["id"] for s in signals["data"]}
    assert leads["total"] == 1 and leads["leads"][0]["score"] == 4 and leads["leads"][0]["last_activity_at"] == at(3)
    lead_events = api.get(f"/v1/leads/{leads['leads'][0]['id']}/events").json()
    assert [e["timestamp"] for e in lead_events] == [at(3), at(2), at(1), at(0)]
    assert other_api.get("/v1/signals").json()["meta"]["total"] == 0
    assert other_api.get("/v1/leads").json()["total"] == 0


def test_signal_contact_and_account_extras_become_attributes(api: ApiHarness) -> None:
    body = {
        "type": "demo_request",
        "contact": {"email": "kim@acme.com", "title": "CTO", "linkedin": "in/kim"},
        "account": {"domain": "acme.com", "industry": "Software", "employees": 120},
    }
    resp = api.post("/v1/signals", body)
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    lead = api.get(f"/v1/leads/{data['contact']['id']}").json()
    assert lead["lead"]["metadata"] == {"title": "CTO", "linkedin": "in/kim"}
    assert lead["account"]["metadata"] == {"industry": "Software", "employees": 120}


def test_timestamps_without_offset_are_utc(api: ApiHarness) -> None:
    naive = "2026-10-01T09:00:00"
    signal = api.post("/v1/signals", {"type": "a", "contact": {"email": "a@b.com"}, "occurred_at": naive})
    assert signal.status_code == 201, signal.text
    assert signal.json()["data"]["occurred_at"] == at(0)
    event = api.post("/v1/events", {**email_event("a@b.com"), "timestamp": naive})
    assert event.status_code == 201 and event.json()["event"]["timestamp"] == at(0)
    crm = api.post("/v1/crm/events", {"type": "touch", "person": {"emails": ["a@b.com"]}, "occurredAt": naive})
    assert crm.status_code in (200, 201) and crm.json()["event"]["occurredAt"] == at(0)
    offset = api.post("/v1/events", {**email_event("a@b.com"), "timestamp": "2026-10-01T11:00:00+02:00"})
    assert offset.json()["event"]["timestamp"] == at(0)
    listed = api.get("/v1/signals", params={"from": naive, "to": naive}).json()
    assert listed["meta"]["total"] == 4


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/events", {**email_event("a@b.com"), "timestamp": "0001-01-01T00:00:00+00:01"}, "timestamp"),
        ("/v1/signals", {"type": "a", "contact": {"email": "a@b.com"}, "occurred_at": "9999-12-31T23:59:59-00:01"},
         "occurred_at"),
        ("/v1/crm/events", {"type": "t", "person": {"emails": ["a@b.com"]}, "occurredAt": "0001-01-01T00:00:00+14:00"},
         "occurredAt"),
    ],
)
def test_timestamps_outside_years_1_to_9999_in_utc_are_422(
    api: ApiHarness, path: str, body: dict[str, Any], field: str
) -> None:
    resp = api.post(path, body)
    assert resp.status_code == 422, resp.text
    assert field in error_message(resp)
    assert count(api, models.Event) == 0
