"""Scoring semantics on plain data: which rules match, how deltas fold, and replay as the definition of a score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.scoring import (
    DECAY_EVENT_TYPE,
    Condition,
    EventFacts,
    LoggedEvent,
    Rule,
    RuleBook,
    Scoreboard,
    ScoringPolicy,
    condition_holds,
    replay,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FLOOR = ScoringPolicy(allow_negative_scores=False)
NEGATIVE = ScoringPolicy(allow_negative_scores=True)


def event(event_type: str, at: datetime = T0, **properties: Any) -> EventFacts:
    return EventFacts(event_type, at, properties)


def rule(rule_id: str, event_type: str, weight: int, ruleset_id: str = "rs_a", **kwargs: Any) -> Rule:
    return Rule(rule_id, ruleset_id, event_type, weight, **kwargs)


# --- deltas ----------------------------------------------------------------------------------------------------------


def test_delta_is_the_sum_of_matching_active_rules_per_ruleset() -> None:
    book = RuleBook(
        ["rs_a", "rs_b"],
        [
            rule("r1", "page_view", 5),
            rule("r2", "page_view", 3),
            rule("r3", "page_view", 7, ruleset_id="rs_b"),
            rule("r4", "email_open", 100),
        ],
    )
    deltas = book.deltas(event("page_view"))
    assert deltas["rs_a"].delta == 8
    assert {r.id for r in deltas["rs_a"].matched} == {"r1", "r2"}
    assert deltas["rs_b"].delta == 7
    assert [r.id for r in deltas["rs_b"].matched] == ["r3"]


def test_an_event_no_rule_matches_has_zero_delta_in_every_ruleset() -> None:
    book = RuleBook(["rs_a", "rs_b"], [rule("r1", "page_view", 5)])
    deltas = book.deltas(event("webinar_join"))
    assert {rs: d.delta for rs, d in deltas.items()} == {"rs_a": 0, "rs_b": 0}
    assert all(d.matched == () for d in deltas.values())


def test_inactive_rules_do_not_match() -> None:
    book = RuleBook(["rs_a"], [rule("r1", "page_view", 5, active=False), rule("r2", "page_view", 2)])
    assert book.deltas(event("page_view"))["rs_a"].delta == 2


def test_rules_of_unknown_rulesets_are_ignored() -> None:
    book = RuleBook(["rs_a"], [rule("r1", "page_view", 5, ruleset_id="rs_gone")])
    assert book.deltas(event("page_view")) == {"rs_a": book.deltas(event("nothing"))["rs_a"]}


def test_rule_window_is_half_open() -> None:
    start, end = T0, T0 + timedelta(days=7)
    book = RuleBook(["rs_a"], [rule("r1", "page_view", 5, start_at=start, end_at=end)])
    assert book.deltas(event("page_view", start - timedelta(seconds=1)))["rs_a"].delta == 0
    assert book.deltas(event("page_view", start))["rs_a"].delta == 5
    assert book.deltas(event("page_view", end - timedelta(seconds=1)))["rs_a"].delta == 5
    assert book.deltas(event("page_view", end))["rs_a"].delta == 0


def test_open_ended_windows() -> None:
    only_start = RuleBook(["rs_a"], [rule("r1", "x", 1, start_at=T0)])
    only_end = RuleBook(["rs_a"], [rule("r1", "x", 1, end_at=T0)])
    later, earlier = T0 + timedelta(days=3650), T0 - timedelta(days=3650)
    assert only_start.deltas(event("x", later))["rs_a"].delta == 1
    assert only_start.deltas(event("x", earlier))["rs_a"].delta == 0
    assert only_end.deltas(event("x", earlier))["rs_a"].delta == 1
    assert only_end.deltas(event("x", later))["rs_a"].delta == 0


def test_negative_weights_subtract() -> None:
    book = RuleBook(["rs_a"], [rule("r1", "unsubscribe", -20), rule("r2", "unsubscribe", 5)])
    assert book.deltas(event("unsubscribe"))["rs_a"].delta == -15


def test_decay_drops_every_ruleset_by_its_decrease() -> None:
    book = RuleBook(["rs_a", "rs_b"], [rule("r1", DECAY_EVENT_TYPE, 100)])
    deltas = book.deltas(event(DECAY_EVENT_TYPE, decrease=7))
    assert {rs: d.delta for rs, d in deltas.items()} == {"rs_a": -7, "rs_b": -7}
    assert all(d.matched == () for d in deltas.values())
    # The sign of `decrease` does not matter, a missing one drops nothing.
    assert book.deltas(event(DECAY_EVENT_TYPE, decrease=-7))["rs_a"].delta == -7
    assert book.deltas(event(DECAY_EVENT_TYPE))["rs_a"].delta == 0


# --- conditions ------------------------------------------------------------------------------------------------------


def test_equals_condition_on_page() -> None:
    pricing = rule("r1", "page_view", 10, conditions=(Condition("page", "equals", "/pricing"),))
    book = RuleBook(["rs_a"], [pricing, rule("r2", "page_view", 1)])
    assert book.deltas(event("page_view", page="/pricing"))["rs_a"].delta == 11
    assert book.deltas(event("page_view", page="/blog"))["rs_a"].delta == 1
    assert book.deltas(event("page_view"))["rs_a"].delta == 1


def test_all_conditions_of_a_rule_must_hold() -> None:
    both = rule(
        "r1", "page_view", 10,
        conditions=(Condition("page", "equals", "/pricing"), Condition("seconds", "gte", 30)),
    )
    book = RuleBook(["rs_a"], [both])
    assert book.deltas(event("page_view", page="/pricing", seconds=45))["rs_a"].delta == 10
    assert book.deltas(event("page_view", page="/pricing", seconds=10))["rs_a"].delta == 0


@pytest.mark.parametrize(
    ("condition", "properties", "holds"),
    [
        (Condition("seconds", "gt", 30), {"seconds": 31}, True),
        (Condition("seconds", "gt", 30), {"seconds": 30}, False),
        (Condition("seconds", "gt", "30"), {"seconds": "45.5"}, True),
        (Condition("seconds", "gte", 30), {"seconds": 30}, True),
        (Condition("seconds", "lt", 30), {"seconds": 29.9}, True),
        (Condition("seconds", "lt", 30), {"seconds": 30}, False),
        (Condition("seconds", "lte", 30), {"seconds": 30}, True),
        (Condition("seconds", "gt", 30), {"seconds": "a lot"}, False),
        (Condition("seconds", "gt", 30), {"seconds": True}, False),
        (Condition("seconds", "gt", 30), {}, False),
        (Condition("page", "contains", "PRIC"), {"page": "/pricing/enterprise"}, True),
        (Condition("page", "contains", "docs"), {"page": "/pricing"}, False),
        (Condition("page", "not_contains", "docs"), {"page": "/pricing"}, True),
        (Condition("page", "not_contains", "docs"), {}, True),
        (Condition("page", "starts_with", "/pri"), {"page": "/pricing"}, True),
        (Condition("page", "starts_with", "pri"), {"page": "/pricing"}, False),
        (Condition("utm", "exists"), {"utm": "ads"}, True),
        (Condition("utm", "exists"), {"utm": None}, False),
        (Condition("utm", "exists"), {}, False),
        (Condition("utm", "not_exists"), {}, True),
        (Condition("utm", "not_exists"), {"utm": ""}, False),
        (Condition("plan", "in", ["pro", "team"]), {"plan": "team"}, True),
        (Condition("plan", "in", ["pro", "team"]), {"plan": "free"}, False),
        (Condition("plan", "in", "pro, team"), {"plan": "team"}, True),
        (Condition("size", "in", [10, 20]), {"size": 20.0}, True),
        (Condition("trial", "equals", True), {"trial": True}, True),
        (Condition("trial", "equals", True), {"trial": False}, False),
        (Condition("trial", "equals", "true"), {"trial": True}, True),
        (Condition("trial", "equals", 1), {"trial": True}, False),
        (Condition("count", "equals", 3), {"count": "3.0"}, True),
        (Condition("page", "not_equals", "/pricing"), {"page": "/blog"}, True),
        (Condition("page", "not_equals", "/pricing"), {}, True),
        (Condition("page", "equals", "/pricing"), {}, False),
    ],
)
def test_condition_operators(condition: Condition, properties: dict[str, Any], holds: bool) -> None:
    assert condition_holds(condition, properties) is holds


@pytest.mark.parametrize(
    ("prop", "operator", "value"),
    [("page", "like", "/p"), ("", "equals", "/p"), ("n", "gt", "many"), ("n", "lt", None), ("n", "gte", True)],
)
def test_invalid_conditions_are_rejected(prop: str, operator: str, value: Any) -> None:
    with pytest.raises(ValueError):
        Condition(prop, operator, value)


# --- folding ---------------------------------------------------------------------------------------------------------


def test_scores_floor_at_zero_unless_negatives_are_allowed() -> None:
    book = RuleBook(["rs_a"], [rule("r1", "unsubscribe", -10), rule("r2", "page_view", 4)])
    log = [
        LoggedEvent(1, "ld_1", "acc_1", event("page_view")),
        LoggedEvent(2, "ld_1", "acc_1", event("unsubscribe")),
        LoggedEvent(3, "ld_1", "acc_1", event("page_view")),
    ]
    floored = replay(book, FLOOR, log)
    assert floored.lead_scores == {"ld_1": {"rs_a": 4}}
    assert floored.account_scores == {"acc_1": {"rs_a": 4}}
    assert (floored.outcomes[2]["rs_a"].lead_before, floored.outcomes[2]["rs_a"].lead_after) == (4, 0)
    negative = replay(book, NEGATIVE, log)
    assert negative.lead_scores == {"ld_1": {"rs_a": -2}}


def test_replay_follows_ingestion_order_not_list_order() -> None:
    book = RuleBook(["rs_a"], [rule("r1", "unsubscribe", -10), rule("r2", "page_view", 4)])
    log = [
        LoggedEvent(2, "ld_1", None, event("unsubscribe")),
        LoggedEvent(1, "ld_1", None, event("page_view")),
    ]
    assert replay(book, FLOOR, log).lead_scores == {"ld_1": {"rs_a": 0}}


def test_leads_and_accounts_score_independently() -> None:
    book = RuleBook(["rs_a"], [rule("r1", "page_view", 5)])
    log = [
        LoggedEvent(1, "ld_1", "acc_1", event("page_view")),
        LoggedEvent(2, "ld_2", "acc_1", event("page_view")),
        LoggedEvent(3, "ld_3", None, event("page_view")),
        LoggedEvent(4, None, "acc_2", event("page_view")),
    ]
    result = replay(book, FLOOR, log)
    assert result.lead_scores == {"ld_1": {"rs_a": 5}, "ld_2": {"rs_a": 5}, "ld_3": {"rs_a": 5}}
    assert result.account_scores == {"acc_1": {"rs_a": 10}, "acc_2": {"rs_a": 5}}
    assert result.outcomes[3]["rs_a"].account_before is None
    assert result.outcomes[4]["rs_a"].lead_after is None


def test_explanation_names_the_rules_and_the_scores() -> None:
    book = RuleBook(["rs_a"], [rule("r1", "page_view", 5)])
    board = Scoreboard(book, FLOOR, lead_scores={"ld_1": {"rs_a": 10}})
    outcome = board.apply(event("page_view"), "ld_1", None)["rs_a"]
    assert outcome.as_explanation() == {
        "delta": 5, "before": 10, "after": 15, "account_before": None, "account_after": None,
        "rules": [{"rule_id": "r1", "event_type": "page_view", "weight": 5}],
    }


# --- properties ------------------------------------------------------------------------------------------------------

RULESETS = ("rs_a", "rs_b")
EVENT_TYPES = ("page_view", "email_open", "form_submit", "unsubscribe")
LEADS = ("ld_1", "ld_2", "ld_3")
ACCOUNTS = ("acc_1", "acc_2", None)
HOURS = 24 * 30

conditions_st = st.one_of(
    st.just(()),
    st.tuples(st.builds(Condition, st.just("page"), st.just("equals"), st.sampled_from(["/pricing", "/blog"]))),
    st.tuples(st.builds(Condition, st.just("seconds"), st.sampled_from(["gt", "lt"]), st.integers(0, 60))),
)


@st.composite
def rules_st(draw: st.DrawFn) -> list[Rule]:
    rules = []
    for index in range(draw(st.integers(0, 8))):
        start = draw(st.one_of(st.none(), st.integers(0, HOURS)))
        length = draw(st.integers(1, HOURS))
        end = draw(st.one_of(st.none(), st.just((start or 0) + length)))
        rules.append(
            Rule(
                id=f"r{index}",
                ruleset_id=draw(st.sampled_from(RULESETS)),
                event_type=draw(st.sampled_from(EVENT_TYPES)),
                weight=draw(st.integers(-30, 30)),
                active=draw(st.booleans()),
                start_at=None if start is None else T0 + timedelta(hours=start),
                end_at=None if end is None else T0 + timedelta(hours=end),
                conditions=draw(conditions_st),
            )
        )
    return rules


@st.composite
def log_st(draw: st.DrawFn) -> list[LoggedEvent]:
    events = []
    for seq in range(1, draw(st.integers(0, 40)) + 1):
        if draw(st.integers(0, 9)) == 0:
            facts = event(DECAY_EVENT_TYPE, T0 + timedelta(hours=draw(st.integers(0, HOURS))),
                          decrease=draw(st.integers(0, 20)))
        else:
            facts = event(
                draw(st.sampled_from(EVENT_TYPES)),
                T0 + timedelta(hours=draw(st.integers(-24, HOURS + 24))),
                page=draw(st.sampled_from(["/pricing", "/blog"])),
                seconds=draw(st.integers(0, 60)),
            )
        events.append(LoggedEvent(seq, draw(st.sampled_from(LEADS)), draw(st.sampled_from(ACCOUNTS)), facts))
    return events


def fold(book: RuleBook, policy: ScoringPolicy, log: list[LoggedEvent], owner: str) -> dict[str, int]:
    """The reference definition: per ruleset, start at 0 and fold each delta in with the policy."""
    scores = dict.fromkeys(RULESETS, 0)
    for ev in log:
        if owner not in (ev.lead_id, ev.account_id):
            continue
        for rs, d in book.deltas(ev.facts).items():
            scores[rs] = policy.apply(scores[rs], d.delta)
    return scores


@settings(max_examples=150, deadline=None)
@given(rules_st(), log_st(), st.booleans())
def test_replay_equals_the_fold_of_deltas(rules: list[Rule], log: list[LoggedEvent], allow_negative: bool) -> None:
    book = RuleBook(RULESETS, rules)
    policy = ScoringPolicy(allow_negative)
    result = replay(book, policy, log)
    for lead in {ev.lead_id for ev in log}:
        assert result.lead_scores[lead] == fold(book, policy, log, lead)
        if allow_negative:
            plain = {rs: sum(book.deltas(ev.facts)[rs].delta for ev in log if ev.lead_id == lead) for rs in RULESETS}
            assert result.lead_scores[lead] == plain
    for account in {ev.account_id for ev in log if ev.account_id}:
        assert result.account_scores[account] == fold(book, policy, log, account)


@settings(max_examples=150, deadline=None)
@given(rules_st(), log_st())
def test_floored_scores_never_go_below_zero(rules: list[Rule], log: list[LoggedEvent]) -> None:
    result = replay(RuleBook(RULESETS, rules), FLOOR, log)
    for per in (*result.lead_scores.values(), *result.account_scores.values()):
        assert all(score >= 0 for score in per.values())
    for outcomes in result.outcomes.values():
        for o in outcomes.values():
            assert o.lead_after is None or o.lead_after >= 0
            assert o.account_after is None or o.account_after >= 0


@settings(max_examples=150, deadline=None)
@given(rules_st(), log_st(), st.booleans())
def test_before_after_chains_are_consistent(rules: list[Rule], log: list[LoggedEvent], allow_negative: bool) -> None:
    result = replay(RuleBook(RULESETS, rules), ScoringPolicy(allow_negative), log)
    last_lead: dict[tuple[str, str], int] = {}
    last_account: dict[tuple[str, str], int] = {}
    for ev in sorted(log, key=lambda e: e.seq):
        for rs, o in result.outcomes[ev.seq].items():
            if ev.lead_id is not None:
                assert o.lead_before == last_lead.get((ev.lead_id, rs), 0)
                assert o.lead_after == ScoringPolicy(allow_negative).apply(o.lead_before, o.delta)
                last_lead[(ev.lead_id, rs)] = o.lead_after
            if ev.account_id is not None:
                assert o.account_before == last_account.get((ev.account_id, rs), 0)
                last_account[(ev.account_id, rs)] = o.account_after
    for (lead, rs), score in last_lead.items():
        assert result.lead_scores[lead][rs] == score


@settings(max_examples=150, deadline=None)
@given(rules_st(), log_st())
def test_an_event_outside_a_rules_window_never_gets_its_weight(rules: list[Rule], log: list[LoggedEvent]) -> None:
    result = replay(RuleBook(RULESETS, rules), FLOOR, log)
    by_seq = {ev.seq: ev for ev in log}
    for seq, outcomes in result.outcomes.items():
        occurred = by_seq[seq].facts.occurred_at
        for rs, o in outcomes.items():
            for matched in o.matched:
                assert matched.active
                assert matched.ruleset_id == rs
                assert matched.start_at is None or occurred >= matched.start_at
                assert matched.end_at is None or occurred < matched.end_at
            assert o.delta == sum(r.weight for r in o.matched) or by_seq[seq].facts.event_type == DECAY_EVENT_TYPE


@settings(max_examples=150, deadline=None)
@given(rules_st(), log_st(), st.integers(0, 40), st.booleans())
def test_a_seeded_scoreboard_continuing_the_log_equals_replaying_it_all(
    rules: list[Rule], log: list[LoggedEvent], split: int, allow_negative: bool
) -> None:
    """What ingest does (seed with stored scores, apply the new batch) equals a full replay."""
    book, policy = RuleBook(RULESETS, rules), ScoringPolicy(allow_negative)
    head, tail = log[:split], log[split:]
    stored = replay(book, policy, head)
    board = Scoreboard(book, policy, stored.lead_scores, stored.account_scores)
    for ev in tail:
        board.apply(ev.facts, ev.lead_id, ev.account_id)
    full = replay(book, policy, log)
    assert board.leads == full.lead_scores
    assert board.accounts == full.account_scores
