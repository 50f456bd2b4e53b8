"""Engagement scoring: which rules an event matches, its delta per ruleset, and how scores fold.

Pure: rules, events and policy come in as plain values; nothing here reads a clock or a database.
A stored score is a cache of `replay` over the event log in ingestion order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DECAY_EVENT_TYPE = "DECAY"
NO_SURGE = 1000  # a surge multiplier of 1.0, in thousandths (core.surge)

CONDITION_OPERATORS: tuple[str, ...] = (
    "equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with",
    "gt", "gte", "lt", "lte", "exists", "not_exists", "in", "not_in",
)
_NUMERIC_OPERATORS = {"gt", "gte", "lt", "lte"}


@dataclass(frozen=True, slots=True)
class Condition:
    """A test on one event property, e.g. Condition("page", "equals", "/pricing")."""

    property: str
    operator: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.operator not in CONDITION_OPERATORS:
            raise ValueError(f"unknown operator {self.operator!r}; expected one of {', '.join(CONDITION_OPERATORS)}")
        if not self.property:
            raise ValueError("condition property must not be empty")
        if self.operator in _NUMERIC_OPERATORS and _as_number(self.value) is None:
            raise ValueError(f"operator {self.operator!r} needs a numeric value, got {self.value!r}")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    ruleset_id: str
    event_type: str
    weight: int
    active: bool = True
    start_at: datetime | None = None
    end_at: datetime | None = None
    conditions: tuple[Condition, ...] = ()

    def in_window(self, occurred_at: datetime) -> bool:
        """Rule windows are half-open: start_at <= occurred_at < end_at."""
        if self.start_at is not None and occurred_at < self.start_at:
            return False
        return not (self.end_at is not None and occurred_at >= self.end_at)

    def matches(self, event: EventFacts) -> bool:
        return (
            self.active
            and self.event_type == event.event_type
            and self.in_window(event.occurred_at)
            and all(condition_holds(c, event.properties) for c in self.conditions)
        )


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What scoring needs to know about one event."""

    event_type: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoringPolicy:
    allow_negative_scores: bool = False

    def apply(self, before: int, delta: int) -> int:
        after = before + delta
        return after if self.allow_negative_scores else max(0, after)


@dataclass(frozen=True, slots=True)
class RulesetDelta:
    delta: int
    matched: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class RulesetOutcome:
    """One event's effect on one ruleset: its delta, the rules behind it, and the scores it moved."""

    delta: int
    matched: tuple[Rule, ...]
    lead_before: int | None = None
    lead_after: int | None = None
    account_before: int | None = None
    account_after: int | None = None
    # Surge (core.surge): the multiplier in thousandths and what it added to the delta (included in `delta`).
    surge_milli: int = 1000
    surge_boost: int = 0

    def as_explanation(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "delta": self.delta,
            "before": self.lead_before,
            "after": self.lead_after,
            "account_before": self.account_before,
            "account_after": self.account_after,
            "rules": [{"rule_id": r.id, "event_type": r.event_type, "weight": r.weight} for r in self.matched],
        }
        if self.surge_boost:
            shown["surge_multiplier"] = self.surge_milli / 1000
            shown["surge_boost"] = self.surge_boost
        return shown


class RuleBook:
    """Rules of a unit indexed by event type, so matching an event costs a dict lookup."""

    def __init__(self, ruleset_ids: Iterable[str], rules: Iterable[Rule]) -> None:
        self.ruleset_ids: tuple[str, ...] = tuple(ruleset_ids)
        self._by_type: dict[str, list[Rule]] = {}
        known = set(self.ruleset_ids)
        for rule in rules:
            if rule.active and rule.ruleset_id in known:
                self._by_type.setdefault(rule.event_type, []).append(rule)

    def rules_for(self, event_type: str) -> tuple[Rule, ...]:
        """The active rules of known rulesets that can match `event_type`, in matching order."""
        return tuple(self._by_type.get(event_type, ()))

    def deltas(self, event: EventFacts) -> dict[str, RulesetDelta]:
        """Delta per ruleset: the sum of the weights of the matching active rules."""
        if event.event_type == DECAY_EVENT_TYPE:
            drop = -abs(int(_as_number(event.properties.get("decrease")) or 0))
            return {rs: RulesetDelta(drop, ()) for rs in self.ruleset_ids}
        matched: dict[str, list[Rule]] = {}
        for rule in self._by_type.get(event.event_type, ()):
            if rule.matches(event):
                matched.setdefault(rule.ruleset_id, []).append(rule)
        return {
            rs: RulesetDelta(sum(r.weight for r in matched.get(rs, ())), tuple(matched.get(rs, ())))
            for rs in self.ruleset_ids
        }


