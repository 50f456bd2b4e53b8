"""Milestone triggers against the real database and API: crossing, outbox in the same transaction, simulate, export."""

from datetime import datetime, timedelta

from sqlalchemy import func, select

from db import models
from db.engine import Database
from services.context import Tenant
from services.triggers import triggers
from tests.notify.receivers import add_rule, allow_loopback, send_event  # noqa: F401 (autouse fixture)


def _create_milestone(db: Database, tenant: Tenant, now: datetime, **fields: object) -> models.Trigger:
    with db.write() as session:
        return triggers.create_trigger(
            session, tenant, "milestone",
            {"score_threshold": 80, "webhook_url": "http://127.0.0.1:9/hook", **fields}, now,
        )


def _firings(db: Database, trigger_id: str) -> list[models.TriggerFiring]:
    with db.read() as session:
        return list(session.scalars(select(models.TriggerFiring).where(models.TriggerFiring.trigger_id == trigger_id)))


def test_fires_once_when_the_score_crosses_from_below(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "demo_request", 30, now)
    trig = _create_milestone(db, tenant, now)
    for minutes in range(5):  # 30, 60, 90 (crosses), 120, 150
        send_event(db, tenant, "ann@acme.io", "demo_request", now + timedelta(minutes=minutes))
    (firing,) = _firings(db, trig.id)
    assert firing.payload["data"] == {"event_type": "demo_request", "score_before": 60, "score_after": 90,
                                      "score_threshold": 80}
    with db.read() as session:
        (delivery,) = session.scalars(select(models.Delivery).where(models.Delivery.firing_id == firing.id))
    assert delivery.status == "pending" and delivery.channel == "webhook" and delivery.id.startswith("msg_")


def test_fires_again_after_dropping_below_and_crossing_again(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "demo_request", 50, now)
    add_rule(db, tenant, "unsubscribe", -40, now)
    trig = _create_milestone(db, tenant, now)
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    send_event(db, tenant, "ann@acme.io", "demo_request", now + timedelta(minutes=1))  # 100: fires
    send_event(db, tenant, "ann@acme.io", "unsubscribe", now + timedelta(minutes=2))  # 60
    send_event(db, tenant, "ann@acme.io", "demo_request", now + timedelta(minutes=3))  # 110: fires again
    assert len(_firings(db, trig.id)) == 2


def test_event_type_filter_and_inactive_triggers(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "demo_request", 100, now)
    add_rule(db, tenant, "pricing_view", 100, now)
    only_demo = _create_milestone(db, tenant, now, event_type="demo_request")
    off = _create_milestone(db, tenant, now, active=False)
    send_event(db, tenant, "bob@acme.io", "pricing_view", now)
    send_event(db, tenant, "cy@acme.io", "demo_request", now)
    assert [f.lead_id for f in _firings(db, only_demo.id)] == [
        send_event(db, tenant, "cy@acme.io", "other", now).lead_id
    ]
    assert _firings(db, off.id) == []


def test_a_failed_ingest_writes_no_firing(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "demo_request", 100, now)
    trig = _create_milestone(db, tenant, now)
    try:
        with db.write() as session:
            from services.ingest.contract import AliasInput, NewEvent, PersonRef
            from services.ingest.ingest import ingest

            ingest(session, tenant, [NewEvent("demo_request", now, person=PersonRef(aliases=[
                AliasInput("email", "dan@acme.io")]))], now)
            raise RuntimeError("the request fails after ingest")
    except RuntimeError:
        pass
    assert _firings(db, trig.id) == []
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(models.Delivery).where(
            models.Delivery.unit_id == tenant.unit_id)) == 0


