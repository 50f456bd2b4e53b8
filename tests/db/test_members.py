"""Members, memberships and units as services: who may do what, the last-Owner rules, slugs, what is audited."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import Conflict, Forbidden, NotFound
from services.scoring import levels as level_service
from services.tenancy import members, units, users

PASSWORD = "correct horse battery"


def _owner(db: Database, tenant: Tenant, now: datetime) -> Tenant:
    """An organization Owner (a person) acting in `tenant`'s unit."""
    with db.write() as session:
        user = users.create_user(session, tenant, email=f"own-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD,
                                 role="Owner", name=None, first_name="Olga", last_name="Owner", now=now)
        person = units.person_tenant(session, user.id, tenant.org_id, tenant.unit_id)
    assert person is not None
    return person


def test_a_new_unit_has_levels_a_unique_slug_and_its_creator_as_owner(db: Database, tenant: Tenant,
                                                                       now: datetime) -> None:
    owner = _owner(db, tenant, now)
    with db.write() as session:
        first = units.create_unit(session, owner, name="Sales / EMEA", now=now)
        second = units.create_unit(session, owner, name="sales emea", now=now)
        levels = session.scalars(
            select(models.EngagementLevel.name).where(models.EngagementLevel.unit_id == first.unit_id)
            .order_by(models.EngagementLevel.min_score)
        ).all()
        created = session.scalar(select(models.AuditLog).where(
            models.AuditLog.unit_id == first.unit_id, models.AuditLog.entity_type == "unit"))
        roster = members.list_unit_members(session, owner, first.unit_id)
    assert (first.slug, second.slug) == ("sales-emea", "sales-emea-2")
    assert list(levels) == ["Cold", "Warm", "Hot"]
    assert created is not None and created.user_email == owner.actor
    assert [(m.org_member_id, m.role) for m in roster] == [(owner.member_id, "Owner")]


def test_keys_and_non_owners_cannot_manage_the_organization(db: Database, tenant: Tenant, now: datetime) -> None:
    owner = _owner(db, tenant, now)
    as_key = dataclasses.replace(tenant, member_id=None, org_role=None, role="Owner")
    as_unit_owner = dataclasses.replace(owner, org_role="Operator")
    with db.write() as session:
        for caller in (as_key, as_unit_owner):
            with pytest.raises(Forbidden):
                units.create_unit(session, caller, name="x", now=now)
            with pytest.raises(Forbidden):
                members.create_member(session, caller, first_name="A", last_name="B", email="ab@example.com",
                                      password=PASSWORD, role="Viewer", now=now)
        with pytest.raises(Forbidden):
            members.list_members(session, as_key)


def test_last_owner_rules_for_units_and_the_organization(db: Database, tenant: Tenant, now: datetime) -> None:
    owner = _owner(db, tenant, now)
    assert owner.member_id is not None
    with db.write() as session:
        with pytest.raises(Conflict):
            members.change_role(session, owner, tenant.unit_id, owner.member_id, role="Viewer", now=now)
        with pytest.raises(Conflict):
            members.remove(session, owner, tenant.unit_id, owner.member_id, now)
        with pytest.raises(Conflict):
            members.delete_member(session, owner, owner.member_id, now)
        with pytest.raises(Conflict):
            members.update_member(session, owner, owner.member_id, role="Operator", now=now)


def test_an_operator_may_not_touch_the_owner_role(db: Database, tenant: Tenant, now: datetime) -> None:
    owner = _owner(db, tenant, now)
    with db.write() as session:
        op = members.create_member(session, owner, first_name="Otto", last_name="Op",
                                   email=f"op-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD,
                                   role="Operator", now=now)
        viewer = members.create_member(session, owner, first_name="Vera", last_name="View",
                                       email=f"v-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD,
                                       role="Viewer", now=now)
        operator = units.person_tenant(session, op.org_member_id, tenant.org_id, tenant.unit_id)
        assert operator is not None and operator.role == "Operator"
        with pytest.raises(Forbidden):
            members.change_role(session, operator, tenant.unit_id, viewer.org_member_id, role="Owner", now=now)
        with pytest.raises(Forbidden):
            members.remove(session, operator, tenant.unit_id, str(owner.member_id), now)
        changed = members.change_role(session, operator, tenant.unit_id, viewer.org_member_id, role="Operator",
                                      now=now)
        assert changed.role == "Operator"


def test_a_unit_outside_the_callers_reach_is_not_found(db: Database, tenant: Tenant, now: datetime) -> None:
    owner = _owner(db, tenant, now)
    with db.write() as session:
        other = units.create_unit(session, owner, name="Other", now=now)
        viewer = members.create_member(session, owner, first_name="Vic", last_name="V",
                                       email=f"vic-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD,
                                       role="Viewer", now=now)
        person = units.person_tenant(session, viewer.org_member_id, tenant.org_id, None)
        assert person is not None and person.unit_id == tenant.unit_id
        with pytest.raises(NotFound):
            members.list_unit_members(session, person, other.unit_id)
        with pytest.raises(Forbidden):
            units.person_tenant(session, viewer.org_member_id, tenant.org_id, other.unit_id)
        # A person of another organization does not exist here.
        assert units.person_tenant(session, viewer.org_member_id, "org_elsewhere", None) is None


def test_deleting_a_member_keeps_what_they_wrote_in_the_audit_log(db: Database, tenant: Tenant,
                                                                   now: datetime) -> None:
    owner = _owner(db, tenant, now)
    email = f"gone-{uuid.uuid4().hex[:6]}@example.com"
    with db.write() as session:
        gone = members.create_member(session, owner, first_name="Gus", last_name="Gone", email=email,
                                     password=PASSWORD, role="Operator", now=now)
        as_gone = units.person_tenant(session, gone.org_member_id, tenant.org_id, None)
        assert as_gone is not None
        level_service.create_level(session, as_gone, name="Warm", min_score=0, max_score=50, now=now)
    with db.write() as session:
        members.delete_member(session, owner, gone.org_member_id, now)
    with db.read() as session:
        assert session.get(models.User, gone.org_member_id) is None
        kinds = {
            (e.entity_type, e.action, e.user_email)
            for e in session.scalars(select(models.AuditLog).where(models.AuditLog.unit_id == tenant.unit_id))
        }
    assert ("level", "create", email) in kinds  # written by the deleted member, kept
    assert ("member", "create", owner.actor) in kinds and ("member", "delete", owner.actor) in kinds
    assert ("membership", "delete", owner.actor) in kinds
