"""Decay against the real database: DECAY events at the moment each drop applies, idempotent, replayable."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from db import models
from db.engine import Database
from scheduler import jobs
from services.context import Tenant
from services.scoring import decay
from services.scoring.rescore import verify_unit
from tests.notify.receivers import add_rule, send_event


def _score(db: Database, lead_id: str) -> int:
    with db.read() as session:
        return session.scalar(select(models.LeadScore.score).where(models.LeadScore.lead_id == lead_id)) or 0


def _decay_events(db: Database, lead_id: str) -> list[models.Event]:
    with db.read() as session:
        stmt = select(models.Event).where(models.Event.lead_id == lead_id, models.Event.event_type == "DECAY")
        return list(session.scalars(stmt.order_by(models.Event.seq)))


def _setup(db: Database, tenant: Tenant, now: datetime, decrease: int = 10) -> str:
    add_rule(db, tenant, "demo_request", 50, now)
    with db.write() as session:
        decay.create_decay(session, tenant, inactive_for=7, unit="days", decrease=decrease, now=now)
    return send_event(db, tenant, "ann@acme.io", "demo_request", now).lead_id or ""


def test_an_inactive_lead_drops_once_per_full_period(db: Database, tenant: Tenant, now: datetime) -> None:
    lead_id = _setup(db, tenant, now)
    with db.write() as session:
        assert decay.apply_decay(session, tenant, now + timedelta(days=6)).drops == 0
    with db.write() as session:
        run = decay.apply_decay(session, tenant, now + timedelta(days=15))
    assert run.drops == 2
    assert _score(db, lead_id) == 30
    events = _decay_events(db, lead_id)
    assert [e.occurred_at for e in events] == [now + timedelta(days=7), now + timedelta(days=14)]
    assert all(e.channel == "system" and e.metadata_["decrease"] == 10 and e.metadata_["channel"] == "system"
               for e in events)
    assert events[0].explanation  # the drop is explained like any other score change


def test_running_twice_at_the_same_time_changes_nothing(db: Database, tenant: Tenant, now: datetime) -> None:
    lead_id = _setup(db, tenant, now)
    later = now + timedelta(days=22)
    with db.write() as session:
        assert decay.apply_decay(session, tenant, later).drops == 3
    with db.write() as session:
        assert decay.apply_decay(session, tenant, later).drops == 0
    assert _score(db, lead_id) == 20
    assert len(_decay_events(db, lead_id)) == 3


def test_decay_is_not_activity_and_new_activity_restarts_the_clock(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    lead_id = _setup(db, tenant, now)
    with db.write() as session:
        decay.apply_decay(session, tenant, now + timedelta(days=8))
    with db.read() as session:
        assert session.get(models.Lead, lead_id).last_activity_at == now  # type: ignore[union-attr]
    active_again = now + timedelta(days=10)
    send_event(db, tenant, "ann@acme.io", "demo_request", active_again)
    with db.write() as session:
        assert decay.apply_decay(session, tenant, active_again + timedelta(days=6)).drops == 0
    with db.write() as session:
        assert decay.apply_decay(session, tenant, active_again + timedelta(days=7)).drops == 1
    moments = [e.occurred_at for e in _decay_events(db, lead_id)]
    assert moments == [now + timedelta(days=7), active_again + timedelta(days=7)]
    assert _score(db, lead_id) == 50 - 10 + 50 - 10


def test_floors_apply_and_replay_gives_the_same_scores(db: Database, tenant: Tenant, now: datetime) -> None:
    lead_id = _setup(db, tenant, now, decrease=30)
    with db.write() as session:
        run = decay.apply_decay(session, tenant, now + timedelta(days=100))
    assert run.drops == 2  # 50 -> 20 -> 0, then the lead is at the floor
    assert _score(db, lead_id) == 0
    with db.write() as session:
        assert decay.apply_decay(session, tenant, now + timedelta(days=200)).drops == 0
    with db.read() as session:
        assert verify_unit(session, tenant) == []


def test_the_scheduler_job_runs_every_unit_under_a_lease(db: Database, tenant: Tenant, now: datetime) -> None:
    lead_id = _setup(db, tenant, now)
    assert (jobs.run_decay(db, now + timedelta(days=7), holder="test-a") or 0) >= 1
    assert _score(db, lead_id) == 40
    assert jobs.run_decay(db, now + timedelta(days=7), holder="test-a") == 0


def test_decay_api_crud_and_isolation(api, other_api) -> None:  # type: ignore[no-untyped-def]
    created = api.post("/v1/decays", json={"inactive_for": 30, "unit": "days", "decrease": 25})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["decay_id"].startswith("dc_") and body["inactive_for"] == 30 and body["decrease"] == 25
    decay_id = body["decay_id"]
    assert [d["decay_id"] for d in api.get("/v1/decays").json()] == [decay_id]
    updated = api.put(f"/v1/decays/{decay_id}", json={"unit": "weeks"})
    assert updated.status_code == 200 and updated.json()["unit"] == "weeks" and updated.json()["inactive_for"] == 30
    bad = api.post("/v1/decays", json={"inactive_for": 30, "unit": "months", "decrease": 25})
    assert bad.status_code == 422 and "unit" in bad.json()["error"]["message"]
    assert api.post("/v1/decays", json={"inactive_for": 0, "unit": "days", "decrease": 1}).status_code == 422
    assert api.post("/v1/decays", json={"inactive_for": 1, "unit": "days", "decrease": 1, "x": 1}).status_code == 422
    assert other_api.get("/v1/decays").json() == []
    assert other_api.put(f"/v1/decays/{decay_id}", json={"decrease": 1}).status_code == 404
    assert other_api.delete(f"/v1/decays/{decay_id}").status_code == 404
    assert api.delete(f"/v1/decays/{decay_id}").status_code == 204
    assert api.get("/v1/decays").json() == []


def test_decay_in_slices_gives_the_same_result(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "demo_request", 50, now)
    with db.write() as session:
        decay.create_decay(session, tenant, inactive_for=1, unit="days", decrease=10, now=now)
    leads = [send_event(db, tenant, f"s{i}@acme.io", "demo_request", now).lead_id or "" for i in range(5)]
    later = now + timedelta(days=2, hours=1)
    after, total, slices = None, 0, 0
    while True:
        with db.write() as session:
            run = decay.apply_decay(session, tenant, later, after=after, max_leads=2)
        total, slices, after = total + run.drops, slices + 1, run.next_after
        if after is None:
            break
    assert total == 10 and slices == 3
    assert {_score(db, lead_id) for lead_id in leads} == {30}
    with db.write() as session:
        assert decay.apply_decay(session, tenant, later, max_leads=2).drops == 0


def test_the_job_writes_a_unit_in_slices_each_drop_once(
    db: Database, tenant: Tenant, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "DECAY_SLICE", 2)  # five leads: three write transactions
    _setup(db, tenant, now)
    lead_ids = [send_event(db, tenant, f"p{i}@acme.io", "demo_request", now).lead_id or "" for i in range(4)]
    later = now + timedelta(days=15)
    # The database may hold other tests' units: the job decays them too, so this unit's rows are what count.
    assert (jobs.run_decay(db, later, holder="test-a") or 0) >= 10  # two drops for each of five leads
    assert all(_score(db, lead_id) == 30 for lead_id in lead_ids)
    assert all(len(_decay_events(db, lead_id)) == 2 for lead_id in lead_ids)
    jobs.run_decay(db, later, holder="test-a")
    assert all(len(_decay_events(db, lead_id)) == 2 for lead_id in lead_ids)
    with db.read() as session:
        assert verify_unit(session, tenant) == []


def test_a_planned_drop_waits_when_the_lead_was_active_since_the_plan(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    quiet = _setup(db, tenant, now)
    busy = send_event(db, tenant, "bo@acme.io", "demo_request", now).lead_id or ""
    later = now + timedelta(days=8)
    with db.read() as session:
        plan = decay.plan_decay(session, tenant, later)
    assert plan.leads == 2
    send_event(db, tenant, "bo@acme.io", "demo_request", later)  # active again after the plan was made
    with db.write() as session:
        assert decay.apply_planned(session, tenant, plan, plan.events, later) == 1
    assert [len(_decay_events(db, quiet)), len(_decay_events(db, busy))] == [1, 0]
    assert _score(db, busy) == 100
    with db.read() as session:
        assert verify_unit(session, tenant) == []


def test_a_plan_made_before_a_scoring_change_writes_nothing_and_the_job_plans_again(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    lead_id = _setup(db, tenant, now)
    later = now + timedelta(days=8)
    with db.read() as session:
        plan = decay.plan_decay(session, tenant, later)
    with db.write() as session:  # a new decay rule is published between the plan and its write
        decay.create_decay(session, tenant, inactive_for=1, unit="days", decrease=1, now=now + timedelta(days=1))
    with db.write() as session:
        assert decay.apply_planned(session, tenant, plan, plan.events, later) is None
    assert _decay_events(db, lead_id) == []
    # The job plans with the rules in force: eight daily drops of 1 (days 1..8) and the weekly drop of 10.
    jobs.run_decay(db, later, holder="test-a")
    assert len(_decay_events(db, lead_id)) == 9
    assert _score(db, lead_id) == 50 - 8 - 10
