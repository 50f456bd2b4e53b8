"""Quarantine, observed-only types and surge through ingest on the real database: what ingest stores equals what a
replay of the log gives (a rescore rewrites nothing), late events that complete a burst or land inside a session
correct the lead's earlier events, and held events fire no trigger."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from core import surge
from db import models
from db.engine import Database
from services.context import Tenant
from services.insight.event_types import delete_events
from services.people.merge import merge_leads
from services.scoring import publisher
from services.scoring.model import begin_change, heads
from services.scoring.publish import publish
from services.scoring.rescore import rescore_unit, verify_unit
from services.triggers import triggers
from settings import get_settings
from tests.db.test_rescore import lead_score, primary_id, visit
from tests.notify.receivers import add_rule, allow_loopback  # noqa: F401 (autouse fixture)

BOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


def configure(
    db: Database,
    tenant: Tenant,
    now: datetime,
    *,
    filters: list[dict[str, Any]] = (),  # type: ignore[assignment]
    surge_mode: str | None = None,
    scopes: dict[str, str] | None = None,
    bot: bool | None = None,
    drop_filters: bool = False,
) -> None:
    """Change the unit's scoring model the way the configuration services do: lock, change the tables, publish."""
    with db.write() as session:
        begin_change(session, tenant, now)
        if drop_filters:
            session.execute(delete(models.InorganicFilter).where(models.InorganicFilter.unit_id == tenant.unit_id))
        for i, f in enumerate(filters):
            session.add(models.InorganicFilter(
                id=f"flt_{i}_{tenant.unit_id}", org_id=tenant.org_id, unit_id=tenant.unit_id, created_at=now,
                updated_at=now, **{"group_events": False, **f},
            ))
        if surge_mode is not None:
            session.merge(models.SurgePolicy(
                unit_id=tenant.unit_id, org_id=tenant.org_id, mode=surge_mode, bands=[],
                idle_reset_seconds=surge.DEFAULT_IDLE_RESET_SECONDS, multiplier_cap=2.0, updated_at=now,
            ))
        for event_type, scope in (scopes or {}).items():
            session.merge(models.EventTypeSetting(
                unit_id=tenant.unit_id, event_type=event_type, org_id=tenant.org_id, hidden=False,
                max_processing_scope=scope, updated_at=now,
            ))
        if bot is not None:
            settings_row = session.get(models.ScoringSettings, tenant.unit_id)
            assert settings_row is not None
            settings_row.bot_filter_enabled = bot
        publish(session, tenant, now=now)


def events_of(db: Database, lead_id: str) -> list[models.Event]:
    with db.read() as session:
        return list(session.scalars(select(models.Event).where(models.Event.lead_id == lead_id)
                                    .order_by(models.Event.occurred_at, models.Event.seq)))


def replay_agrees(db: Database, tenant: Tenant) -> None:
    """Stored scores, deltas, explanations, quarantine and surge are exactly the replay's: a rescore changes none."""
    with db.write() as session:
        assert verify_unit(session, tenant) == []
        assert rescore_unit(session, tenant).changed_events == 0


