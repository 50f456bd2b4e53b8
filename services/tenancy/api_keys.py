"""API keys: `sk_live_<random>`, shown once, stored as a SHA-256 hash.

The secret carries 256 bits of entropy, so a fast hash is enough and lets every request
authenticate with a single indexed lookup (bcrypt is for low-entropy passwords).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.tenancy import audit, policy
from services.tenancy.policy import KEY_ROLES, Action

KEY_PREFIX = "sk_live_"
# last_used_at is a hint for people ("used 3 minutes ago"), so it is written at most this often per key.
USE_RECORD_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    id: str
    name: str
    secret: str  # only ever returned here
    display_prefix: str
    role: str = "Owner"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    session: Session, tenant: Tenant, *, name: str, now: datetime, role: str = "Owner"
) -> CreatedKey:
    """A new key of the unit acting with `role` (services.tenancy.policy decides what that role may do)."""
    policy.require(tenant, Action.MANAGE_KEYS)
    if role not in KEY_ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(KEY_ROLES)}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = models.ApiKey(
        id=new_id("key"),
        org_id=tenant.org_id,
        unit_id=tenant.unit_id,
        name=name,
        display_prefix=secret[: len(KEY_PREFIX) + 6],
        key_hash=hash_secret(secret),
        role=role,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "api_key", row, now)  # the secret's hash is never copied into the log
    return CreatedKey(row.id, name, secret, row.display_prefix, role)


def authenticate(session: Session, secret: str) -> Tenant | None:
    """The tenant a live key belongs to, or None for an unknown or revoked key."""
    if not secret.startswith(KEY_PREFIX):
        return None
    row = session.execute(
        select(
            models.ApiKey.id, models.ApiKey.org_id, models.ApiKey.unit_id, models.ApiKey.role, models.ApiKey.name
        ).where(
            models.ApiKey.key_hash == hash_secret(secret), models.ApiKey.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return Tenant(
        org_id=row.org_id, unit_id=row.unit_id, role=row.role, actor=f"api key {row.name}", credential_id=row.id
    )


def record_use(session: Session, key_hash: str, now: datetime, *, every: timedelta = USE_RECORD_INTERVAL) -> bool:
    """Set the key's last_used_at to `now` unless it was set less than `every` ago; True when written.

    The condition is in the UPDATE, so processes that each decide to record a use still write a key at most
    once per `every` between them.
    """
    key = models.ApiKey
    result = session.execute(
        update(key)
        .where(key.key_hash == key_hash, or_(key.last_used_at.is_(None), key.last_used_at <= now - every))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def list_api_keys(session: Session, tenant: Tenant) -> list[models.ApiKey]:
    return list(
        session.scalars(
            select(models.ApiKey).where(models.ApiKey.unit_id == tenant.unit_id).order_by(models.ApiKey.created_at)
        )
    )


def revoke_api_key(session: Session, tenant: Tenant, key_id: str, *, now: datetime) -> None:
    policy.require(tenant, Action.MANAGE_KEYS)
    row = session.get(models.ApiKey, key_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"API key {key_id!r} not found")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, tenant, action="revoke", entity_type="api_key", entity_id=row.id,
                     before={"revoked_at": None}, after={"revoked_at": now}, now=now)
