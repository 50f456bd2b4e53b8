"""A unit's surge (session) policy: GET/PUT /v1/settings/ou/surge-policy.

The policy is part of the unit's scoring model (core.surge.SurgeSpec, loaded by services.scoring.model): a change
is made like every other scoring change: the policy is asked (Action.EDIT_SCORING), `begin_change` takes the
configuration lock, the row is upserted and audited, and `publish` records the new version last (rescoring the
unit when the change moves scores).

A unit without a stored policy reads as the Standard preset's values with mode "off": surge is off until someone
turns it on, so upgrading moves no score. For `standard` and `gentle` the bands are the preset's (bands sent with
them are ignored); `custom` needs its own bands.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.surge import (
    DEFAULT_IDLE_RESET_SECONDS,
    DEFAULT_MULTIPLIER_CAP,
    MULTIPLIER_CAP_MAX,
    MULTIPLIER_CAP_MIN,
    SURGE_MODES,
    SurgeBand,
    SurgeSpec,
    preset_bands,
)
from db import models
from services.context import Tenant
from services.errors import InvalidInput
from services.scoring.model import begin_change, surge_spec
from services.scoring.publish import publish
from services.tenancy import audit, policy
from services.tenancy.policy import Action

MAX_BANDS = 20
# A session's band starts within its first 100 events: ingest reads that many events back (services.scoring.adjust).
MAX_MIN_EVENTS = 100
# The session gap is the smaller of this and the scoring setting session_timeout_minutes (at most 24 hours).
MAX_IDLE_RESET_SECONDS = 86_400
_FIELDS = ("mode", "bands", "idle_reset_seconds", "multiplier_cap")


def _integer(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, "must be an integer")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}")
    return value


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN is not a number
        raise InvalidInput(name, "must be a number")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low:g} and {high:g}")
    return float(value)


def _bands(value: Any, prefix: str) -> tuple[SurgeBand, ...]:
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"{prefix}bands", "must be a list of {min_events, multiplier}")
    if len(value) > MAX_BANDS:
        raise InvalidInput(f"{prefix}bands", f"at most {MAX_BANDS} bands")
    bands: list[SurgeBand] = []
    seen: set[int] = set()
    for pos, band in enumerate(value):
        if not isinstance(band, Mapping):
            raise InvalidInput(f"{prefix}bands[{pos}]", "must be an object {min_events, multiplier}")
        unknown = sorted(set(band) - {"min_events", "multiplier"})
        if unknown:
            raise InvalidInput(f"{prefix}bands[{pos}].{unknown[0]}", "unknown field")
        if "min_events" not in band:
            raise InvalidInput(f"{prefix}bands[{pos}].min_events", "is required")
        if "multiplier" not in band:
            raise InvalidInput(f"{prefix}bands[{pos}].multiplier", "is required")
        min_events = _integer(band["min_events"], f"{prefix}bands[{pos}].min_events", 1, MAX_MIN_EVENTS)
        if min_events in seen:
            raise InvalidInput(f"{prefix}bands[{pos}].min_events",
                               f"another band already starts at {min_events} events")
        seen.add(min_events)
        multiplier = _number(band["multiplier"], f"{prefix}bands[{pos}].multiplier", 1.0, MULTIPLIER_CAP_MAX)
        bands.append(SurgeBand(min_events, multiplier))
    return tuple(sorted(bands, key=lambda b: b.min_events))


def check_surge_policy(body: Mapping[str, Any], *, prefix: str = "") -> SurgeSpec:
    """The policy `body` describes ({mode, bands, idle_reset_seconds, multiplier_cap}), checked; InvalidInput names
    the field. `mode` is required; `bands` is required (at least one) for custom and ignored for the presets;
    `idle_reset_seconds` (1..86400) and `multiplier_cap` (1..3) default to the Standard values. Field names in errors
    start with `prefix` (the what-if's `changes.surge_policy.`)."""
    if not isinstance(body, Mapping):
        raise InvalidInput(prefix.rstrip(".") or "body", "must be an object")
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise InvalidInput(f"{prefix}{unknown[0]}", "unknown field")
    mode = body.get("mode")
    if mode not in SURGE_MODES:
        raise InvalidInput(f"{prefix}mode", f"must be one of {', '.join(SURGE_MODES)}")
    raw_bands = body.get("bands")
    custom = _bands(raw_bands, prefix) if raw_bands is not None else ()
    if mode == "custom" and not custom:
        raise InvalidInput(f"{prefix}bands", "a custom policy needs at least one band")
    idle = body.get("idle_reset_seconds")
    cap = body.get("multiplier_cap")
    return SurgeSpec(
        mode=str(mode),
        bands=preset_bands(str(mode), custom),
        idle_reset_seconds=DEFAULT_IDLE_RESET_SECONDS if idle is None
        else _integer(idle, f"{prefix}idle_reset_seconds", 1, MAX_IDLE_RESET_SECONDS),
        multiplier_cap=DEFAULT_MULTIPLIER_CAP if cap is None
        else _number(cap, f"{prefix}multiplier_cap", MULTIPLIER_CAP_MIN, MULTIPLIER_CAP_MAX),
    )


def _view(tenant: Tenant, spec: SurgeSpec) -> dict[str, Any]:
    return {"org_id": tenant.org_id, "unit_id": tenant.unit_id, **spec.to_document()}


def get_surge_policy(session: Session, tenant: Tenant) -> dict[str, Any]:
    """{org_id, unit_id, mode, bands, idle_reset_seconds, multiplier_cap} of the unit's policy."""
    policy.require(tenant, Action.READ)
    return _view(tenant, surge_spec(session.get(models.SurgePolicy, tenant.unit_id)))


def set_surge_policy(session: Session, tenant: Tenant, body: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Create or replace the unit's policy (a scoring model change: versioned, audited, rescored when it moves
    scores). Returns the stored policy as `get_surge_policy` shows it."""
    policy.require(tenant, Action.EDIT_SCORING)
    spec = check_surge_policy(body)
    begin_change(session, tenant, now)
    row = session.get(models.SurgePolicy, tenant.unit_id, with_for_update=True)
    before = audit.snapshot(row) if row is not None else None
    if row is None:
        row = models.SurgePolicy(unit_id=tenant.unit_id, org_id=tenant.org_id)
        session.add(row)
    document = spec.to_document()
    row.mode, row.bands = document["mode"], document["bands"]
    row.idle_reset_seconds, row.multiplier_cap = document["idle_reset_seconds"], document["multiplier_cap"]
    row.updated_at, row.updated_by = now, tenant.actor
    session.flush()
    audit.record(session, tenant, action="create" if before is None else "update", entity_type="surge_policy",
                 entity_id=tenant.unit_id, before=before, after=row, now=now)
    publish(session, tenant, now=now)
    return _view(tenant, spec)
