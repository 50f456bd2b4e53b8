"""Units as people see them: which units a caller may open and with what role, opening one (the active unit),
creating and renaming units.

A person sees the units they are a member of, with their membership role there; an organization Owner sees every
unit of the organization and is Owner in each. An API key or credential sees only its own unit, with its role.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import Forbidden, InvalidInput, NotFound
from services.operations.demo import DEFAULT_LEVELS
from services.scoring import levels
from services.tenancy import audit, policy, tenants, users
from services.tenancy.policy import Action

NAME_MAX = 200


@dataclass(frozen=True, slots=True)
class UnitView:
    unit_id: str
    name: str
    slug: str
    role: str  # the caller's role in the unit


@dataclass(frozen=True, slots=True)
class OrganizationView:
    org_id: str
    name: str


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput("name", "must not be empty")
    if len(cleaned) > NAME_MAX:
        raise InvalidInput("name", f"must be at most {NAME_MAX} characters")
    return cleaned


def person_units(session: Session, user: models.User) -> list[UnitView]:
    """The units a person may open, their memberships first (oldest first: the default unit), then, for an
    organization Owner, the organization's other units."""
    org_owner = user.role == "Owner"
    seen: list[UnitView] = [
        UnitView(u.id, u.name, u.slug, "Owner" if org_owner else m.role)
        for m, u in users.memberships_of(session, user.id)
        if u.org_id == user.org_id
    ]
    if org_owner:
        member_of = {v.unit_id for v in seen}
        others = session.scalars(
            select(models.Unit)
            .where(models.Unit.org_id == user.org_id)
            .order_by(models.Unit.created_at, models.Unit.id)
        )
        seen.extend(UnitView(u.id, u.name, u.slug, "Owner") for u in others if u.id not in member_of)
    return seen


def _caller(session: Session, tenant: Tenant) -> models.User | None:
    if tenant.member_id is None:
        return None
    user = session.get(models.User, tenant.member_id)
    if user is None or user.disabled or user.org_id != tenant.org_id:
        raise NotFound("unknown member")
    return user


def units_for(session: Session, tenant: Tenant) -> list[UnitView]:
    """What GET /v1/org-units lists: a person's units, or a key's own unit."""
    policy.require(tenant, Action.SELF)
    user = _caller(session, tenant)
    if user is not None:
        return person_units(session, user)
    unit = session.get(models.Unit, tenant.unit_id)
    return [] if unit is None else [UnitView(unit.id, unit.name, unit.slug, tenant.role)]


def organization_of(session: Session, tenant: Tenant) -> OrganizationView:
    org = session.get(models.Organization, tenant.org_id)
    if org is None:
        raise NotFound("organization not found")
    return OrganizationView(org.id, org.name)


def person_tenant(session: Session, member_id: str, org_id: str, unit_id: str | None) -> Tenant | None:
    """A person acting in `unit_id` (None: their first unit) with their role there. None when the member no longer
    exists, is disabled or left the organization; Forbidden when they may not open that unit (or any)."""
    user = session.get(models.User, member_id)
    if user is None or user.disabled or user.org_id != org_id:
        return None
    visible = person_units(session, user)
    if not visible:
        raise Forbidden("you belong to no unit yet: ask an organization Owner to add you to one")
    chosen = visible[0] if unit_id is None else next((v for v in visible if v.unit_id == unit_id), None)
    if chosen is None:
        raise Forbidden("you are not a member of that unit")
    return Tenant(
        org_id=user.org_id, unit_id=chosen.unit_id, role=chosen.role, actor=user.email, member_id=user.id,
        org_role=user.role,
    )


def unit_tenant(session: Session, tenant: Tenant, unit_id: str) -> Tenant:
    """The caller acting in `unit_id` (a route's path unit, which may differ from the active unit), with their
    role there; NotFound when the caller may not see that unit."""
    user = _caller(session, tenant)
    if user is None:
        if unit_id != tenant.unit_id:
            raise NotFound("unit not found")
        return tenant
    view = next((v for v in person_units(session, user) if v.unit_id == unit_id), None)
    if view is None:
        raise NotFound("unit not found")
    return replace(tenant, unit_id=view.unit_id, role=view.role, org_role=user.role)


def unit_view(session: Session, tenant: Tenant) -> UnitView:
    """The tenant's unit with the tenant's role there."""
    unit = session.get(models.Unit, tenant.unit_id)
    if unit is None or unit.org_id != tenant.org_id:
        raise NotFound("unit not found")
    return UnitView(unit.id, unit.name, unit.slug, tenant.role)


def activate(session: Session, tenant: Tenant, unit_id: str) -> UnitView:
    """POST /v1/org-units/active: check a person may open `unit_id` and return it with their role there."""
    if tenant.member_id is None:
        raise Forbidden("only a person (a token from POST /v1/auth/token) has an active unit; a key has its own")
    try:
        return unit_view(session, unit_tenant(session, tenant, unit_id))
    except NotFound:
        raise Forbidden("you are not a member of that unit") from None


def create_unit(session: Session, tenant: Tenant, *, name: str, now: datetime) -> UnitView:
    """A new unit in the caller's organization (organization Owners only): a primary ruleset, default scoring
    settings and the default engagement levels (Cold, Warm, Hot); the creator becomes its Owner."""
    policy.require(tenant, Action.MANAGE_ORG)
    unit = tenants.add_unit(session, org_id=tenant.org_id, name=_clean_name(name), now=now)
    inside = replace(tenant, unit_id=unit.id, role="Owner")
    audit.created(session, inside, "unit", unit, now)
    levels.replace_all(session, inside, [levels.LevelInput(n, low, high) for n, low, high in DEFAULT_LEVELS], now)
    if tenant.member_id is not None:
        users.add_membership(session, inside, user_id=tenant.member_id, role="Owner", now=now)
    return UnitView(unit.id, unit.name, unit.slug, "Owner")


def rename_unit(session: Session, tenant: Tenant, unit_id: str, *, name: str, now: datetime) -> UnitView:
    """A new name and a slug derived from it, unique in the organization (Owners of the unit, organization
    Owners)."""
    inside = unit_tenant(session, tenant, unit_id)
    policy.require(inside, Action.MANAGE_UNIT)
    unit = session.get(models.Unit, unit_id)
    if unit is None:
        raise NotFound("unit not found")
    before = audit.snapshot(unit)
    cleaned = _clean_name(name)
    unit.name = cleaned
    unit.slug = tenants.unique_slug(session, unit.org_id, cleaned, except_unit=unit.id)
    session.flush()
    audit.updated(session, inside, "unit", before, unit, now)
    return UnitView(unit.id, unit.name, unit.slug, inside.role)
