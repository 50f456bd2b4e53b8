"""Segments: saved, live lists of leads defined by rules. Pure: rules and a lead's facts come in as plain values.

`matches(rules, facts)` is the reference definition of membership (services.targeting.segments compiles the same
rules to SQL and is tested against it).

How rules combine:
- inactive rules are skipped; a segment without active rules matches every lead;
- rules are grouped by `logic_group`; inside a group the rules are taken in (`order_index`, `id`) order and fold
  left: the first rule's result, then for each next rule `acc AND rule` or `acc OR rule` by that rule's `logic_op`
  (the first rule's `logic_op` is not used). So [a, OR b, AND c] is `(a OR b) AND c`;
- groups combine with AND.

What a rule reads (`rule_type`):
- `lead_metadata`: the lead's profile (its `metadata`), key `field_name`;
- `event_metadata`: true when the lead has an event of `event_type` (in the last `within_days` days before
  `facts.as_of` when set) whose metadata field `field_name` satisfies the condition;
- `score`: `field_name` empty or "score": the lead's primary score; otherwise a ruleset id: that ruleset's score
  (a lead without a score row has score 0);
- `level` / `fit_level`: the name of the lead's engagement level (from the primary score) / fit level; a lead in no
  level has no value (only not_equals, not_contains, not_in and not_exists hold);
- `account`: a field of the lead's account: the columns `domain`, `name`, `fit_score`, else a key of the
  account's profile (`metadata`); a lead without an account has no value.
Conditions are `core.scoring.condition_holds(..., fold_case=True)`: text compares ignoring case, gt/gte/lt/lte
numerically, `in`/`not_in` over a comma-separated list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.scoring import CONDITION_OPERATORS, Condition, condition_holds

RULE_TYPES: tuple[str, ...] = ("lead_metadata", "event_metadata", "score", "level", "fit_level", "account")
LOGIC_OPS: tuple[str, ...] = ("AND", "OR")
ACCOUNT_COLUMNS: tuple[str, ...] = ("domain", "name", "fit_score")
NUMERIC_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
NO_VALUE_OPERATORS = frozenset({"exists", "not_exists"})
PRIMARY_SCORE_FIELDS = frozenset({"", "score"})
# The lead attributes a trigger's lead_attribute_filters may test.
LEAD_ATTRIBUTES: tuple[str, ...] = (
    "score", "level", "fit_score", "fit_level", "email", "first_name", "last_name", "account_id", "account_domain",
    "account_name",
)
_KEY = "value"  # the one property a rule's condition reads from the facts it looks at


@dataclass(frozen=True, slots=True)
class SegmentRule:
    rule_type: str
    field_name: str
    operator: str
    value: str | None = None
    event_type: str | None = None
    within_days: int | None = None
    logic_group: int = 0
    logic_op: str = "AND"
    order_index: int = 0
    active: bool = True
    id: str = ""

    def __post_init__(self) -> None:
        problem = rule_problem(self)
        if problem is not None:
            raise ValueError(f"{problem[0]}: {problem[1]}")

    @property
    def condition(self) -> Condition:
        return Condition(_KEY, self.operator, "" if self.value is None else self.value)


def rule_problem(rule: SegmentRule) -> tuple[str, str] | None:
    """(field, message) of the first thing wrong with a rule, or None."""
    if rule.rule_type not in RULE_TYPES:
        return "rule_type", f"must be one of {', '.join(RULE_TYPES)}; got {rule.rule_type!r}"
    if rule.operator not in CONDITION_OPERATORS:
        return "operator", f"must be one of {', '.join(CONDITION_OPERATORS)}; got {rule.operator!r}"
    if rule.logic_op not in LOGIC_OPS:
        return "logic_op", f"must be one of {', '.join(LOGIC_OPS)}; got {rule.logic_op!r}"
    if rule.operator not in NO_VALUE_OPERATORS and (rule.value is None or rule.value == ""):
        return "value", f"is required for operator {rule.operator!r}"
    if rule.operator in NUMERIC_OPERATORS and as_number(rule.value) is None:
        return "value", f"operator {rule.operator!r} needs a numeric value; got {rule.value!r}"
    if rule.rule_type == "event_metadata" and not rule.event_type:
        return "event_type", "is required for rule_type 'event_metadata'"
    if rule.rule_type != "score" and not rule.field_name:
        return "field_name", "is required"
    if rule.within_days is not None and rule.within_days < 1:
        return "within_days", "must be at least 1"
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class EventFacts:
    event_type: str
    occurred_at: datetime
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What membership reads about one lead. `attributes` holds score (primary), level (name or None),
    fit_score, fit_level (name or None), email, ...; `scores` every ruleset's score by id; `account` the account's
    columns (domain, name, fit_score; None values left out) and `account_profile` its metadata (both None without
    an account); `events` the lead's events (those of the event types the rules read are enough); `as_of` the
    clock `within_days` counts back from."""

    profile: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    scores: Mapping[str, int] = field(default_factory=dict)
    account: Mapping[str, Any] | None = None
    account_profile: Mapping[str, Any] | None = None
    events: Sequence[EventFacts] = ()
    as_of: datetime | None = None


