"""Roles in the services: every write asks services.tenancy.policy, so a Viewer changes nothing whatever the caller.

Each case sets up a unit as its Owner (rulesets, rules, levels, decay, events, keys, users), then makes one
write as a Viewer of that unit: it is refused with Forbidden (403) and every row of the unit is as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import Forbidden
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import decay, levels, rules, scoring_settings
from services.scoring.rescore import rescore_unit
from services.tenancy import api_keys, policy, users
from services.tenancy.policy import Action

UNIT_TABLES = (
    models.Ruleset, models.Rule, models.EngagementLevel, models.DecayRule, models.ScoringSettings, models.Event,
    models.Lead, models.LeadScore, models.Account, models.ApiKey, models.UnitMembership,
)


@dataclasses.dataclass
class Setup:
    owner: Tenant
    ruleset_id: str  # a second, non-primary ruleset
    rule_id: str
    level_id: str
    decay_id: str
    key_id: str


def as_role(tenant: Tenant, role: str) -> Tenant:
    return dataclasses.replace(tenant, role=role, actor=f"{role.lower()}@example.com")


def event(email: str = "ann@acme.com", event_type: str = "page_visit") -> NewEvent:
    return NewEvent(event_type=event_type, person=PersonRef(aliases=[AliasInput("email", email)]))


def snapshot(session: Session, tenant: Tenant) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the unit has, table by table: equal snapshots mean nothing changed."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for model in UNIT_TABLES:
        table = model.__table__
        rows = session.execute(select(table).where(table.c.unit_id == tenant.unit_id)).all()
        state[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return state


@pytest.fixture
def setup(db: Database, tenant: Tenant, now: datetime) -> Setup:
    with db.write() as session:
        extra = rules.create_ruleset(session, tenant, name="Fit", now=now)
        rule = rules.create_rule(session, tenant, {"event_type": "page_visit", "weight": 5}, now=now)
        level = levels.create_level(session, tenant, name="Hot", min_score=50, max_score=1000, now=now)
        decay_rule = decay.create_decay(session, tenant, inactive_for=7, unit="days", decrease=5, now=now)
        ingest(session, tenant, [event()], now)
        key = api_keys.create_api_key(session, tenant, name="tracker", now=now)
        users.create_user(session, tenant, email=f"owner-{key.id}@example.com", password="long enough pw",
                          role="Owner", name="Owner", now=now)
        return Setup(tenant, extra.id, rule.id, level["id"], decay_rule.id, key.id)


Write = Callable[[Session, Tenant, Setup, datetime], object]

WRITES: dict[str, tuple[Action, Write]] = {
    "create ruleset": (Action.EDIT_SCORING, lambda s, t, x, n: rules.create_ruleset(s, t, name="New", now=n)),
    "rename ruleset": (
        Action.EDIT_SCORING, lambda s, t, x, n: rules.update_ruleset(s, t, x.ruleset_id, name="Renamed", now=n)
    ),
    "make ruleset primary": (
        Action.EDIT_SCORING, lambda s, t, x, n: rules.update_ruleset(s, t, x.ruleset_id, is_primary=True, now=n)
    ),
    "delete ruleset": (Action.EDIT_SCORING, lambda s, t, x, n: rules.delete_ruleset(s, t, x.ruleset_id, now=n)),
    "create rule": (
        Action.EDIT_SCORING, lambda s, t, x, n: rules.create_rule(s, t, {"event_type": "demo", "weight": 9}, now=n)
    ),
    "update rule": (
        Action.EDIT_SCORING,
        lambda s, t, x, n: rules.update_rule(s, t, x.rule_id, {"event_type": "page_visit", "weight": 50}, now=n),
    ),
    "delete rule": (Action.EDIT_SCORING, lambda s, t, x, n: rules.delete_rule(s, t, x.rule_id, now=n)),
    "save ruleset grid": (
        Action.EDIT_SCORING,
        lambda s, t, x, n: rules.save_ruleset_rules(s, t, x.ruleset_id, [{"event_type": "demo", "weight": 1}], n),
    ),
    "create level": (
        Action.EDIT_SCORING,
        lambda s, t, x, n: levels.create_level(s, t, name="Cold", min_score=0, max_score=49, now=n),
    ),
    "update level": (
        Action.EDIT_SCORING,
        lambda s, t, x, n: levels.update_level(s, t, x.level_id, name="Hotter", min_score=60, max_score=1000, now=n),
    ),
    "delete level": (Action.EDIT_SCORING, lambda s, t, x, n: levels.delete_level(s, t, x.level_id, now=n)),
    "replace levels": (
        Action.EDIT_SCORING,
        lambda s, t, x, n: levels.replace_all(s, t, [levels.LevelInput("All", 0, 10)], n),
    ),
    "create decay rule": (
        Action.EDIT_SCORING,
        lambda s, t, x, n: decay.create_decay(s, t, inactive_for=1, unit="weeks", decrease=1, now=n),
    ),
    "update decay rule": (
        Action.EDIT_SCORING, lambda s, t, x, n: decay.update_decay(s, t, x.decay_id, {"decrease": 9}, n)
    ),
    "delete decay rule": (Action.EDIT_SCORING, lambda s, t, x, n: decay.delete_decay(s, t, x.decay_id, now=n)),
    "scoring settings": (
        Action.EDIT_SCORING,
        lambda s, t, x, n: scoring_settings.update_settings(s, t, allow_negative_scores=True, now=n),
    ),
    "rescore": (Action.EDIT_SCORING, lambda s, t, x, n: rescore_unit(s, t)),
    "ingest": (Action.INGEST, lambda s, t, x, n: ingest(s, t, [event("bob@acme.com")], n)),
    "create API key": (Action.MANAGE_KEYS, lambda s, t, x, n: api_keys.create_api_key(s, t, name="more", now=n)),
    "revoke API key": (Action.MANAGE_KEYS, lambda s, t, x, n: api_keys.revoke_api_key(s, t, x.key_id, now=n)),
    "create user": (
        Action.MANAGE_USERS,
        lambda s, t, x, n: users.create_user(s, t, email=f"new-{x.key_id}@example.com", password="long enough pw",
                                             role="Viewer", name=None, now=n),
    ),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_a_viewer_is_refused_every_write_and_nothing_changes(
    db: Database, setup: Setup, now: datetime, name: str
) -> None:
    _action, write = WRITES[name]
    viewer = as_role(setup.owner, "Viewer")
    later = now + timedelta(hours=1)
    with db.read() as session:
        before = snapshot(session, setup.owner)
    with pytest.raises(Forbidden) as refused, db.write() as session:
        write(session, viewer, setup, later)
    assert refused.value.status == 403
    assert "Viewer" in refused.value.message
    with db.read() as session:
        assert snapshot(session, setup.owner) == before


@pytest.mark.parametrize("name", list(WRITES))
def test_an_operator_may_make_a_write_exactly_when_the_policy_says_so(
    db: Database, setup: Setup, now: datetime, name: str
) -> None:
    action, write = WRITES[name]
    operator = as_role(setup.owner, "Operator")
    if policy.allowed("Operator", action):
        with db.write() as session:
            write(session, operator, setup, now + timedelta(hours=1))
    else:
        with pytest.raises(Forbidden), db.write() as session:
            write(session, operator, setup, now + timedelta(hours=1))


def test_operators_edit_scoring_and_ingest_but_only_owners_manage_keys_and_users(
    db: Database, setup: Setup, now: datetime
) -> None:
    operator, owner = as_role(setup.owner, "Operator"), as_role(setup.owner, "Owner")
    with db.write() as session:
        rules.create_rule(session, operator, {"event_type": "demo_request", "weight": 30}, now=now)
        (result,) = ingest(session, operator, [event("op@acme.com", "demo_request")], now)
    assert not isinstance(result, Exception)
    for manage in (
        lambda s, t: api_keys.create_api_key(s, t, name="op key", now=now),
        lambda s, t: api_keys.revoke_api_key(s, t, setup.key_id, now=now),
        lambda s, t: users.create_user(s, t, email="op-made@example.com", password="long enough pw", role="Owner",
                                       name=None, now=now),
    ):
        with pytest.raises(Forbidden), db.write() as session:
            manage(session, operator)
        with db.write() as session:
            manage(session, owner)
    with db.read() as session:
        keys = {k.name: k for k in api_keys.list_api_keys(session, owner)}
        assert keys["op key"].role == "Owner" and keys["tracker"].revoked_at is not None
        assert session.scalar(select(models.User.role).where(models.User.email == "op-made@example.com")) == "Owner"


def test_the_rule_records_who_changed_it(db: Database, setup: Setup, now: datetime) -> None:
    operator = as_role(setup.owner, "Operator")
    with db.write() as session:
        created = rules.create_rule(session, operator, {"event_type": "webinar", "weight": 3}, now=now)
        row = session.get(models.Rule, created.id)
        assert row is not None and row.created_by == "operator@example.com"


def test_a_key_gets_the_role_it_was_created_with(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        viewer_key = api_keys.create_api_key(session, tenant, name="reader", role="Viewer", now=now)
        with pytest.raises(Exception, match="role"):
            api_keys.create_api_key(session, tenant, name="odd", role="Admin", now=now)
    with db.read() as session:
        authenticated = api_keys.authenticate(session, viewer_key.secret)
    assert authenticated is not None
    assert (authenticated.unit_id, authenticated.role) == (tenant.unit_id, "Viewer")
    assert authenticated.actor == "api key reader"


def test_the_policy_table() -> None:
    assert all(policy.allowed("Owner", a) for a in Action if a not in policy.ORG_ACTIONS)
    assert [a for a in Action if policy.allowed("Viewer", a)] == [Action.SELF, Action.READ]
    assert [a for a in Action if policy.allowed("Ingest", a)] == [Action.SELF, Action.INGEST]
    assert not policy.allowed("Operator", Action.MANAGE_KEYS) and not policy.allowed("Operator", Action.MANAGE_USERS)
    assert not policy.allowed("Operator", Action.MANAGE_INTEGRATIONS)  # Slack and CRM credentials: Owners
    assert policy.allowed("Operator", Action.RESEARCH)  # research jobs may write provider fields into profiles
    assert policy.allowed("Operator", Action.EDIT_SCORING) and policy.allowed("Operator", Action.INGEST)
    assert not any(policy.allowed("Admin", a) for a in Action)  # an unknown role may do nothing
    assert users.EDITOR_ROLES == {"Owner", "Operator"} == policy.roles_with(Action.EDIT_SCORING)


def test_organization_actions_are_for_organization_owners_only() -> None:
    unit_owner_key = Tenant(org_id="o", unit_id="u", role="Owner")
    org_owner = Tenant(org_id="o", unit_id="u", role="Viewer", member_id="usr_1", org_role="Owner")
    org_operator = Tenant(org_id="o", unit_id="u", role="Owner", member_id="usr_2", org_role="Operator")
    assert policy.permits(org_owner, Action.MANAGE_ORG)
    assert not policy.permits(unit_owner_key, Action.MANAGE_ORG)  # a key never manages the organization
    assert not policy.permits(org_operator, Action.MANAGE_ORG)
    with pytest.raises(Forbidden):
        policy.require(unit_owner_key, Action.MANAGE_ORG)
