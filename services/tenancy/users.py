"""People: organization members (email + bcrypt password, an organization role) and their unit memberships
(Owner, Operator, Viewer per unit). The member and membership API (services.tenancy.members) builds on these."""

from __future__ import annotations

import secrets
from datetime import datetime

import bcrypt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.identity import InvalidIdentifier, normalize_email
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import Conflict, InvalidInput
from services.tenancy import audit, policy
from services.tenancy.policy import ROLES, Action

# The roles that may change the unit's configuration (older imports; new code asks services.tenancy.policy).
EDITOR_ROLES: frozenset[str] = policy.roles_with(Action.EDIT_SCORING)


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def check_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


PASSWORD_MIN_LENGTH = 8


PASSWORD_MAX_BYTES = 72  # bcrypt reads no further


def check_new_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput("password", f"must be at least {PASSWORD_MIN_LENGTH} characters")
    if len(password.encode()) > PASSWORD_MAX_BYTES:
        raise InvalidInput("password", f"must be at most {PASSWORD_MAX_BYTES} bytes")
    if "\x00" in password:
        raise InvalidInput("password", "may not contain a NUL character")


def display_name(first_name: str, last_name: str, email: str) -> str:
    """`Ann Lee`, or the email's local part when both names are empty (fits users.name)."""
    return (f"{first_name} {last_name}".strip() or email.split("@")[0])[:200].strip()


def normalized_email(email: str) -> str:
    if len(email) > 320:
        raise InvalidInput("email", "must be at most 320 characters")
    try:
        return normalize_email(email)
    except InvalidIdentifier as exc:
        raise InvalidInput("email", str(exc)) from None


def check_email_free(session: Session, email: str, *, except_user: str | None = None) -> None:
    query = select(models.User.id).where(models.User.email == email)
    if except_user is not None:
        query = query.where(models.User.id != except_user)
    if session.scalar(query):
        raise Conflict(f"a user with email {email!r} already exists", field="email")


def create_user(
    session: Session, tenant: Tenant, *, email: str, password: str, role: str, name: str | None, now: datetime,
    first_name: str | None = None, last_name: str | None = None,
) -> models.User:
    """A member of the tenant's organization with `role` as organization role and as role in the tenant's unit."""
    policy.require(tenant, Action.MANAGE_USERS)
    normalized = normalized_email(email)
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    check_new_password(password)
    check_email_free(session, normalized)
    first = (first_name or "").strip()[:100]
    last = (last_name or "").strip()[:100]
    display = (name or "").strip()[:200] or display_name(first, last, normalized)
    user = models.User(
        id=new_id("usr"), org_id=tenant.org_id, email=normalized, name=display, first_name=first, last_name=last,
        password_hash=hash_password(password), role=role, verified=True, created_at=now, disabled=False,
    )
    session.add(user)
    session.flush()
    # One entry for the person and their role here; password_hash is never copied into the log.
    audit.record(session, tenant, action="create", entity_type="member", entity_id=user.id, before=None,
                 after={**audit.snapshot(user), "unit_role": role}, now=now)
    add_membership(session, tenant, user_id=user.id, role=role, now=now, record=False)
    return user


def add_membership(
    session: Session, tenant: Tenant, *, user_id: str, role: str, now: datetime, record: bool = True
) -> models.UnitMembership:
    """Give an organization member `role` in the tenant's unit (recorded in the unit's audit log unless the
    caller records it as part of a larger change)."""
    membership = models.UnitMembership(
        id=new_id("mem"), org_id=tenant.org_id, unit_id=tenant.unit_id, user_id=user_id, role=role, created_at=now
    )
    session.add(membership)
    session.flush()
    if record:
        audit.created(session, tenant, "membership", membership, now)
    return membership


def memberships_of(session: Session, user_id: str) -> list[tuple[models.UnitMembership, models.Unit]]:
    """The units a member belongs to with their role there, oldest membership first (the default unit)."""
    rows = session.execute(
        select(models.UnitMembership, models.Unit)
        .join(models.Unit, models.Unit.id == models.UnitMembership.unit_id)
        .where(models.UnitMembership.user_id == user_id)
        .order_by(models.UnitMembership.created_at, models.UnitMembership.id)
    ).all()
    return [(m, u) for m, u in rows]


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(models.User)) or 0)


def ensure_first_owner(session: Session, tenant: Tenant, *, email: str, now: datetime) -> str | None:
    """On a fresh install create an Owner and return its generated password (shown once); else None."""
    if count_users(session) > 0:
        return None
    password = secrets.token_urlsafe(12)
    create_user(session, tenant, email=email, password=password, role="Owner", name="Owner", now=now)
    return password


# Checked against when the email is unknown, so an unknown email costs the same bcrypt time as a known one
# and the response time does not tell which emails have accounts.
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt()).decode()


def authenticate_user(session: Session, email: str, password: str) -> models.User | None:
    try:
        normalized = normalize_email(email)
    except InvalidIdentifier:
        normalized = None
    user = None
    if normalized is not None:
        user = session.scalar(select(models.User).where(models.User.email == normalized))
    if user is None:
        check_password(password, _DUMMY_HASH)
        return None
    if not check_password(password, user.password_hash) or user.disabled:
        return None
    return user
