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

from dataclasses import dataclass

BOT_FILTER_ID = "bot_user_agent"
PROCESSING_SCOPES: tuple[str, ...] = ("observe", "decide", "activate")


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
