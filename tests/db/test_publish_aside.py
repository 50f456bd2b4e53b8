"""A publish on a large unit never blocks ingest: the new scores are computed aside and swapped in with short
transactions (services.scoring.publisher). Real databases, real threads; `inline_rescore_max_events` is 0 here, so
every change that moves scores goes aside."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from db import models
from db.engine import Database
from scheduler import jobs
from services.context import Tenant
from services.ingest.contract import AccountRef, AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.operations import leases
from services.scoring import publisher, rules
from services.scoring.model import heads, live_model
from services.scoring.rescore import verify_unit
from settings import get_settings
from tests.db.test_rescore import per_event_replay

PEOPLE = [f"p{i}@firm{i % 3}.example" for i in range(12)]


@pytest.fixture(autouse=True)
def aside(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(get_settings(), "inline_rescore_max_events", 0)
    yield
    assert publisher.wait_idle(120), "a background rescore is still running"


def visit(db: Database, tenant: Tenant, email: str, at: datetime, event_type: str = "page_view") -> Ingested:
    event = NewEvent(
        event_type, occurred_at=at, properties={"page": "/pricing"},
        person=PersonRef(aliases=[AliasInput("email", email)]),
        account=AccountRef(domain=email.split("@")[1]),
    )
    with db.write() as session:
        (result,) = ingest(session, tenant, [event], at)
    assert isinstance(result, Ingested), result
    return result


def fill(db: Database, tenant: Tenant, now: datetime, n: int = 60) -> None:
    for i in range(n):
        visit(db, tenant, PEOPLE[i % len(PEOPLE)], now + timedelta(minutes=i), "email_open" if i % 4 else "page_view")


def scores(db: Database, tenant: Tenant) -> dict[str, int]:
    with db.read() as session:
        rows = session.execute(
            select(models.LeadScore.lead_id, models.LeadScore.score).where(models.LeadScore.unit_id == tenant.unit_id)
        )
        return {lead: score for lead, score in rows}


def assert_rows_are_the_live_models(db: Database, tenant: Tenant) -> None:
    """Every stored delta, explanation and score equals the per-event engine's replay under the live model."""
    expected, primary = per_event_replay(db, tenant)
    with db.read() as session:
        events = session.scalars(select(models.Event).where(models.Event.unit_id == tenant.unit_id)).all()
        for e in events:
            outcomes = expected.outcomes[e.seq]
            assert e.explanation == {rs: o.as_explanation() for rs, o in outcomes.items()}, e.seq
            assert e.score_delta == outcomes[primary or ""].delta, e.seq
        assert verify_unit(session, tenant) == []


def hold_unit(db: Database, tenant: Tenant, worker: str) -> None:
    """Take the unit's rescore lease, so the background worker started by a publish leaves the unit alone."""
    with db.write() as session:
        assert leases.acquire(session, publisher.lease_name(tenant), worker, datetime.now().astimezone(),
                              publisher.LEASE_TTL)


def let_go(db: Database, tenant: Tenant, worker: str) -> None:
    with db.write() as session:
        leases.release(session, publisher.lease_name(tenant), worker)


def change_weight(db: Database, tenant: Tenant, rule_id: str, weight: int, now: datetime) -> None:
    with db.write() as session:
        rules.update_rule(session, tenant, rule_id, {"event_type": "page_view", "weight": weight}, now=now)


def add_rule(db: Database, tenant: Tenant, now: datetime, event_type: str = "page_view", weight: int = 10) -> str:
    with db.write() as session:
        return rules.create_rule(session, tenant, {"event_type": event_type, "weight": weight}, now=now).id


