"""Every route declares its permission here, and services.tenancy.policy decides it.

A route takes its caller as one of the typed tenants below (`tenant: Reader`, `tenant: ScoringEditor`, ...):
the dependency authenticates, counts the request against the unit's rate limit, then asks the policy, so a
caller whose role does not allow the action gets a 403 `forbidden` before the route runs. Routes open to
anyone declare `dependencies=[Public]`. `declare_permissions` writes each route's permission into the OpenAPI
document as `x-permission`; a test fails for any operation without one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.deps import get_limited_tenant
from services.context import Tenant
from services.tenancy import policy
from services.tenancy.policy import Action

PUBLIC = "public"


class Permission:
    """The dependency behind each typed tenant: the authenticated, rate-limited caller, allowed `action`."""

    def __init__(self, action: Action) -> None:
        self.action = action

    async def __call__(self, tenant: Annotated[Tenant, Depends(get_limited_tenant)]) -> Tenant:
        policy.require(tenant, self.action)
        return tenant

    def __repr__(self) -> str:
        return f"Permission({self.action.value})"


async def _public() -> None:
    """Marks a route as open to anyone (health, metrics with their own token, sign-in)."""


Public = Depends(_public)

Self = Annotated[Tenant, Depends(Permission(Action.SELF))]
Reader = Annotated[Tenant, Depends(Permission(Action.READ))]
Ingester = Annotated[Tenant, Depends(Permission(Action.INGEST))]
ScoringEditor = Annotated[Tenant, Depends(Permission(Action.EDIT_SCORING))]
TriggerEditor = Annotated[Tenant, Depends(Permission(Action.EDIT_TRIGGERS))]
Importer = Annotated[Tenant, Depends(Permission(Action.IMPORT))]
LeadEditor = Annotated[Tenant, Depends(Permission(Action.EDIT_LEADS))]
KeyManager = Annotated[Tenant, Depends(Permission(Action.MANAGE_KEYS))]
UserManager = Annotated[Tenant, Depends(Permission(Action.MANAGE_USERS))]
MembershipManager = Annotated[Tenant, Depends(Permission(Action.MANAGE_MEMBERSHIPS))]
UnitManager = Annotated[Tenant, Depends(Permission(Action.MANAGE_UNIT))]
AuditReader = Annotated[Tenant, Depends(Permission(Action.READ_AUDIT))]
OrgManager = Annotated[Tenant, Depends(Permission(Action.MANAGE_ORG))]
LeadMerger = Annotated[Tenant, Depends(Permission(Action.MERGE_LEADS))]
LeadEraser = Annotated[Tenant, Depends(Permission(Action.ERASE_LEADS))]
EventDeleter = Annotated[Tenant, Depends(Permission(Action.DELETE_EVENTS))]
IntegrationManager = Annotated[Tenant, Depends(Permission(Action.MANAGE_INTEGRATIONS))]
Researcher = Annotated[Tenant, Depends(Permission(Action.RESEARCH))]


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def route_permission(route: APIRoute) -> str | None:
    """The permission a route declared: an action's value, "public", or None when it declared none."""
    found = None
    for call in _calls(route.dependant):
        if isinstance(call, Permission):
            found = call.action.value
        elif call is _public and found is None:
            found = PUBLIC
    return found


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, also those inside included routers (FastAPI keeps an included router as one entry that
    builds its routes' effective copies lazily, from the original routes, the first time they are needed)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def declare_permissions(app: FastAPI) -> None:
    """Write each route's permission into the OpenAPI document (`x-permission`); call after the routers and
    before the first request or OpenAPI build."""
    for route in _api_routes(app.routes):
        permission = route_permission(route)
        if permission is not None:
            route.openapi_extra = {**(route.openapi_extra or {}), "x-permission": permission}
