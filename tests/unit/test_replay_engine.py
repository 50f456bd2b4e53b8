"""The vectorised replay engine (core.replay) equals the per-event engine (core.scoring.replay) on every log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import scoring
from core.replay import EventColumns, replay_columns, replay_events

T0 = datetime(2026, 10, 1, tzinfo=UTC)
TIMES = [T0 + timedelta(hours=h) for h in range(6)] + [T0 + timedelta(hours=2, microseconds=1)]
TYPES = ["page_view", "form_submit", "email_open", scoring.DECAY_EVENT_TYPE]
PROPS = ["page", "n"]
VALUES: list[Any] = [
    1, 1.0, True, False, "1", "1.0", "/pricing", "/PRICING/x", "abc", None, 2.5, "3", [1, "a"], {"k": 1},
]


def condition() -> st.SearchStrategy[scoring.Condition]:
    plain = st.builds(
        scoring.Condition,
        st.sampled_from(PROPS),
        st.sampled_from(["equals", "not_equals", "contains", "not_contains", "starts_with", "exists", "not_exists"]),
        st.sampled_from(VALUES),
    )
    numeric = st.builds(
        scoring.Condition, st.sampled_from(PROPS), st.sampled_from(["gt", "gte", "lt", "lte"]),
        st.sampled_from([0, 1, 1.5, "2", -1]),
    )
    within = st.builds(
        scoring.Condition, st.sampled_from(PROPS), st.just("in"),
        st.sampled_from(["1,abc", ["/pricing", 1], "true, 3", [True]]),
    )
    return st.one_of(plain, numeric, within)


@st.composite
def rule_books(draw: st.DrawFn) -> tuple[scoring.RuleBook, scoring.ScoringPolicy]:
    rulesets = [f"rs{i}" for i in range(draw(st.integers(0, 3)))]
    rules = []
    for i in range(draw(st.integers(0, 8))):
        start = draw(st.none() | st.sampled_from(TIMES))
        end = draw(st.none() | st.sampled_from(TIMES))
        rules.append(
            scoring.Rule(
                id=f"rule{i}",
                ruleset_id=draw(st.sampled_from([*rulesets, "unknown"])),
                event_type=draw(st.sampled_from(TYPES)),
                weight=draw(st.integers(-30, 30)),
                active=draw(st.booleans() | st.just(True)),
                start_at=start,
                end_at=end,
                conditions=tuple(draw(st.lists(condition(), max_size=2))),
            )
        )
    return scoring.RuleBook(rulesets, rules), scoring.ScoringPolicy(draw(st.booleans()))


@st.composite
def event_logs(draw: st.DrawFn) -> list[scoring.LoggedEvent]:
    n = draw(st.integers(0, 40))
    seqs = draw(st.permutations(range(1, 3 * n + 1)))[:n]  # unique, ingestion order unrelated to list order
    shared = {"page": "/pricing"}
    events = []
    for seq in seqs:
        event_type = draw(st.sampled_from(TYPES))
        if event_type == scoring.DECAY_EVENT_TYPE:
            props: dict[str, Any] = draw(
                st.sampled_from([{"decrease": 5}, {"decrease": "4"}, {"decrease": -3}, {"decrease": True},
                                 {"decrease": 2.7}, {"decrease": None}, {}, {"decrease": 12, "page": "/pricing"}])
            )
        elif draw(st.booleans()):
            props = shared
        else:
            props = draw(st.dictionaries(st.sampled_from(PROPS), st.sampled_from(VALUES), max_size=2))
        events.append(
            scoring.LoggedEvent(
                seq=seq,
                lead_id=draw(st.none() | st.sampled_from(["L0", "L1", "L2", "L3"])),
                account_id=draw(st.none() | st.sampled_from(["A0", "A1"])),
                facts=scoring.EventFacts(event_type, draw(st.sampled_from(TIMES)), props),
            )
        )
    return events


def assert_same(book: scoring.RuleBook, policy: scoring.ScoringPolicy, events: list[scoring.LoggedEvent]) -> None:
    expected = scoring.replay(book, policy, events)
    got = replay_events(book, policy, events).to_replay()
    assert got.lead_scores == expected.lead_scores
    assert got.account_scores == expected.account_scores
    assert got.outcomes == expected.outcomes
    # The explanation the events table stores is built from the same outcomes.
    for seq, outcomes in expected.outcomes.items():
        assert {rs: o.as_explanation() for rs, o in got.outcomes[seq].items()} == {
            rs: o.as_explanation() for rs, o in outcomes.items()
        }


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_books(), event_logs())
def test_vectorised_replay_equals_the_per_event_engine(
    book_policy: tuple[scoring.RuleBook, scoring.ScoringPolicy], events: list[scoring.LoggedEvent]
) -> None:
    book, policy = book_policy
    assert_same(book, policy, events)


def ev(seq: int, lead: str | None, event_type: str, at: datetime = T0, account: str | None = None,
       **props: Any) -> scoring.LoggedEvent:
    return scoring.LoggedEvent(seq, lead, account, scoring.EventFacts(event_type, at, props))


def test_floor_at_zero_is_a_clamped_running_sum_not_a_plain_cumsum() -> None:
    book = scoring.RuleBook(["rs"], [
        scoring.Rule("up", "rs", "visit", 5), scoring.Rule("down", "rs", "unsubscribe", -8),
    ])
    log = [ev(1, "a", "visit", account="acme"), ev(2, "a", "unsubscribe", account="acme"),
           ev(3, "b", "unsubscribe", account="acme"), ev(4, "a", "visit"), ev(5, "b", "visit", account="acme")]
    result = replay_events(book, scoring.ScoringPolicy(False), log)
    rs = result.rulesets[0]
    assert rs.lead_after.tolist()[:5] == [5, 0, 0, 5, 5]  # a plain cumsum would give a: 5, -3, ..., 2
    assert result.lead_scores() == {"a": {"rs": 5}, "b": {"rs": 5}}
    assert result.account_scores() == {"acme": {"rs": 5}}  # 5, 0, 0, (no account), 5
    negative = replay_events(book, scoring.ScoringPolicy(True), log)
    assert negative.lead_scores() == {"a": {"rs": 2}, "b": {"rs": -3}}
    assert negative.account_scores() == {"acme": {"rs": -6}}
    for policy in (scoring.ScoringPolicy(False), scoring.ScoringPolicy(True)):
        assert_same(book, policy, log)


def test_windows_are_half_open_at_the_exact_microsecond() -> None:
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    book = scoring.RuleBook(["rs"], [
        scoring.Rule("w", "rs", "visit", 7, start_at=start, end_at=end), scoring.Rule("base", "rs", "visit", 1),
    ])
    moments = [start - timedelta(microseconds=1), start, end - timedelta(microseconds=1), end]
    log = [ev(i, "a", "visit", at) for i, at in enumerate(moments, 1)]
    result = replay_events(book, scoring.ScoringPolicy(False), log)
    assert result.rulesets[0].delta.tolist() == [1, 8, 8, 1]
    assert_same(book, scoring.ScoringPolicy(False), log)


def test_conditions_tell_apart_values_that_python_hashes_alike() -> None:
    book = scoring.RuleBook(["rs"], [
        scoring.Rule("num", "rs", "visit", 3, conditions=(scoring.Condition("n", "equals", 1),)),
        scoring.Rule("text", "rs", "visit", 10, conditions=(scoring.Condition("n", "contains", "1.0"),)),
        scoring.Rule("absent", "rs", "visit", 100, conditions=(scoring.Condition("n", "not_exists"),)),
    ])
    log = [ev(1, "a", "visit", n=1), ev(2, "a", "visit", n=1.0), ev(3, "a", "visit", n=True),
           ev(4, "a", "visit", n="1"), ev(5, "a", "visit", n=None), ev(6, "a", "visit")]
    result = replay_events(book, scoring.ScoringPolicy(False), log)
    assert result.rulesets[0].delta.tolist() == [3, 13, 0, 3, 100, 100]
    assert_same(book, scoring.ScoringPolicy(False), log)


def test_decay_events_drop_every_ruleset_and_stop_at_the_floor() -> None:
    book = scoring.RuleBook(["rs1", "rs2"], [
        scoring.Rule("v1", "rs1", "visit", 10), scoring.Rule("v2", "rs2", "visit", 2),
        scoring.Rule("ignored", "rs1", scoring.DECAY_EVENT_TYPE, 50),  # DECAY is never scored by rules
    ])
    log = [ev(1, "a", "visit", account="x"), ev(2, "a", scoring.DECAY_EVENT_TYPE, decrease=4),
           ev(3, "a", scoring.DECAY_EVENT_TYPE, decrease="-4"), ev(4, "a", scoring.DECAY_EVENT_TYPE)]
    result = replay_events(book, scoring.ScoringPolicy(False), log)
    assert result.lead_scores() == {"a": {"rs1": 2, "rs2": 0}}
    assert result.outcomes()[2]["rs1"].as_explanation() == {
        "delta": -4, "before": 10, "after": 6, "account_before": None, "account_after": None, "rules": [],
    }
    assert_same(book, scoring.ScoringPolicy(False), log)
    assert_same(book, scoring.ScoringPolicy(True), log)


def test_scores_beyond_int64_stay_exact() -> None:
    book = scoring.RuleBook(["rs"], [scoring.Rule("huge", "rs", "visit", 2**62), scoring.Rule("neg", "rs", "x", -3)])
    log = [ev(i, "a", "visit" if i % 3 else "x", account="acme") for i in range(1, 8)]
    for policy in (scoring.ScoringPolicy(False), scoring.ScoringPolicy(True)):
        assert_same(book, policy, log)
    assert replay_events(book, scoring.ScoringPolicy(False), log).lead_scores()["a"]["rs"] == 5 * 2**62 - 6


def test_an_empty_log_and_a_unit_without_rulesets() -> None:
    book = scoring.RuleBook([], [scoring.Rule("r", "gone", "visit", 1)])
    assert_same(book, scoring.ScoringPolicy(False), [])
    assert_same(book, scoring.ScoringPolicy(False), [ev(1, "a", "visit"), ev(2, None, "visit", account="x")])
    empty = replay_columns(scoring.RuleBook(["rs"], []), scoring.ScoringPolicy(False), EventColumns.from_events([]))
    assert empty.lead_scores() == {} and empty.rulesets[0].delta.tolist() == []