def test_a_burst_completed_by_its_last_click_quarantines_the_earlier_ones(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    add_rule(db, tenant, "email_click", 10, now)
    configure(db, tenant, now, filters=[{"event_type": "email_click", "count_threshold": 5, "time_window_ms": 2000}])
    rs = primary_id(db, tenant)
    lead = ""
    for i in range(4):  # four clicks in 1.2 s, one request each: not a burst yet
        lead = visit(db, tenant, "ann@acme.com", now + timedelta(milliseconds=300 * i), "email_click").lead_id or ""
    assert lead_score(db, tenant, lead, rs) == 40
    fifth = visit(db, tenant, "ann@acme.com", now + timedelta(milliseconds=1200), "email_click")
    assert not fifth.fires_triggers and fifth.quarantine_reason is not None
    assert lead_score(db, tenant, lead, rs) == 0
    stored = events_of(db, lead)
    assert [e.quarantine_filter_id for e in stored] == [f"flt_0_{tenant.unit_id}"] * 5
    assert all(e.score_delta == 0 and e.explanation[rs]["rules"] == [] for e in stored)
    assert "5+ email_click events within 2000 ms" in (stored[0].quarantine_reason or "")
    # A click a minute later is a person again.
    visit(db, tenant, "ann@acme.com", now + timedelta(minutes=1), "email_click")
    assert lead_score(db, tenant, lead, rs) == 10
    replay_agrees(db, tenant)
    # Quarantine is reversible: without the filter the replay scores every click again.
    configure(db, tenant, now, drop_filters=True)
    assert lead_score(db, tenant, lead, rs) == 60
    assert all(e.quarantine_filter_id is None and e.quarantine_reason is None for e in events_of(db, lead))
    replay_agrees(db, tenant)


def test_a_grouped_burst_counts_as_its_first_event(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "email_click", 10, now)
    configure(db, tenant, now, filters=[
        {"event_type": "email_click", "count_threshold": 3, "time_window_ms": 1000, "group_events": True}])
    rs = primary_id(db, tenant)
    first = visit(db, tenant, "bo@acme.com", now, "email_click")
    for ms in (200, 400, 600):
        visit(db, tenant, "bo@acme.com", now + timedelta(milliseconds=ms), "email_click")
    assert lead_score(db, tenant, first.lead_id or "", rs) == 10
    assert [e.quarantine_filter_id is None for e in events_of(db, first.lead_id or "")] == [True, False, False, False]
    replay_agrees(db, tenant)


def test_bot_agents_are_quarantined_when_the_switch_is_on(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "page_view", 5, now)
    rs = primary_id(db, tenant)
    human = visit(db, tenant, "cy@acme.com", now, "page_view", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/120")
    crawler = visit(db, tenant, "cy@acme.com", now + timedelta(minutes=1), "page_view", user_agent=BOT)
    assert lead_score(db, tenant, human.lead_id or "", rs) == 10  # the switch is off by default
    configure(db, tenant, now, bot=True)
    assert lead_score(db, tenant, human.lead_id or "", rs) == 5
    with db.read() as session:
        held = session.scalar(select(models.Event).where(models.Event.id == crawler.event_id))
    assert held is not None and held.quarantine_filter_id == "bot_user_agent"
    later = visit(db, tenant, "cy@acme.com", now + timedelta(minutes=2), "page_view", user_agent=BOT)
    assert later.quarantine_reason == "known bot user agent" and not later.fires_triggers
    assert lead_score(db, tenant, human.lead_id or "", rs) == 5
    replay_agrees(db, tenant)


def test_surge_boosts_a_session_and_a_late_event_moves_the_ones_after_it(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    add_rule(db, tenant, "page_view", 10, now)
    configure(db, tenant, now, surge_mode="standard")
    rs = primary_id(db, tenant)
    lead = ""
    for minute in (0, 2, 4, 6, 8):  # one session: 1.0, 1.0, 1.25, 1.25, 1.5
        lead = visit(db, tenant, "di@acme.com", now + timedelta(minutes=minute), "page_view").lead_id or ""
    assert [e.score_delta for e in events_of(db, lead)] == [10, 10, 12, 12, 15]
    third = events_of(db, lead)[2]
    assert third.surge_milli == 1250
    assert third.explanation[rs]["surge_multiplier"] == 1.25 and third.explanation[rs]["surge_boost"] == 2
    assert lead_score(db, tenant, lead, rs) == 59
    replay_agrees(db, tenant)
    # An event that happened at minute 1 arrives last: every later event moves one place up the session.
    visit(db, tenant, "di@acme.com", now + timedelta(minutes=1), "page_view")
    assert [e.score_delta for e in events_of(db, lead)] == [10, 10, 12, 12, 15, 15]
    assert lead_score(db, tenant, lead, rs) == 74
    replay_agrees(db, tenant)
    # Half an hour of silence starts a new session.
    visit(db, tenant, "di@acme.com", now + timedelta(minutes=40), "page_view")
    assert events_of(db, lead)[-1].score_delta == 10
    replay_agrees(db, tenant)


def test_observed_types_score_nothing_and_decide_types_fire_no_trigger(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    add_rule(db, tenant, "webinar", 50, now)
    add_rule(db, tenant, "demo_request", 50, now)
    with db.write() as session:
        trigger = triggers.create_trigger(
            session, tenant, "milestone", {"score_threshold": 40, "webhook_url": "http://127.0.0.1:9/hook"}, now)
    configure(db, tenant, now, scopes={"webinar": "observe", "demo_request": "decide"})
    rs = primary_id(db, tenant)
    seen = visit(db, tenant, "ed@acme.com", now, "webinar")
    assert lead_score(db, tenant, seen.lead_id or "", rs) == 0 and not seen.fires_triggers
    decided = visit(db, tenant, "ed@acme.com", now + timedelta(minutes=1), "demo_request")
    assert lead_score(db, tenant, seen.lead_id or "", rs) == 50 and not decided.fires_triggers
    with db.read() as session:
        fired = session.scalars(select(models.TriggerFiring).where(models.TriggerFiring.trigger_id == trigger.id))
        assert list(fired) == []
    # Back to activate: the webinar scores (a replay), and the next crossing fires.
    configure(db, tenant, now, scopes={"webinar": "activate", "demo_request": "activate"})
    assert lead_score(db, tenant, seen.lead_id or "", rs) == 100
    replay_agrees(db, tenant)


def test_a_filter_published_aside_quarantines_like_inline(
    db: Database, tenant: Tenant, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a unit big enough to rescore aside (here: every unit), the swap gives the same stored rows as a replay,
    including events that arrive while the rescore runs."""
    add_rule(db, tenant, "email_click", 10, now)
    rs = primary_id(db, tenant)
    lead = opener = ""
    for i in range(6):
        lead = visit(db, tenant, "fa@acme.com", now + timedelta(milliseconds=100 * i), "email_click").lead_id or ""
        # A type no rule scores (another lead): quarantining it moves no delta, yet its rows must say so.
        opened = visit(db, tenant, "op@other.example", now + timedelta(milliseconds=100 * i), "email_open")
        opener = opened.lead_id or ""
    monkeypatch.setattr(get_settings(), "inline_rescore_max_events", 0)
    configure(db, tenant, now, filters=[{"event_type": "email_click", "count_threshold": 5, "time_window_ms": 2000},
                                        {"event_type": "email_open", "count_threshold": 5, "time_window_ms": 2000}],
              surge_mode="gentle")
    visit(db, tenant, "fa@acme.com", now + timedelta(milliseconds=700), "email_click")
    assert publisher.wait_idle(60)
    with db.read() as session:
        assert heads(session, tenant).live == heads(session, tenant).published
    assert lead_score(db, tenant, lead, rs) == 0
    opens = events_of(db, opener)
    assert len(opens) == 6 and all(e.quarantine_filter_id == f"flt_1_{tenant.unit_id}" for e in opens)
    replay_agrees(db, tenant)


def test_merging_two_leads_makes_one_session_and_rescores_their_accounts(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    add_rule(db, tenant, "page_view", 10, now)
    configure(db, tenant, now, surge_mode="standard")
    rs = primary_id(db, tenant)
    work = visit(db, tenant, "gil@acme.com", now, "page_view")
    visit(db, tenant, "gil@acme.com", now + timedelta(minutes=2), "page_view")
    home = visit(db, tenant, "gil@home.example", now + timedelta(minutes=1), "page_view")
    visit(db, tenant, "gil@home.example", now + timedelta(minutes=3), "page_view")
    assert lead_score(db, tenant, work.lead_id or "", rs) == 20  # two sessions of two: nothing boosted
    with db.write() as session:
        merge_leads(session, tenant, target_id=work.lead_id or "", source_ids=[home.lead_id or ""], now=now)
    # One person, one session of four events: 10, 10, 12, 12.
    assert [e.score_delta for e in events_of(db, work.lead_id or "")] == [10, 10, 12, 12]
    assert lead_score(db, tenant, work.lead_id or "", rs) == 44
    replay_agrees(db, tenant)


def test_verify_reports_a_quarantine_flag_the_log_does_not_explain(db: Database, tenant: Tenant, now: datetime) -> None:
    add_rule(db, tenant, "email_click", 10, now)
    clicked = visit(db, tenant, "hal@acme.com", now, "email_click")
    with db.write() as session:
        session.execute(update(models.Event).where(models.Event.id == clicked.event_id)
                        .values(quarantine_filter_id="flt_gone", quarantine_reason="stale"))
    with db.write() as session:
        (problem,) = verify_unit(session, tenant)
        assert "stored quarantine/surge ('flt_gone', 'stale', None) != replayed (None, None, None)" in problem
        assert rescore_unit(session, tenant).changed_events == 1
    replay_agrees(db, tenant)


def test_deleting_one_click_of_a_burst_releases_the_others(db: Database, tenant: Tenant, now: datetime) -> None:
    """The deleted click was the last of five: the four before it are no burst any more and score again, though
    they come before the first deleted event."""
    add_rule(db, tenant, "email_click", 10, now)
    configure(db, tenant, now, filters=[{"event_type": "email_click", "count_threshold": 5, "time_window_ms": 2000}])
    rs = primary_id(db, tenant)
    clicks = [visit(db, tenant, "ida@acme.com", now + timedelta(milliseconds=200 * i), "email_click")
              for i in range(5)]
    lead = clicks[0].lead_id or ""
    assert lead_score(db, tenant, lead, rs) == 0
    with db.write() as session:
        assert delete_events(session, tenant, [clicks[-1].event_id], now)["events_deleted"] == 1
    assert lead_score(db, tenant, lead, rs) == 40
    assert all(e.quarantine_filter_id is None for e in events_of(db, lead))
    replay_agrees(db, tenant)
