"""The audit log: who changed what in a unit (with a before/after diff), and every mutating API request.

A configuration change is recorded by the service that makes it, with `record`, in the caller's transaction: the
entry exists exactly when the change does. Requests are recorded by api.audit_middleware after the response,
in batches (`write_requests`). The request id reaches services through a context variable set by the API's
request-id middleware (services never import api/).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal

from sqlalchemy import Select, String, cast, func, insert, inspect, or_, select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.tenancy import policy
from services.tenancy.policy import Action

_request_id: ContextVar[str | None] = ContextVar("leadvane_request_id", default=None)

# Columns never copied into a diff: scoping and bookkeeping noise, and secrets (even hashed ones).
_SKIPPED = frozenset({"org_id", "unit_id", "created_at", "updated_at", "updated_by", "created_by"})
_SECRET_MARKERS = ("hash", "secret", "password", "token")

Snapshot = Mapping[str, Any]
SORT_COLUMNS = ("created_at", "user_email", "method", "path", "status", "ip", "latency_ms")
SortBy = Literal["created_at", "user_email", "method", "path", "status", "ip", "latency_ms"]
SortOrder = Literal["ASC", "DESC"]
MAX_LIMIT = 500


def set_request_id(request_id: str | None) -> None:
    """Called by the API's request-id middleware: every audit entry written while serving the request carries it."""
    _request_id.set(request_id)


