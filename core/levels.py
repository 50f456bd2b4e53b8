"""Engagement levels (e.g. Cold/Warm/Hot): which level a score falls in, and whether a set of levels is sound."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Level:
    id: str
    name: str
    min_score: int
    max_score: int  # inclusive

    def contains(self, score: int) -> bool:
        return self.min_score <= score <= self.max_score


def level_for(score: int, levels: Sequence[Level]) -> Level | None:
    for level in levels:
        if level.contains(score):
            return level
    return None


def validate_levels(levels: Sequence[Level]) -> list[str]:
    """Problems that make a level set ambiguous: bad bounds, overlaps and gaps between neighbours."""
    problems: list[str] = []
    names = [lv.name.strip().casefold() for lv in levels]
    for lv in levels:
        if not lv.name.strip():
            problems.append("a level has an empty name")
        if lv.min_score > lv.max_score:
            problems.append(f"level {lv.name!r}: min_score {lv.min_score} is above max_score {lv.max_score}")
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"level name {name!r} is used more than once")
    ordered = sorted(levels, key=lambda lv: (lv.min_score, lv.max_score))
    for low, high in itertools.pairwise(ordered):
        if high.min_score <= low.max_score:
            problems.append(f"levels {low.name!r} and {high.name!r} overlap ({high.min_score}..{low.max_score})")
        elif high.min_score > low.max_score + 1:
            problems.append(
                f"gap between {low.name!r} and {high.name!r}: "
                f"scores {low.max_score + 1}..{high.min_score - 1} have no level"
            )
    return problems
