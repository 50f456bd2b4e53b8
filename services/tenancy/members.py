"""Organization members (people) and their unit memberships: the use cases behind /v1/members,
/v1/org-units/{id}/members, /v1/me and the dashboard's Team page.

- Members belong to the organization; only organization Owners (people, never keys) create, change and delete
  them. Any person of the organization may list them. The last organization Owner can be neither deleted nor
  demoted.
- Memberships give a member a role (Owner, Operator, Viewer) in one unit. Owners and Operators of the unit, and
  organization Owners, manage them; an Operator may not grant, change or remove the Owner role. The last Owner of
  a unit can be neither removed nor demoted.
Every change is recorded in the affected unit's audit log (entity types "member" and "membership").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.tenancy import audit, policy, users
from services.tenancy.policy import ROLES, Action
from services.tenancy.units import unit_tenant

NAME_MAX = 100


@dataclass(frozen=True, slots=True)
class MemberView:
    org_member_id: str
    first_name: str
    last_name: str
    email: str
    role: str  # organization role


@dataclass(frozen=True, slots=True)
class MeView:
    org_member_id: str
    first_name: str
    last_name: str
    email: str
    role: str
    verified: bool


@dataclass(frozen=True, slots=True)
class MembershipView:
    org_member_id: str
    first_name: str
    last_name: str
    email: str
    role: str  # role in the unit
    unit_id: str


def _view(user: models.User) -> MemberView:
    return MemberView(user.id, user.first_name, user.last_name, user.email, user.role)


def _membership_view(user: models.User, membership: models.UnitMembership) -> MembershipView:
    return MembershipView(user.id, user.first_name, user.last_name, user.email, membership.role, membership.unit_id)


def _require_person(tenant: Tenant) -> None:
    policy.require(tenant, Action.SELF)
    if tenant.member_id is None:
        raise Forbidden("only a person (a token from POST /v1/auth/token) may do this, not an API key or credential")


def _check_role(role: str, field: str = "role") -> None:
    if role not in ROLES:
        raise InvalidInput(field, f"must be one of {', '.join(ROLES)}")


def _name(value: str, field: str) -> str:
    cleaned = value.strip()
    if len(cleaned) > NAME_MAX:
        raise InvalidInput(field, f"must be at most {NAME_MAX} characters")
    return cleaned


def _member(session: Session, tenant: Tenant, member_id: str) -> models.User:
    user = session.get(models.User, member_id)
    if user is None or user.org_id != tenant.org_id:
        raise NotFound("member not found")
    return user


# --- members ------------------------------------------------------------------------------------------------------


def list_members(session: Session, tenant: Tenant) -> list[MemberView]:
    """Every member of the caller's organization, by name (any person of the organization may read it)."""
    _require_person(tenant)
    rows = session.scalars(
        select(models.User)
        .where(models.User.org_id == tenant.org_id)
        .order_by(models.User.first_name, models.User.last_name, models.User.email)
    )
    return [_view(u) for u in rows]


def me(session: Session, tenant: Tenant) -> MeView:
    _require_person(tenant)
    user = _member(session, tenant, str(tenant.member_id))
    return MeView(user.id, user.first_name, user.last_name, user.email, user.role, user.verified)


def generate_password() -> str:
    """A one-time password for an invited member (shown once; they sign in with it)."""
    return secrets.token_urlsafe(12)


def create_member(
    session: Session, tenant: Tenant, *, first_name: str, last_name: str, email: str, password: str, role: str,
    now: datetime,
) -> MemberView:
    """A new organization member with `role` in the organization and in the caller's active unit."""
    policy.require(tenant, Action.MANAGE_ORG)
    _check_role(role)
    user = users.create_user(
        session, tenant, email=email, password=password, role=role, name=None, now=now,
        first_name=_name(first_name, "first_name"), last_name=_name(last_name, "last_name"),
    )
    return _view(user)


def _org_owners(session: Session, org_id: str) -> int:
    # Lock the organization first: two concurrent demotions must not both see "another Owner is left".
    session.execute(select(models.Organization.id).where(models.Organization.id == org_id).with_for_update())
    return int(
        session.scalar(
            select(func.count()).select_from(models.User).where(
                models.User.org_id == org_id, models.User.role == "Owner", models.User.disabled.is_(False)
            )
        ) or 0
    )


def update_member(
    session: Session, tenant: Tenant, member_id: str, *, first_name: str | None = None,
    last_name: str | None = None, email: str | None = None, role: str | None = None, password: str | None = None,
    now: datetime,
) -> MemberView:
    """Change any of a member's names, email, organization role and password (organization Owners only)."""
    policy.require(tenant, Action.MANAGE_ORG)
    user = _member(session, tenant, member_id)
    before = audit.snapshot(user)
    if role is not None:
        _check_role(role)
        if user.role == "Owner" and role != "Owner" and _org_owners(session, user.org_id) <= 1:
            raise Conflict("the last organization Owner cannot be demoted: make another member Owner first")
        user.role = role
    if email is not None:
        normalized = users.normalized_email(email)
        users.check_email_free(session, normalized, except_user=user.id)
        user.email = normalized
    if first_name is not None:
        user.first_name = _name(first_name, "first_name")
    if last_name is not None:
        user.last_name = _name(last_name, "last_name")
    if first_name is not None or last_name is not None:
        user.name = users.display_name(user.first_name, user.last_name, user.email)
    if password is not None:
        users.check_new_password(password)
        user.password_hash = users.hash_password(password)
    session.flush()
    changed = audit.snapshot(user)
    if password is not None:
        # That it changed, never the password or its hash (fields named like secrets are dropped from diffs).
        changed["sign_in"] = "new password set"
    audit.record(session, tenant, action="update", entity_type="member", entity_id=user.id, before=before,
                 after=changed, now=now)
    return _view(user)


