"""Engagement levels on plain data: a sound level set and which level a score falls in."""

from __future__ import annotations

from core.levels import Level, level_for, validate_levels

COLD = Level("lv_cold", "Cold", 0, 19)
WARM = Level("lv_warm", "Warm", 20, 49)
HOT = Level("lv_hot", "Hot", 50, 1_000_000)


def test_a_contiguous_level_set_has_no_problems() -> None:
    assert validate_levels([HOT, COLD, WARM]) == []
    assert validate_levels([]) == []
    assert validate_levels([COLD]) == []


def test_level_for_picks_the_level_whose_bounds_include_the_score() -> None:
    levels = [COLD, WARM, HOT]
    assert level_for(0, levels) == COLD
    assert level_for(19, levels) == COLD
    assert level_for(20, levels) == WARM
    assert level_for(49, levels) == WARM
    assert level_for(50, levels) == HOT
    assert level_for(-1, levels) is None
    assert level_for(2_000_000, levels) is None
    assert level_for(10, []) is None


def test_overlapping_levels_are_reported() -> None:
    problems = validate_levels([COLD, Level("lv_w", "Warm", 15, 49), HOT])
    assert len(problems) == 1
    assert "overlap" in problems[0] and "'Cold'" in problems[0] and "'Warm'" in problems[0]


def test_gaps_between_levels_are_reported() -> None:
    problems = validate_levels([COLD, Level("lv_w", "Warm", 25, 49), HOT])
    assert problems == ["gap between 'Cold' and 'Warm': scores 20..24 have no level"]


def test_duplicate_names_are_reported_case_insensitively() -> None:
    problems = validate_levels([COLD, Level("lv_w", "cold", 20, 49)])
    assert any("used more than once" in p for p in problems)


def test_inverted_bounds_and_empty_names_are_reported() -> None:
    problems = validate_levels([Level("lv_x", "Broken", 30, 10), Level("lv_y", "  ", 31, 40)])
    assert any("min_score 30 is above max_score 10" in p for p in problems)
    assert any("empty name" in p for p in problems)
