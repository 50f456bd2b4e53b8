"""When a trigger fires. Pure: an event, a lead's recent history and the trigger's settings come in as values.

- Milestone: a lead's primary score crosses `score_threshold` from below through an event of
  `event_type` (any type when empty); once per crossing.
- Sequence: `event_types` all happen within the window (in order when `ordered`); the event that
  completes the sequence fires it.
- Pattern: at least `min_count` events of each condition's type within `window_seconds`, counted per
  lead or per account; the event that reaches the count fires it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.scoring import DECAY_EVENT_TYPE

KINDS = ("milestone", "sequence", "pattern")
WINDOW_UNITS: dict[str, int] = {"seconds": 1, "minutes": 60, "hours": 3600}
FIRE_MODES = ("once", "every")
SCOPES = ("lead", "account")


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One logged event as trigger evaluation sees it; `seq` breaks ties between equal timestamps."""

    event_id: str
    event_type: str
    occurred_at: datetime
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Milestone:
    score_threshold: int
    event_type: str = ""

    def fires(self, event_type: str, before: int | None, after: int | None) -> bool:
        if before is None or after is None or event_type == DECAY_EVENT_TYPE:
            return False
        if self.event_type and self.event_type != event_type:
            return False
        return before < self.score_threshold <= after


@dataclass(frozen=True, slots=True)
class SequenceSpec:
    event_types: tuple[str, ...]
    window: timedelta
    ordered: bool = False

    def completed_by(self, current: HistoryEvent, history: Sequence[HistoryEvent]) -> list[HistoryEvent] | None:
        """The events making up the sequence that `current` completes, or None.

        `history` is the subject's events (may include `current`); only those within the window
        ending at `current` and not after it count.
        """
        if current.event_type not in self.event_types:
            return None
        start = current.occurred_at - self.window
        earlier = sorted(
            (
                e for e in history
                if e.event_id != current.event_id and start <= e.occurred_at
                and (e.occurred_at, e.seq) <= (current.occurred_at, current.seq)
            ),
            key=lambda e: (e.occurred_at, e.seq),
        )
        if self.ordered:
            if current.event_type != self.event_types[-1]:
                return None
            chosen = [current]
            pos = len(earlier) - 1
            for wanted in reversed(self.event_types[:-1]):
                while pos >= 0 and earlier[pos].event_type != wanted:
                    pos -= 1
                if pos < 0:
                    return None
                chosen.append(earlier[pos])
                pos -= 1
            return list(reversed(chosen))
        need = Counter(self.event_types)
        need[current.event_type] -= 1
        chosen = [current]
        for e in reversed(earlier):
            if need.get(e.event_type, 0) > 0:
                need[e.event_type] -= 1
                chosen.append(e)
        if any(v > 0 for v in need.values()):
            return None
        return sorted(chosen, key=lambda e: (e.occurred_at, e.seq))


@dataclass(frozen=True, slots=True)
class PatternCondition:
    event_type: str
    min_count: int


@dataclass(frozen=True, slots=True)
class Pattern:
    conditions: tuple[PatternCondition, ...]
    window: timedelta

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(c.event_type for c in self.conditions)

    def counts(self, current: HistoryEvent, history: Sequence[HistoryEvent]) -> dict[str, int]:
        start = current.occurred_at - self.window
        wanted = set(self.event_types)
        counter: Counter[str] = Counter()
        seen: set[str] = set()
        for e in [*history, current]:
            if e.event_id in seen or e.event_type not in wanted:
                continue
            if start < e.occurred_at <= current.occurred_at or e.event_id == current.event_id:
                seen.add(e.event_id)
                counter[e.event_type] += 1
        return dict(counter)

    def reached_by(self, current: HistoryEvent, history: Sequence[HistoryEvent]) -> dict[str, int] | None:
        """The counts within the window if `current` is an event of the pattern and all minimums hold."""
        if current.event_type not in self.event_types:
            return None
        counts = self.counts(current, history)
        if all(counts.get(c.event_type, 0) >= c.min_count for c in self.conditions):
            return counts
        return None
