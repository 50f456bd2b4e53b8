"""The delivery log: GET /v1/deliveries, POST /v1/deliveries/{id}/retry."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from api.deps import DatabaseDep, Now, ReadSession, TenantDep, run_write
from services import deliveries

router = APIRouter(tags=["deliveries"])


@router.get("/v1/deliveries", summary="List deliveries: status, attempts, last error, next attempt")
def list_deliveries(
    tenant: TenantDep,
    session: ReadSession,
    status: Literal["pending", "sending", "delivered", "dead"] | None = None,
    trigger_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> list[dict[str, Any]]:
    rows = deliveries.list_deliveries(session, tenant, status=status, trigger_id=trigger_id, limit=limit, offset=offset)
    return [deliveries.delivery_view(r) for r in rows]


@router.post("/v1/deliveries/{delivery_id}/retry", summary="Send a pending or dead delivery again now")
def retry_delivery(delivery_id: str, tenant: TenantDep, db: DatabaseDep, now: Now) -> dict[str, Any]:
    return run_write(db, lambda s: deliveries.delivery_view(deliveries.retry_delivery(s, tenant, delivery_id, now)))
