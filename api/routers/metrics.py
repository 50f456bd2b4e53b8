"""GET /metrics: Prometheus text exposition, open unless LEADVANE_METRICS_TOKEN asks for a bearer token."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import DatabaseDep, Now
from api.errors import error_response
from api.permissions import Public
from services.operations import metrics
from settings import get_settings

router = APIRouter()


# Not in the OpenAPI schema: it answers text/plain to Prometheus, not JSON to API clients.
@router.get("/metrics", include_in_schema=False, dependencies=[Public])
async def prometheus_metrics(request: Request, db: DatabaseDep, now: Now) -> Response:
    token = get_settings().metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token.encode()):
            return error_response(
                request, 401, "unauthorized", "Invalid or missing metrics token.", {"WWW-Authenticate": "Bearer"}
            )

    def scrape() -> bytes:
        with db.read() as session:
            depth = metrics.queue_depth(session, now)
        return metrics.exposition(depth)

    return Response(await run_in_threadpool(scrape), media_type=metrics.CONTENT_TYPE)
