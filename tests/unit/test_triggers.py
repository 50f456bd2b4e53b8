"""core.triggers: milestone crossings, sequences in a window (ordered or not), frequency patterns."""

from datetime import UTC, datetime, timedelta

from core.triggers import HistoryEvent, Milestone, Pattern, PatternCondition, SequenceSpec

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(n: int, event_type: str, minutes: float) -> HistoryEvent:
    return HistoryEvent(f"ev{n}", event_type, T0 + timedelta(minutes=minutes), n)


def test_milestone_fires_only_when_crossing_from_below() -> None:
    m = Milestone(80)
    assert m.fires("demo", 70, 85)
    assert m.fires("demo", 79, 80)
    assert not m.fires("demo", 80, 95)  # already above
    assert not m.fires("demo", 85, 70)
    assert not m.fires("demo", 10, 20)


def test_milestone_event_type_filter_and_decay_never_fires() -> None:
    assert not Milestone(80, "demo").fires("pricing", 70, 90)
    assert Milestone(80, "demo").fires("demo", 70, 90)
    assert not Milestone(0).fires("DECAY", -5, 0)


def test_ordered_sequence_completes_on_its_last_step_within_the_window() -> None:
    spec = SequenceSpec(("pricing", "demo"), timedelta(days=1), ordered=True)
    history = [ev(1, "pricing", 0), ev(2, "demo", 60)]
    steps = spec.completed_by(history[1], history)
    assert steps is not None and [s.event_id for s in steps] == ["ev1", "ev2"]
    # Wrong order: demo before pricing does not complete an ordered sequence.
    wrong = [ev(1, "demo", 0), ev(2, "pricing", 60)]
    assert spec.completed_by(wrong[1], wrong) is None
    # Outside the window.
    late = [ev(1, "pricing", 0), ev(2, "demo", 60 * 25)]
    assert spec.completed_by(late[1], late) is None


def test_unordered_sequence_completes_in_any_order() -> None:
    spec = SequenceSpec(("pricing", "demo"), timedelta(hours=1), ordered=False)
    history = [ev(1, "demo", 0), ev(2, "pricing", 30)]
    assert spec.completed_by(history[1], history) is not None
    assert spec.completed_by(history[0], history[:1]) is None


def test_later_events_do_not_count_for_an_earlier_one() -> None:
    spec = SequenceSpec(("pricing", "demo"), timedelta(hours=1), ordered=False)
    history = [ev(1, "pricing", 0), ev(2, "demo", 10)]
    assert spec.completed_by(history[0], history) is None


def test_repeated_steps_need_distinct_events() -> None:
    spec = SequenceSpec(("visit", "visit", "demo"), timedelta(hours=1), ordered=True)
    one_visit = [ev(1, "visit", 0), ev(2, "demo", 5)]
    assert spec.completed_by(one_visit[1], one_visit) is None
    two_visits = [ev(1, "visit", 0), ev(2, "visit", 1), ev(3, "demo", 5)]
    assert spec.completed_by(two_visits[2], two_visits) is not None


def test_pattern_counts_events_within_the_window() -> None:
    spec = Pattern((PatternCondition("email_open", 5),), timedelta(hours=1))
    opens = [ev(i, "email_open", i * 10) for i in range(5)]  # 0..40 minutes
    assert spec.reached_by(opens[3], opens[:4]) is None
    assert spec.reached_by(opens[4], opens) == {"email_open": 5}
    spread = [ev(i, "email_open", i * 20) for i in range(5)]  # 0..80 minutes: only 4 in the last hour
    assert spec.reached_by(spread[4], spread) is None


def test_pattern_with_several_conditions_needs_all() -> None:
    spec = Pattern((PatternCondition("email_open", 2), PatternCondition("page_view", 1)), timedelta(hours=1))
    history = [ev(1, "email_open", 0), ev(2, "email_open", 5)]
    assert spec.reached_by(history[1], history) is None
    history.append(ev(3, "page_view", 10))
    assert spec.reached_by(history[2], history) == {"email_open": 2, "page_view": 1}
