"""The Leads page's "why hot" hint: the 7-day change and its top driver, for a page of leads in one query."""

from __future__ import annotations

from datetime import datetime, timedelta

from db.engine import Database
from services.context import Tenant
from services.ingest.contract import AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.people.lead_insights import describe, event_label, recent_drivers
from services.scoring.rules import create_rule


def _event(kind: str, email: str, when: datetime, **props: object) -> NewEvent:
    return NewEvent(kind, when, dict(props), person=PersonRef(aliases=[AliasInput("email", email)]))


def test_change_and_top_driver_over_the_last_7_days(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        create_rule(session, tenant, {"event_type": "demo_request", "weight": 30}, now=now)
        create_rule(session, tenant, {"event_type": "page_visit", "weight": 4}, now=now)
        create_rule(session, tenant, {"event_type": "unsubscribe", "weight": -20}, now=now)
        results = ingest(session, tenant, [
            _event("page_visit", "hot@x.com", now - timedelta(days=20)),  # outside the window
            _event("demo_request", "hot@x.com", now - timedelta(days=3)),
            _event("page_visit", "hot@x.com", now - timedelta(days=2)),
            _event("page_visit", "hot@x.com", now - timedelta(days=1)),
            _event("page_visit", "quiet@x.com", now - timedelta(days=30)),
            _event("page_visit", "leaving@x.com", now - timedelta(days=9)),
            _event("page_visit", "leaving@x.com", now - timedelta(days=9)),
            _event("page_visit", "leaving@x.com", now - timedelta(days=9)),
            _event("page_visit", "leaving@x.com", now - timedelta(days=9)),
            _event("page_visit", "leaving@x.com", now - timedelta(days=9)),
            _event("page_visit", "leaving@x.com", now - timedelta(days=6)),
            _event("unsubscribe", "leaving@x.com", now - timedelta(days=1)),
        ], now)
    lead_of: dict[str, str] = {}
    for result, email in zip(results, ["hot"] * 4 + ["quiet"] + ["leaving"] * 7, strict=True):
        assert isinstance(result, Ingested)
        assert result.lead_id is not None
        lead_of[email] = result.lead_id
    with db.read() as session:
        got = recent_drivers(session, tenant, [lead_of["hot"], lead_of["quiet"], lead_of["leaving"]], now=now)

    hot = got[lead_of["hot"]]
    assert (hot.change, hot.driver, hot.driver_points, hot.events) == (38, "demo_request", 30, 3)
    assert describe(hot) == "+38 in 7d · mostly Demo request (+30)"
    quiet = got[lead_of["quiet"]]
    assert (quiet.change, quiet.driver, quiet.events) == (0, None, 0)
    assert describe(quiet) == "no activity in 7d"
    leaving = got[lead_of["leaving"]]
    assert (leaving.change, leaving.driver, leaving.driver_points) == (-16, "page_visit", 4)
    assert describe(leaving) == "-16 in 7d · mostly Page visit (+4)"


def test_leads_of_another_unit_are_not_counted(db: Database, tenant: Tenant, now: datetime) -> None:
    from services.tenancy.tenants import create_unit

    with db.write() as session:
        other = create_unit(session, org_name="Other", unit_name="other", now=now)
        create_rule(session, tenant, {"event_type": "demo_request", "weight": 30}, now=now)
        (mine,) = ingest(session, tenant, [_event("demo_request", "a@x.com", now - timedelta(days=1))], now)
    assert isinstance(mine, Ingested) and mine.lead_id is not None
    with db.read() as session:
        assert recent_drivers(session, other, [mine.lead_id], now=now)[mine.lead_id].events == 0
        assert recent_drivers(session, tenant, [], now=now) == {}


def test_event_labels_read_like_words() -> None:
    assert event_label("demo_request") == "Demo request"
    assert event_label("DECAY") == "Decay"
    assert event_label("page-visit") == "Page visit"