class Scoreboard:
    """Running lead and account scores per ruleset; applying an event folds its deltas in.

    Ingest seeds it with the stored scores of the leads and accounts a batch touches; replay
    starts it empty. Both therefore share one definition of how a score moves.
    """

    def __init__(
        self,
        book: RuleBook,
        policy: ScoringPolicy,
        lead_scores: Mapping[str, Mapping[str, int]] | None = None,
        account_scores: Mapping[str, Mapping[str, int]] | None = None,
    ) -> None:
        self.book = book
        self.policy = policy
        self.leads: dict[str, dict[str, int]] = {k: dict(v) for k, v in (lead_scores or {}).items()}
        self.accounts: dict[str, dict[str, int]] = {k: dict(v) for k, v in (account_scores or {}).items()}

    def apply(
        self,
        event: EventFacts,
        lead_id: str | None,
        account_id: str | None,
        *,
        held: bool = False,
        surge_milli: int = NO_SURGE,
    ) -> dict[str, RulesetOutcome]:
        """Fold one event in. A `held` event (quarantined, or of an observed-only type) scores nothing and matches
        no rule; otherwise positive deltas are boosted by the surge multiplier `surge_milli` (core.surge)."""
        lead = self.leads.setdefault(lead_id, {}) if lead_id is not None else None
        account = self.accounts.setdefault(account_id, {}) if account_id is not None else None
        outcomes: dict[str, RulesetOutcome] = {}
        deltas = {rs: RulesetDelta(0, ()) for rs in self.book.ruleset_ids} if held else self.book.deltas(event)
        for rs, d in deltas.items():
            boost = boost_of(d.delta, surge_milli)
            delta = d.delta + boost
            lb = la = ab = aa = None
            if lead is not None:
                lb = lead.get(rs, 0)
                la = lead[rs] = self.policy.apply(lb, delta)
            if account is not None:
                ab = account.get(rs, 0)
                aa = account[rs] = self.policy.apply(ab, delta)
            outcomes[rs] = RulesetOutcome(delta, d.matched, lb, la, ab, aa, surge_milli if boost else NO_SURGE, boost)
        return outcomes


def boost_of(delta: int, surge_milli: int) -> int:
    """What a surge multiplier of `surge_milli` thousandths adds to `delta`: floor(d * (m - 1)) for d > 0."""
    if delta <= 0 or surge_milli <= NO_SURGE:
        return 0
    return (delta * (surge_milli - NO_SURGE)) // 1000


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event of the log as replay sees it; `seq` is the ingestion order."""

    seq: int
    lead_id: str | None
    account_id: str | None
    facts: EventFacts
    held: bool = False  # quarantined or observed only: scores nothing (core.quarantine)
    surge_milli: int = 1000  # core.surge


@dataclass
class Replay:
    outcomes: dict[int, dict[str, RulesetOutcome]]
    lead_scores: dict[str, dict[str, int]]
    account_scores: dict[str, dict[str, int]]


def replay(book: RuleBook, policy: ScoringPolicy, events: Iterable[LoggedEvent]) -> Replay:
    """Rebuild every score from the event log: the function stored scores must equal."""
    board = Scoreboard(book, policy)
    outcomes = {
        ev.seq: board.apply(ev.facts, ev.lead_id, ev.account_id, held=ev.held, surge_milli=ev.surge_milli)
        for ev in sorted(events, key=lambda e: e.seq)
    }
    return Replay(outcomes, board.leads, board.accounts)


def condition_holds(condition: Condition, properties: Mapping[str, Any], *, fold_case: bool = False) -> bool:
    """Whether `properties` satisfy `condition`. `in`/`not_in` take a list or a comma-separated text; with
    `fold_case` equality is case-insensitive too (fit rules); substring tests always are."""
    present = condition.property in properties
    actual = properties.get(condition.property)
    op = condition.operator
    if op == "exists":
        return present and actual is not None
    if op == "not_exists":
        return not present or actual is None
    if not present:
        return op in ("not_equals", "not_contains", "not_in")
    if op in _NUMERIC_OPERATORS:
        a, b = _as_number(actual), _as_number(condition.value)
        if a is None or b is None:
            return False
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    if op == "equals":
        return _equal(actual, condition.value, fold_case)
    if op == "not_equals":
        return not _equal(actual, condition.value, fold_case)
    if op in ("in", "not_in"):
        options = condition.value if isinstance(condition.value, list | tuple) else str(condition.value).split(",")
        found = any(_equal(actual, o.strip() if isinstance(o, str) else o, fold_case) for o in options)
        return found if op == "in" else not found
    text, wanted = _as_text(actual).casefold(), _as_text(condition.value).casefold()
    if op == "contains":
        return wanted in text
    if op == "not_contains":
        return wanted not in text
    if op == "ends_with":
        return text.endswith(wanted)
    return text.startswith(wanted)  # starts_with


def _equal(actual: Any, expected: Any, fold_case: bool = False) -> bool:
    a, b = _as_number(actual), _as_number(expected)
    if a is not None and b is not None and not isinstance(actual, bool) and not isinstance(expected, bool):
        return a == b
    if fold_case:
        return _as_text(actual).casefold() == _as_text(expected).casefold()
    return _as_text(actual) == _as_text(expected)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
