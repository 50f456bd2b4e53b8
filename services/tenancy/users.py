"""Dashboard users: email + bcrypt password, one role in one unit (Owner, Operator, Viewer)."""

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


def create_user(
    session: Session, tenant: Tenant, *, email: str, password: str, role: str, name: str | None, now: datetime
) -> models.User:
    policy.require(tenant, Action.MANAGE_USERS)
    try:
        normalized = normalize_email(email)
    except InvalidIdentifier as exc:
        raise InvalidInput("email", str(exc)) from None
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise InvalidInput("password", "must be at least 8 characters")
    if session.scalar(select(models.User.id).where(models.User.email == normalized)):
        raise Conflict(f"a user with email {normalized!r} already exists", field="email")
    user = models.User(
        id=new_id("usr"), org_id=tenant.org_id, unit_id=tenant.unit_id, email=normalized,
        name=(name or normalized.split("@")[0]).strip(), password_hash=hash_password(password), role=role,
        created_at=now, disabled=False,
    )
    session.add(user)
    session.flush()
    audit.created(session, tenant, "user", user, now)  # password_hash is never copied into the log
    return user


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
