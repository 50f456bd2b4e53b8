"""Surge triggers over the API: CRUD with exactly one destination, the outbound guard, roles and tenancy; firing at
ingest when a lead's count of events in the window reaches the threshold, once per lead per window period, with a
delivery through the outbox; GET /v1/surge/events and its filters. Milestone/sequence/pattern routes never list
surge triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from db import models
from services.tenancy import api_keys
from tests.api.test_fit_config import ok
from tests.conftest import ApiHarness

PATH = "/v1/surge/triggers"
EMAIL = {"emails": ["sales@example.com"]}


def refused(resp: Any, field: str) -> str:
    assert resp.status_code == 422, resp.text
    message = str(resp.json()["error"]["message"])
    assert field in message, message
    return message


def event(api: ApiHarness, email: str, event_type: str, at: datetime) -> dict[str, Any]:
    body = {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type,
            "timestamp": at.isoformat()}
    return dict(ok(api.post("/v1/events", body), 201))


def base_time() -> datetime:
    """A time well inside one 1-hour window period, in the recent past (ingest compares with the real clock)."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    return hour + timedelta(minutes=5)


def test_crud_of_a_surge_trigger(api: ApiHarness) -> None:
    created = ok(api.post(PATH, {"event_type": "page_view", "window_seconds": 10, "window_unit": "minutes",
                                 "threshold_count": 3, **EMAIL}), 201)
    assert created["signing_secret"].startswith("whsec_")
    trigger_id = created["trigger_id"]
    listed = ok(api.get(PATH))
    assert listed == [{k: v for k, v in created.items() if k != "signing_secret"}]
    assert listed[0] | {"created_at": None, "updated_at": None} == {
        "trigger_id": trigger_id, "event_type": "page_view", "window_seconds": 10, "window_unit": "minutes",
        "threshold_count": 3, "webhook_url": None, "emails": ["sales@example.com"], "created_at": None,
        "updated_at": None, "slack_target_kind": None, "slack_target_id": None, "teams_target_kind": None,
        "teams_target_id": None, "hubspot_sync": False,
    }
    updated = ok(api.put(f"{PATH}/{trigger_id}", {"window_seconds": 2, "window_unit": "hours", "threshold_count": 5,
                                                  **EMAIL}))
    assert updated["event_type"] is None  # any event type
    assert (updated["window_seconds"], updated["window_unit"], updated["threshold_count"]) == (2, "hours", 5)
    ok(api.delete(f"{PATH}/{trigger_id}"), 204)
    assert ok(api.get(PATH)) == []
    assert api.delete(f"{PATH}/{trigger_id}").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"window_seconds": 60, "threshold_count": 3}, "webhook_url"),  # no destination
    ({"window_seconds": 60, "threshold_count": 3, "webhook_url": "https://hooks.example.com/x", **EMAIL},
     "webhook_url"),  # two
    ({"window_seconds": 0, "threshold_count": 3, **EMAIL}, "window_seconds"),
    ({"window_seconds": 367, "window_unit": "days", "threshold_count": 3, **EMAIL}, "window_seconds"),
    ({"window_seconds": 60, "window_unit": "weeks", "threshold_count": 3, **EMAIL}, "window_unit"),
    ({"window_seconds": 60, "threshold_count": 0, **EMAIL}, "threshold_count"),
    ({"window_seconds": 60, **EMAIL}, "threshold_count"),
    ({"window_seconds": 60, "threshold_count": 3, "emails": ["not-an-address"]}, "emails"),
    ({"window_seconds": 60, "threshold_count": 3, "webhook_url": "http://127.0.0.1:9/hook"}, "webhook_url"),
])
def test_bad_triggers_are_422_naming_the_field(api: ApiHarness, body: dict[str, Any], field: str) -> None:
    refused(api.post(PATH, body), field)
    assert ok(api.get(PATH)) == []


