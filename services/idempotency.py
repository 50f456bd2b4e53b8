"""Idempotency keys: the first response to a POST is stored and replayed for retries of the same request."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import Conflict, InvalidInput


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 255:
        raise InvalidInput("Idempotency-Key", "must be 1 to 255 characters")
    return key


def find_response(session: Session, tenant: Tenant, key: str, fingerprint: str) -> StoredResponse | None:
    """The stored response for this key, None if unseen; 409 if the key was used for another request."""
    row = session.get(models.IdempotencyRecord, (tenant.unit_id, key))
    if row is None:
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
