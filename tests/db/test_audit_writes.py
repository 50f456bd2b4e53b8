"""Every configuration write leaves exactly one audit entry, in its own transaction, naming who did what.

Each case sets up a unit, makes one write as a named Owner, and reads the unit's audit entries written by it:
exactly one, with the actor, action, entity and a diff of what changed. The same write rolled back leaves none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from db.engine import Database
from services.context import Tenant
from services.ingest import imports
from services.operations import sample_data
from services.scoring import decay, levels, rules, scoring_settings
from services.tenancy import api_keys, audit, rate_limits, users
from services.triggers import deliveries, triggers

ACTOR = "ops@example.com"


@dataclasses.dataclass
class Setup:
    owner: Tenant
    ruleset_id: str
    rule_id: str
    level_id: str
    decay_id: str
    key_id: str
    trigger_id: str
    delivery_id: str


@pytest.fixture
def setup(db: Database, tenant: Tenant, now: datetime) -> Setup:
    with db.write() as session:
        extra = rules.create_ruleset(session, tenant, name="Fit", now=now)
        rule = rules.create_rule(session, tenant, {"event_type": "page_visit", "weight": 5}, now=now)
        level = levels.create_level(session, tenant, name="Hot", min_score=50, max_score=1000, now=now)
        decay_rule = decay.create_decay(session, tenant, inactive_for=7, unit="days", decrease=5, now=now)
        key = api_keys.create_api_key(session, tenant, name="tracker", now=now)
        trigger = triggers.create_trigger(
            session, tenant, "milestone", {"name": "Hot lead", "score_threshold": 50, "emails": ["a@example.com"]}, now
        )
        [delivery_id] = triggers.send_test(session, tenant, "milestone", trigger.id, now)
        dead = session.get(models.Delivery, delivery_id)
        assert dead is not None
        dead.status, dead.attempts = "dead", 8  # as the dispatcher leaves it after its last attempt
        return Setup(dataclasses.replace(tenant, actor=ACTOR), extra.id, rule.id, level["id"], decay_rule.id, key.id,
                     trigger.id, delivery_id)


Write = Callable[[Session, Tenant, Setup, datetime], object]
# name -> (write, action, entity_type, the entity id (None: not checked), a field expected in the diff)
CASES: dict[str, tuple[Write, str, str, Callable[[Setup], str | None], str]] = {
    "create ruleset": (lambda s, t, x, n: rules.create_ruleset(s, t, name="New", now=n),
                       "create", "ruleset", lambda x: None, "name"),
    "rename ruleset": (lambda s, t, x, n: rules.update_ruleset(s, t, x.ruleset_id, name="Renamed", now=n),
                       "update", "ruleset", lambda x: x.ruleset_id, "name"),
    "delete ruleset": (lambda s, t, x, n: rules.delete_ruleset(s, t, x.ruleset_id, now=n),
                       "delete", "ruleset", lambda x: x.ruleset_id, "name"),
    "create rule": (lambda s, t, x, n: rules.create_rule(s, t, {"event_type": "demo", "weight": 9}, now=n),
                    "create", "rule", lambda x: None, "weight"),
    "update rule": (lambda s, t, x, n: rules.update_rule(s, t, x.rule_id, {"event_type": "page_visit", "weight": 50},
                                                         now=n),
                    "update", "rule", lambda x: x.rule_id, "weight"),
    "delete rule": (lambda s, t, x, n: rules.delete_rule(s, t, x.rule_id, now=n), "delete", "rule", lambda x: x.rule_id,
                    "event_type"),
    "save ruleset grid": (lambda s, t, x, n: rules.save_ruleset_rules(s, t, x.ruleset_id, [{"event_type": "demo",
                                                                                           "weight": 1}], n),
                          "update", "ruleset_rules", lambda x: x.ruleset_id, ""),
    "create level": (lambda s, t, x, n: levels.create_level(s, t, name="Cold", min_score=0, max_score=49, now=n),
                     "create", "level", lambda x: None, "name"),
    "update level": (lambda s, t, x, n: levels.update_level(s, t, x.level_id, name="Hotter", min_score=60,
                                                            max_score=1000, now=n),
                     "update", "level", lambda x: x.level_id, "min_score"),
    "delete level": (lambda s, t, x, n: levels.delete_level(s, t, x.level_id, now=n), "delete", "level",
                     lambda x: x.level_id, "name"),
    "replace levels": (lambda s, t, x, n: levels.replace_all(s, t, [levels.LevelInput("All", 0, 10)], n),
                       "update", "levels", lambda x: None, ""),
    "create decay rule": (lambda s, t, x, n: decay.create_decay(s, t, inactive_for=1, unit="weeks", decrease=1, now=n),
                          "create", "decay_rule", lambda x: None, "decrease"),
    "update decay rule": (lambda s, t, x, n: decay.update_decay(s, t, x.decay_id, {"decrease": 9}, n),
                          "update", "decay_rule", lambda x: x.decay_id, "decrease"),
    "delete decay rule": (lambda s, t, x, n: decay.delete_decay(s, t, x.decay_id, now=n), "delete", "decay_rule",
                          lambda x: x.decay_id, "decrease"),
    "scoring settings": (lambda s, t, x, n: scoring_settings.update_settings(s, t, abm_enabled=True, now=n),
                         "update", "scoring_settings", lambda x: x.owner.unit_id, "abm_enabled"),
    "create trigger": (lambda s, t, x, n: triggers.create_trigger(s, t, "milestone", {"score_threshold": 90}, n),
                       "create", "milestone_trigger", lambda x: None, "config"),
    "update trigger": (lambda s, t, x, n: triggers.update_trigger(s, t, "milestone", x.trigger_id,
                                                                  {"score_threshold": 70}, n),
                       "update", "milestone_trigger", lambda x: x.trigger_id, "config"),
    "delete trigger": (lambda s, t, x, n: triggers.delete_trigger(s, t, "milestone", x.trigger_id),
                       "delete", "milestone_trigger", lambda x: x.trigger_id, "name"),
    "test trigger": (lambda s, t, x, n: triggers.send_test(s, t, "milestone", x.trigger_id, n),
                     "test", "milestone_trigger", lambda x: x.trigger_id, "deliveries"),
    "retry delivery": (lambda s, t, x, n: deliveries.retry_delivery(s, t, x.delivery_id, n),
                       "retry", "delivery", lambda x: x.delivery_id, "status"),
    "create API key": (lambda s, t, x, n: api_keys.create_api_key(s, t, name="more", now=n),
                       "create", "api_key", lambda x: None, "name"),
    "revoke API key": (lambda s, t, x, n: api_keys.revoke_api_key(s, t, x.key_id, now=n),
                       "revoke", "api_key", lambda x: x.key_id, "revoked_at"),
    "create user": (lambda s, t, x, n: users.create_user(s, t, email=f"new-{x.key_id}@example.com",
                                                         password="long enough pw", role="Viewer", name=None, now=n),
                    "create", "member", lambda x: None, "email"),
    "rate limit": (lambda s, t, x, n: rate_limits.update_config(s, t, enabled=True, now=n),
                   "update", "rate_limit", lambda x: x.owner.unit_id, "enabled"),
    "start import": (lambda s, t, x, n: imports.start_import(s, t, filename="a.csv", now=n,
                                                             csv_file=imports.CsvFile(("event_type",), "ab" * 32, 3)),
                     "create", "import", lambda x: None, "filename"),
}


def _entries(session: Session, tenant: Tenant) -> list[models.AuditLog]:
    log = models.AuditLog
    return list(session.scalars(select(log).where(log.unit_id == tenant.unit_id).order_by(log.id)))


SCORING_MODEL_ENTITIES = {"rule", "ruleset", "ruleset_rules", "level", "levels", "decay_rule", "scoring_settings"}


def _count(db: Database, tenant: Tenant) -> int:
    with db.read() as session:
        log = models.AuditLog
        return int(session.scalar(select(func.count()).where(log.unit_id == tenant.unit_id)) or 0)


@pytest.mark.parametrize("name", list(CASES))
def test_each_write_leaves_one_entry_with_actor_entity_and_diff(
    db: Database, setup: Setup, now: datetime, name: str
) -> None:
    write, action, entity_type, entity_id, field = CASES[name]
    before = _count(db, setup.owner)
    audit.set_request_id("req_case")
    try:
        with db.write() as session:
            write(session, setup.owner, setup, now)
    finally:
        audit.set_request_id(None)
    with db.read() as session:
        new = _entries(session, setup.owner)[before:]
    # A scoring change is also published as a new version of the unit's model, recorded once more.
    published = [e for e in new if e.entity_type == "scoring_version"]
    new = [e for e in new if e.entity_type != "scoring_version"]
    assert len(new) == 1, [(e.action, e.entity_type) for e in new]
    [entry] = new
    if published:
        assert [(e.action, e.user_email, e.request_id) for e in published] == [("publish", ACTOR, "req_case")]
        assert entry.entity_type in SCORING_MODEL_ENTITIES
    assert (entry.user_email, entry.action, entry.entity_type) == (ACTOR, action, entity_type)
    assert entry.request_id == "req_case"
    assert entry.entity_id is not None or entity_type == "levels"
    if entity_id(setup) is not None:
        assert entry.entity_id == entity_id(setup)
    assert entry.changes, "a write that changed something has a non-empty diff"
    if field:
        assert field in entry.changes
    assert not any("hash" in key or "secret" in key for key in entry.changes)


@pytest.mark.parametrize("name", ["update rule", "create API key", "delete level", "rate limit"])
def test_a_rolled_back_write_leaves_no_entry(db: Database, setup: Setup, now: datetime, name: str) -> None:
    write = CASES[name][0]
    before = _count(db, setup.owner)
    with pytest.raises(RuntimeError), db.write() as session:
        write(session, setup.owner, setup, now)
        raise RuntimeError("something later in the transaction failed")
    assert _count(db, setup.owner) == before


def test_update_diff_has_only_the_changed_fields(db: Database, setup: Setup, now: datetime) -> None:
    with db.write() as session:
        rules.update_rule(session, setup.owner, setup.rule_id, {"event_type": "page_visit", "weight": 50}, now=now)
    with db.read() as session:
        entry = [e for e in _entries(session, setup.owner) if e.entity_type == "rule"][-1]
    changes: dict[str, Any] = dict(entry.changes or {})
    assert changes.pop("weight") == {"before": 5, "after": 50}
    assert "event_type" not in changes and "ruleset_id" not in changes


def test_sample_data_seed_and_removal_are_recorded(db: Database, setup: Setup, now: datetime) -> None:
    other = dataclasses.replace(setup.owner)
    with db.write() as session:
        sample_data.seed_sample_data(session, other, now)
    with db.write() as session:
        sample_data.remove_sample_data(session, other, now)
    with db.read() as session:
        actions = [(e.action, e.entity_type) for e in _entries(session, other) if e.entity_type == "sample_data"]
    assert actions == [("seed", "sample_data"), ("remove", "sample_data")]