def delete_member(session: Session, tenant: Tenant, member_id: str, now: datetime) -> None:
    """Remove a person and every membership (organization Owners only). Audit entries they wrote remain: they
    name the actor by email, as text."""
    policy.require(tenant, Action.MANAGE_ORG)
    user = _member(session, tenant, member_id)
    if user.role == "Owner" and not user.disabled and _org_owners(session, user.org_id) <= 1:
        raise Conflict("the last organization Owner cannot be deleted: make another member Owner first")
    for membership in session.scalars(select(models.UnitMembership).where(models.UnitMembership.user_id == user.id)):
        audit.deleted(session, Tenant(org_id=membership.org_id, unit_id=membership.unit_id, role=tenant.role,
                                      actor=tenant.actor, member_id=tenant.member_id, org_role=tenant.org_role),
                      "membership", membership, now)
        session.delete(membership)
    session.flush()
    audit.deleted(session, tenant, "member", user, now)
    session.delete(user)
    session.flush()


# --- unit memberships ---------------------------------------------------------------------------------------------


def list_unit_members(session: Session, tenant: Tenant, unit_id: str) -> list[MembershipView]:
    """The members of `unit_id` with their role there (the caller must see the unit: else NotFound)."""
    inside = unit_tenant(session, tenant, unit_id)
    policy.require(inside, Action.READ)
    rows = session.execute(
        select(models.User, models.UnitMembership)
        .join(models.UnitMembership, models.UnitMembership.user_id == models.User.id)
        .where(models.UnitMembership.unit_id == inside.unit_id)
        .order_by(models.User.first_name, models.User.last_name, models.User.email)
    ).all()
    return [_membership_view(u, m) for u, m in rows]


def _membership(session: Session, unit_id: str, member_id: str) -> models.UnitMembership | None:
    return session.scalar(
        select(models.UnitMembership).where(
            models.UnitMembership.unit_id == unit_id, models.UnitMembership.user_id == member_id
        )
    )


def _check_owner_rule(inside: Tenant, *roles: str | None) -> None:
    """Only an Owner of the unit (or an organization Owner) grants, changes or removes the Owner role."""
    policy.require(inside, Action.MANAGE_MEMBERSHIPS)
    if inside.role != "Owner" and "Owner" in roles:
        raise Forbidden(f"role {inside.role} may not grant, change or remove the Owner role")


def _check_not_last_owner(session: Session, membership: models.UnitMembership, what: str) -> None:
    if membership.role != "Owner":
        return
    # Lock the unit first: two concurrent demotions must not both see "another Owner is left".
    session.execute(select(models.Unit.id).where(models.Unit.id == membership.unit_id).with_for_update())
    owners = session.scalar(
        select(func.count()).select_from(models.UnitMembership).where(
            models.UnitMembership.unit_id == membership.unit_id, models.UnitMembership.role == "Owner"
        )
    )
    if (owners or 0) <= 1:
        raise Conflict(f"the last Owner of the unit cannot be {what}: make another member Owner first")


def assign(
    session: Session, tenant: Tenant, unit_id: str, *, member_id: str, role: str = "Viewer", now: datetime
) -> tuple[MembershipView, bool]:
    """Give an organization member `role` in `unit_id` (idempotent: the same role again changes nothing; another
    role changes it). Returns the membership and whether it was created."""
    inside = unit_tenant(session, tenant, unit_id)
    _check_role(role)
    user = session.get(models.User, member_id)
    if user is None or user.org_id != inside.org_id:
        policy.require(inside, Action.MANAGE_MEMBERSHIPS)
        raise NotFound("member not found")
    existing = _membership(session, inside.unit_id, member_id)
    if existing is not None:
        if existing.role == role:
            policy.require(inside, Action.MANAGE_MEMBERSHIPS)
            return _membership_view(user, existing), False
        return change_role(session, tenant, unit_id, member_id, role=role, now=now), False
    _check_owner_rule(inside, role)
    membership = users.add_membership(session, inside, user_id=user.id, role=role, now=now)
    return _membership_view(user, membership), True


def change_role(
    session: Session, tenant: Tenant, unit_id: str, member_id: str, *, role: str, now: datetime
) -> MembershipView:
    inside = unit_tenant(session, tenant, unit_id)
    _check_role(role)
    membership = _membership(session, inside.unit_id, member_id)
    if membership is None:
        policy.require(inside, Action.MANAGE_MEMBERSHIPS)
        raise NotFound("membership not found")
    _check_owner_rule(inside, membership.role, role)
    if membership.role == role:
        return _membership_view(_member(session, inside, member_id), membership)
    if role != "Owner":
        _check_not_last_owner(session, membership, "demoted")
    before = audit.snapshot(membership)
    membership.role = role
    session.flush()
    audit.updated(session, inside, "membership", before, membership, now)
    return _membership_view(_member(session, inside, member_id), membership)


def remove(session: Session, tenant: Tenant, unit_id: str, member_id: str, now: datetime) -> None:
    inside = unit_tenant(session, tenant, unit_id)
    membership = _membership(session, inside.unit_id, member_id)
    if membership is None:
        policy.require(inside, Action.MANAGE_MEMBERSHIPS)
        raise NotFound("membership not found")
    _check_owner_rule(inside, membership.role)
    _check_not_last_owner(session, membership, "removed")
    audit.deleted(session, inside, "membership", membership, now)
    session.delete(membership)
    session.flush()
