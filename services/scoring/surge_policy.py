"""A unit's surge policy (core.surge): the one validation of a policy body, used by the policy's route and by the
what-if (services.scoring.simulate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from services.errors import InvalidInput

POLICY_FIELDS: tuple[str, ...] = ("mode", "bands", "idle_reset_seconds", "multiplier_cap")
BAND_FIELDS: tuple[str, ...] = ("min_events", "multiplier")
MAX_BANDS = 20
MIN_EVENTS_MAX = 100_000
IDLE_RESET_SECONDS_MAX = 2**31 - 1  # an INTEGER column


def _number(value: Any, name: str, low: float, high: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise InvalidInput(name, "must be a number")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low:g} and {high:g}; got {value}")
    return float(value)


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(name, "must be an integer")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}; got {value}")
    return value


def check_surge_policy(body: Mapping[str, Any], *, prefix: str = "") -> SurgeSpec:
    """A policy body `{mode, bands, idle_reset_seconds, multiplier_cap}` checked and made a SurgeSpec (its bands the
    effective ones: a preset's for standard/gentle). `mode` is required; bands default to none (`custom` needs at
    least one), idle_reset_seconds to 1800, multiplier_cap to 2.0. InvalidInput names `<prefix><field>`."""
    if not isinstance(body, Mapping):
        raise InvalidInput(prefix.rstrip(".") or "body", "must be an object with mode, bands, idle_reset_seconds "
                                                         "and multiplier_cap")
    for key in body:
        if key not in POLICY_FIELDS:
            raise InvalidInput(f"{prefix}{key}", f"unknown field; one of {', '.join(POLICY_FIELDS)}")
    mode = body.get("mode")
    if not isinstance(mode, str) or mode.strip() not in SURGE_MODES:
        raise InvalidInput(f"{prefix}mode", f"must be one of {', '.join(SURGE_MODES)}; got {mode!r}")
    mode = mode.strip()
    raw_bands = body.get("bands")
    if raw_bands is None:
        raw_bands = []
    if not isinstance(raw_bands, list | tuple):
        raise InvalidInput(f"{prefix}bands", "must be a list of {min_events, multiplier}")
    if len(raw_bands) > MAX_BANDS:
        raise InvalidInput(f"{prefix}bands", f"at most {MAX_BANDS} bands")
    bands: list[SurgeBand] = []
    for index, band in enumerate(raw_bands):
        where = f"{prefix}bands[{index}]"
        if not isinstance(band, Mapping):
            raise InvalidInput(where, "must be an object with min_events and multiplier")
        for key in band:
            if key not in BAND_FIELDS:
                raise InvalidInput(f"{where}.{key}", "unknown field; one of min_events, multiplier")
        min_events = _whole(band.get("min_events"), f"{where}.min_events", 1, MIN_EVENTS_MAX)
        if any(b.min_events == min_events for b in bands):
            raise InvalidInput(f"{where}.min_events", f"min_events {min_events} appears in more than one band")
        multiplier = _number(band.get("multiplier"), f"{where}.multiplier", MULTIPLIER_CAP_MIN, MULTIPLIER_CAP_MAX)
        bands.append(SurgeBand(min_events, multiplier))
    if mode == "custom" and not bands:
        raise InvalidInput(f"{prefix}bands", "a custom policy needs at least one band")
    idle = body.get("idle_reset_seconds")
    cap = body.get("multiplier_cap")
    return SurgeSpec(
        mode=mode,
        bands=preset_bands(mode, bands),
        idle_reset_seconds=DEFAULT_IDLE_RESET_SECONDS if idle is None else _whole(
            idle, f"{prefix}idle_reset_seconds", 1, IDLE_RESET_SECONDS_MAX),
        multiplier_cap=DEFAULT_MULTIPLIER_CAP if cap is None else _number(
            cap, f"{prefix}multiplier_cap", MULTIPLIER_CAP_MIN, MULTIPLIER_CAP_MAX),
    )