def test_surge_triggers_stay_out_of_the_other_trigger_routes(api: ApiHarness) -> None:
    surge_id = ok(api.post(PATH, {"window_seconds": 60, "threshold_count": 2, **EMAIL}), 201)["trigger_id"]
    milestone_id = ok(api.post("/v1/triggers/milestones", {"score_threshold": 5}), 201)["trigger_id"]
    for kind in ("milestones", "sequences", "patterns"):
        assert surge_id not in str(ok(api.get(f"/v1/triggers/{kind}")))
        assert api.delete(f"/v1/triggers/{kind}/{surge_id}").status_code == 404
    assert [t["trigger_id"] for t in ok(api.get(PATH))] == [surge_id]
    assert api.put(f"{PATH}/{milestone_id}", {"window_seconds": 60, "threshold_count": 2, **EMAIL}).status_code == 404
    assert api.delete(f"{PATH}/{milestone_id}").status_code == 404


def test_roles_and_units(api: ApiHarness, other_api: ApiHarness) -> None:
    with api.db.write() as session:
        viewer_key = api_keys.create_api_key(session, api.tenant, name="v", role="Viewer",
                                             now=datetime.now(UTC)).secret
    viewer = ApiHarness(api.client, api.tenant, viewer_key, api.db)
    assert viewer.post(PATH, {"window_seconds": 60, "threshold_count": 2, **EMAIL}).status_code == 403
    trigger_id = ok(api.post(PATH, {"window_seconds": 60, "threshold_count": 2, **EMAIL}), 201)["trigger_id"]
    assert len(ok(viewer.get(PATH))) == 1
    assert viewer.delete(f"{PATH}/{trigger_id}").status_code == 403
    assert ok(other_api.get(PATH)) == []
    assert other_api.put(f"{PATH}/{trigger_id}", {"window_seconds": 60, "threshold_count": 2, **EMAIL}
                         ).status_code == 404
    assert other_api.delete(f"{PATH}/{trigger_id}").status_code == 404
    assert len(ok(api.get(PATH))) == 1


