"""What-if on the real database: simulate a draft over a window, then publish it and find exactly what it said."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import Forbidden, InvalidInput
from services.ingest.contract import AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import levels, rules
from services.scoring.model import heads
from services.scoring.simulate import publish_draft, simulate
from services.tenancy.tenants import create_unit
from services.triggers import triggers
from tests.notify.receivers import allow_loopback  # noqa: F401 (autouse fixture)

# (email, event type, days before now): Ann and Bob were active long ago and lately, Cy only long ago.
ACTIVITY = [
    ("ann@acme.io", "demo_request", 40), ("ann@acme.io", "page_view", 39), ("ann@acme.io", "demo_request", 3),
    ("bob@acme.io", "page_view", 35), ("bob@acme.io", "page_view", 2), ("bob@acme.io", "demo_request", 1),
    ("cy@acme.io", "demo_request", 50), ("cy@acme.io", "demo_request", 49), ("cy@acme.io", "demo_request", 48),
    ("dee@acme.io", "webinar", 5),
]


def send(db: Database, tenant: Tenant, email: str, event_type: str, at: datetime) -> Ingested:
    with db.write() as session:
        (result,) = ingest(session, tenant, [NewEvent(
            event_type, occurred_at=at, person=PersonRef(aliases=[AliasInput("email", email)]))], at)
    assert isinstance(result, Ingested), result
    return result


def setup_unit(db: Database, tenant: Tenant, now: datetime) -> dict[str, str]:
    """Rules demo_request 30 and page_view 5, levels Cold/Warm/Hot, a milestone trigger at 80, and ACTIVITY."""
    start = now - timedelta(days=60)
    with db.write() as session:
        demo = rules.create_rule(session, tenant, {"event_type": "demo_request", "weight": 30}, now=start)
        view = rules.create_rule(session, tenant, {"event_type": "page_view", "weight": 5}, now=start)
        levels.replace_all(session, tenant, [
            levels.LevelInput("Cold", 0, 29), levels.LevelInput("Warm", 30, 79), levels.LevelInput("Hot", 80, 10**6),
        ], start)
        trigger = triggers.create_trigger(
            session, tenant, "milestone", {"score_threshold": 80, "webhook_url": "http://127.0.0.1:9/hook"}, start)
    leads = {}
    for email, kind, days_ago in sorted(ACTIVITY, key=lambda a: -a[2]):
        leads[email] = send(db, tenant, email, kind, now - timedelta(days=days_ago)).lead_id or ""
    return {"demo": demo.id, "view": view.id, "trigger": trigger.id, **leads}


def draft(ids: dict[str, str]) -> dict[str, Any]:
    return {"rules": {
        "update": [{"rule_id": ids["demo"], "weight": 45}],
        "add": [{"event_type": "webinar", "weight": 90}],
        "remove": [ids["view"]],
    }}


def stored_state(db: Database, tenant: Tenant) -> tuple[Any, ...]:
    with db.read() as session:
        score = models.LeadScore
        scores = sorted(session.execute(
            select(score.lead_id, score.ruleset_id, score.score).where(score.unit_id == tenant.unit_id)))
        explanations = sorted(
            (seq, repr(e)) for seq, e in session.execute(
                select(models.Event.seq, models.Event.explanation).where(models.Event.unit_id == tenant.unit_id))
        )
        versions = session.scalar(select(func.count()).select_from(models.ScoringVersion).where(
            models.ScoringVersion.unit_id == tenant.unit_id))
        rule_rows = sorted(session.execute(select(models.Rule.id, models.Rule.weight).where(
            models.Rule.unit_id == tenant.unit_id)))
        return scores, explanations, versions, rule_rows, heads(session, tenant)


def primary_scores(db: Database, tenant: Tenant) -> dict[str, int]:
    with db.read() as session:
        primary = next(rs.id for rs in rules.list_rulesets(session, tenant) if rs.is_primary)
        return dict(session.execute(select(models.LeadScore.lead_id, models.LeadScore.score).where(
            models.LeadScore.unit_id == tenant.unit_id, models.LeadScore.ruleset_id == primary)).all())


def test_simulating_all_history_then_publishing_stores_it(db: Database, tenant: Tenant, now: datetime) -> None:
    ids = setup_unit(db, tenant, now)
    assert primary_scores(db, tenant) == {ids["ann@acme.io"]: 65, ids["bob@acme.io"]: 40, ids["cy@acme.io"]: 90,
                                          ids["dee@acme.io"]: 0}
    before_state = stored_state(db, tenant)
    with db.read() as session:
        result = simulate(session, tenant, draft(ids), None, now)
    assert stored_state(db, tenant) == before_state  # nothing written: scores, explanations, versions, rules
    assert (result.leads_evaluated, result.leads_changed, result.events) == (4, 4, len(ACTIVITY))
    movers = {m.lead_id: (m.before, m.after) for m in result.top_movers}
    assert movers == {ids["ann@acme.io"]: (65, 90), ids["bob@acme.io"]: (40, 45), ids["cy@acme.io"]: (90, 135),
                      ids["dee@acme.io"]: (0, 90)}
    assert [m.email for m in result.top_movers] == ["dee@acme.io", "cy@acme.io", "ann@acme.io", "bob@acme.io"]
    assert {(c.from_level, c.to_level): c.count for c in result.level_changes} == {("Warm", "Hot"): 1,
                                                                                   ("Cold", "Hot"): 1}
    # Same bins on both sides, from the lowest to the highest score of either (0 .. 135, 20 bins of 7).
    assert [(b.min, b.max) for b in result.distribution_before] == [(b.min, b.max) for b in result.distribution_after]
    assert (result.distribution_before[0].min, result.distribution_before[-1].max) == (0, 139)
    counts = {b.min: (b.count, a.count) for b, a in zip(result.distribution_before, result.distribution_after,
                                                         strict=True) if b.count or a.count}
    assert counts == {0: (1, 0), 35: (1, 0), 42: (0, 1), 63: (1, 0), 84: (1, 2), 133: (0, 1)}
    # Ann crosses 80 on her last demo (45 -> 90), Cy on his second (45 -> 90), Dee on her webinar (0 -> 90).
    assert result.trigger_firings == {ids["trigger"]: 3}

    with db.write() as session:
        published = publish_draft(session, tenant, draft(ids), now, summary="demo worth more, webinars count")
    assert published is not None and published.rescored and published.summary == "demo worth more, webinars count"
    assert primary_scores(db, tenant) == {m.lead_id: m.after for m in result.top_movers}
    with db.read() as session:
        assert heads(session, tenant).published == published.version == heads(session, tenant).live
        by_type = {r.event_type: r.weight for r in rules.list_rules(session, tenant)}
        # The existing milestone simulation reads stored explanations: after publishing it finds the dry run's count.
        found = triggers.simulate(session, tenant, "milestone", ids["trigger"], lead_id=None, days=365, now=now)
    assert by_type == {"demo_request": 45, "webinar": 90}
    assert found["total_matches"] == 3


def test_the_dry_run_counts_what_ingest_fires_under_the_draft(db: Database, tenant: Tenant, now: datetime) -> None:
    ids = setup_unit(db, tenant, now)
    with db.read() as session:
        expected = simulate(session, tenant, draft(ids), None, now).trigger_firings[ids["trigger"]]
    # A second unit that had the draft's rules from the start, fed the same events: its real firings.
    with db.write() as session:
        twin = create_unit(session, org_name="Twin org", unit_name=f"twin {uuid.uuid4().hex[:6]}", now=now)
    start = now - timedelta(days=60)
    with db.write() as session:
        rules.create_rule(session, twin, {"event_type": "demo_request", "weight": 45}, now=start)
        rules.create_rule(session, twin, {"event_type": "webinar", "weight": 90}, now=start)
        trigger = triggers.create_trigger(
            session, twin, "milestone", {"score_threshold": 80, "webhook_url": "http://127.0.0.1:9/hook"}, start)
    for email, kind, days_ago in sorted(ACTIVITY, key=lambda a: -a[2]):
        send(db, twin, email, kind, now - timedelta(days=days_ago))
    with db.read() as session:
        fired = session.scalar(select(func.count()).select_from(models.TriggerFiring).where(
            models.TriggerFiring.trigger_id == trigger.id))
    assert fired == expected == 3


def test_a_window_replays_only_its_events(db: Database, tenant: Tenant, now: datetime) -> None:
    ids = setup_unit(db, tenant, now)
    with db.read() as session:
        result = simulate(session, tenant, draft(ids), 7, now)
    assert result.since == now - timedelta(days=7)
    assert (result.leads_evaluated, result.events) == (3, 4)  # Cy was not active in the last week
    movers = {m.email: (m.before, m.after) for m in result.top_movers}
    # Within the window every lead starts at 0: Ann's demo, Bob's view and demo, Dee's webinar.
    assert movers == {"ann@acme.io": (30, 45), "bob@acme.io": (35, 45), "dee@acme.io": (0, 90)}
    # Ann (30 -> 45) and Bob (35 -> 45) stay Warm: only Dee moves level.
    assert [(c.from_level, c.to_level, c.count) for c in result.level_changes] == [("Cold", "Hot", 1)]
    assert result.trigger_firings == {ids["trigger"]: 1}  # Dee's webinar


def test_level_changes_of_a_levels_only_draft(db: Database, tenant: Tenant, now: datetime) -> None:
    ids = setup_unit(db, tenant, now)
    with db.read() as session:
        current = levels.list_levels(session, tenant)
        new_levels = [{"id": lv["id"], "name": lv["name"], "min_score": lv["min_score"], "max_score": lv["max_score"]}
                      for lv in current]
        new_levels[1]["max_score"], new_levels[2]["min_score"] = 59, 60  # Hot from 60
        result = simulate(session, tenant, {"levels": new_levels}, None, now)
    assert result.leads_changed == 0 and result.top_movers == []
    assert result.trigger_firings == {ids["trigger"]: 1}  # Cy crosses 80 under these rules, as he did
    assert [(c.from_level, c.to_level, c.count) for c in result.level_changes] == [("Warm", "Hot", 1)]  # Ann, 65
    with db.write() as session:
        published = publish_draft(session, tenant, {"levels": new_levels}, now)
    assert published is not None and not published.rescored
    with db.read() as session:
        assert [(lv["id"], lv["min_score"]) for lv in levels.list_levels(session, tenant)] == [
            (lv["id"], lv["min_score"]) for lv in new_levels]


def test_problems_name_the_field_and_change_nothing(db: Database, tenant: Tenant, now: datetime) -> None:
    ids = setup_unit(db, tenant, now)
    state = stored_state(db, tenant)
    cases = [
        ({"rules": {"add": [{"event_type": "x", "weight": "many"}]}}, "changes.rules.add[0].weight"),
        ({"rules": {"update": [{"rule_id": ids["demo"], "weight": 1}, {"rule_id": "rl_nope", "weight": 2}]}},
         "changes.rules.update[1].rule_id"),
        ({"levels": [{"name": "Cold", "min_score": 0, "max_score": 29}, {"name": "Warm", "min_score": 30,
                                                                       "max_score": 79},
                     {"name": "Hot", "min_score": 85, "max_score": 100}]}, "changes.levels[2].min_score"),
    ]
    for changes, field in cases:
        with db.read() as session, pytest.raises(InvalidInput) as caught:
            simulate(session, tenant, changes, 30, now)
        assert caught.value.field == field
        with pytest.raises(InvalidInput) as caught, db.write() as session:
            publish_draft(session, tenant, changes, now)
        assert caught.value.field == field
    for days in (0, -3):
        with db.read() as session, pytest.raises(InvalidInput) as caught:
            simulate(session, tenant, {}, days, now)
        assert caught.value.field == "days"
    assert stored_state(db, tenant) == state


def test_a_viewer_may_not_simulate_or_publish(db: Database, tenant: Tenant, now: datetime) -> None:
    viewer = replace(tenant, role="Viewer")
    with db.read() as session, pytest.raises(Forbidden):
        simulate(session, viewer, {}, None, now)
    with pytest.raises(Forbidden), db.write() as session:
        publish_draft(session, viewer, {}, now)


def test_an_empty_draft_publishes_nothing(db: Database, tenant: Tenant, now: datetime) -> None:
    setup_unit(db, tenant, now)
    state = stored_state(db, tenant)
    with db.write() as session:
        assert publish_draft(session, tenant, {}, now) is None
    assert stored_state(db, tenant)[:4] == state[:4]


def test_the_window_filter_keeps_seq_order_with_late_arrivals(db: Database, tenant: Tenant, now: datetime) -> None:
    from services.scoring.rescore import load_event_columns

    setup_unit(db, tenant, now)
    send(db, tenant, "eve@acme.io", "demo_request", now - timedelta(days=6))  # arrives last, happened earlier
    send(db, tenant, "eve@acme.io", "page_view", now - timedelta(days=20))  # outside a week's window
    since = now - timedelta(days=7)
    with db.read() as session:
        everything = load_event_columns(session, tenant)
        window = load_event_columns(session, tenant, since=since)
    from core.replay import to_micros

    kept = [int(s) for s, us in zip(everything.seq, everything.occurred_us, strict=True) if us >= to_micros(since)]
    assert window.seq.tolist() == kept == sorted(kept)
    assert [window.types[t] for t in window.event_type] == [
        everything.types[everything.event_type[list(everything.seq).index(s)]] for s in kept]
