"""GET /metrics: Prometheus text that parses, counters that move with real requests, the optional bearer token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from db.engine import Database
from scheduler import jobs
from services.operations import leases
from settings import get_settings
from tests.conftest import ApiHarness

EVENT = {"aliases": [{"alias_kind": "email", "raw_value": "ann@acme.com"}], "event_type": "page_view"}


def scrape(api: ApiHarness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels), parsed with prometheus_client's own parser."""
    resp = api.client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_parse_and_name_every_documented_family(api: ApiHarness) -> None:
    resp = api.client.get("/metrics")
    families = {f.name: f.type for f in text_string_to_metric_families(resp.text)}
    assert families["events_ingested"] == "counter"
    assert families["http_requests"] == "counter"
    assert families["deliveries"] == "counter"
    assert families["rate_limit_exceeded"] == "counter"
    assert families["queue_depth"] == "gauge"
    for histogram in ("event_to_slack_latency_seconds", "event_to_webhook_latency_seconds", "scheduler_job_seconds"):
        assert families[histogram] == "histogram"
    # Prometheus scrapes it as text; it is no API operation for clients.
    assert "/metrics" not in api.client.get("/openapi.json").json()["paths"]


def test_ingested_events_are_counted_once_they_are_committed(api: ApiHarness) -> None:
    before = scrape(api)
    assert api.post("/v1/events", EVENT).status_code == 201
    after = scrape(api)
    assert value(after, "events_ingested_total") - value(before, "events_ingested_total") == 1
    # A batch counts what it accepted, not what it rejected.
    batch = {"events": [EVENT, {**EVENT, "event_type": ""}, EVENT]}
    resp = api.post("/v1/events/batch", batch)
    assert resp.status_code == 200 and resp.json()["ingested"] == 2, resp.text
    # An idempotent replay writes nothing and counts nothing.
    keyed = {"Idempotency-Key": "metrics-replay-1"}
    assert api.post("/v1/events", EVENT, headers=keyed).status_code == 201
    replay = api.post("/v1/events", EVENT, headers=keyed)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert value(scrape(api), "events_ingested_total") - value(after, "events_ingested_total") == 3


def test_http_requests_are_counted_by_code_and_method(api: ApiHarness) -> None:
    before = scrape(api)
    assert api.post("/v1/events", EVENT).status_code == 201
    assert api.get("/v1/leads/ld_missing").status_code == 404
    assert api.client.get("/v1/leads").status_code == 401  # no key
    after = scrape(api)

    def moved(code: str, method: str) -> float:
        return value(after, "http_requests_total", code=code, method=method) - value(
            before, "http_requests_total", code=code, method=method
        )

    assert moved("201", "POST") == 1
    assert moved("404", "GET") == 1
    assert moved("401", "GET") == 1
    assert moved("200", "GET") == 1  # the first scrape itself
    # A made-up method is answered (405) and counted under one label, not one series per name a client invents.
    assert api.client.request("BREW", "/v1/leads").status_code == 405
    assert api.client.request("SPLASH", "/v1/leads").status_code == 405
    labels = {labels for name, labels in scrape(api) if name == "http_requests_total"}
    assert (("code", "405"), ("method", "other")) in labels
    assert not any(("method", "BREW") in pairs for pairs in labels)


def test_a_scheduler_job_run_is_timed_and_a_lease_miss_is_not(api: ApiHarness, db: Database) -> None:
    job = {"job": jobs.IDEMPOTENCY_JOB}
    before = scrape(api)
    assert jobs.run_idempotency_prune(db) is not None
    after = scrape(api)
    assert value(after, "scheduler_job_seconds_count", **job) - value(before, "scheduler_job_seconds_count", **job) == 1
    assert value(after, "scheduler_job_seconds_sum", **job) > value(before, "scheduler_job_seconds_sum", **job)
    # Another process holds the lease: this process skips the job and times nothing.
    at = datetime.now(UTC)
    with db.write() as session:
        assert leases.acquire(session, jobs.IDEMPOTENCY_JOB, "elsewhere:1", at, timedelta(minutes=5))
    try:
        assert jobs.run_idempotency_prune(db, now=at) is None
        assert value(scrape(api), "scheduler_job_seconds_count", **job) == value(
            after, "scheduler_job_seconds_count", **job
        )
    finally:
        with db.write() as session:
            leases.release(session, jobs.IDEMPOTENCY_JOB, "elsewhere:1")


def test_a_metrics_token_is_required_when_set(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "metrics_token", "scrape-secret")
    missing = api.client.get("/metrics")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized" and missing.json()["error"]["request_id"]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert api.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.get("/metrics").status_code == 401  # an API key is not the metrics token
    ok = api.client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert ok.status_code == 200
    assert any(f.name == "events_ingested" for f in text_string_to_metric_families(ok.text))


def test_decay_drops_and_rolled_back_ingests_are_not_counted(api: ApiHarness, now: datetime) -> None:
    from services.ingest.contract import AliasInput, NewEvent, PersonRef
    from services.ingest.ingest import ingest
    from services.scoring import decay
    from tests.notify.receivers import add_rule, send_event

    add_rule(api.db, api.tenant, "demo_request", 50, now)
    with api.db.write() as session:
        decay.create_decay(session, api.tenant, inactive_for=7, unit="days", decrease=10, now=now)
    before = scrape(api)
    send_event(api.db, api.tenant, "ann@acme.io", "demo_request", now)
    with api.db.write() as session:  # two DECAY events: the system's adjustments, not ingest
        assert decay.apply_decay(session, api.tenant, now + timedelta(days=15)).drops == 2
    event = NewEvent(event_type="demo_request", occurred_at=now,
                     person=PersonRef(aliases=[AliasInput("email", "bob@acme.io")]))
    with pytest.raises(RuntimeError), api.db.write() as session:
        ingest(session, api.tenant, [event], now)
        raise RuntimeError("the transaction fails after ingest: nothing was stored")
    assert value(scrape(api), "events_ingested_total") - value(before, "events_ingested_total") == 1
