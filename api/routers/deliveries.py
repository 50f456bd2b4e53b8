"""The delivery log: GET /v1/deliveries, POST /v1/deliveries/{id}/retry.

A delivery's `last_error` is a short reason of ours ("HTTP 500 from receiver", "connection refused",
"refused: private address"); a receiver's response body is never stored or shown.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, TriggerEditor
from api.responses import error_responses as errors
from api.types import OffsetQuery, Timestamp
from services.triggers import deliveries

router = APIRouter(tags=["deliveries"])


class DeliveryOut(BaseModel):
    delivery_id: str
    webhook_id: str = Field(description="the webhook-id header receivers dedupe on (the same as delivery_id)")
    firing_id: str | None = Field(
        description="the trigger firing; null for the scheduled CRM sync and research completion webhooks")
    trigger_id: str | None
    channel: Literal["webhook", "email", "slack", "hubspot"]
    target: str = Field(description="webhook URL, comma-separated emails, Slack webhook URL, channel:<id>, "
                                    "a Slack app target, or the CRM contact's email")
    status: Literal["pending", "sending", "delivered", "dead"]
    attempts: int
    last_error: str | None = Field(description="our short reason for the last failure; never the receiver's body")
    last_status_code: int | None
    next_attempt_at: Timestamp | None
    created_at: Timestamp
    delivered_at: Timestamp | None


@router.get("/v1/deliveries", summary="List deliveries: status, attempts, last error, next attempt",
            response_model=list[DeliveryOut], responses=errors(401, 403, 422))
def list_deliveries(
    tenant: Reader,
    session: ReadSession,
    status: Literal["pending", "sending", "delivered", "dead"] | None = None,
    trigger_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: OffsetQuery = 0,
) -> list[dict[str, Any]]:
    rows = deliveries.list_deliveries(session, tenant, status=status, trigger_id=trigger_id, limit=limit, offset=offset)
    return [deliveries.delivery_view(r) for r in rows]


@router.post("/v1/deliveries/{delivery_id}/retry", summary="Send a pending or dead delivery again now",
             response_model=DeliveryOut, responses=errors(401, 403, 404, 409))
def retry_delivery(delivery_id: str, tenant: TriggerEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    return run_write(db, lambda s: deliveries.delivery_view(deliveries.retry_delivery(s, tenant, delivery_id, now)))
