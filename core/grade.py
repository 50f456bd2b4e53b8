"""The combined grade of a lead: fit as a letter, engagement as a digit ("A1" = best fit, hottest engagement).

The letter is the rank of the lead's fit level among the unit's fit levels, highest band first (A, B, C, ...);
the digit is the rank of its engagement level among the engagement levels, highest band first (1, 2, 3, ...).
There is a grade only where both level sets exist and the lead is in a level of each.

Pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from string import ascii_uppercase

Band = tuple[str, int]  # (level name, min score)


def level_rank(name: str | None, levels: Iterable[Band]) -> int | None:
    """0 for the highest band (largest min score), 1 for the next, ...; None when `name` is not one of `levels`.
    Names compare case-insensitively and without surrounding spaces, as level names do everywhere."""
    if not name:
        return None
    ordered = sorted(levels, key=lambda band: band[1], reverse=True)
    wanted = name.strip().casefold()
    return next((rank for rank, (level, _low) in enumerate(ordered) if level.strip().casefold() == wanted), None)


def fit_letter(rank: int) -> str:
    """A, B, ... Z for the 1st to 26th band; every band beyond the 26th is Z too."""
    return ascii_uppercase[min(rank, len(ascii_uppercase) - 1)]


def grade(
    fit_level: str | None, fit_levels: Iterable[Band], engagement_level: str | None, engagement_levels: Iterable[Band]
) -> str | None:
    """'A1', 'C3', ...: the fit level's letter and the engagement level's digit (1-based); None when either level
    set is empty or the lead is outside it."""
    letter = level_rank(fit_level, fit_levels)
    digit = level_rank(engagement_level, engagement_levels)
    if letter is None or digit is None:
        return None
    return f"{fit_letter(letter)}{digit + 1}"
