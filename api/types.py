"""Shared annotated types for request fields and query parameters: 64-bit integers, UTC timestamps, and the
router dependency that refuses unknown or poisoned query parameters (a filter is never silently ignored)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator, Field, PlainSerializer, Strict

from core.messages import rfc3339
from services.errors import InvalidInput

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _utc(value: datetime) -> datetime:
    """A timestamp without an offset is UTC; one whose UTC value leaves years 1..9999 is refused."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is outside years 1..9999 in UTC") from None


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# Timestamps leave as RFC 3339 with Z, like every other timestamp Leadvane sends.
Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
"""An RFC 3339 timestamp; read as UTC when it has no offset."""

Int64 = Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX)]
"""A JSON integer in the signed 64-bit range (no "3" strings or 3.0 floats: the schema says integer)."""

# Query parameters. Integers are bounded to the signed 64-bit range the databases store.
PageQuery = Annotated[int, Query(ge=1, le=INT64_MAX, description="page number, from 1")]
ScoreQuery = Annotated[int | None, Query(ge=INT64_MIN, le=INT64_MAX)]
OffsetQuery = Annotated[int, Query(ge=0, le=INT64_MAX, description="rows to skip")]
DatetimeQuery = Annotated[UtcDatetime | None, Query(description="RFC 3339; UTC when no offset is given")]


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_query_names(route: APIRoute) -> set[str]:
    known: set[str] | None = getattr(route, "_leadvane_query_names", None)
    if known is None:
        known = _query_names(route.dependant)
        route._leadvane_query_names = known  # type: ignore[attr-defined]
    return known


async def check_query(request: Request) -> None:
    """Router dependency: 422 for a query parameter the route does not declare (a filter is never silently
    ignored). NUL and non-UTF-8 bytes in query and path are refused earlier, by api.guards' middleware."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        known = known_query_names(route)
        for name in request.query_params:
            if name not in known:
                raise InvalidInput(f"query parameter {name}", "unknown parameter")
