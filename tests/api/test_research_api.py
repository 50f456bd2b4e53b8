"""The research API (reference: signals-research-api): signals by company and contact, contact research jobs with
their signed completion webhook and the optional enrichment provider, contact search, the research rate limit."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from db import models
from notify.dispatcher import dispatch_due
from services.integrations import research_jobs
from settings import get_settings
from tests.conftest import ApiHarness, add_rule
from tests.notify.receivers import HttpReceiver, allow_loopback, start_http_receiver  # noqa: F401 (autouse)

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


def at(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def signal(api: ApiHarness, type_: str, email: str, hours: int, *, domain: str | None = "acme.com",
           **contact: Any) -> None:
    body: dict[str, Any] = {"type": type_, "contact": {"email": email, **contact}, "occurred_at": at(hours),
                            "properties": {"page": f"/{type_}"}}
    if domain:
        body["account"] = {"domain": domain, "name": domain.split(".")[0].title()}
    resp = api.post("/v1/signals", body)
    assert resp.status_code == 201, resp.text


def social(api: ApiHarness, email: str, url: str, hours: int, event_type: str = "page_view") -> str:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email},
                                               {"alias_kind": "social", "raw_value": url}],
                                   "event_type": event_type, "timestamp": at(hours)})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["lead_id"])


def refused(resp: Any, status: int, name: str) -> None:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"code", "message", "request_id"}
    assert name in error["message"]


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    rec = start_http_receiver()
    yield rec
    rec.close()


def finished(api: ApiHarness, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = api.get(f"/v1/research/contacts/{request_id}").json()
        if body["status"] != "pending":
            return dict(body)
        time.sleep(0.05)
    raise AssertionError(f"research request {request_id} still pending")


# --- signals -------------------------------------------------------------------------------------------------------


def test_company_signals_newest_first_with_uuid_ids_and_filters(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    signal(api, "page_view", "ann@acme.com", 1, title="CTO")
    signal(api, "demo_request", "bob@acme.com", 2)
    signal(api, "page_view", "cy@globex.com", 3, domain="globex.com")
    signal(other_api, "page_view", "ann@acme.com", 4)

    page = api.get("/v1/research/signals", params={"domain": "acme.com"})
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["meta"] == {"total": 2, "limit": 25, "offset": 0}
    assert [s["type"] for s in body["data"]] == ["demo_request", "page_view"]  # newest first, no PROFILE_UPDATE
    first = body["data"][0]
    assert str(uuid.UUID(first["id"])) == first["id"]
    assert first["score"] == 30 and first["contact"]["email"] == "bob@acme.com"
    assert first["account"]["domain"] == "acme.com" and first["quarantined"] is False

    account_id = first["account"]["id"]
    by_id = api.get("/v1/research/signals", params={"company_id": account_id, "limit": 1, "offset": 1}).json()
    assert by_id["meta"] == {"total": 2, "limit": 1, "offset": 1}
    assert [s["type"] for s in by_id["data"]] == ["page_view"]
    window = api.get("/v1/research/signals", params={"domain": "acme.com", "from": at(2), "to": at(5)}).json()
    assert [s["type"] for s in window["data"]] == ["demo_request"]
    assert api.get("/v1/research/signals", params={"company_id": "acct_nope"}).json()["meta"]["total"] == 0

    # Exactly one of domain and company_id, limits, RFC 3339: 400 with the envelope, naming the parameter.
    refused(api.get("/v1/research/signals"), 400, "domain")
    refused(api.get("/v1/research/signals", params={"domain": "acme.com", "company_id": account_id}), 400, "domain")
    refused(api.get("/v1/research/signals", params={"domain": "-acme.com"}), 400, "domain")
    refused(api.get("/v1/research/signals", params={"domain": "acme.com", "limit": 0}), 400, "limit")
    refused(api.get("/v1/research/signals", params={"domain": "acme.com", "limit": 101}), 400, "limit")
    refused(api.get("/v1/research/signals", params={"domain": "acme.com", "offset": -1}), 400, "offset")
    refused(api.get("/v1/research/signals", params={"domain": "acme.com", "from": "yesterday"}), 400, "from")
    refused(api.get("/v1/research/signals", params={"domain": "acme.com", "from": at(5), "to": at(1)}), 400, "from")
    refused(api.get("/v1/research/signals", params={"domain": "acme.com", "bogus": "1"}), 400, "bogus")


def test_one_signal_by_uuid_and_another_units_is_not_found(api: ApiHarness, other_api: ApiHarness) -> None:
    signal(api, "page_view", "ann@acme.com", 1)
    signal(other_api, "page_view", "ann@acme.com", 1)
    mine = api.get("/v1/research/signals", params={"domain": "acme.com"}).json()["data"][0]
    theirs = other_api.get("/v1/research/signals", params={"domain": "acme.com"}).json()["data"][0]
    with api.db.read() as session:  # every event is reachable by the UUID form of its id
        event_id = session.scalar(select(models.Event.id).where(models.Event.unit_id == api.tenant.unit_id,
                                                                models.Event.event_type == "page_view"))
    assert event_id == "ev_" + uuid.UUID(mine["id"]).hex

    got = api.get(f"/v1/research/signals/{mine['id']}")
    assert got.status_code == 200 and got.json() == mine
    assert api.get(f"/v1/research/contact-signals/{mine['id']}").json() == mine
    for path in (f"/v1/research/signals/{theirs['id']}", f"/v1/research/contact-signals/{theirs['id']}",
                 f"/v1/research/signals/{uuid.uuid4()}"):
        resp = api.get(path)
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"]["message"] == "signal not found or access denied"
    refused(api.get("/v1/research/signals/ev_123"), 400, "signal_id")


def test_contact_signals_by_any_form_of_the_profile_url(api: ApiHarness) -> None:
    lead = social(api, "ann@acme.com", "https://www.linkedin.com/in/Ann-Lee/", 1)
    social(api, "ann@acme.com", "https://www.linkedin.com/in/Ann-Lee/", 2, "pricing_view")
    signal(api, "demo_request", "bob@acme.com", 3, linkedin_url="https://de.linkedin.com/in/bob-b?trk=x")
    social(api, "cy@acme.com", "https://linkedin.com/in/ann-leek", 4)  # a longer slug is someone else

    for url in ("linkedin.com/in/ann-lee", "http://uk.linkedin.com/in/ANN-LEE?x=1", "https://linkedin.com/in/ann-lee/"):
        body = api.get("/v1/research/contact-signals", params={"profile_url": url}).json()
        assert [s["type"] for s in body["data"]] == ["pricing_view", "page_view"], url
        assert {s["contact"]["id"] for s in body["data"]} == {lead}
    bob = api.get("/v1/research/contact-signals", params={"profile_url": "https://www.linkedin.com/in/Bob-B/"})
    assert [s["type"] for s in bob.json()["data"]] == ["demo_request"]
    assert api.get("/v1/research/contact-signals",
                   params={"profile_url": "https://linkedin.com/in/nobody"}).json()["meta"]["total"] == 0
    refused(api.get("/v1/research/contact-signals"), 400, "profile_url")
    refused(api.get("/v1/research/contact-signals", params={"profile_url": "not a url"}), 400, "profile_url")


# --- contact research ----------------------------------------------------------------------------------------------


def test_research_completes_and_a_verifiable_webhook_is_sent(api: ApiHarness, receiver: HttpReceiver) -> None:
    add_rule(api, "demo_request", 40)
    lead = social(api, "ann@acme.com", "https://linkedin.com/in/ann-lee", 1)
    signal(api, "demo_request", "ann@acme.com", 2, title="VP Sales", country="DE")
    seg = api.post("/v1/segments", {"name": "Engaged"}).json()
    assert api.post(f"/v1/segments/{seg['segment_id']}/rules", {
        "rule_type": "lead_metadata", "field_name": "title", "operator": "exists"}).status_code == 201

    created = api.post("/v1/research/contacts", {
        "first_name": "Ann", "last_name": "Lee", "profile_url": "https://www.linkedin.com/in/ANN-LEE/",
        "webhook_url": receiver.url + "/hook", "external_id": "hubspot_1", "source": "hubspot"})
    assert created.status_code == 201, created.text
    assert created.json()["id"].startswith("cr_") and created.json()["status"] == "pending"

    done = finished(api, created.json()["id"])
    assert done["status"] == "completed" and done["lead_id"] == lead and done["matched_by"] == "profile_url"
    assert done["contact"]["email"] == "ann@acme.com" and done["contact"]["title"] == "VP Sales"
    assert done["contact"]["country"] == "DE"
    assert {"kind": "social", "value": "https://linkedin.com/in/ann-lee", "is_primary": False} \
        in done["contact"]["aliases"]
    assert done["account"]["domain"] == "acme.com"
    assert done["scores"]["score"] == 40
    assert [s["type"] for s in done["recent_signals"]] == ["demo_request", "page_view"]
    assert done["segments"] == [{"id": seg["segment_id"], "name": "Engaged"}]
    assert done["enrichment"] is None  # no provider configured

    assert api.get("/v1/research/contacts", params={"external_id": "hubspot_1", "source": "hubspot"}).json() == done
    dispatch_due(api.db, "research-test")
    (hook,) = receiver.wait_for(1)
    secret = api.get("/v1/research/webhook-secret").json()["secret"]
    verified = Webhook(secret).verify(hook.body, hook.headers)
    assert verified["type"] == "contact_research.completed" and verified["data"]["id"] == done["id"]
    assert verified["data"]["status"] == "completed"


def test_research_by_name_and_domain_and_not_found(api: ApiHarness) -> None:
    signal(api, "page_view", "ann.lee@acme.com", 1, first_name="Ann", last_name="Lee")
    hit = api.post("/v1/research/contacts", {"first_name": "ann", "last_name": "LEE", "company_domain": "acme.com"})
    done = finished(api, hit.json()["id"])
    assert done["status"] == "completed" and done["matched_by"] == "name_and_company"
    miss = api.post("/v1/research/contacts", {"first_name": "Ann", "last_name": "Lee", "company_name": "Globex"})
    assert finished(api, miss.json()["id"])["status"] == "not_found"


def test_research_input_lookup_and_errors(api: ApiHarness, other_api: ApiHarness) -> None:
    refused(api.post("/v1/research/contacts", {"first_name": "Ann"}), 400, "profile_url")
    refused(api.post("/v1/research/contacts", {"profile_url": "x", "nope": 1}), 400, "nope")
    refused(api.post("/v1/research/contacts", {"profile_url": "not a url"}), 400, "profile_url")
    refused(api.post("/v1/research/contacts", {"first_name": "A", "last_name": "B", "company_domain": "-x"}), 400,
            "company_domain")
    refused(api.post("/v1/research/contacts", {"profile_url": "https://linkedin.com/in/a",
                                               "webhook_url": "http://169.254.169.254/hook"}), 400, "webhook_url")
    refused(api.get("/v1/research/contacts", params={"external_id": "x"}), 400, "source")
    refused(api.get("/v1/research/contacts", params={"source": "x"}), 400, "external_id")
    assert api.get("/v1/research/contacts", params={"external_id": "x", "source": "y"}).status_code == 404
    mine = api.post("/v1/research/contacts", {"profile_url": "https://linkedin.com/in/a", "external_id": "e1",
                                              "source": "crm"}).json()
    assert other_api.get(f"/v1/research/contacts/{mine['id']}").status_code == 404
    assert other_api.get("/v1/research/contacts", params={"external_id": "e1", "source": "crm"}).status_code == 404
    with api.db.read() as session:
        entry = session.scalar(select(models.AuditLog).where(
            models.AuditLog.unit_id == api.tenant.unit_id, models.AuditLog.entity_id == mine["id"]))
        assert entry is not None and entry.action == "create"


def test_research_rate_limit(api: ApiHarness) -> None:
    assert api.get("/v1/settings/rate-limit").json()["research_per_minute"] == 60  # the default
    changed = api.put("/v1/settings/rate-limit", {"research_per_minute": 2})
    assert changed.status_code == 200 and changed.json()["research_per_minute"] == 2, changed.text
    assert changed.json()["enabled"] is False  # the API limit itself stays off
    assert api.post("/v1/research/contacts/search", {}).status_code == 200
    assert api.post("/v1/research/contacts", {"profile_url": "https://linkedin.com/in/a"}).status_code == 201
    over = api.post("/v1/research/contacts", {"profile_url": "https://linkedin.com/in/a"})
    assert over.status_code == 429, over.text
    assert int(over.headers["retry-after"]) >= 1 and over.json()["error"]["code"] == "rate_limited"
    assert api.get("/v1/research/signals", params={"domain": "acme.com"}).status_code == 200  # reads are not limited


# --- the enrichment provider ---------------------------------------------------------------------------------------


class Provider:
    """A loopback enrichment provider: answers `status` with `body` after `delay` seconds; records requests."""

    def __init__(self, status: int = 200, body: Any = None, delay: float = 0.0) -> None:
        self.status, self.body, self.delay = status, body, delay
        self.requests: list[tuple[dict[str, str], Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                owner.requests.append(({k.lower(): v for k, v in self.headers.items()},
                                       json.loads(self.rfile.read(length))))
                time.sleep(owner.delay)
                payload = json.dumps(owner.body).encode()
                try:
                    self.send_response(owner.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/enrich"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def use_provider(monkeypatch: pytest.MonkeyPatch, provider: Provider) -> None:
    monkeypatch.setattr(get_settings(), "enrichment_url", provider.url)
    monkeypatch.setattr(get_settings(), "enrichment_token", "tok_123")


def test_provider_fields_are_merged_through_the_profile_mappings(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = social(api, "ann@acme.com", "https://linkedin.com/in/ann-lee", 1)
    assert api.post("/v1/profile/field-mappings", {"source_field": "seniority",
                                                   "profile_property": "seniority"}).status_code == 201
    provider = Provider(body={"found": True, "fields": {"seniority": "VP", "twitter": "@ann"}})
    use_provider(monkeypatch, provider)
    try:
        made = api.post("/v1/research/contacts", {"profile_url": "https://linkedin.com/in/ann-lee",
                                                  "first_name": "Ann", "job_title": "VP"})
        done = finished(api, made.json()["id"])
    finally:
        provider.close()
    headers, sent = provider.requests[0]
    assert headers["authorization"] == "Bearer tok_123"
    assert sent["profile_url"] == "https://linkedin.com/in/ann-lee" and sent["email"] == "ann@acme.com"
    assert done["status"] == "completed"
    assert done["enrichment"] == {"status": "found", "fields": {"seniority": "VP", "twitter": "@ann"},
                                  "merged": ["seniority"], "reason": None}
    profile = api.get(f"/v1/leads/{lead}").json()["lead"]["metadata"]
    assert profile["seniority"] == "VP" and "twitter" not in profile  # only what a mapping copies
    with api.db.read() as session:  # recorded in the log, so replay keeps it
        change = session.scalars(select(models.Event.metadata_).where(
            models.Event.lead_id == lead, models.Event.event_type == "PROFILE_UPDATE").order_by(models.Event.seq.desc())
        ).first()
    assert change == {"set": {"seniority": "VP"}, "via": "research"}


def test_provider_email_finds_the_lead_and_provider_misses(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    lead = social(api, "zoe@acme.com", "https://example.com/zoe", 1)
    found = Provider(body={"found": True, "fields": {"email": "ZOE@acme.com"}})
    use_provider(monkeypatch, found)
    try:
        done = finished(api, api.post("/v1/research/contacts",
                                      {"profile_url": "https://linkedin.com/in/zoe"}).json()["id"])
    finally:
        found.close()
    assert done["status"] == "completed" and done["lead_id"] == lead and done["matched_by"] == "email"

    missing = Provider(status=404, body={"error": "no"})
    use_provider(monkeypatch, missing)
    try:
        done = finished(api, api.post("/v1/research/contacts",
                                      {"profile_url": "https://linkedin.com/in/nobody"}).json()["id"])
    finally:
        missing.close()
    assert done["status"] == "not_found" and done["enrichment"]["status"] == "not_found"


def test_a_slow_provider_times_out_and_the_research_still_completes(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    social(api, "ann@acme.com", "https://linkedin.com/in/ann-lee", 1)
    slow = Provider(body={"found": True, "fields": {}}, delay=2.0)
    use_provider(monkeypatch, slow)
    monkeypatch.setattr(research_jobs, "ENRICHMENT_TIMEOUT", (0.5, 0.3))
    try:
        done = finished(api, api.post("/v1/research/contacts",
                                      {"profile_url": "https://linkedin.com/in/ann-lee"}).json()["id"])
    finally:
        slow.close()
    assert done["status"] == "completed"
    assert done["enrichment"]["status"] == "timeout" and done["enrichment"]["reason"] == "timed out"


# --- crash recovery ------------------------------------------------------------------------------------------------


def test_a_request_whose_process_died_is_worked_by_the_sweep(api: ApiHarness) -> None:
    social(api, "ann@acme.com", "https://linkedin.com/in/ann-lee", 1)
    now = datetime.now(UTC)
    with api.db.write() as session:  # as if the process died right after the commit
        session.add(models.ResearchRequest(
            id="cr_" + uuid.uuid4().hex, org_id=api.tenant.org_id, unit_id=api.tenant.unit_id, status="pending",
            request={"profile_url": "https://linkedin.com/in/ann-lee"}, attempts=1,
            lease_until=now - timedelta(seconds=1), created_at=now, updated_at=now))
    assert research_jobs.sweep(api.db) >= 1
    with api.db.read() as session:
        row = session.scalars(select(models.ResearchRequest).where(
            models.ResearchRequest.unit_id == api.tenant.unit_id)).one()
        assert row.status == "completed" and row.attempts == 2 and row.lease_until is None


# --- contact search ------------------------------------------------------------------------------------------------


def test_contact_search_filters_and_ranks_by_score(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 50)
    add_rule(api, "page_view", 5)
    signal(api, "page_view", "ann@google.com", 1, domain="google.com", first_name="Ann", title="Engineering Manager",
           country="US", skills="Kubernetes")
    signal(api, "demo_request", "bob@google.com", 2, domain="google.com", title="VP Engineering", country="GB")
    signal(api, "page_view", "cy@google.com", 3, domain="google.com", title="Designer", country="DE")
    signal(api, "demo_request", "dee@acme.com", 4, domain="acme.com", title="VP Engineering", country="US")
    api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "cy@google.com"}],
                            "event_type": "page_view", "metadata": {"topic": "DevOps handbook"}, "timestamp": at(5)})
    signal(api, "page_view", "bob@google.com", 6, domain="google.com")

    def search(**body: Any) -> list[str]:
        resp = api.post("/v1/research/contacts/search", body)
        assert resp.status_code == 200, resp.text
        return [c["email"] for c in resp.json()["data"]]

    assert search(company_linkedin_url="https://www.linkedin.com/company/google/") == [
        "bob@google.com", "cy@google.com", "ann@google.com"]  # by score: 55, 10, 5
    assert search(job_titles=["vp engineering"]) == ["bob@google.com", "dee@acme.com"]
    assert search(company_linkedin_url="linkedin.com/company/google", job_titles=["Engineering"]) == [
        "bob@google.com", "ann@google.com"]
    assert search(keywords="kubernetes, devops") == ["cy@google.com", "ann@google.com"]
    assert search(countries=["us"]) == ["dee@acme.com", "ann@google.com"]
    assert search(first_name="ANN") == ["ann@google.com"]
    first = api.post("/v1/research/contacts/search", {"job_titles": ["VP"], "limit": 1}).json()
    assert first["meta"] == {"total": 2, "limit": 1, "offset": 0}
    assert first["data"][0]["score"] == 55 and first["data"][0]["account"]["domain"] == "google.com"
    assert first["data"][0]["title"] == "VP Engineering" and first["data"][0]["country"] == "GB"

    refused(api.post("/v1/research/contacts/search", {"company_linkedin_url": "https://linkedin.com/in/ann"}),
            422, "company_linkedin_url")
    refused(api.post("/v1/research/contacts/search", {"countries": ["US", "XX"]}), 400, "countries")
    refused(api.post("/v1/research/contacts/search", {"limit": 0}), 400, "limit")
    refused(api.post("/v1/research/contacts/search", {"job_titles": "VP"}), 400, "job_titles")


# --- erasure -------------------------------------------------------------------------------------------------------


def test_erasing_a_lead_scrubs_the_research_that_named_it(api: ApiHarness, receiver: HttpReceiver) -> None:
    lead = social(api, "erin.private@acme.com", "https://linkedin.com/in/erin-private", 1)
    made = api.post("/v1/research/contacts", {"profile_url": "https://linkedin.com/in/erin-private",
                                              "first_name": "Erin", "last_name": "Private",
                                              "webhook_url": receiver.url})
    assert finished(api, made.json()["id"])["lead_id"] == lead
    assert api.delete(f"/v1/leads/{lead}").status_code == 202
    after = api.get(f"/v1/research/contacts/{made.json()['id']}").json()
    text = json.dumps(after).lower()
    assert after["lead_id"] is None and "erin" not in text and lead not in text
    with api.db.read() as session:
        bodies = session.scalars(select(models.Delivery.body).where(
            models.Delivery.unit_id == api.tenant.unit_id, models.Delivery.firing_id.is_(None))).all()
    assert bodies and not any("erin" in b.lower() for b in bodies)


def test_viewers_read_and_search_but_only_owners_and_operators_start_research(api: ApiHarness) -> None:
    from tests.api.test_roles import with_key

    viewer, operator, ingest = with_key(api, "Viewer"), with_key(api, "Operator"), with_key(api, "Ingest")
    assert viewer.get("/v1/research/signals", params={"domain": "acme.com"}).status_code == 200
    assert viewer.post("/v1/research/contacts/search", {}).status_code == 200
    # Research may write an enrichment provider's fields into the lead's profile: not for those who only read.
    refused = viewer.post("/v1/research/contacts", {"profile_url": "https://linkedin.com/in/a"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert operator.post("/v1/research/contacts", {"profile_url": "https://linkedin.com/in/a"}).status_code == 201
    assert ingest.get("/v1/research/signals", params={"domain": "acme.com"}).status_code == 403