def _lookup(source: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    if source is None or key not in source:
        return {}
    return {_KEY: source[key]}


def subject_of(rule: SegmentRule, facts: LeadFacts) -> dict[str, Any]:
    """{"value": what the rule tests} or {} when the lead has no such value (not for event_metadata)."""
    kind = rule.rule_type
    if kind == "lead_metadata":
        return _lookup(facts.profile, rule.field_name)
    if kind == "score":
        if rule.field_name in PRIMARY_SCORE_FIELDS:
            return {_KEY: int(facts.attributes.get("score") or 0)}
        return {_KEY: int(facts.scores.get(rule.field_name, 0))}
    if kind in ("level", "fit_level"):
        name = facts.attributes.get(kind)
        return {} if name is None else {_KEY: name}
    if kind == "account":
        if facts.account is None:
            return {}
        if rule.field_name in ACCOUNT_COLUMNS:
            return _lookup(facts.account, rule.field_name)
        return _lookup(facts.account_profile, rule.field_name)
    raise ValueError(f"no subject for rule_type {kind!r}")


def rule_holds(rule: SegmentRule, facts: LeadFacts) -> bool:
    condition = rule.condition
    if rule.rule_type == "event_metadata":
        since = None
        if rule.within_days is not None:
            if facts.as_of is None:
                raise ValueError("facts.as_of is required for a rule with within_days")
            since = facts.as_of - timedelta(days=rule.within_days)
        return any(
            e.event_type == rule.event_type
            and (since is None or e.occurred_at >= since)
            and event_matches(rule, e.metadata)
            for e in facts.events
        )
    return condition_holds(condition, subject_of(rule, facts), fold_case=True)


def event_matches(rule: SegmentRule, metadata: Mapping[str, Any] | None) -> bool:
    """Whether one event's metadata satisfies an event_metadata rule's condition (its type and window aside)."""
    return condition_holds(rule.condition, _lookup(metadata, rule.field_name), fold_case=True)


def grouped(rules: Iterable[SegmentRule]) -> list[list[SegmentRule]]:
    """The active rules by logic_group (groups in ascending order), each in (order_index, id) order."""
    groups: dict[int, list[SegmentRule]] = {}
    for rule in rules:
        if rule.active:
            groups.setdefault(rule.logic_group, []).append(rule)
    return [sorted(groups[g], key=lambda r: (r.order_index, r.id)) for g in sorted(groups)]


def matches(rules: Iterable[SegmentRule], facts: LeadFacts) -> bool:
    """Is the lead a member? (see the module's docstring for how rules combine)"""
    for group in grouped(rules):
        acc = rule_holds(group[0], facts)
        for rule in group[1:]:
            acc = (acc or rule_holds(rule, facts)) if rule.logic_op == "OR" else (acc and rule_holds(rule, facts))
        if not acc:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Filter:
    """A trigger's filter: a condition on one profile field or one lead attribute."""

    field_name: str
    operator: str
    value: str | None = None

    @property
    def condition(self) -> Condition:
        return Condition(_KEY, self.operator, "" if self.value is None else self.value)


def filter_problem(item: Any, *, attributes: bool) -> tuple[str, str] | None:
    """(field, message) of what is wrong with one filter given as a mapping, or None."""
    if not isinstance(item, Mapping):
        return "", "must be an object {field_name, operator, value}"
    unknown = set(item) - {"field_name", "operator", "value"}
    if unknown:
        return sorted(unknown)[0], "unknown field"
    name, op, value = item.get("field_name"), item.get("operator"), item.get("value")
    if not isinstance(name, str) or not name.strip():
        return "field_name", "is required"
    if attributes and name.strip() not in LEAD_ATTRIBUTES:
        return "field_name", f"must be one of {', '.join(LEAD_ATTRIBUTES)}; got {name!r}"
    if op not in CONDITION_OPERATORS:
        return "operator", f"must be one of {', '.join(CONDITION_OPERATORS)}; got {op!r}"
    if (value is not None and not isinstance(value, str | int | float)) or isinstance(value, bool):
        return "value", "must be a string"
    text = None if value is None else str(value).strip()
    if op not in NO_VALUE_OPERATORS and not text:
        return "value", f"is required for operator {op!r}"
    if op in NUMERIC_OPERATORS and as_number(text) is None:
        return "value", f"operator {op!r} needs a numeric value; got {value!r}"
    return None


def filters_pass(profile_filters: Iterable[Filter], attribute_filters: Iterable[Filter], facts: LeadFacts) -> bool:
    """Every profile filter holds on the lead's profile and every attribute filter on its attributes (a missing
    attribute, e.g. no level, has no value)."""
    attributes = {k: v for k, v in facts.attributes.items() if v is not None}
    return all(
        condition_holds(f.condition, _lookup(facts.profile, f.field_name), fold_case=True) for f in profile_filters
    ) and all(
        condition_holds(f.condition, _lookup(attributes, f.field_name), fold_case=True) for f in attribute_filters
    )
