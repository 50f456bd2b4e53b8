"""Surge (session) scoring: a lead's run of events close together in time scores more the longer it goes on.

A session is a lead's events (those that score: not quarantined, not observed-only, not decay) in time order, a
new one starting whenever the gap to the previous event reaches the session timeout (the smaller of the scoring
setting `session_timeout_minutes` and the policy's `idle_reset_seconds`). From the `min_events`-th event of a
session on, a band's multiplier applies (the band with the largest `min_events` reached), never above
`multiplier_cap`. A positive delta d becomes d + floor(d * (m - 1)); zero and negative deltas are not boosted.

Multipliers are kept in thousandths (`milli`, 1000 = 1.0) so every engine computes the same integers.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core.columns import BoolArray, IntArray
from core.scoring import NO_SURGE

SURGE_MODES: tuple[str, ...] = ("off", "standard", "gentle", "custom")
MULTIPLIER_CAP_MIN, MULTIPLIER_CAP_MAX = 1.0, 3.0


@dataclass(frozen=True, slots=True)
class SurgeBand:
    min_events: int
    multiplier: float

    @property
    def milli(self) -> int:
        return to_milli(self.multiplier)


STANDARD_BANDS: tuple[SurgeBand, ...] = (SurgeBand(1, 1.0), SurgeBand(3, 1.25), SurgeBand(5, 1.5))
GENTLE_BANDS: tuple[SurgeBand, ...] = (SurgeBand(1, 1.0), SurgeBand(3, 1.1), SurgeBand(5, 1.2))
DEFAULT_IDLE_RESET_SECONDS = 1800
DEFAULT_MULTIPLIER_CAP = 2.0


@dataclass(frozen=True, slots=True)
class SurgeSpec:
    """A unit's surge policy as the scoring model holds it. `bands` are the effective bands: a preset's for
    `standard`/`gentle`, the stored ones for `custom`."""

    mode: str = "off"
    bands: tuple[SurgeBand, ...] = STANDARD_BANDS
    idle_reset_seconds: int = DEFAULT_IDLE_RESET_SECONDS
    multiplier_cap: float = DEFAULT_MULTIPLIER_CAP

    @property
    def active(self) -> bool:
        return self.mode != "off" and any(b.milli > NO_SURGE for b in self.bands)

    def timeout_us(self, session_timeout_minutes: int) -> int:
        """The gap (microseconds) at which a new session starts."""
        return min(session_timeout_minutes * 60, self.idle_reset_seconds) * 1_000_000

    def milli_at(self, position: int) -> int:
        """The multiplier (thousandths) of the `position`-th event of a session (1-based), capped."""
        reached = [b for b in self.bands if b.min_events <= position]
        if not reached:
            return NO_SURGE
        band = max(reached, key=lambda b: b.min_events)
        return max(NO_SURGE, min(band.milli, to_milli(self.multiplier_cap)))

    def to_document(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "bands": [{"min_events": b.min_events, "multiplier": b.multiplier} for b in self.bands],
            "idle_reset_seconds": self.idle_reset_seconds,
            "multiplier_cap": self.multiplier_cap,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> SurgeSpec:
        if not document:
            return cls()
        return cls(
            mode=str(document.get("mode", "off")),
            bands=bands_of(document.get("bands") or ()),
            idle_reset_seconds=int(document.get("idle_reset_seconds", DEFAULT_IDLE_RESET_SECONDS)),
            multiplier_cap=float(document.get("multiplier_cap", DEFAULT_MULTIPLIER_CAP)),
        )


def preset_bands(mode: str, custom: Sequence[SurgeBand] = ()) -> tuple[SurgeBand, ...]:
    """The bands in effect for `mode`: the presets' own, or `custom` (sorted by min_events) for `custom`/`off`."""
    if mode == "standard":
        return STANDARD_BANDS
    if mode == "gentle":
        return GENTLE_BANDS
    return tuple(sorted(custom, key=lambda b: b.min_events)) or STANDARD_BANDS


def bands_of(items: Iterable[Mapping[str, Any]]) -> tuple[SurgeBand, ...]:
    return tuple(sorted((SurgeBand(int(b["min_events"]), float(b["multiplier"])) for b in items),
                        key=lambda b: b.min_events))


def to_milli(multiplier: float) -> int:
    return round(multiplier * 1000)




def session_multipliers(
    lead: IntArray, occurred_us: IntArray, seq: IntArray, scoring: BoolArray, spec: SurgeSpec, timeout_us: int
) -> IntArray:
    """Each event's multiplier in thousandths (aligned with the inputs): its position in its lead's session
    decides it (see the module doc); events that do not score (`scoring` false) or have no lead (-1) get 1000
    and are not counted in any session."""
    n = len(lead)
    milli = np.full(n, NO_SURGE, dtype=np.int64)
    if not spec.active or n == 0:
        return milli
    events = np.flatnonzero(scoring & (lead >= 0))
    if len(events) == 0:
        return milli
    events = events[np.lexsort((seq[events], occurred_us[events], lead[events]))]
    owner, at = lead[events], occurred_us[events]
    starts = np.ones(len(events), dtype=bool)
    starts[1:] = (owner[1:] != owner[:-1]) | (at[1:] - at[:-1] >= timeout_us)
    start_index = np.maximum.accumulate(np.where(starts, np.arange(len(events)), 0))
    position = np.arange(len(events)) - start_index + 1
    bands = sorted(spec.bands, key=lambda b: b.min_events)
    mins = np.array([b.min_events for b in bands], dtype=np.int64)
    values = np.array([b.milli for b in bands], dtype=np.int64)
    band = np.searchsorted(mins, position, side="right") - 1
    chosen = np.where(band >= 0, values[np.maximum(band, 0)], NO_SURGE)
    milli[events] = np.clip(chosen, NO_SURGE, max(NO_SURGE, to_milli(spec.multiplier_cap)))
    return milli


def surge_boosts(delta: npt.NDArray[Any], milli: IntArray) -> npt.NDArray[Any]:
    """What a multiplier of `milli` adds to each delta (0 where nothing is boosted): `core.scoring.boost_of` over
    arrays, exact (object arrays stay Python integers)."""
    if delta.dtype != object and len(delta) and int(np.abs(delta).max()) >= 2**52:
        delta = delta.astype(object)  # d * (m - 1000) could overflow int64: exact Python integers
    boost = np.where((delta > 0) & (milli > NO_SURGE), (delta * (milli - NO_SURGE)) // 1000, 0)
    return boost.astype(delta.dtype)
