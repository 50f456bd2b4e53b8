"""The daily counters analytics reads (event_counts_daily) stay equal to a GROUP BY of the event log through
ingest, batch ingest, event deletion (by id and by type), lead erasure and merging."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date

from sqlalchemy import select

from core.profile import PROFILE_EVENT_TYPES
from db import models
from services.insight import daily_counts
from tests.conftest import ApiHarness, add_rule


def counters(api: ApiHarness) -> dict[tuple[date, str, str], int]:
    c = models.EventCountDaily
    with api.db.read() as session:
        rows = session.execute(select(c.day, c.event_type, c.channel, c.events).where(c.unit_id == api.tenant.unit_id))
        return {(d, t, ch): int(n) for d, t, ch, n in rows}


def log_grouped(api: ApiHarness) -> dict[tuple[date, str, str], int]:
    """The log grouped in Python: UTC day of occurred_at, type, channel (profile changes aside)."""
    ev = models.Event
    with api.db.read() as session:
        rows = session.execute(
            select(ev.occurred_at, ev.event_type, ev.channel).where(ev.unit_id == api.tenant.unit_id)
        )
        return dict(Counter(
            (at.astimezone(UTC).date(), t, ch) for at, t, ch in rows if t not in PROFILE_EVENT_TYPES
        ))


def event(email: str, event_type: str, timestamp: str, **metadata: object) -> dict[str, object]:
    return {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type,
            "timestamp": timestamp, "metadata": metadata}


def test_counters_equal_the_log_through_ingest_deletion_erasure_and_merge(api: ApiHarness) -> None:
    add_rule(api, "page_visit", 5)
    add_rule(api, "webinar_attended", 20)
    # Late on one UTC day and early the next, given with offsets: the counters use the UTC day.
    for body in (
        event("ann@acme.io", "page_visit", "2026-10-01T23:30:00Z"),
        event("ann@acme.io", "page_visit", "2026-10-02T01:30:00+02:00"),  # 2026-10-01 23:30 UTC
        event("ann@acme.io", "page_visit", "2026-10-02T00:10:00Z", channel="email"),
        event("bob@beta.io", "webinar_attended", "2026-10-03T09:00:00Z"),
    ):
        resp = api.post("/v1/events", body)
        assert resp.status_code == 201, resp.text
    batch = [event(f"p{i}@gamma.io", "page_visit" if i % 2 else "email_open", f"2026-10-0{1 + i % 3}T12:00:00Z")
             for i in range(12)]
    resp = api.post("/v1/events/batch", {"events": batch})
    assert resp.status_code == 200 and resp.json()["ingested"] == 12, resp.text
    assert counters(api) == log_grouped(api)
    assert counters(api)[(date(2026, 10, 1), "page_visit", "web")] >= 2

    ids = [e["id"] for e in api.get("/v1/events", params={"limit": 3}).json()]
    deleted = api.client.request("DELETE", "/v1/events", json={"ids": ids}, headers=api.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["events_deleted"] == 3
    assert counters(api) == log_grouped(api)

    resp = api.delete("/v1/settings/event-types/email_open/events")
    assert resp.status_code == 200, resp.text
    assert all(t != "email_open" for _d, t, _c in counters(api))
    assert counters(api) == log_grouped(api)

    leads = {e["lead_id"] for e in api.get("/v1/events", params={"limit": 500}).json()}
    erased = sorted(leads)[0]
    assert api.delete(f"/v1/leads/{erased}").status_code == 202
    assert api.get(f"/v1/leads/{erased}/deletion-status").json()["status"] == "completed"
    assert counters(api) == log_grouped(api)

    target, source = sorted(leads - {erased})[:2]
    merged = api.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": [source], "truncate": True})
    assert merged.status_code == 200, merged.text
    assert counters(api) == log_grouped(api)


def test_recount_rebuilds_what_ingest_kept(api: ApiHarness) -> None:
    for i in range(5):
        resp = api.post("/v1/events", event(f"r{i}@acme.io", "page_visit", f"2026-09-0{1 + i}T08:00:00Z"))
        assert resp.status_code == 201, resp.text
    kept = counters(api)
    with api.db.write() as session:
        assert daily_counts.recount(session, api.tenant) == len(kept)
    assert counters(api) == kept == log_grouped(api)
