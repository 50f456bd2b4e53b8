"""Inorganic activity: which events are held back from scoring and triggers, and why.

- A burst filter `(event_type, count_threshold, time_window_ms, group_events)`: among one lead's events of
  `event_type` in time order, an event is in a burst when some run of at least `count_threshold` of them spans at
  most `time_window_ms` and contains it. Burst events are quarantined; with `group_events` the burst counts as one
  event instead (its first event scores, the rest are quarantined). Consecutive burst events at most
  `time_window_ms` apart belong to one burst.
- The built-in bot filter: an event whose `metadata.user_agent` is a known crawler (the maintained
  crawler-user-agents list) is quarantined.
- An event type whose processing scope is `observe` is stored and shown but never scored nor triggered (not a
  quarantine: nothing is wrong with it); `decide` scores but fires no trigger.

Quarantine depends on the set of a lead's events only (not the order they arrived in), so a replay rebuilds it.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import crawleruseragents
import numpy as np

from core.columns import BoolArray, EventColumns, IntArray
from core.scoring import DECAY_EVENT_TYPE

BOT_FILTER_ID = "bot_user_agent"
PROCESSING_SCOPES: tuple[str, ...] = ("observe", "decide", "activate")
DEFAULT_SCOPE = "activate"  # a type without a setting: scored and triggered


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """An inorganic (burst) filter as the scoring model holds it."""

    id: str
    event_type: str
    count_threshold: int
    time_window_ms: int
    group_events: bool = False


@dataclass(frozen=True, slots=True)
class EventTypeScope:
    """A unit's processing scope for one event type (only types not at `activate` are kept in the model)."""

    id: str  # the event type
    scope: str


@dataclass(frozen=True, slots=True)
class Held:
    """Per event (aligned with the columns): `code` indexes `reasons` ((filter id, reason)) for a quarantined event,
    -1 otherwise; `held` is true for every event that scores nothing (quarantined, or its type only observed)."""

    code: IntArray
    reasons: tuple[tuple[str, str], ...]
    held: BoolArray

    def quarantine_of(self, i: int) -> tuple[str, str] | None:
        c = int(self.code[i])
        return self.reasons[c] if c >= 0 else None


def hold(
    cols: EventColumns,
    *,
    filters: Sequence[FilterSpec] = (),
    scopes: Sequence[EventTypeScope] = (),
    bot_filter: bool = False,
) -> Held:
    """Which events of the log (as columns) are quarantined, by which filter and why, and which score nothing."""
    n = len(cols)
    code = np.full(n, -1, dtype=np.int64)
    reasons: list[tuple[str, str]] = []
    held = np.zeros(n, dtype=bool)
    type_code = {name: t for t, name in enumerate(cols.types)}
    decay = type_code.get(DECAY_EVENT_TYPE, -1)
    for scope in scopes:
        if scope.scope == "observe" and scope.id in type_code:
            held |= cols.event_type == type_code[scope.id]
    if bot_filter and n:
        bots = np.array([is_bot_agent(p.get("user_agent")) for p in cols.properties] or [False], dtype=bool)
        flagged = bots[cols.props] & (cols.event_type != decay)
        if flagged.any():
            code[flagged] = len(reasons)
            reasons.append((BOT_FILTER_ID, BOT_REASON))
    for spec in sorted(filters, key=lambda f: f.id):
        t = type_code.get(spec.event_type)
        if t is None or t == decay:
            continue
        events = np.flatnonzero((cols.event_type == t) & (cols.lead >= 0))
        if len(events) < spec.count_threshold:
            continue
        events = events[np.lexsort((cols.seq[events], cols.occurred_us[events], cols.lead[events]))]
        owner, at = cols.lead[events], cols.occurred_us[events]
        window = spec.time_window_ms * 1000
        in_burst = _burst_members(owner, at, spec.count_threshold, window)
        if spec.group_events:
            same_burst = np.zeros(len(events), dtype=bool)
            same_burst[1:] = in_burst[:-1] & (owner[1:] == owner[:-1]) & (at[1:] - at[:-1] <= window)
            quarantined = in_burst & same_burst  # all but each burst's first event
        else:
            quarantined = in_burst
        chosen = events[quarantined]
        chosen = chosen[code[chosen] == -1]  # the first filter (bot, then by id) that holds an event names it
        if len(chosen):
            code[chosen] = len(reasons)
            reasons.append((spec.id, filter_reason(spec)))
    held |= code >= 0
    return Held(code, tuple(reasons), held)


def _burst_members(owner: IntArray, at: IntArray, threshold: int, window: int) -> BoolArray:
    """Sorted by (owner, at): whether each event lies in a run of >= `threshold` events of its owner spanning at
    most `window`. For each event j, i is the first event of the same owner at or after at[j] - window; when the
    run i..j is long enough every event in it is a member (marked through a difference array)."""
    m = len(at)
    # One searchsorted across owners: times ranked together with the window starts, offset per owner.
    ranks = np.unique(np.concatenate([at, at - window]), return_inverse=True)[1].reshape(-1)
    span = int(ranks.max()) + 1
    key_at = owner * span + ranks[:m]
    key_start = owner * span + ranks[m:]
    first = np.searchsorted(key_at, key_start, side="left")
    last = np.arange(m)
    long_enough = last - first + 1 >= threshold
    marks = np.zeros(m + 1, dtype=np.int64)
    np.add.at(marks, first[long_enough], 1)
    np.add.at(marks, last[long_enough] + 1, -1)
    return np.cumsum(marks)[:m] > 0


def filter_reason(spec: FilterSpec) -> str:
    burst = f"{spec.count_threshold}+ {spec.event_type} events within {spec.time_window_ms} ms"
    return f"burst counted once ({burst})" if spec.group_events else f"inorganic burst ({burst})"


BOT_REASON = "known bot user agent"


@lru_cache(maxsize=4096)
def _is_crawler(agent: str) -> bool:
    return bool(crawleruseragents.is_crawler(agent))


def is_bot_agent(agent: Any) -> bool:
    """Whether a user agent is a known crawler, by the maintained crawler-user-agents list."""
    return isinstance(agent, str) and bool(agent.strip()) and _is_crawler(agent)
