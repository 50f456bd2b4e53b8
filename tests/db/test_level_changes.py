"""After a rule save the Rules page says how many leads changed level: snapshots before and after, compared."""

from __future__ import annotations

from datetime import datetime, timedelta

from db.engine import Database
from services.context import Tenant
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import rules
from services.scoring.level_changes import LevelChanges, compare, lead_levels
from services.scoring.levels import LevelInput, replace_all


def _event(kind: str, email: str, when: datetime) -> NewEvent:
    return NewEvent(kind, when, {}, person=PersonRef(aliases=[AliasInput("email", email)]))


def test_a_rule_save_reports_the_leads_that_moved(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        replace_all(session, tenant, [LevelInput("Cold", 0, 29), LevelInput("Warm", 30, 79),
                                      LevelInput("Hot", 80, 10_000)], now)
        rule = rules.create_rule(session, tenant, {"event_type": "demo_request", "weight": 20}, now=now)
        when = now - timedelta(days=1)
        ingest(session, tenant, [
            _event("demo_request", "one@x.com", when),  # 20: Cold
            _event("demo_request", "two@x.com", when), _event("demo_request", "two@x.com", when),  # 40: Warm
            _event("email_open", "three@x.com", when),  # 0: Cold, stays Cold
        ], now)
    with db.write() as session:
        before = lead_levels(session, tenant)
        rows = [{"id": rule.id, "event_type": "demo_request", "weight": 45, "active": True, "conditions": []}]
        rules.save_ruleset_rules(session, tenant, rule.ruleset_id, rows, now)
        changes = compare(before, lead_levels(session, tenant))
    assert sorted(before.values()) == ["Cold", "Cold", "Warm"]
    assert changes == LevelChanges(2, {("Cold", "Warm"): 1, ("Warm", "Hot"): 1})
    assert changes.summary() == "2 leads changed level: 1 Cold → Warm, 1 Warm → Hot."


def test_no_change_and_new_leads_are_not_moves() -> None:
    assert compare({"a": "Cold"}, {"a": "Cold", "b": "Hot"}).summary() == "No lead changed level."
    assert compare({"a": "Cold"}, {"a": "Hot"}).summary() == "1 lead changed level: 1 Cold → Hot."