def test_a_change_publishes_aside_old_scores_stay_until_the_swap(db: Database, tenant: Tenant, now: datetime) -> None:
    rule = add_rule(db, tenant, now)  # no events yet: rescored inline
    ann = visit(db, tenant, "ann@acme.example", now)
    visit(db, tenant, "ann@acme.example", now)
    with db.read() as session:
        assert publisher.status(session, tenant) == publisher.PublishStatus(2, 2)
    hold_unit(db, tenant, "elsewhere")
    change_weight(db, tenant, rule, 3, now)

    with db.read() as session:
        current = publisher.status(session, tenant)
    assert (current.published, current.live, current.pending) == (3, 2, True)
    assert scores(db, tenant)[ann.lead_id or ""] == 20  # reads show the previous model's scores
    # Ingest goes on, with the previous (live) model.
    later = visit(db, tenant, "ann@acme.example", now + timedelta(minutes=1))
    assert later.primary is not None and (later.primary.delta, later.primary.lead_after) == (10, 30)
    with db.read() as session:
        assert verify_unit(session, tenant) == []  # consistent with the live model all along

    let_go(db, tenant, "elsewhere")
    assert publisher.settle(db, tenant) == publisher.PublishStatus(3, 3)
    assert scores(db, tenant)[ann.lead_id or ""] == 9
    assert_rows_are_the_live_models(db, tenant)


def test_the_background_worker_brings_the_change_live(db: Database, tenant: Tenant, now: datetime) -> None:
    rule = add_rule(db, tenant, now)
    fill(db, tenant, now)
    change_weight(db, tenant, rule, 4, now)
    assert publisher.wait_idle(120)
    with db.read() as session:
        assert not publisher.status(session, tenant).pending
    assert_rows_are_the_live_models(db, tenant)


