"""core.decay: which drops are due, computed from last activity, drops already applied and the clock."""

from datetime import UTC, datetime, timedelta

import pytest

from core.decay import DecayRule, due_drops

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WEEKLY = DecayRule("dc_week", 7, "days", 10)


def test_nothing_is_due_before_a_full_period_of_inactivity() -> None:
    assert due_drops(T0, [WEEKLY], {}, T0 + timedelta(days=6, hours=23)) == []


def test_one_drop_at_the_moment_the_period_ends() -> None:
    (drop,) = due_drops(T0, [WEEKLY], {}, T0 + timedelta(days=7))
    assert (drop.decay_id, drop.at, drop.decrease) == ("dc_week", T0 + timedelta(days=7), 10)


def test_a_drop_for_each_further_full_period() -> None:
    drops = due_drops(T0, [WEEKLY], {}, T0 + timedelta(days=24))
    assert [d.at for d in drops] == [T0 + timedelta(days=7), T0 + timedelta(days=14), T0 + timedelta(days=21)]


def test_drops_already_applied_are_not_due_again() -> None:
    now = T0 + timedelta(days=24)
    first = due_drops(T0, [WEEKLY], {}, now)
    assert due_drops(T0, [WEEKLY], {"dc_week": [d.at for d in first]}, now) == []
    later = due_drops(T0, [WEEKLY], {"dc_week": [d.at for d in first]}, T0 + timedelta(days=28))
    assert [d.at for d in later] == [T0 + timedelta(days=28)]


def test_drops_before_the_last_activity_do_not_count() -> None:
    # A drop applied before new activity belongs to the old clock; the new clock starts fresh.
    activity = T0 + timedelta(days=10)
    drops = due_drops(activity, [WEEKLY], {"dc_week": [T0 + timedelta(days=7)]}, activity + timedelta(days=7))
    assert [d.at for d in drops] == [activity + timedelta(days=7)]


def test_drops_stop_at_the_floor() -> None:
    drops = due_drops(T0, [WEEKLY], {}, T0 + timedelta(days=70), score=25, floor=0)
    assert len(drops) == 3  # 25 -> 15 -> 5 -> 0
    assert due_drops(T0, [WEEKLY], {}, T0 + timedelta(days=70), score=0, floor=0) == []
    assert len(due_drops(T0, [WEEKLY], {}, T0 + timedelta(days=70), score=25, floor=None)) == 10


def test_several_rules_interleave_in_time_order() -> None:
    hourly = DecayRule("dc_hour", 36, "hours", 1)
    drops = due_drops(T0, [WEEKLY, hourly], {}, T0 + timedelta(days=7))
    assert [(d.decay_id, d.at) for d in drops] == [
        ("dc_hour", T0 + timedelta(hours=36)),
        ("dc_hour", T0 + timedelta(hours=72)),
        ("dc_hour", T0 + timedelta(hours=108)),
        ("dc_hour", T0 + timedelta(hours=144)),
        ("dc_week", T0 + timedelta(days=7)),
    ]


def test_weeks_and_hours_units() -> None:
    assert DecayRule("a", 2, "weeks", 1).period == timedelta(days=14)
    assert DecayRule("b", 5, "hours", 1).period == timedelta(hours=5)
    with pytest.raises(ValueError):
        DecayRule("c", 1, "months", 1)
