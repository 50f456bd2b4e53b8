"""Event types: the visible list, metadata keys, channels, settings with counts; deleting every event of a type and
batches of events by id, with scores replayed, counters kept, an audit entry, roles and units respected; the
quarantined filter of /v1/events."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from db import models
from services.scoring.rescore import verify_unit
from services.tenancy import api_keys
from tests.conftest import ApiHarness, add_rule


def send(api: ApiHarness, email: str, event_type: str, **metadata: object) -> dict[str, object]:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                   "event_type": event_type, "metadata": metadata})
    assert resp.status_code == 201, resp.text
    return dict(resp.json()["event"]) | {"lead_id": resp.json()["lead_id"]}


def with_role(api: ApiHarness, role: str) -> dict[str, str]:
    with api.db.write() as session:
        key = api_keys.create_api_key(session, api.tenant, name=role, role=role, now=datetime.now(UTC)).secret
    return {"Authorization": f"Bearer {key}"}


def batch_delete(api: ApiHarness, ids: list[str], headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return api.client.request("DELETE", "/v1/events", json={"ids": ids}, headers=headers or api.headers)


def lead_score(api: ApiHarness, lead_id: str) -> int:
    return int(api.get(f"/v1/leads/{lead_id}").json()["lead"]["score"])


def hide(api: ApiHarness, event_type: str) -> None:
    with api.db.write() as session:
        session.add(models.EventTypeSetting(
            unit_id=api.tenant.unit_id, org_id=api.tenant.org_id, event_type=event_type, hidden=True,
            max_processing_scope="observe", updated_at=datetime.now(UTC), updated_by="test",
        ))


def test_lists_of_types_properties_channels_and_settings(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "trial_signup", 50)  # named by a rule, never seen
    send(api, "ann@acme.io", "page_visit", page="/pricing", utm_campaign="fall")
    send(api, "ann@acme.io", "page_visit", page="/docs", referrer="google")
    send(api, "bob@acme.io", "email_open", campaign="nov")
    send(api, "bob@acme.io", "secret_thing")
    send(other_api, "zed@other.io", "other_unit_type", channel="slack")
    hide(api, "secret_thing")

    assert api.get("/v1/event-types").json() == ["email_open", "page_visit", "trial_signup"]
    props = api.get("/v1/event-types/page_visit/properties").json()
    assert props == {"event_type": "page_visit", "properties": ["page", "referrer", "utm_campaign"]}
    assert api.get("/v1/event-types/other_unit_type/properties").status_code == 404  # another unit's type
    assert api.get("/v1/event-types/trial_signup/properties").json()["properties"] == []
    assert api.get("/v1/channels").json() == ["email", "other", "web"]
    assert other_api.get("/v1/channels").json() == ["slack"]
    settings = {s["event_type"]: s for s in api.get("/v1/settings/event-types").json()}
    assert settings["secret_thing"] == {"event_type": "secret_thing", "hidden": True,
                                        "max_processing_scope": "observe", "events_count": 1}
    assert settings["page_visit"] == {"event_type": "page_visit", "hidden": False,
                                      "max_processing_scope": "activate", "events_count": 2}
    assert settings["trial_signup"]["events_count"] == 0
    assert "other_unit_type" not in settings


def test_deleting_a_type_rescores_counts_and_audits(api: ApiHarness) -> None:
    add_rule(api, "webinar_attended", 20)
    add_rule(api, "page_visit", 5)
    ann = str(send(api, "ann@acme.io", "webinar_attended")["lead_id"])
    send(api, "ann@acme.io", "page_visit")
    send(api, "ann@acme.io", "webinar_attended")
    send(api, "bob@beta.io", "webinar_attended")
    assert lead_score(api, ann) == 45

    dry = api.get("/v1/settings/event-types/webinar_attended/delete-dry-run")
    assert dry.status_code == 200 and dry.json() == {"events_count": 3, "event_scores_count": 3}
    assert api.get("/v1/settings/event-types/page_visit/delete-dry-run").json()["events_count"] == 1

    viewer = with_role(api, "Viewer")
    assert api.delete("/v1/settings/event-types/webinar_attended/events", headers=viewer).status_code == 403
    operator = with_role(api, "Operator")
    resp = api.delete("/v1/settings/event-types/webinar_attended/events", headers=operator)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"events_deleted": 3, "event_scores_deleted": 3}
    assert lead_score(api, ann) == 5  # replayed from what remains
    assert [e["event_type"] for e in api.get("/v1/events").json()] == ["page_visit"]
    assert api.get("/v1/settings/event-types/webinar_attended/delete-dry-run").json() == {
        "events_count": 0, "event_scores_count": 0}
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []
        entries = list(session.scalars(select(models.AuditLog).where(
            models.AuditLog.unit_id == api.tenant.unit_id, models.AuditLog.action == "delete_events")))
    assert [(e.entity_type, e.entity_id) for e in entries] == [("event_type", "webinar_attended")]

    assert api.get("/v1/settings/event-types/never_seen/delete-dry-run").status_code == 404
    assert api.delete("/v1/settings/event-types/never_seen/events").status_code == 404
    for kind in ("PROFILE_UPDATE", "ACCOUNT_PROFILE_UPDATE"):
        refused = api.delete(f"/v1/settings/event-types/{kind}/events")
        assert refused.status_code == 422 and "event_type" in refused.text


def test_batch_delete_is_unit_scoped(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    mine = [send(api, "ann@acme.io", "demo_request") for _ in range(3)]
    theirs = send(other_api, "zed@other.io", "demo_request")
    ann = str(mine[0]["lead_id"])
    ids = [str(mine[0]["id"]), str(mine[1]["id"]), str(theirs["id"]), "evt_unknown"]

    assert batch_delete(api, ids, with_role(api, "Viewer")).status_code == 403
    resp = batch_delete(api, ids)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"events_deleted": 2, "event_scores_deleted": 2}  # the other unit's is not revealed
    assert [e["id"] for e in api.get("/v1/events").json()] == [mine[2]["id"]]
    assert [e["id"] for e in other_api.get("/v1/events").json()] == [theirs["id"]]
    assert lead_score(api, ann) == 30
    assert batch_delete(api, []).status_code == 422


def test_quarantined_filter_and_fields(api: ApiHarness) -> None:
    held = send(api, "ann@acme.io", "page_visit")
    free = send(api, "ann@acme.io", "page_visit")
    with api.db.write() as session:
        session.execute(update(models.Event).where(models.Event.id == held["id"]).values(
            quarantine_filter_id="bot_user_agent", quarantine_reason="crawler user agent"))
    only_held = api.get("/v1/events", params={"quarantined": "true"}).json()
    assert [(e["id"], e["quarantined"], e["quarantine_filter_id"], e["quarantine_reason"]) for e in only_held] == [
        (held["id"], True, "bot_user_agent", "crawler user agent")]
    others = api.get("/v1/events", params={"quarantined": "false"}).json()
    assert [(e["id"], e["quarantined"], e["quarantine_filter_id"]) for e in others] == [(free["id"], False, None)]
    assert len(api.get("/v1/events").json()) == 2
    assert api.get("/v1/events", params={"quarantined": "maybe"}).status_code == 422
