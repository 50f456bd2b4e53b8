"""Idempotency keys: the first response to a POST is stored and replayed for retries of the same request.

A key is kept for 24 hours (KEY_LIFETIME): an older one is treated as unseen, and a scheduled job deletes them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import Conflict, InvalidInput


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any


KEY_LIFETIME = timedelta(hours=24)


def canonical_body(body: bytes) -> bytes:
    """The same JSON however it is spelled (key order, spacing, escapes); other bodies as they are."""
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, TypeError):
        return body


def request_fingerprint(method: str, route_path: str, body: bytes) -> str:
    """`route_path` is the path the routes see (without a mount prefix such as /api): the same request either way."""
    request = method.upper().encode() + b" " + route_path.encode() + b"\n" + canonical_body(body)
    return hashlib.sha256(request).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 255:
        raise InvalidInput("Idempotency-Key", "must be 1 to 255 characters")
    return key


def find_response(
    session: Session, tenant: Tenant, key: str, fingerprint: str, now: datetime
) -> StoredResponse | None:
    """The stored response for this key, None if unseen or expired; 409 if the key was used for another request."""
    row = session.get(models.IdempotencyRecord, (tenant.unit_id, key))
    if row is None:
        return None
    if row.created_at <= now - KEY_LIFETIME:  # expired but not yet pruned: the key starts afresh
        session.delete(row)
        session.flush()
        return None
    if row.request_hash != fingerprint:
        raise Conflict(f"Idempotency-Key {key!r} was already used with a different request body")
    return StoredResponse(row.status_code, json.loads(row.response_body))


def save_response(
    session: Session, tenant: Tenant, key: str, fingerprint: str, status_code: int, body: Any, now: datetime
) -> None:
    session.add(
        models.IdempotencyRecord(
            unit_id=tenant.unit_id, key=key, request_hash=fingerprint, status_code=status_code,
            response_body=json.dumps(body, separators=(",", ":")), created_at=now,
        )
    )
    session.flush()


def prune_expired(session: Session, now: datetime) -> int:
    """Delete the keys of every unit older than KEY_LIFETIME; returns how many. The caller commits."""
    record = models.IdempotencyRecord
    result = session.execute(delete(record).where(record.created_at <= now - KEY_LIFETIME))
    return int(getattr(result, "rowcount", 0) or 0)
