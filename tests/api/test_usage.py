"""GET /v1/usage: a unit's events, API requests and deliveries per UTC day of a month, leads and accounts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.request_counter import counter_of
from db import models
from db.engine import Database
from db.ids import new_id
from services.context import Tenant
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.tenancy import usage
from tests.conftest import ApiHarness

OCT_31 = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
NOV_1 = datetime(2026, 11, 1, 0, 15, tzinfo=UTC)
NOV_2 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _ingest(db: Database, tenant: Tenant, at: datetime, n: int, *, system: bool = False) -> None:
    """`n` events received at `at` (received_at is the ingest's clock); occurred long before, which must not matter."""
    event_type = "DECAY" if system else "page_view"
    events = [
        NewEvent(event_type, datetime(2025, 1, 1, tzinfo=UTC), system=system,
                 person=PersonRef(aliases=[AliasInput("email", f"p{i}@a.example")]))
        for i in range(n)
    ]
    with db.write() as session:
        results = ingest(session, tenant, events, at)
    assert all(not isinstance(r, Exception) for r in results), results


def _deliveries(db: Database, tenant: Tenant, at: datetime, n: int) -> None:
    with db.write() as session:
        trigger = models.Trigger(
            id=new_id("trg"), org_id=tenant.org_id, unit_id=tenant.unit_id, kind="milestone", config={},
            signing_secret="s", created_at=at, updated_at=at,
        )
        session.add(trigger)
        session.flush()
        for _ in range(n):
            firing = models.TriggerFiring(
                id=new_id("fir"), org_id=tenant.org_id, unit_id=tenant.unit_id, trigger_id=trigger.id,
                kind="milestone", dedupe_key=new_id("d"), subject="lead", occurred_at=at, fired_at=at,
            )
            session.add(firing)
            session.flush()
            session.add(models.Delivery(
                id=new_id("dlv"), org_id=tenant.org_id, unit_id=tenant.unit_id, firing_id=firing.id,
                channel="webhook", target="https://example.com/hook", body="{}", status="pending", created_at=at,
            ))


def _requests(db: Database, tenant: Tenant, day: date, n: int) -> None:
    with db.write() as session:
        usage.add_api_requests(session, {usage.UnitDay(tenant.org_id, tenant.unit_id, day): n})


def _usage(db: Database, tenant: Tenant, now: datetime, month: str | None = None) -> dict:  # type: ignore[type-arg]
    with db.read() as session:
        return usage.month_usage(session, tenant, month=month, now=now)


def test_counts_per_day_and_month(db: Database, tenant: Tenant) -> None:
    _ingest(db, tenant, OCT_31, 2)
    _ingest(db, tenant, NOV_1, 3)
    _ingest(db, tenant, NOV_2, 4)
    _ingest(db, tenant, NOV_2, 1, system=True)
    _deliveries(db, tenant, OCT_31, 1)
    _deliveries(db, tenant, NOV_2, 2)
    _requests(db, tenant, date(2026, 10, 31), 7)
    _requests(db, tenant, date(2026, 11, 1), 5)
    _requests(db, tenant, date(2026, 11, 1), 6)  # a second flush adds to the same day

    now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    nov = _usage(db, tenant, now)
    assert nov["month"] == "2026-11" and nov["unit_id"] == tenant.unit_id
    assert nov["days"] == [
        {"day": "2026-11-01", "events_ingested": 3, "system_events": 0, "api_requests": 11, "deliveries": 0},
        {"day": "2026-11-02", "events_ingested": 4, "system_events": 1, "api_requests": 0, "deliveries": 2},
        {"day": "2026-11-03", "events_ingested": 0, "system_events": 0, "api_requests": 0, "deliveries": 0},
    ]
    assert (nov["events_ingested"], nov["system_events"], nov["api_requests"], nov["deliveries"]) == (7, 1, 11, 2)
    assert nov["leads"] == 4 and nov["leads_created"] == 2  # p2 on Nov 1 and p3 on Nov 2; p0, p1 in October

    october = _usage(db, tenant, now, "2026-10")
    assert len(october["days"]) == 31  # a past month: every day, zeros included
    assert october["days"][-1] == {
        "day": "2026-10-31", "events_ingested": 2, "system_events": 0, "api_requests": 7, "deliveries": 1,
    }
    assert (october["events_ingested"], october["api_requests"], october["deliveries"]) == (2, 7, 1)
    assert _usage(db, tenant, now, "2026-12")["days"] == []  # a month still to come


def test_route_isolated_per_unit_and_month_validated(api: ApiHarness, other_api: ApiHarness) -> None:
    _ingest(api.db, api.tenant, datetime.now(UTC), 2)
    mine = api.get("/v1/usage")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["unit_id"] == api.tenant.unit_id and body["events_ingested"] == 2 and body["leads"] == 2
    assert body["month"] == datetime.now(UTC).strftime("%Y-%m")
    assert body["days"][-1]["day"] == datetime.now(UTC).date().isoformat()
    theirs = other_api.get("/v1/usage").json()
    assert theirs["unit_id"] == other_api.tenant.unit_id
    assert theirs["events_ingested"] == 0 and theirs["leads"] == 0

    for bad in ("2026-13", "2026-1", "november", "2026-11-01", "9999-12", "0000-01"):
        refused = api.get("/v1/usage", params={"month": bad})
        assert refused.status_code == 422, bad
        assert "month" in refused.json()["error"]["message"]


def test_api_requests_counted_once_flushed(api: ApiHarness, other_api: ApiHarness) -> None:
    counter = counter_of(api.client.app)
    counter.flush()
    for _ in range(3):
        assert api.get("/v1/usage").status_code == 200
    assert other_api.get("/v1/usage").status_code == 200
    assert api.get("/v1/usage", headers={"Authorization": "Bearer sk_live_wrong"}).status_code == 401  # not counted
    counter.flush()  # what the lifespan's shutdown (and the writer thread every few seconds) does
    assert api.get("/v1/usage").json()["api_requests"] == 3
    counter.flush()
    assert api.get("/v1/usage").json()["api_requests"] == 4  # the request that read 3 counts too
    assert other_api.get("/v1/usage").json()["api_requests"] == 1


def test_shutdown_flushes_counts(db: Database, api: ApiHarness) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_api

    app = create_api(db)
    with TestClient(app) as client:  # runs the lifespan: its shutdown writes what is still counted
        for _ in range(4):
            assert client.get("/v1/leads", headers=api.headers).status_code == 200
    assert counter_of(app).pending() == 0
    assert _usage(db, api.tenant, datetime.now(UTC))["api_requests"] == 4


@pytest.mark.parametrize("processes", [2])
def test_two_counters_add_up(db: Database, tenant: Tenant, processes: int) -> None:
    """Each API process has its own counter; their flushes add to the same usage_days row."""
    from api.request_counter import RequestCounter

    counters = [RequestCounter(db) for _ in range(processes)]
    for i, counter in enumerate(counters):
        for _ in range(i + 2):
            counter.count(tenant)
    for counter in counters:
        counter.flush()
    assert _usage(db, tenant, datetime.now(UTC))["api_requests"] == 2 + 3
