"""GET /v1/leads/{id}/activity: the lead's events in a range, filtered by channel, score, latency and delta; orders
always empty and the timeline the events; merged ids follow the surviving lead; units stay apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from db import models
from tests.conftest import ApiHarness, add_rule


def send(api: ApiHarness, email: str, event_type: str, at: datetime, **metadata: object) -> tuple[str, str]:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type,
                                   "timestamp": at.isoformat(), "metadata": metadata})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["lead_id"]), str(resp.json()["event"]["id"])


def ids(api: ApiHarness, lead: str, **params: object) -> list[str]:
    resp = api.get(f"/v1/leads/{lead}/activity", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["orders"] == []
    assert [t["id"] for t in body["timeline"]] == [e["id"] for e in body["events"]]
    assert all(t["type"] == "event" for t in body["timeline"])
    return [e["id"] for e in body["events"]]


def test_activity_ranges_and_filters(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    now = datetime.now(UTC)
    lead, recent = send(api, "ann@acme.io", "demo_request", now - timedelta(hours=1))
    _, mail = send(api, "ann@acme.io", "email_open", now - timedelta(days=2))
    _, old = send(api, "ann@acme.io", "page_visit", now - timedelta(days=40))
    arrived = {recent: now - timedelta(hours=1) + timedelta(seconds=0.2),
               old: now - timedelta(days=40) + timedelta(seconds=0.5)}
    with api.db.write() as session:  # sent as they happened; the email open arrived late, held back by a filter
        ev = models.Event
        for event_id, at in arrived.items():
            session.execute(update(ev).where(ev.id == event_id).values(received_at=at))
        session.execute(update(ev).where(ev.id == mail).values(
            received_at=now - timedelta(days=2) + timedelta(seconds=90), quarantine_filter_id="flt_1",
            quarantine_reason="burst"))

    assert ids(api, lead) == [recent, mail]  # default last_7d, newest first
    assert ids(api, lead, range="last_24h") == [recent]
    assert ids(api, lead, range="all") == [recent, mail, old]
    assert ids(api, lead, range="all", channel="email") == [mail]
    assert ids(api, lead, range="all", minScore=1) == [recent]
    assert ids(api, lead, range="all", hasDelta="true") == [recent]
    assert ids(api, lead, range="all", hasDelta="0") == [mail, old]
    assert ids(api, lead, range="all", maxLatency=60_000) == [recent, old]
    start, end = (now - timedelta(days=41)).isoformat(), (now - timedelta(days=1)).isoformat()
    assert ids(api, lead, range="custom", start=start, end=end) == [mail, old]

    events = api.get(f"/v1/leads/{lead}/activity").json()["events"]
    held = next(e for e in events if e["id"] == mail)
    assert (held["quarantined"], held["quarantine_filter_id"], held["quarantine_reason"]) == (True, "flt_1", "burst")
    assert held["latency_ms"] == 90_000 and held["channel"] == "email"
    assert next(e for e in events if e["id"] == recent)["score_delta"] == 30

    for params, field in (({"range": "custom"}, "start"), ({"range": "custom", "start": start}, "end"),
                          ({"range": "custom", "start": end, "end": start}, "start"), ({"range": "week"}, "range"),
                          ({"channel": "fax"}, "channel"), ({"minScore": -1}, "minScore"),
                          ({"maxLatency": 0}, "maxLatency"), ({"hasDelta": "yes"}, "hasDelta")):
        resp = api.get(f"/v1/leads/{lead}/activity", params=params)
        assert resp.status_code == 422 and field in resp.text, (params, resp.text)
    assert other_api.get(f"/v1/leads/{lead}/activity").status_code == 404


def test_a_merged_id_reads_the_surviving_lead(api: ApiHarness) -> None:
    now = datetime.now(UTC)
    target, first = send(api, "ann@acme.io", "page_visit", now - timedelta(hours=3))
    source, second = send(api, "ann.private@gmail.com", "page_visit", now - timedelta(hours=2))
    assert api.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": [source]}).status_code == 200
    assert ids(api, source) == ids(api, target) == [second, first]