def test_milestone_api_secret_once_simulate_events_and_export(api, now: datetime) -> None:  # type: ignore[no-untyped-def]
    add_rule(api.db, api.tenant, "demo_request", 45, now)
    created = api.post("/v1/triggers/milestones", json={
        "event_type": "", "score_threshold": 80, "webhook_url": "http://127.0.0.1:9/hook",
        "emails": ["sales@example.com"], "email_subject": "Hot lead", "email_message": "Call them",
    })
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["signing_secret"].startswith("whsec_") and body["score_threshold"] == 80
    trigger_id = body["trigger_id"]
    listed = api.get("/v1/triggers/milestones").json()
    assert [t["trigger_id"] for t in listed] == [trigger_id] and "signing_secret" not in listed[0]

    ev = api.post("/v1/events", json={"aliases": [{"alias_kind": "email", "raw_value": "eve@acme.io"}],
                                      "event_type": "demo_request"})
    assert ev.status_code == 201, ev.text
    lead_id = ev.json()["event"].get("lead_id")
    api.post("/v1/events", json={"aliases": [{"alias_kind": "email", "raw_value": "eve@acme.io"}],
                                 "event_type": "demo_request"})
    emitted = api.get("/v1/triggers/milestones/events").json()
    assert len(emitted) == 1 and emitted[0]["trigger_id"] == trigger_id
    lead_id = lead_id or emitted[0]["lead_id"]
    deliveries = api.get("/v1/deliveries").json()
    assert sorted(d["channel"] for d in deliveries) == ["email", "webhook"]
    assert all(d["status"] == "pending" and d["attempts"] == 0 for d in deliveries)

    sim = api.post(f"/v1/triggers/milestones/{trigger_id}/simulate", json={"lead_id": lead_id})
    assert sim.status_code == 200, sim.text
    assert sim.json()["would_fire"] is True and sim.json()["total_matches"] == 1
    assert sim.json()["matched_leads"][0]["lead_id"] == lead_id
    api.put(f"/v1/triggers/milestones/{trigger_id}", json={"score_threshold": 500})
    sim = api.post(f"/v1/triggers/milestones/{trigger_id}/simulate", json={"days": 7}).json()
    assert sim["would_fire"] is False and sim["matched_leads"] == []

    export = api.get("/v1/triggers/milestones/events/export")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert lines[0].startswith("firing_id,trigger_id,kind,lead_id") and len(lines) == 2 and lead_id in lines[1]


def test_milestone_api_validation_and_isolation(api, other_api) -> None:  # type: ignore[no-untyped-def]
    missing = api.post("/v1/triggers/milestones", json={"event_type": "x"})
    assert missing.status_code == 422 and "score_threshold" in missing.json()["error"]["message"]
    bad_email = api.post("/v1/triggers/milestones", json={"score_threshold": 1, "emails": ["nope"]})
    assert bad_email.status_code == 422 and "emails" in bad_email.json()["error"]["message"]
    bad_url = api.post("/v1/triggers/milestones", json={"score_threshold": 1, "webhook_url": "ftp://x"})
    assert bad_url.status_code == 422 and "webhook_url" in bad_url.json()["error"]["message"]
    trigger_id = api.post("/v1/triggers/milestones", json={"score_threshold": 1}).json()["trigger_id"]
    assert other_api.get("/v1/triggers/milestones").json() == []
    assert other_api.put(f"/v1/triggers/milestones/{trigger_id}", json={"score_threshold": 2}).status_code == 404
    assert other_api.post(f"/v1/triggers/milestones/{trigger_id}/simulate", json={}).status_code == 404
    assert other_api.delete(f"/v1/triggers/milestones/{trigger_id}").status_code == 404
    # The same id under another kind is not found either.
    assert api.put(f"/v1/triggers/sequences/{trigger_id}", json={"ordered": True}).status_code == 404
    sim = api.post(f"/v1/triggers/milestones/{trigger_id}/simulate", json={"lead_id": "ld_nope"})
    assert sim.status_code == 404
    assert api.delete(f"/v1/triggers/milestones/{trigger_id}").status_code == 204
    assert api.get("/v1/triggers/milestones").json() == []


def test_a_unit_without_triggers_pays_one_query_at_ingest(db: Database, tenant: Tenant, now: datetime) -> None:
    from sqlalchemy import event

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        send_event(db, tenant, "quiet@acme.io", "page_view", now)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    trigger_queries = [s for s in statements if "triggers" in s or "deliveries" in s]
    assert len(trigger_queries) == 1 and "FROM triggers" in trigger_queries[0]
