"""The API rate limit of the caller's unit (services.tenancy.rate_limits), and where the caller stands against it."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StrictBool, StrictInt
from sqlalchemy.orm import Session

from api import ratelimit
from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, Self, UnitManager
from api.responses import error_responses
from api.schemas import InModel
from services.tenancy import rate_limits
from services.tenancy.rate_limits import MAX_RATE, MIN_RATE, RateLimitConfig

router = APIRouter(tags=["rate limits"])


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses = error_responses(*statuses)
    if 403 in responses:
        responses[403]["description"] = "The key's role may not change the unit's rate limit (Owner only)"
    return responses


Mode = Literal["observe", "enforce"]
KeyBy = Literal["credential", "ip", "unit"]


class RateLimitIn(InModel):
    """Partial update: a field left out (or null) keeps its value. burst may not be below rps."""

    enabled: StrictBool | None = None
    mode: Mode | None = None
    key_by: KeyBy | None = None
    rps: StrictInt | None = Field(None, ge=MIN_RATE, le=MAX_RATE, description="sustained requests per second")
    burst: StrictInt | None = Field(None, ge=MIN_RATE, le=MAX_RATE, description="most requests in any one second")
    research_per_minute: StrictInt | None = Field(
        None, ge=MIN_RATE, le=MAX_RATE, description="the research API's POSTs per minute for the unit (always on)")


class RateLimitOut(BaseModel):
    enabled: bool
    mode: Mode
    key_by: KeyBy
    rps: int
    burst: int
    research_per_minute: int = Field(description="the research API's POSTs per minute for the unit (always on)")


class MyRateLimitOut(RateLimitOut):
    key: str = Field(description="what this caller is counted by, e.g. credential:key_..., ip:..., unit:...")
    stage: Literal["disabled", "ok", "over_limit"] = Field(
        description="disabled: limiting is off; ok: within the limit; over_limit: the next request is over it "
        "(refused with 429 in enforce mode, passed and counted in observe mode)"
    )


def _out(config: RateLimitConfig) -> dict[str, Any]:
    return {"enabled": config.enabled, "mode": config.mode, "key_by": config.key_by, "rps": config.rps,
            "burst": config.burst, "research_per_minute": config.research_per_minute}


@router.get(
    "/v1/settings/rate-limit", summary="Get the unit's API rate limit", response_model=RateLimitOut,
    responses=_errors(401, 429),
)
def get_rate_limit(tenant: Reader, session: ReadSession) -> RateLimitOut:
    return RateLimitOut(**_out(rate_limits.get_config(session, tenant)))


@router.put(
    "/v1/settings/rate-limit", summary="Change the unit's API rate limit (Owner)", response_model=RateLimitOut,
    responses=_errors(401, 403, 422, 429),
)
def update_rate_limit(
    body: RateLimitIn, request: Request, tenant: UnitManager, db: DatabaseDep, now: Now
) -> RateLimitOut:
    def work(session: Session) -> RateLimitConfig:
        return rate_limits.update_config(
            session, tenant, enabled=body.enabled, mode=body.mode, key_by=body.key_by, rps=body.rps,
            burst=body.burst, research_per_minute=body.research_per_minute, now=now,
        )

    config = run_write(db, work)
    ratelimit.limiter_of(request.app).forget(tenant.unit_id)
    return RateLimitOut(**_out(config))


@router.get(
    "/v1/me/rate-limit", summary="The caller's rate limit: its key and where it stands",
    response_model=MyRateLimitOut, responses=_errors(401, 429),
)
def my_rate_limit(request: Request, tenant: Self, session: ReadSession) -> MyRateLimitOut:
    config = rate_limits.get_config(session, tenant)
    where = ratelimit.standing(request, tenant, config)
    return MyRateLimitOut(**_out(config), key=where.key, stage=where.stage)
