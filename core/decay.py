"""Score decay: which drops are due for an inactive lead. Pure: time, activity and history come in as values.

A decay rule drops a lead's score by `decrease` once the lead has been inactive for one period
(`inactive_for` `unit`), and again after each further full period. New activity restarts the clock,
so drops are counted from the lead's last (non-system) activity. Drops already applied since then are
passed in, which makes the computation idempotent: asking twice at the same `now` yields nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

UNITS: dict[str, timedelta] = {"hours": timedelta(hours=1), "days": timedelta(days=1), "weeks": timedelta(weeks=1)}
# A lead inactive for years under an hourly rule should not get an unbounded backlog in one run.
MAX_DROPS_PER_LEAD = 1000


@dataclass(frozen=True, slots=True)
class DecayRule:
    decay_id: str
    inactive_for: int
    unit: str
    decrease: int

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if self.inactive_for <= 0:
            raise ValueError("inactive_for must be a positive number")

    @property
    def period(self) -> timedelta:
        return UNITS[self.unit] * self.inactive_for


@dataclass(frozen=True, slots=True)
class Drop:
    decay_id: str
    at: datetime
    decrease: int


def due_drops(
    last_activity: datetime,
    rules: Iterable[DecayRule],
    applied: Mapping[str, Sequence[datetime]],
    now: datetime,
    *,
    score: int | None = None,
    floor: int | None = 0,
    limit: int = MAX_DROPS_PER_LEAD,
) -> list[Drop]:
    """The drops due by `now`, oldest first.

    `applied` maps a decay id to the moments its drops were already applied since `last_activity`.
    When `score` is given and a `floor` applies, drops stop once the score has reached the floor:
    a further drop would change nothing and only clutter the timeline.
    """
    drops: list[Drop] = []
    for rule in rules:
        if rule.decrease <= 0:
            continue
        period = rule.period
        done = [t for t in applied.get(rule.decay_id, ()) if t > last_activity]
        after = max(done) if done else last_activity
        # The first period boundary strictly after the last applied drop.
        k = max(1, int((after - last_activity) / period) + 1)
        while len(drops) < limit * 2:
            moment = last_activity + period * k
            if moment > now:
                break
            if moment > after:
                drops.append(Drop(rule.decay_id, moment, rule.decrease))
            k += 1
    drops.sort(key=lambda d: (d.at, d.decay_id))
    if score is not None and floor is not None:
        kept: list[Drop] = []
        running = score
        for drop in drops:
            if running <= floor:
                break
            kept.append(drop)
            running = max(floor, running - drop.decrease)
        drops = kept
    return drops[:limit]