def test_events_that_arrive_during_each_phase_are_scored_under_the_new_model(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    """The phases run one by one, with ingests between them: events after the mark are re-applied by the swap."""
    rule = add_rule(db, tenant, now)
    add_rule(db, tenant, now, "email_open", 2)
    fill(db, tenant, now)
    hold_unit(db, tenant, "me")
    change_weight(db, tenant, rule, -5, now)
    with db.read() as session:
        current = publisher.status(session, tenant)
    lease = publisher._Lease(db, tenant, "me", current.live)
    prepared = publisher._prepare(db, tenant, current)
    visit(db, tenant, PEOPLE[0], now + timedelta(hours=1))  # a known lead, under the previous model
    visit(db, tenant, "new@firm1.example", now + timedelta(hours=1))  # a new lead of a known account
    publisher._write_events_aside(db, prepared, lease)
    with db.read() as session:
        assert verify_unit(session, tenant) == []  # events rewritten aside; scores still the previous model's
    visit(db, tenant, "newer@elsewhere.example", now + timedelta(hours=2), "email_open")  # new lead, new account
    planned = publisher._score_changes_before_swap(db, prepared)
    visit(db, tenant, PEOPLE[1], now + timedelta(hours=3))
    later = publisher._later(prepared)
    publisher._catch_up(db, prepared, later, lease)  # their rows now; their scores wait for the swap
    visit(db, tenant, PEOPLE[1], now + timedelta(hours=4))  # continues from a caught-up lead
    visit(db, tenant, "last@firm2.example", now + timedelta(hours=4))
    with db.read() as session:
        assert publisher.status(session, tenant).pending
        assert verify_unit(session, tenant) == []  # still the previous model's, consistently
    publisher._swap(db, prepared, planned, lease, later)
    let_go(db, tenant, "me")
    with db.read() as session:
        assert publisher.status(session, tenant) == publisher.PublishStatus(current.published, current.published)
    assert_rows_are_the_live_models(db, tenant)


def test_concurrent_ingest_during_an_aside_rescore_loses_nothing(db: Database, tenant: Tenant, now: datetime) -> None:
    rule = add_rule(db, tenant, now)
    fill(db, tenant, now, 200)
    stop = threading.Event()
    sent: list[int] = []
    errors: list[BaseException] = []

    def keep_ingesting(k: int) -> None:
        i = 0
        try:
            while not stop.is_set() or i < 20:
                visit(db, tenant, PEOPLE[(i + k) % len(PEOPLE)] if i % 3 else f"t{k}-{i}@new{k}.example",
                      now + timedelta(hours=1, seconds=i))
                i += 1
        except BaseException as exc:  # reported below
            errors.append(exc)
        sent.append(i)

    threads = [threading.Thread(target=keep_ingesting, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for weight in (7, 1, 12):  # three publishes while ingest runs; the newest wins
        change_weight(db, tenant, rule, weight, now)
    publisher.settle(db, tenant)
    stop.set()
    for thread in threads:
        thread.join(120)
    assert not errors
    publisher.settle(db, tenant)
    assert publisher.wait_idle(120)
    with db.read() as session:
        stored = session.scalar(
            select(models.Event.seq).where(models.Event.unit_id == tenant.unit_id).order_by(models.Event.seq.desc())
        )
        count = len(session.scalars(select(models.Event.seq).where(models.Event.unit_id == tenant.unit_id)).all())
        current = publisher.status(session, tenant)
    assert stored is not None and count == 200 + sum(sent)
    assert (current.live, current.published) == (current.published, 5)
    with db.read() as session:
        assert live_model(session, tenant).rules[0].weight == 12
    assert_rows_are_the_live_models(db, tenant)


def test_two_publishes_in_a_row_end_at_the_newest(db: Database, tenant: Tenant, now: datetime) -> None:
    rule = add_rule(db, tenant, now)
    fill(db, tenant, now)
    hold_unit(db, tenant, "elsewhere")
    change_weight(db, tenant, rule, 2, now)
    change_weight(db, tenant, rule, 30, now)
    with db.read() as session:
        assert (heads(session, tenant).published, heads(session, tenant).live) == (4, 2)
    let_go(db, tenant, "elsewhere")
    assert publisher.settle(db, tenant) == publisher.PublishStatus(4, 4)
    assert_rows_are_the_live_models(db, tenant)


def test_a_change_that_scores_like_the_live_model_still_waits_for_a_pending_rescore(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    """Weight 10 -> 3 (aside, half written) -> 10 again: rows half rewritten for 3 must come back to 10."""
    rule = add_rule(db, tenant, now)
    fill(db, tenant, now)
    hold_unit(db, tenant, "crashed")
    change_weight(db, tenant, rule, 3, now)
    with db.read() as session:
        current = publisher.status(session, tenant)
    prepared = publisher._prepare(db, tenant, current)
    publisher._write_events_aside(db, prepared, publisher._Lease(db, tenant, "crashed", current.live))
    change_weight(db, tenant, rule, 10, now)  # the same scores as the live model, yet not live at once
    with db.read() as session:
        assert publisher.status(session, tenant).pending
    let_go(db, tenant, "crashed")
    publisher.settle(db, tenant)
    assert_rows_are_the_live_models(db, tenant)


def test_an_abandoned_aside_rescore_is_finished_by_the_scheduler_job(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    rule = add_rule(db, tenant, now)
    fill(db, tenant, now)
    hold_unit(db, tenant, "dead")
    change_weight(db, tenant, rule, 5, now)
    with db.read() as session:
        current = publisher.status(session, tenant)
    prepared = publisher._prepare(db, tenant, current)
    publisher._write_events_aside(db, prepared, publisher._Lease(db, tenant, "dead", current.live))
    visit(db, tenant, PEOPLE[2], now + timedelta(hours=1))
    # The worker died before its swap: its lease stays until it expires.
    assert jobs.run_publish_pending(db) == 0
    with db.read() as session:
        assert publisher.status(session, tenant).pending
    with db.write() as session:
        session.execute(
            update(models.SchedulerLease)
            .where(models.SchedulerLease.name == publisher.lease_name(tenant))
            .values(expires_at=now - timedelta(days=1))
        )
    assert jobs.run_publish_pending(db) == 1
    with db.read() as session:
        assert not publisher.status(session, tenant).pending
    assert_rows_are_the_live_models(db, tenant)


def test_rescore_now_makes_the_newest_version_live(db: Database, tenant: Tenant, now: datetime) -> None:
    rule = add_rule(db, tenant, now)
    fill(db, tenant, now)
    hold_unit(db, tenant, "elsewhere")
    change_weight(db, tenant, rule, 6, now)
    let_go(db, tenant, "elsewhere")
    summary = publisher.rescore_now(db, tenant)
    assert summary.events == 60
    with db.read() as session:
        assert not publisher.status(session, tenant).pending
    assert_rows_are_the_live_models(db, tenant)


def test_small_units_still_rescore_inside_the_change(
    db: Database, tenant: Tenant, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "inline_rescore_max_events", 1000)
    rule = add_rule(db, tenant, now)
    fill(db, tenant, now)
    change_weight(db, tenant, rule, 8, now)
    with db.read() as session:
        assert not publisher.status(session, tenant).pending  # right after the change returns
    assert_rows_are_the_live_models(db, tenant)

