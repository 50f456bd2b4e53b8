"""Sequence and pattern triggers against the real database, with explicit clocks."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from db import models
from db.engine import Database
from scheduler import jobs
from services.context import Tenant
from services.triggers import triggers
from tests.notify.receivers import allow_loopback, send_event  # noqa: F401 (autouse fixture)

HOUR = 3600


def _create(db: Database, tenant: Tenant, kind: str, now: datetime, **config: object) -> models.Trigger:
    with db.write() as session:
        return triggers.create_trigger(session, tenant, kind, {"webhook_url": "http://127.0.0.1:9/h", **config}, now)


def _firings(db: Database, trigger_id: str) -> list[models.TriggerFiring]:
    with db.read() as session:
        stmt = select(models.TriggerFiring).where(models.TriggerFiring.trigger_id == trigger_id)
        return list(session.scalars(stmt.order_by(models.TriggerFiring.occurred_at)))


def test_pricing_then_demo_within_a_day_fires(db: Database, tenant: Tenant, now: datetime) -> None:
    trig = _create(db, tenant, "sequence", now, event_types=["pricing_view", "demo_request"],
                   window_seconds=24 * HOUR, window_unit="hours", ordered=True)
    send_event(db, tenant, "ann@acme.io", "pricing_view", now)
    assert _firings(db, trig.id) == []
    demo = send_event(db, tenant, "ann@acme.io", "demo_request", now + timedelta(hours=3))
    (firing,) = _firings(db, trig.id)
    assert firing.lead_id == demo.lead_id and firing.event_id == demo.event_id
    assert [s["event_type"] for s in firing.payload["data"]["steps"]] == ["pricing_view", "demo_request"]


def test_sequence_outside_the_window_or_out_of_order_does_not_fire(db: Database, tenant: Tenant, now: datetime) -> None:
    trig = _create(db, tenant, "sequence", now, event_types=["pricing_view", "demo_request"],
                   window_seconds=24 * HOUR, ordered=True)
    send_event(db, tenant, "bob@acme.io", "pricing_view", now)
    send_event(db, tenant, "bob@acme.io", "demo_request", now + timedelta(hours=25))
    send_event(db, tenant, "cy@acme.io", "demo_request", now)
    send_event(db, tenant, "cy@acme.io", "pricing_view", now + timedelta(hours=1))
    assert _firings(db, trig.id) == []


def test_unordered_sequence_fires_in_any_order(db: Database, tenant: Tenant, now: datetime) -> None:
    trig = _create(db, tenant, "sequence", now, event_types=["pricing_view", "demo_request"],
                   window_seconds=HOUR, ordered=False)
    send_event(db, tenant, "cy@acme.io", "demo_request", now)
    send_event(db, tenant, "cy@acme.io", "pricing_view", now + timedelta(minutes=5))
    assert len(_firings(db, trig.id)) == 1


def test_fire_mode_once_per_lead_or_every_time(db: Database, tenant: Tenant, now: datetime) -> None:
    once = _create(db, tenant, "sequence", now, event_types=["a_step", "b_step"], window_seconds=HOUR, ordered=True)
    every = _create(db, tenant, "sequence", now, event_types=["a_step", "b_step"], window_seconds=HOUR,
                    ordered=True, fire_mode="every")
    for day in range(3):
        t = now + timedelta(days=day)
        send_event(db, tenant, "dee@acme.io", "a_step", t)
        send_event(db, tenant, "dee@acme.io", "b_step", t + timedelta(minutes=1))
    assert len(_firings(db, once.id)) == 1
    assert len(_firings(db, every.id)) == 3


def test_a_late_event_completes_a_sequence_that_ended_after_it(db: Database, tenant: Tenant, now: datetime) -> None:
    trig = _create(db, tenant, "sequence", now, event_types=["pricing_view", "demo_request"],
                   window_seconds=24 * HOUR, ordered=True)
    send_event(db, tenant, "eve@acme.io", "demo_request", now)
    # The pricing visit happened earlier but arrives later (e.g. a delayed batch).
    from services.ingest.contract import AliasInput, NewEvent, PersonRef
    from services.ingest.ingest import ingest

    with db.write() as session:
        ingest(session, tenant, [NewEvent("pricing_view", now - timedelta(hours=2),
                                          person=PersonRef(aliases=[AliasInput("email", "eve@acme.io")]))],
               now + timedelta(minutes=1))
    (firing,) = _firings(db, trig.id)
    assert firing.payload["event_type"] == "demo_request"
    jobs.run_windows(db, now + timedelta(minutes=3), holder="t")  # the sweep finds nothing new: idempotent
    assert len(_firings(db, trig.id)) == 1


def test_the_window_sweep_evaluates_events_missed_at_ingest(db: Database, tenant: Tenant, now: datetime) -> None:
    send_event(db, tenant, "ivy@acme.io", "pricing_view", now)
    send_event(db, tenant, "ivy@acme.io", "demo_request", now + timedelta(minutes=1))
    # The trigger is switched on after the events were ingested (as if ingest had missed them).
    trig = _create(db, tenant, "sequence", now, event_types=["pricing_view", "demo_request"],
                   window_seconds=HOUR, ordered=True)
    assert _firings(db, trig.id) == []
    assert (jobs.run_windows(db, now + timedelta(minutes=2), holder="t") or 0) >= 1
    assert len(_firings(db, trig.id)) == 1
    with db.write() as session:
        assert triggers.sweep_windows(session, tenant, now + timedelta(minutes=3)) == 0


def test_pattern_per_lead_fires_once_per_window(db: Database, tenant: Tenant, now: datetime) -> None:
    trig = _create(db, tenant, "pattern", now, conditions=[{"event_type": "email_open", "min_count": 3}],
                   window_seconds=HOUR)
    for minute in (0, 10, 20, 30, 40):
        send_event(db, tenant, "fay@acme.io", "email_open", now + timedelta(minutes=minute))
    firings = _firings(db, trig.id)
    assert [f.occurred_at for f in firings] == [now + timedelta(minutes=20)]
    for minute in (90, 100, 110):
        send_event(db, tenant, "fay@acme.io", "email_open", now + timedelta(minutes=minute))
    assert len(_firings(db, trig.id)) == 2
    assert _firings(db, trig.id)[1].payload["data"]["counts"] == {"email_open": 3}


def test_pattern_per_account_counts_everyone_at_the_account(db: Database, tenant: Tenant, now: datetime) -> None:
    per_account = _create(db, tenant, "pattern", now, conditions=[{"event_type": "email_open", "min_count": 5}],
                          window_seconds=HOUR, scope="account")
    per_lead = _create(db, tenant, "pattern", now, conditions=[{"event_type": "email_open", "min_count": 5}],
                       window_seconds=HOUR)
    for i in range(5):
        send_event(db, tenant, f"person{i}@globex.io", "email_open", now + timedelta(minutes=i))
    (firing,) = _firings(db, per_account.id)
    assert firing.subject == firing.account_id and firing.account_id is not None
    assert _firings(db, per_lead.id) == []


def test_simulate_sequences_and_patterns_over_history(api) -> None:  # type: ignore[no-untyped-def]
    db, tenant = api.db, api.tenant
    now = datetime.now(UTC)  # the API's simulate counts its days back from the real clock
    send_event(db, tenant, "gus@acme.io", "pricing_view", now - timedelta(days=3))
    send_event(db, tenant, "gus@acme.io", "demo_request", now - timedelta(days=3) + timedelta(hours=1))
    send_event(db, tenant, "hal@acme.io", "pricing_view", now - timedelta(days=40))
    send_event(db, tenant, "hal@acme.io", "demo_request", now - timedelta(days=40) + timedelta(hours=1))
    seq = api.post("/v1/triggers/sequences", json={
        "event_types": ["pricing_view", "demo_request"], "window_seconds": 86400, "window_unit": "hours",
        "ordered": True, "webhook_url": "http://127.0.0.1:9/h"})
    assert seq.status_code == 201, seq.text
    assert seq.json()["signing_secret"].startswith("whsec_") and seq.json()["event_steps"] == [
        "pricing_view", "demo_request"]
    sim = api.post(f"/v1/triggers/sequences/{seq.json()['trigger_id']}/simulate", json={"days": 30})
    assert sim.status_code == 200 and sim.json()["total_matches"] == 1
    pat = api.post("/v1/triggers/patterns", json={
        "name": "Opens", "window_seconds": 7200, "conditions": [{"event_type": "pricing_view", "min_count": 1}]})
    assert pat.status_code == 201, pat.text
    sim = api.post(f"/v1/triggers/patterns/{pat.json()['trigger_id']}/simulate", json={"days": 90}).json()
    assert sim["would_fire"] and sim["total_matches"] == 2
    updated = api.put(f"/v1/triggers/patterns/{pat.json()['trigger_id']}", json={"scope": "account"})
    assert updated.status_code == 200 and updated.json()["scope"] == "account"
    assert api.post("/v1/triggers/sequences", json={"event_types": ["a"], "window_seconds": 5}).status_code == 422
    bad = api.post("/v1/triggers/patterns", json={"window_seconds": 5, "conditions": [{"event_type": "a",
                                                                                        "min_count": 0}]})
    assert bad.status_code == 422 and "min_count" in bad.json()["error"]["message"]
    assert api.get("/v1/triggers/sequences/events").status_code == 200
    assert api.get("/v1/triggers/patterns/events/export").text.startswith("firing_id,")
