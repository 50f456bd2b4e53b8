"""The FastAPI application: create_api() wires routers, errors and the database."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit_middleware import AuditMiddleware, auditor_of
from api.errors import install_error_handlers
from api.guards import InputGuardMiddleware
from api.permissions import declare_permissions
from api.request_counter import counter_of
from api.responses import ERROR_RESPONSES
from api.routers import accounts as accounts_router
from api.routers import admin as admin_router
from api.routers import analytics as analytics_router
from api.routers import audit as audit_router
from api.routers import auth as auth_router
from api.routers import crm, events, health, signals
from api.routers import crm_sync as crm_sync_router
from api.routers import decays as decays_router
from api.routers import deliveries as deliveries_router
from api.routers import event_types as event_types_router
from api.routers import filters as filters_router
from api.routers import fit as fit_router
from api.routers import imports as imports_router
from api.routers import lead_lifecycle as lead_lifecycle_router
from api.routers import lead_profiles as lead_profiles_router
from api.routers import leads as leads_router
from api.routers import levels as levels_router
from api.routers import members as members_router
from api.routers import metrics as metrics_router
from api.routers import org_units as org_units_router
from api.routers import properties as properties_router
from api.routers import rate_limits as rate_limits_router
from api.routers import research as research_router
from api.routers import rules as rules_router
from api.routers import scoring_settings as scoring_settings_router
from api.routers import scoring_simulate as scoring_simulate_router
from api.routers import scoring_versions as scoring_versions_router
from api.routers import secrets as secrets_router
from api.routers import segments as segments_router
from api.routers import slack as slack_router
from api.routers import stream as stream_router
from api.routers import surge as surge_router
from api.routers import triggers as triggers_router
from api.routers import usage as usage_router
from api.types import check_query
from db.engine import Database
from services.operations.metrics import count_request
from services.tenancy.audit import set_request_id

request_log = logging.getLogger("leadvane.requests")


class RequestIdMiddleware:
    """Gives every request an id (echoed as X-Request-ID) that errors and logs carry, and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(6)
        scope.setdefault("state", {})["request_id"] = request_id
        set_request_id(request_id)  # audit entries written while serving this request carry it (services.tenancy.audit)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            count_request(status, scope["method"])
            if request_log.isEnabledFor(logging.INFO):  # cheap when request logging is off
                elapsed_ms = (time.perf_counter() - started) * 1000
                request_log.info("%s %s %s %d %.1fms", request_id, scope["method"], scope["path"], status, elapsed_ms)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        stream_router.stop_listener(app)  # the live stream's LISTEN thread, if a client started one
    # An orderly shutdown writes the request audit rows still queued (atexit is the fallback).
    await run_in_threadpool(auditor_of(app).flush)
    await run_in_threadpool(counter_of(app).flush)  # API request counts for usage (api.request_counter)


def create_api(db: Database | None = None) -> FastAPI:
    # FastAPIOffline serves Swagger UI and ReDoc from its own package files: /docs works without internet.
    app: FastAPI = FastAPIOffline(
        title="Leadvane API",
        version="1.0.0",
        description="Ingest engagement events, read explained lead and account scores, edit scoring rules.",
        responses=ERROR_RESPONSES,  # the error envelope, documented once for every route
        dependencies=[Depends(check_query)],  # an unknown query parameter is a 422 on every route
        lifespan=_lifespan,
    )
    app.state.db = db or Database()
    install_error_handlers(app)
    # CSV import/export first: its fixed paths must win over /v1/events/{event_id}.
    app.include_router(imports_router.router)
    for module in (health, metrics_router, signals, events, crm):
        app.include_router(module.router)
    # The lifecycle's fixed path /v1/leads/merge before the leads router's /v1/leads/{lead_id}.
    for module in (lead_lifecycle_router, leads_router, lead_profiles_router, accounts_router, levels_router):
        app.include_router(module.router)
    for module in (rules_router, scoring_settings_router, rate_limits_router):
        app.include_router(module.router)
    for module in (decays_router, triggers_router, deliveries_router, admin_router):
        app.include_router(module.router)
    app.include_router(audit_router.router)
    app.include_router(scoring_versions_router.router)
    for module in (auth_router, org_units_router, members_router):  # people, units and memberships
        app.include_router(module.router)
    app.include_router(secrets_router.router)
    app.include_router(usage_router.router)
    app.include_router(stream_router.router)
    app.include_router(scoring_simulate_router.router)
    app.include_router(properties_router.router)
    app.include_router(fit_router.router)  # fit: mappings, fit rulesets, rules and levels
    app.include_router(analytics_router.router)
    app.include_router(event_types_router.router)  # event types, channels, their settings, deleting a type's events
    app.include_router(surge_router.router)  # surge policy, surge triggers and events, surge metrics
    app.include_router(filters_router.router)  # inorganic filters, event-type settings
    app.include_router(segments_router.router)  # segments and their rules (services.targeting)
    app.include_router(crm_sync_router.router)  # CRM score sync settings (services.integrations.crm)
    app.include_router(slack_router.router)  # the organization's Slack app, units' Slack connections
    app.include_router(research_router.router)  # research API: signals, contact research and search
    declare_permissions(app)  # after every router: x-permission in /openapi.json
    app.add_middleware(AuditMiddleware)  # records mutating requests (api.audit_middleware)
    app.add_middleware(InputGuardMiddleware)  # inside RequestIdMiddleware: its refusals carry the request id
    app.add_middleware(RequestIdMiddleware)
    return app