def current_request_id() -> str | None:
    return _request_id.get()


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _json_safe(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    return str(value)


def _is_secret(name: str) -> bool:
    return any(marker in name.lower() for marker in _SECRET_MARKERS)


def snapshot(row: Any) -> dict[str, Any]:
    """The audited fields of an ORM row (or a mapping / dataclass-like object's public fields), JSON-safe."""
    if row is None:
        return {}
    if isinstance(row, Mapping):
        items: Iterable[tuple[str, Any]] = row.items()
    else:
        mapper = inspect(row, raiseerr=False)
        if mapper is not None and hasattr(mapper, "mapper"):
            items = ((attr.key, getattr(row, attr.key)) for attr in mapper.mapper.column_attrs)
        else:
            names = getattr(row, "__slots__", None) or [n for n in vars(row) if not n.startswith("_")]
            items = ((name, getattr(row, name)) for name in names)
    return {k: _json_safe(v) for k, v in items if k not in _SKIPPED and not _is_secret(k)}


def diff(before: Snapshot | None, after: Snapshot | None) -> dict[str, dict[str, Any]]:
    """Only the fields that changed: {field: {"before": old, "after": new}} (a missing side is None)."""
    old, new = dict(before or {}), dict(after or {})
    changed: dict[str, dict[str, Any]] = {}
    for name in sorted(old.keys() | new.keys()):
        was, now = _json_safe(old.get(name)), _json_safe(new.get(name))
        if was != now:
            changed[name] = {"before": was, "after": now}
    return changed


def record(
    session: Session,
    tenant: Tenant,
    *,
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: Any,
    after: Any,
    now: datetime | None,
    request_id: str | None = None,
) -> None:
    """Adds one audit entry to the caller's transaction (never commits): rolled back with the change it records.

    `before` and `after` are snapshots (`snapshot(row)` taken before a change) or rows themselves (snapshotted
    here, so pass `after=row` once the change is applied); None for the side that does not exist. `now` None
    (a service that is not given the time, e.g. a delete) stamps the entry with the database's clock.
    """
    before_map = before if isinstance(before, Mapping) or before is None else snapshot(before)
    after_map = after if isinstance(after, Mapping) or after is None else snapshot(after)
    session.add(
        models.AuditLog(
            org_id=tenant.org_id, unit_id=tenant.unit_id, created_at=func.current_timestamp() if now is None else now,
            user_email=tenant.actor, action=action,
            entity_type=entity_type, entity_id=None if entity_id is None else str(entity_id),
            changes=diff(snapshot(before_map), snapshot(after_map)),
            request_id=request_id if request_id is not None else current_request_id(),
        )
    )


@dataclass(frozen=True, slots=True)
class RequestEntry:
    """One mutating API request, as the middleware saw it."""

    org_id: str
    unit_id: str
    user_email: str | None
    method: str
    path: str
    status: int
    request_id: str | None
    ip: str | None
    latency_ms: int
    at: datetime


def write_requests(session: Session, entries: Iterable[RequestEntry]) -> int:
    """Inserts request entries in one statement (executemany): the middleware's batch writer calls this."""
    rows = [
        {
            "org_id": e.org_id, "unit_id": e.unit_id, "created_at": e.at, "user_email": e.user_email,
            "action": "request", "method": e.method, "path": e.path[:2000], "status": e.status,
            "request_id": e.request_id, "ip": e.ip, "latency_ms": e.latency_ms,
        }
        for e in entries
    ]
    if rows:
        session.execute(insert(models.AuditLog), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    created_at: datetime
    user_email: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    changes: dict[str, Any] | None
    request_id: str | None
    method: str | None
    path: str | None
    status: int | None
    ip: str | None
    latency_ms: int | None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_entries(
    session: Session,
    tenant: Tenant,
    *,
    limit: int = 100,
    offset: int = 0,
    search: str | None = None,
    method: str | None = None,
    status_min: int | None = None,
    status_max: int | None = None,
    user_email: str | None = None,
    sort_by: SortBy = "created_at",
    sort_order: SortOrder = "DESC",
) -> list[AuditEntry]:
    """The unit's audit entries, newest first by default. `search` matches user email, path, IP, entity id."""
    policy.require(tenant, Action.READ_AUDIT)
    log = models.AuditLog
    query: Select[Any] = select(log).where(log.unit_id == tenant.unit_id)
    if search:
        pattern = f"%{_escape_like(search.lower())}%"
        fields = (log.user_email, log.path, log.ip, log.entity_id, log.entity_type, log.action)
        query = query.where(or_(*(cast(f, String).ilike(pattern, escape="\\") for f in fields)))
    if method:
        query = query.where(log.method == method.upper())
    if status_min is not None:
        query = query.where(log.status >= status_min)
    if status_max is not None:
        query = query.where(log.status <= status_max)
    if user_email:
        query = query.where(log.user_email == user_email)
    column = getattr(log, sort_by if sort_by in SORT_COLUMNS else "created_at")
    ordered = column.asc() if sort_order.upper() == "ASC" else column.desc()
    tiebreak = log.id.asc() if sort_order.upper() == "ASC" else log.id.desc()
    query = query.order_by(ordered.nulls_last(), tiebreak).limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset))
    return [
        AuditEntry(
            id=row.id, created_at=row.created_at, user_email=row.user_email, action=row.action,
            entity_type=row.entity_type, entity_id=row.entity_id, changes=row.changes, request_id=row.request_id,
            method=row.method, path=row.path, status=row.status, ip=row.ip, latency_ms=row.latency_ms,
        )
        for row in session.scalars(query)
    ]


# One-line shorthands for the common cases (the entity's id is the row's `id`).
def created(session: Session, tenant: Tenant, entity_type: str, row: Any, now: datetime | None) -> None:
    record(session, tenant, action="create", entity_type=entity_type, entity_id=row.id, before=None, after=row,
           now=now)


def updated(session: Session, tenant: Tenant, entity_type: str, before: Snapshot, row: Any,
            now: datetime | None) -> None:
    record(session, tenant, action="update", entity_type=entity_type, entity_id=row.id, before=before, after=row,
           now=now)


def deleted(session: Session, tenant: Tenant, entity_type: str, row: Any, now: datetime | None = None) -> None:
    record(session, tenant, action="delete", entity_type=entity_type, entity_id=row.id, before=row, after=None,
           now=now)
