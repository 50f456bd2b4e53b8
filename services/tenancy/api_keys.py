"""API keys and credentials of a unit, each with a role (services.tenancy.policy), shown once, stored hashed.

An API key is one bearer secret `sk_live_<random>`. A credential (the reference's "Secrets", /v1/secrets) is a
pair for HTTP Basic: a public `ci_<random>` client id and a `cs_<random>` client secret. Both live in api_keys
(kind "api_key" or "credential"); key_hash is the SHA-256 of the secret (for a credential, of the client secret).

The secret carries 256 bits of entropy, so a fast hash is enough and lets every request
authenticate with a single indexed lookup (bcrypt is for low-entropy passwords).
"""

from __future__ import annotations

import hashlib
import hmac
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
from services.tenancy.policy import KEY_ROLES, Action, KeyRole

KEY_PREFIX = "sk_live_"
CLIENT_ID_PREFIX = "ci_"
CLIENT_SECRET_PREFIX = "cs_"
NAME_MAX = 50  # a credential's name: 1..50 characters (reference: Secrets)
KIND_KEY = "api_key"
KIND_CREDENTIAL = "credential"
DEFAULT_CREDENTIAL_ROLE: KeyRole = "Ingest"  # the least an integration needs: send events
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
    _check_role(role)
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
        kind=KIND_KEY,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "api_key", row, now)  # the secret's hash is never copied into the log
    return CreatedKey(row.id, name, secret, row.display_prefix, role)


def create_api_key_in_unit(
    session: Session, unit_id: str, *, name: str, now: datetime, role: str = "Owner"
) -> CreatedKey:
    """A key for any unit, made by the server's administrator (manage.py create-api-key); NotFound for an
    unknown unit."""
    unit = session.get(models.Unit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id!r} not found", field="unit")
    admin = Tenant(org_id=unit.org_id, unit_id=unit.id, role="Owner", actor="manage.py")
    return create_api_key(session, admin, name=name, now=now, role=role)


def authenticate(session: Session, secret: str) -> Tenant | None:
    """The tenant a live key belongs to, or None for an unknown or revoked key."""
    if not secret.startswith(KEY_PREFIX):
        return None
    row = session.execute(
        select(
            models.ApiKey.id, models.ApiKey.org_id, models.ApiKey.unit_id, models.ApiKey.role, models.ApiKey.name
        ).where(
            models.ApiKey.key_hash == hash_secret(secret), models.ApiKey.revoked_at.is_(None),
            models.ApiKey.kind == KIND_KEY,
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
            select(models.ApiKey)
            .where(models.ApiKey.unit_id == tenant.unit_id, models.ApiKey.kind == KIND_KEY)
            .order_by(models.ApiKey.created_at, models.ApiKey.id)
        )
    )


def revoke_api_key(session: Session, tenant: Tenant, key_id: str, *, now: datetime) -> None:
    policy.require(tenant, Action.MANAGE_KEYS)
    row = session.get(models.ApiKey, key_id)
    if row is None or row.unit_id != tenant.unit_id or row.kind != KIND_KEY:
        raise NotFound(f"API key {key_id!r} not found")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, tenant, action="revoke", entity_type="api_key", entity_id=row.id,
                     before={"revoked_at": None}, after={"revoked_at": now}, now=now)


def _check_role(role: str) -> None:
    if role not in KEY_ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(KEY_ROLES)}")


@dataclass(frozen=True, slots=True)
class CreatedCredential:
    id: str
    client_id: str
    client_secret: str  # only ever returned here
    name: str
    role: str
    created_at: datetime


def create_credential(
    session: Session, tenant: Tenant, *, name: str, now: datetime, role: str = DEFAULT_CREDENTIAL_ROLE
) -> CreatedCredential:
    """A new client id and secret of the unit acting with `role`; the secret is stored only as its hash."""
    policy.require(tenant, Action.MANAGE_KEYS)
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput("name", f"must be 1 to {NAME_MAX} characters")
    _check_role(role)
    client_id = CLIENT_ID_PREFIX + secrets.token_urlsafe(12)
    client_secret = CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)
    row = models.ApiKey(
        id=new_id("sec"),
        org_id=tenant.org_id,
        unit_id=tenant.unit_id,
        name=name,
        display_prefix=client_id[:32],
        key_hash=hash_secret(client_secret),
        role=role,
        created_at=now,
        kind=KIND_CREDENTIAL,
        client_id=client_id,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "credential", row, now)  # the secret's hash is never copied into the log
    return CreatedCredential(row.id, client_id, client_secret, name, role, now)


def list_credentials(session: Session, tenant: Tenant) -> list[models.ApiKey]:
    """The unit's live credentials, oldest first (revoked ones are gone for good)."""
    key = models.ApiKey
    return list(
        session.scalars(
            select(key)
            .where(key.unit_id == tenant.unit_id, key.kind == KIND_CREDENTIAL, key.revoked_at.is_(None))
            .order_by(key.created_at, key.id)
        )
    )


def revoke_credential(session: Session, tenant: Tenant, credential_id: str, *, now: datetime) -> None:
    """Revoke a live credential of the unit; anything else (another unit's, an API key, revoked) is NotFound."""
    policy.require(tenant, Action.MANAGE_KEYS)
    row = session.get(models.ApiKey, credential_id)
    if row is None or row.unit_id != tenant.unit_id or row.kind != KIND_CREDENTIAL or row.revoked_at is not None:
        raise NotFound(f"credential {credential_id!r} not found")
    row.revoked_at = now
    audit.record(session, tenant, action="revoke", entity_type="credential", entity_id=row.id,
                 before={"revoked_at": None}, after={"revoked_at": now}, now=now)


def authenticate_credential(session: Session, client_id: str, client_secret: str) -> Tenant | None:
    """The tenant a live credential belongs to, or None for an unknown, revoked or wrong pair."""
    if not client_id.startswith(CLIENT_ID_PREFIX) or not client_secret.startswith(CLIENT_SECRET_PREFIX):
        return None
    key = models.ApiKey
    row = session.execute(
        select(key.id, key.org_id, key.unit_id, key.role, key.name, key.key_hash).where(
            key.client_id == client_id, key.kind == KIND_CREDENTIAL, key.revoked_at.is_(None)
        )
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, hash_secret(client_secret)):
        return None
    return Tenant(
        org_id=row.org_id, unit_id=row.unit_id, role=row.role, actor=f"credential {row.name}", credential_id=row.id
    )
