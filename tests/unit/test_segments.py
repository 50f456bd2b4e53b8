"""core.segments on plain data: how rules read a lead, how they combine (groups, fold-left AND/OR, inactive rules,
no rules), event windows, and the trigger filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.segments import EventFacts, Filter, LeadFacts, SegmentRule, filter_problem, filters_pass, matches

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def R(rule_type: str, field: str, op: str, value: str | None = None, **kw: object) -> SegmentRule:
    return SegmentRule(rule_type, field, op, value, **kw)  # type: ignore[arg-type]


LEAD = LeadFacts(
    profile={"plan": "Pro", "seats": "40", "tags": "a,b"},
    attributes={"score": 55, "level": "Warm", "fit_score": 12, "fit_level": None, "email": "Ann@Acme.com"},
    scores={"rs_other": 7},
    account={"domain": "acme.io", "name": "Acme", "fit_score": 30},
    account_profile={"industry": "Software"},
    events=[EventFacts("form_submit", NOW - timedelta(days=10), {"page": "/Pricing"}),
            EventFacts("page_view", NOW - timedelta(days=1), {"page": "/blog"})],
    as_of=NOW,
)


@pytest.mark.parametrize(("rule", "expected"), [
    (R("lead_metadata", "plan", "equals", "pro"), True),  # text ignores case
    (R("lead_metadata", "seats", "gt", "39.5"), True),  # numeric text compares as a number
    (R("lead_metadata", "plan", "in", "free, PRO"), True),
    (R("lead_metadata", "missing", "not_equals", "x"), True),
    (R("lead_metadata", "missing", "exists"), False),
    (R("score", "", "gte", "55"), True),
    (R("score", "score", "lt", "55"), False),
    (R("score", "rs_other", "equals", "7"), True),
    (R("score", "rs_none", "equals", "0"), True),  # no score row: 0
    (R("level", "level", "equals", "warm"), True),
    (R("fit_level", "fit_level", "not_exists"), True),  # in no fit level: no value
    (R("fit_level", "fit_level", "equals", "Good"), False),
    (R("account", "domain", "ends_with", ".IO"), True),
    (R("account", "fit_score", "gte", "30"), True),
    (R("account", "industry", "starts_with", "soft"), True),
    (R("event_metadata", "page", "contains", "pricing", event_type="form_submit"), True),
    (R("event_metadata", "page", "contains", "pricing", event_type="form_submit", within_days=7), False),
    (R("event_metadata", "page", "contains", "pricing", event_type="page_view"), False),
])
def test_each_rule_type_reads_its_value(rule: SegmentRule, expected: bool) -> None:
    assert matches([rule], LEAD) is expected


def test_a_lead_without_an_account_has_no_account_values() -> None:
    alone = LeadFacts(profile={}, attributes={"score": 0})
    assert not matches([R("account", "name", "exists")], alone)
    assert matches([R("account", "name", "not_equals", "Acme")], alone)


def test_rules_fold_left_in_order_within_a_group_and_groups_and() -> None:
    yes, no = R("lead_metadata", "plan", "exists"), R("lead_metadata", "nope", "exists")

    def at(rule: SegmentRule, order: int, op: str = "AND", group: int = 0) -> SegmentRule:
        return SegmentRule(rule.rule_type, rule.field_name, rule.operator, rule.value, logic_op=op,
                           order_index=order, logic_group=group)

    # (no OR yes) AND no = False; listed out of order, order_index decides
    assert not matches([at(no, 2, "AND"), at(yes, 1, "OR"), at(no, 0)], LEAD)
    # (no AND no) OR yes = True
    assert matches([at(no, 0), at(no, 1, "AND"), at(yes, 2, "OR")], LEAD)
    # the first rule's own op is not used
    assert matches([at(yes, 0, "OR")], LEAD)
    # groups AND: group 0 true, group 1 false
    assert not matches([at(yes, 0), at(no, 0, group=1)], LEAD)
    assert matches([at(yes, 0), at(no, 0, group=1), at(yes, 1, "OR", group=1)], LEAD)


def test_inactive_rules_are_skipped_and_no_rules_match_everyone() -> None:
    off = SegmentRule("lead_metadata", "nope", "exists", active=False)
    assert matches([], LEAD) and matches([off], LEAD)
    assert matches([off, R("lead_metadata", "plan", "exists")], LEAD)


def test_a_window_needs_the_clock() -> None:
    rule = R("event_metadata", "page", "exists", event_type="page_view", within_days=3)
    with pytest.raises(ValueError, match="as_of"):
        matches([rule], LeadFacts(events=LEAD.events))


@pytest.mark.parametrize(("rule", "field"), [
    (dict(rule_type="x", field_name="a", operator="equals", value="1"), "rule_type"),
    (dict(rule_type="score", field_name="", operator="like", value="1"), "operator"),
    (dict(rule_type="score", field_name="", operator="gt", value="many"), "value"),
    (dict(rule_type="lead_metadata", field_name="a", operator="equals"), "value"),
    (dict(rule_type="event_metadata", field_name="a", operator="exists"), "event_type"),
    (dict(rule_type="lead_metadata", field_name="", operator="exists"), "field_name"),
    (dict(rule_type="lead_metadata", field_name="a", operator="exists", logic_op="XOR"), "logic_op"),
])
def test_a_bad_rule_names_its_field(rule: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        SegmentRule(**rule)  # type: ignore[arg-type]


def test_trigger_filters() -> None:
    assert filters_pass([Filter("plan", "equals", "PRO")], [Filter("email", "ends_with", "@acme.com")], LEAD)
    assert not filters_pass([], [Filter("fit_level", "exists")], LEAD)  # no fit level: no value
    assert not filters_pass([Filter("seats", "lt", "10")], [], LEAD)
    unknown = filter_problem({"field_name": "shoe", "operator": "exists"}, attributes=True)
    assert unknown is not None and unknown[0] == "field_name" and "fit_level" in unknown[1]
    assert filter_problem({"field_name": "shoe", "operator": "exists"}, attributes=False) is None  # any profile key
    assert filter_problem({"field_name": "score", "operator": "gt", "value": "x"}, attributes=True) == (
        "value", "operator 'gt' needs a numeric value; got 'x'")
