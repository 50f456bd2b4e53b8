"""The unit's audit log: GET /v1/admin/audit-logs (Owner and Operator; services.tenancy.audit)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from api.deps import ReadSession
from api.permissions import AuditReader
from api.responses import error_responses
from api.schemas import OutModel
from api.types import OffsetQuery, Timestamp
from services.tenancy import audit

router = APIRouter(tags=["admin"])


class AuditLogItem(OutModel):
    id: int
    created_at: Timestamp
    user_email: str | None = Field(description="who: the member's email or the API key's name")
    action: str = Field(description="create, update, delete, revoke, retry, test, seed, remove, ... or request")
    entity_type: str | None = Field(description="what was changed, e.g. rule, level, api_key (None for a request)")
    entity_id: str | None
    changes: dict[str, Any] | None = Field(description="only the changed fields: {field: {before, after}}")
    request_id: str | None
    method: str | None = Field(description="the HTTP method (request entries)")
    path: str | None
    status: int | None
    ip: str | None
    latency_ms: int | None


class AuditLogPage(OutModel):
    items: list[AuditLogItem]
    limit: int
    offset: int


def _errors() -> dict[int | str, dict[str, Any]]:
    responses = error_responses(401, 403, 422, 429)
    responses[403]["description"] = "The key's role may not read the audit log (Owner and Operator only)"
    return responses


@router.get(
    "/v1/admin/audit-logs", summary="List audit logs (unit-scoped)", response_model=AuditLogPage,
    responses=_errors(),
    description="Recent audit entries of the caller's unit (configuration changes and mutating API requests), "
    "with optional filters and sorting.",
)
def list_audit_logs(
    tenant: AuditReader,
    session: ReadSession,
    limit: int = Query(default=100, ge=1, le=audit.MAX_LIMIT, description="Max rows to return (default 100)"),
    offset: OffsetQuery = 0,
    search: str | None = Query(default=None, max_length=200, description="Search user email, path, IP and entity"),
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = Query(default=None),
    status_min: int | None = Query(default=None, ge=0, le=999, description="Minimum status code (inclusive)"),
    status_max: int | None = Query(default=None, ge=0, le=999, description="Maximum status code (inclusive)"),
    user_email: str | None = Query(default=None, max_length=320, description="Filter by exact user email"),
    sort_by: audit.SortBy = "created_at",
    sort_order: audit.SortOrder = "DESC",
) -> AuditLogPage:
    entries = audit.list_entries(
        session, tenant, limit=limit, offset=offset, search=search, method=method, status_min=status_min,
        status_max=status_max, user_email=user_email, sort_by=sort_by, sort_order=sort_order,
    )
    return AuditLogPage(
        items=[AuditLogItem.model_validate(e, from_attributes=True) for e in entries], limit=limit, offset=offset
    )