def test_a_lead_reaching_the_count_in_the_window_fires_once_per_window(api: ApiHarness, other_api: ApiHarness) -> None:
    trigger = ok(api.post(PATH, {"event_type": "page_view", "window_seconds": 1, "window_unit": "hours",
                                 "threshold_count": 3, **EMAIL}), 201)
    start = base_time()
    event(api, "ann@acme.com", "page_view", start)
    event(api, "ann@acme.com", "email_open", start + timedelta(minutes=1))  # another type: not counted
    event(api, "bob@globex.com", "page_view", start + timedelta(minutes=1))  # another lead
    event(api, "ann@acme.com", "page_view", start + timedelta(minutes=2))
    assert ok(api.get("/v1/surge/events")) == []
    third = event(api, "ann@acme.com", "page_view", start + timedelta(minutes=3))
    (fired,) = ok(api.get("/v1/surge/events"))
    assert fired["trigger_id"] == trigger["trigger_id"] and fired["lead_id"] == third["lead_id"]
    assert fired["event_type"] == "page_view" and fired["count"] == 3 and fired["window_seconds"] == 3600
    assert fired["occurred_at"] == (start + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert fired["channel"]
    # More in the same window period: no second firing; the delivery went to the outbox once.
    event(api, "ann@acme.com", "page_view", start + timedelta(minutes=4))
    assert len(ok(api.get("/v1/surge/events"))) == 1
    with api.db.read() as session:
        deliveries = session.scalars(
            select(models.Delivery).where(models.Delivery.trigger_id == trigger["trigger_id"])
        ).all()
    assert [(d.channel, d.target) for d in deliveries] == [("email", "sales@example.com")]
    assert '"count":3' in deliveries[0].body and third["lead_id"] in deliveries[0].body
    # The next window period fires again once the count is reached in its window.
    later = start + timedelta(hours=2)
    for minute in range(3):
        event(api, "ann@acme.com", "page_view", later + timedelta(minutes=minute))
    assert len(ok(api.get("/v1/surge/events"))) == 2
    assert ok(other_api.get("/v1/surge/events")) == []
    # Firings are surge events only: the milestone routes' event lists do not show them.
    assert ok(api.get("/v1/triggers/milestones/events")) == []


def test_quarantined_events_neither_count_nor_fire(api: ApiHarness) -> None:
    ok(api.post(PATH, {"window_seconds": 1, "window_unit": "hours", "threshold_count": 2, **EMAIL}), 201)
    start = base_time()
    first = event(api, "ann@acme.com", "page_view", start)
    with api.db.write() as session:  # as an inorganic filter would have held it back
        session.execute(update(models.Event).where(models.Event.id == first["event"]["id"])
                        .values(quarantine_filter_id="bot_user_agent"))
    event(api, "ann@acme.com", "page_view", start + timedelta(minutes=1))
    assert ok(api.get("/v1/surge/events")) == []
    event(api, "ann@acme.com", "page_view", start + timedelta(minutes=2))
    assert len(ok(api.get("/v1/surge/events"))) == 1


def test_the_events_list_pages_and_filters(api: ApiHarness) -> None:
    ok(api.post(PATH, {"window_seconds": 1, "window_unit": "hours", "threshold_count": 1, **EMAIL}), 201)
    start = base_time()
    for n in range(3):
        event(api, f"lead{n}@acme.com", "page_view", start + timedelta(minutes=n))
    everything = ok(api.get("/v1/surge/events"))
    assert len(everything) == 3
    assert [e["fired_at"] for e in everything] == sorted((e["fired_at"] for e in everything), reverse=True)
    channel = everything[0]["channel"]
    assert len(ok(api.get("/v1/surge/events", params={"channel": channel}))) == 3
    assert ok(api.get("/v1/surge/events", params={"channel": "no-such-channel"})) == []
    first_page = ok(api.get("/v1/surge/events", params={"limit": 2}))
    second_page = ok(api.get("/v1/surge/events", params={"limit": 2, "page": 2}))
    assert [e["id"] for e in first_page + second_page] == [e["id"] for e in everything]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert ok(api.get("/v1/surge/events", params={"start": future})) == []
    assert len(ok(api.get("/v1/surge/events", params={"end": future}))) == 3
    refused(api.get("/v1/surge/events", params={"start": "yesterday"}), "start")
    refused(api.get("/v1/surge/events", params={"limit": 501}), "limit")
    refused(api.get("/v1/surge/events", params={"page": 0}), "page")


def test_events_of_types_without_triggers_neither_count_nor_fire(api: ApiHarness) -> None:
    from services.scoring.model import begin_change
    from services.scoring.publish import publish

    ok(api.post(PATH, {"window_seconds": 1, "window_unit": "hours", "threshold_count": 2, **EMAIL}), 201)
    now = datetime.now(UTC)
    with api.db.write() as session:  # email_open is scored but fires no trigger ("decide")
        begin_change(session, api.tenant, now)
        session.add(models.EventTypeSetting(unit_id=api.tenant.unit_id, org_id=api.tenant.org_id,
                                            event_type="email_open", max_processing_scope="decide", updated_at=now))
        session.flush()
        publish(session, api.tenant, now=now)
    start = base_time()
    event(api, "ann@acme.com", "email_open", start)
    event(api, "ann@acme.com", "email_open", start + timedelta(minutes=1))
    event(api, "ann@acme.com", "page_view", start + timedelta(minutes=2))
    assert ok(api.get("/v1/surge/events")) == []
    event(api, "ann@acme.com", "page_view", start + timedelta(minutes=3))
    (fired,) = ok(api.get("/v1/surge/events"))
    assert fired["count"] == 2 and fired["event_type"] == "page_view"
