"""Fit: how well a lead's profile (or an account's) matches the ideal customer, as a sum of rule weights.

A fit ruleset holds rules such as "title contains VP: +20" or "employees gte 200: +15". A profile's fit score in
a ruleset is the sum of the weights of its matching rules; its fit score is that of the primary enabled ruleset.
Conditions are those of engagement rules (core.scoring.condition_holds) with case-insensitive text comparison.

Pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from core import scoring

_MAX_REMEMBERED = 50_000  # property values remembered per property


@dataclass(frozen=True, slots=True)
class FitRulesetSpec:
    id: str
    kind: str  # profile | account
    name: str
    enabled: bool = True
    is_primary: bool = False


@dataclass(frozen=True, slots=True)
class FitRuleSpec:
    id: str
    ruleset_id: str
    property: str
    condition: str
    comparison_value: str
    weight: int
    ui_order: int = 0

    def to_condition(self) -> scoring.Condition:
        return scoring.Condition(self.property, self.condition, self.comparison_value)

    def matches(self, profile: Mapping[str, Any]) -> bool:
        return scoring.condition_holds(self.to_condition(), profile, fold_case=True)


@dataclass(frozen=True, slots=True)
class Fit:
    """A profile's fit: the primary ruleset's score (0 without one) and the score of every enabled ruleset."""

    score: int
    scores: Mapping[str, int]


class FitBook:
    """The fit rulesets and rules of one kind (profile or account), ready to score profiles."""

    def __init__(self, rulesets: Iterable[FitRulesetSpec], rules: Iterable[FitRuleSpec]) -> None:
        self.rulesets = tuple(rulesets)
        enabled = {rs.id for rs in self.rulesets if rs.enabled}
        # Conditions are built once here: scoring 100,000 profiles must not rebuild them per profile.
        by_ruleset: dict[str, list[tuple[FitRuleSpec, scoring.Condition]]] = {rs_id: [] for rs_id in enabled}
        for rule in sorted(rules, key=lambda r: (r.ui_order, r.id)):
            if rule.ruleset_id in by_ruleset:
                by_ruleset[rule.ruleset_id].append((rule, rule.to_condition()))
        self._rules = by_ruleset
        # A condition reads one property, so the rules on one property give points that depend only on that
        # property's value (or its absence): remembered per property, a profile costs one dict lookup per property
        # the rules read, and profiles that share a title or a country share the work.
        self._by_property: dict[str, list[tuple[str, int, scoring.Condition]]] = {}
        for rs_id, entries in by_ruleset.items():
            for rule, cond in entries:
                self._by_property.setdefault(cond.property, []).append((rs_id, rule.weight, cond))
        self._points: dict[str, dict[tuple[Any, ...], tuple[tuple[str, int], ...]]] = {
            prop: {} for prop in self._by_property
        }

    @cached_property
    def primary_ruleset_id(self) -> str | None:
        """The enabled ruleset flagged primary; without one, the first enabled ruleset."""
        enabled = [rs for rs in self.rulesets if rs.enabled]
        return next((rs.id for rs in enabled if rs.is_primary), enabled[0].id if enabled else None)

    @property
    def is_empty(self) -> bool:
        return not any(self._rules.values())

    def fit(self, profile: Mapping[str, Any]) -> Fit:
        scores = dict.fromkeys(self._rules, 0)
        for prop in self._by_property:
            for rs_id, weight in self._points_of(prop, profile):
                scores[rs_id] += weight
        primary = self.primary_ruleset_id
        return Fit(scores.get(primary, 0) if primary else 0, scores)

    def matched(self, profile: Mapping[str, Any], ruleset_id: str | None = None) -> list[FitRuleSpec]:
        """The rules of a ruleset (the primary by default) that the profile matches: the fit's reasons."""
        rs_id = ruleset_id or self.primary_ruleset_id
        return [
            rule for rule, cond in self._rules.get(rs_id or "", [])
            if scoring.condition_holds(cond, profile, fold_case=True)
        ]

    def _points_of(self, prop: str, profile: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
        """(ruleset, weight) of the rules on `prop` that hold for this profile (core.scoring.condition_holds,
        case-insensitive), remembered by the property's value."""
        if prop in profile:
            value = profile[prop]
            key: tuple[Any, ...] = (type(value), value)  # the type too: 1, 1.0 and True are equal keys
        else:
            key = ()
        remembered = self._points[prop]
        try:
            return remembered[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (a list, an object): nothing to remember it by
            return self._evaluate(prop, profile)
        points = self._evaluate(prop, profile)
        if len(remembered) >= _MAX_REMEMBERED:
            remembered.clear()  # mostly distinct values (e.g. emails): keep memory bounded
        remembered[key] = points
        return points

    def _evaluate(self, prop: str, profile: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
        return tuple(
            (rs_id, weight) for rs_id, weight, cond in self._by_property[prop]
            if scoring.condition_holds(cond, profile, fold_case=True)
        )
