"""The combined grade: fit level as a letter (A = highest fit band), engagement level as a digit (1 = hottest)."""

from __future__ import annotations

import pytest

from core.grade import fit_letter, grade, level_rank

FIT = [("Poor", 0), ("Good", 40), ("Ideal", 80)]  # any order: ranked by min score
ENGAGEMENT = [("Cold", 0), ("Warm", 30), ("Hot", 70)]


@pytest.mark.parametrize(
    ("fit", "engagement", "expected"),
    [
        ("Ideal", "Hot", "A1"),
        ("Ideal", "Cold", "A3"),
        ("Good", "Warm", "B2"),
        ("Poor", "Hot", "C1"),
        ("Poor", "Cold", "C3"),
    ],
)
def test_letter_from_the_fit_band_and_digit_from_the_engagement_band(fit: str, engagement: str, expected: str) -> None:
    assert grade(fit, FIT, engagement, ENGAGEMENT) == expected


def test_bands_rank_by_their_scores_not_by_the_order_given_or_their_names() -> None:
    shuffled = [("Ideal", 80), ("Poor", 0), ("Good", 40)]
    assert grade("Good", shuffled, "Warm", list(reversed(ENGAGEMENT))) == "B2"
    negative = [("Bad", -50), ("Neutral", 0)]
    assert grade("Neutral", negative, "Hot", ENGAGEMENT) == "A1"
    assert grade("Bad", negative, "Hot", ENGAGEMENT) == "B1"


def test_level_names_match_case_insensitively() -> None:
    assert grade(" ideal ", FIT, "HOT", ENGAGEMENT) == "A1"


@pytest.mark.parametrize(
    ("fit", "fit_levels", "engagement", "engagement_levels"),
    [
        ("Ideal", [], "Hot", ENGAGEMENT),  # no fit levels
        ("Ideal", FIT, "Hot", []),  # no engagement levels
        (None, FIT, "Hot", ENGAGEMENT),  # the lead's fit is in no band
        ("Ideal", FIT, None, ENGAGEMENT),  # its engagement is in no band
        ("Gone", FIT, "Hot", ENGAGEMENT),  # a level that no longer exists
    ],
)
def test_no_grade_without_both_levels(
    fit: str | None, fit_levels: list[tuple[str, int]], engagement: str | None,
    engagement_levels: list[tuple[str, int]],
) -> None:
    assert grade(fit, fit_levels, engagement, engagement_levels) is None


def test_ranks_and_letters_beyond_the_alphabet() -> None:
    bands = [(f"L{n}", n) for n in range(30)]
    assert level_rank("L29", bands) == 0 and level_rank("L0", bands) == 29
    assert fit_letter(0) == "A" and fit_letter(25) == "Z" and fit_letter(29) == "Z"
    assert level_rank(None, bands) is None and level_rank("", bands) is None
