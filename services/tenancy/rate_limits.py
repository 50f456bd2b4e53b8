"""A unit's API rate limit: on or off, observe or enforce, what a caller is counted by, and how many requests.

The limit (api.ratelimit applies it to every authenticated request) allows a caller `burst` requests in any one
second and `rps` per second on average over SUSTAINED_WINDOW_SECONDS. In `observe` mode a request over the
limit passes and is counted; in `enforce` mode it is refused (429). A unit without a row has the defaults: off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import InvalidInput
from services.tenancy import audit, policy
from services.tenancy.policy import Action

Mode = Literal["observe", "enforce"]
KeyBy = Literal["credential", "ip", "unit"]
MODES: tuple[str, ...] = get_args(Mode)
KEY_BY: tuple[str, ...] = get_args(KeyBy)
MIN_RATE = 1
MAX_RATE = 1_000_000
SUSTAINED_WINDOW_SECONDS = 10
RESEARCH_PER_MINUTE = 60  # the research API's own limit (services.integrations.research), per unit


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    enabled: bool
    mode: str
    key_by: str
    rps: int
    burst: int
    updated_at: datetime | None = None
    research_per_minute: int = RESEARCH_PER_MINUTE


DEFAULT = RateLimitConfig(enabled=False, mode="observe", key_by="credential", rps=50, burst=100)


def get_config(session: Session, tenant: Tenant) -> RateLimitConfig:
    return load_config(session, tenant.unit_id)


def load_config(session: Session, unit_id: str) -> RateLimitConfig:
    """The unit's configuration (the defaults when it never saved one); the limiter's per-process cache reads this."""
    row = session.execute(
        select(
            models.RateLimitSettings.enabled, models.RateLimitSettings.mode, models.RateLimitSettings.key_by,
            models.RateLimitSettings.rps, models.RateLimitSettings.burst, models.RateLimitSettings.updated_at,
            models.RateLimitSettings.research_per_minute,
        ).where(models.RateLimitSettings.unit_id == unit_id)
    ).first()
    if row is None:
        return DEFAULT
    return RateLimitConfig(bool(row.enabled), row.mode, row.key_by, int(row.rps), int(row.burst), row.updated_at,
                           int(row.research_per_minute or RESEARCH_PER_MINUTE))


def update_config(
    session: Session,
    tenant: Tenant,
    *,
    enabled: bool | None = None,
    mode: str | None = None,
    key_by: str | None = None,
    rps: int | None = None,
    burst: int | None = None,
    research_per_minute: int | None = None,
    now: datetime,
) -> RateLimitConfig:
    """Partial update by an Owner: None leaves a field as it is. The result must still have burst >= rps.
    `research_per_minute` is the research API's own limit, always enforced (not switched by `enabled`)."""
    policy.require(tenant, Action.MANAGE_UNIT)
    if enabled is not None and not isinstance(enabled, bool):
        raise InvalidInput("enabled", "must be true or false")
    if mode is not None and mode not in MODES:
        raise InvalidInput("mode", f"must be one of {', '.join(MODES)}")
    if key_by is not None and key_by not in KEY_BY:
        raise InvalidInput("key_by", f"must be one of {', '.join(KEY_BY)}")
    for name, value in (("rps", rps), ("burst", burst), ("research_per_minute", research_per_minute)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(name, "must be an integer")
        if not MIN_RATE <= value <= MAX_RATE:
            raise InvalidInput(name, f"must be between {MIN_RATE} and {MAX_RATE}")
    row = session.get(models.RateLimitSettings, tenant.unit_id, with_for_update=True)
    current = DEFAULT if row is None else RateLimitConfig(
        row.enabled, row.mode, row.key_by, row.rps, row.burst, research_per_minute=row.research_per_minute)
    changes = {"enabled": enabled, "mode": mode, "key_by": key_by, "rps": rps, "burst": burst,
               "research_per_minute": research_per_minute}
    merged = replace(current, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
    if merged.burst < merged.rps:
        # The one-second allowance can never be below the sustained rate.
        raise InvalidInput("burst", f"must be at least rps ({merged.rps})")
    before = {k: getattr(current, k) for k in ("enabled", "mode", "key_by", "rps", "burst", "research_per_minute")}
    if row is None:
        row = models.RateLimitSettings(unit_id=tenant.unit_id, org_id=tenant.org_id)
        session.add(row)
    row.enabled, row.mode, row.key_by = merged.enabled, merged.mode, merged.key_by
    row.rps, row.burst, row.research_per_minute = merged.rps, merged.burst, merged.research_per_minute
    row.updated_at, row.updated_by = now, tenant.actor
    session.flush()
    audit.record(session, tenant, action="update", entity_type="rate_limit", entity_id=tenant.unit_id, before=before,
                 after=row, now=now)
    return replace(merged, updated_at=now)
