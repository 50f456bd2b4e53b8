"""A unit's whole scoring configuration as one immutable value: the ScoringModel.

Rulesets and rules, engagement levels, decay rules, scoring settings, field mappings, fit rulesets, rules and
levels, inorganic (bot) filters, event-type processing scopes and the surge policy. Scoring, replay, what-if and
verification all read one of these; which ruleset is primary is decided here and nowhere else. A model round-trips
through a plain JSON document (what a published version stores), and two models diff field by field (what the
version history shows).

Pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from core import levels as core_levels
from core import scoring
from core.fit import FitBook, FitRulesetSpec, FitRuleSpec
from core.profile import MappingSpec
from core.quarantine import DEFAULT_SCOPE, EventTypeScope, FilterSpec
from core.surge import SurgeSpec

DOCUMENT_SCHEMA = 1


@dataclass(frozen=True, slots=True)
class RulesetSpec:
    id: str
    name: str
    score_column: str = "total_score"
    is_primary: bool = False


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    ruleset_id: str
    event_type: str
    weight: int
    icon: str | None = None
    active: bool = True
    start_at: datetime | None = None
    end_at: datetime | None = None
    conditions: tuple[Mapping[str, Any], ...] = ()

    def to_rule(self) -> scoring.Rule:
        return scoring.Rule(
            id=self.id,
            ruleset_id=self.ruleset_id,
            event_type=self.event_type,
            weight=self.weight,
            active=self.active,
            start_at=self.start_at,
            end_at=self.end_at,
            conditions=tuple(scoring.Condition(c["property"], c["operator"], c.get("value")) for c in self.conditions),
        )


@dataclass(frozen=True, slots=True)
class LevelSpec:
    id: str
    name: str
    min_score: int
    max_score: int


@dataclass(frozen=True, slots=True)
class DecaySpec:
    id: str
    inactive_for: int
    unit: str
    decrease: int


@dataclass(frozen=True, slots=True)
class FitLevelSpec:
    id: str
    kind: str  # profile | account
    name: str
    min_score: int
    max_score: int


@dataclass(frozen=True, slots=True)
class SettingsSpec:
    allow_negative_scores: bool = False
    abm_enabled: bool = False
    session_timeout_minutes: int = 30
    bot_filter_enabled: bool = False


@dataclass(frozen=True)
class ScoringModel:
    """Everything that decides a unit's scores, as one value. Build it with `ScoringModel.build` (ordering is
    normalised there so equal configurations compare equal)."""

    rulesets: tuple[RulesetSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    levels: tuple[LevelSpec, ...] = ()
    decay_rules: tuple[DecaySpec, ...] = ()
    settings: SettingsSpec = field(default_factory=SettingsSpec)
    mappings: tuple[MappingSpec, ...] = ()
    fit_rulesets: tuple[FitRulesetSpec, ...] = ()
    fit_rules: tuple[FitRuleSpec, ...] = ()
    fit_levels: tuple[FitLevelSpec, ...] = ()
    filters: tuple[FilterSpec, ...] = ()
    event_type_scopes: tuple[EventTypeScope, ...] = ()  # types not at DEFAULT_SCOPE
    surge: SurgeSpec = field(default_factory=SurgeSpec)

    @classmethod
    def build(
        cls,
        *,
        rulesets: Iterable[RulesetSpec] = (),
        rules: Iterable[RuleSpec] = (),
        levels: Iterable[LevelSpec] = (),
        decay_rules: Iterable[DecaySpec] = (),
        settings: SettingsSpec | None = None,
        mappings: Iterable[MappingSpec] = (),
        fit_rulesets: Iterable[FitRulesetSpec] = (),
        fit_rules: Iterable[FitRuleSpec] = (),
        fit_levels: Iterable[FitLevelSpec] = (),
        filters: Iterable[FilterSpec] = (),
        event_type_scopes: Iterable[EventTypeScope] = (),
        surge: SurgeSpec | None = None,
    ) -> ScoringModel:
        """Rulesets (engagement and fit) keep the order given (their creation order); everything else is sorted
        by a stable key so the same configuration always makes the same model and document."""
        return cls(
            rulesets=tuple(rulesets),
            rules=tuple(sorted(rules, key=lambda r: (r.ruleset_id, r.id))),
            levels=tuple(sorted(levels, key=lambda lv: (lv.min_score, lv.id))),
            decay_rules=tuple(sorted(decay_rules, key=lambda d: d.id)),
            settings=settings or SettingsSpec(),
            mappings=tuple(sorted(mappings, key=lambda m: (m.kind, m.id))),
            fit_rulesets=tuple(fit_rulesets),
            fit_rules=tuple(sorted(fit_rules, key=lambda r: (r.ruleset_id, r.id))),
            fit_levels=tuple(sorted(fit_levels, key=lambda lv: (lv.kind, lv.min_score, lv.id))),
            filters=tuple(sorted(filters, key=lambda f: f.id)),
            event_type_scopes=tuple(sorted((s for s in event_type_scopes if s.scope != DEFAULT_SCOPE),
                                           key=lambda s: s.id)),
            surge=surge or SurgeSpec(),
        )

    # --- what scoring reads -----------------------------------------------------------------------------------

    @cached_property
    def ruleset_ids(self) -> tuple[str, ...]:
        return tuple(rs.id for rs in self.rulesets)

    @cached_property
    def primary_ruleset_id(self) -> str | None:
        """The ruleset flagged primary; without a flag, the first ruleset (the only place this is decided)."""
        return next((rs.id for rs in self.rulesets if rs.is_primary), self.ruleset_ids[0] if self.rulesets else None)

    @cached_property
    def book(self) -> scoring.RuleBook:
        return scoring.RuleBook(self.ruleset_ids, (r.to_rule() for r in self.rules))

    @cached_property
    def policy(self) -> scoring.ScoringPolicy:
        return scoring.ScoringPolicy(allow_negative_scores=self.settings.allow_negative_scores)

    def scores_same_as(self, other: ScoringModel) -> bool:
        """True when both models give every event the same deltas and explanations, so stored scores stay valid
        (levels, decay rules, names and other settings do not move a stored score)."""
        return (
            self.ruleset_ids == other.ruleset_ids
            and self.primary_ruleset_id == other.primary_ruleset_id
            and self.policy == other.policy
            and {r.id: r.to_rule() for r in self.rules} == {r.id: r.to_rule() for r in other.rules}
            and self.adjustment_key == other.adjustment_key
        )

    @cached_property
    def adjusts_events(self) -> bool:
        """Whether filters, scopes, the bot switch or surge hold back or boost any event (else replay skips them)."""
        return bool(
            self.filters
            or any(s.scope == "observe" for s in self.event_type_scopes)
            or self.settings.bot_filter_enabled
            or self.surge.active
        )

    @cached_property
    def adjustment_key(self) -> tuple[Any, ...]:
        """Everything that decides which events are held back or boosted (equal keys: equal adjustments)."""
        surge = (
            (self.surge.bands, self.surge.timeout_us(self.settings.session_timeout_minutes),
             self.surge.multiplier_cap)
            if self.surge.active
            else None
        )
        return (
            tuple((f.event_type, f.count_threshold, f.time_window_ms, f.group_events, f.id) for f in self.filters),
            tuple(s.id for s in self.event_type_scopes if s.scope == "observe"),
            self.settings.bot_filter_enabled,
            surge,
        )

    def scope_of(self, event_type: str) -> str:
        """The processing scope of an event type: observe, decide or activate (the default)."""
        return next((s.scope for s in self.event_type_scopes if s.id == event_type), DEFAULT_SCOPE)

    # --- fit: profiles (kind "profile") and accounts (kind "account") --------------------------------------------

    @cached_property
    def profile_fit(self) -> FitBook:
        return self._fit_book("profile")

    @cached_property
    def account_fit(self) -> FitBook:
        return self._fit_book("account")

    def fit_book(self, kind: str) -> FitBook:
        return self.profile_fit if kind == "profile" else self.account_fit

    def _fit_book(self, kind: str) -> FitBook:
        rulesets = [rs for rs in self.fit_rulesets if rs.kind == kind]
        ids = {rs.id for rs in rulesets}
        return FitBook(rulesets, (r for r in self.fit_rules if r.ruleset_id in ids))

    def mappings_for(self, kind: str) -> tuple[MappingSpec, ...]:
        return tuple(m for m in self.mappings if m.kind == kind)

    def fit_levels_for(self, kind: str) -> list[core_levels.Level]:
        """The fit levels of one kind as core levels, lowest band first."""
        return [
            core_levels.Level(lv.id, lv.name, lv.min_score, lv.max_score) for lv in self.fit_levels if lv.kind == kind
        ]

    def fit_same_as(self, other: ScoringModel, kind: str) -> bool:
        """True when both models give every profile of `kind` the same fit (levels and names do not count)."""
        mine, theirs = self.fit_book(kind), other.fit_book(kind)
        return (
            mine.primary_ruleset_id == theirs.primary_ruleset_id
            and [(rs.id, rs.enabled) for rs in mine.rulesets] == [(rs.id, rs.enabled) for rs in theirs.rulesets]
            and {r.id: (r.ruleset_id, r.property, r.condition, r.comparison_value, r.weight)
                 for r in self.fit_rules if r.ruleset_id in {rs.id for rs in mine.rulesets}}
            == {r.id: (r.ruleset_id, r.property, r.condition, r.comparison_value, r.weight)
                for r in other.fit_rules if r.ruleset_id in {rs.id for rs in theirs.rulesets}}
        )

    def ruleset(self, ruleset_id: str) -> RulesetSpec | None:
        return next((rs for rs in self.rulesets if rs.id == ruleset_id), None)

    def rule(self, rule_id: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    # --- the published document -------------------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        return {
            "schema": DOCUMENT_SCHEMA,
            "rulesets": [_plain(rs) for rs in self.rulesets],
            "rules": [_plain(r) for r in self.rules],
            "levels": [_plain(lv) for lv in self.levels],
            "decay_rules": [_plain(d) for d in self.decay_rules],
            "settings": _plain(self.settings),
            "mappings": [_plain(m) for m in self.mappings],
            "fit_rulesets": [_plain(rs) for rs in self.fit_rulesets],
            "fit_rules": [_plain(r) for r in self.fit_rules],
            "fit_levels": [_plain(lv) for lv in self.fit_levels],
            "filters": [_plain(f) for f in self.filters],
            "event_type_scopes": [_plain(sc) for sc in self.event_type_scopes],
            "surge": self.surge.to_document(),
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ScoringModel:
        schema = document.get("schema", DOCUMENT_SCHEMA)
        if schema != DOCUMENT_SCHEMA:
            raise ValueError(f"unknown scoring model document schema {schema!r}")
        return cls.build(
            rulesets=(RulesetSpec(**rs) for rs in document.get("rulesets", ())),
            rules=(
                RuleSpec(
                    **{
                        **r,
                        "start_at": _parse_time(r.get("start_at")),
                        "end_at": _parse_time(r.get("end_at")),
                        "conditions": tuple(dict(c) for c in r.get("conditions") or ()),
                    }
                )
                for r in document.get("rules", ())
            ),
            levels=(LevelSpec(**lv) for lv in document.get("levels", ())),
            decay_rules=(DecaySpec(**d) for d in document.get("decay_rules", ())),
            settings=SettingsSpec(**document.get("settings", {})),
            # Versions published before fit existed have none of these parts.
            mappings=(MappingSpec(**m) for m in document.get("mappings", ())),
            fit_rulesets=(FitRulesetSpec(**rs) for rs in document.get("fit_rulesets", ())),
            fit_rules=(FitRuleSpec(**r) for r in document.get("fit_rules", ())),
            fit_levels=(FitLevelSpec(**lv) for lv in document.get("fit_levels", ())),
            # Versions published before targeting existed have none of these.
            filters=(FilterSpec(**f) for f in document.get("filters", ())),
            event_type_scopes=(EventTypeScope(**sc) for sc in document.get("event_type_scopes", ())),
            surge=SurgeSpec.from_document(document.get("surge")),
        )


# --- diff ------------------------------------------------------------------------------------------------------

# The model's parts made of items with ids, and their label in a summary. `diff` reports each as added, removed and
# changed items; the single-value parts (FIELD_PARTS: settings, surge) as changed fields.
ITEM_PARTS: tuple[tuple[str, str], ...] = (
    ("rulesets", "ruleset"), ("rules", "rule"), ("levels", "level"), ("decay_rules", "decay rule"),
    ("mappings", "field mapping"), ("fit_rulesets", "fit ruleset"), ("fit_rules", "fit rule"),
    ("fit_levels", "fit level"), ("filters", "filter"), ("event_type_scopes", "event type"),
)
FIELD_PARTS: tuple[str, ...] = ("settings", "surge")


def diff(old: ScoringModel, new: ScoringModel) -> dict[str, Any]:
    """What changed from `old` to `new`: per item part (ITEM_PARTS) the items added and removed (as documents) and
    changed (`{id, changes: {field: {before, after}}}`); per field part (FIELD_PARTS) `{field: {before, after}}`."""
    old_doc, new_doc = old.to_document(), new.to_document()
    result: dict[str, Any] = {}
    for part, _label in ITEM_PARTS:
        before = {item["id"]: item for item in old_doc[part]}
        after = {item["id"]: item for item in new_doc[part]}
        changed = []
        for item_id in [i for i in after if i in before]:
            changes = _field_changes(before[item_id], after[item_id])
            if changes:
                changed.append({"id": item_id, "changes": changes})
        result[part] = {
            "added": [after[i] for i in after if i not in before],
            "removed": [before[i] for i in before if i not in after],
            "changed": changed,
        }
    for part in FIELD_PARTS:
        result[part] = _field_changes(old_doc[part], new_doc[part])
    return result


def is_empty(changes: Mapping[str, Any]) -> bool:
    return not any(changes.get(part) for part in FIELD_PARTS) and all(
        not any(changes.get(part, {}).get(k) for k in ("added", "removed", "changed")) for part, _ in ITEM_PARTS
    )


def summarize(old: ScoringModel, new: ScoringModel, limit: int = 4) -> str:
    """One line for the version history, e.g. "rule demo_request: weight 10 → 20; level Hot added"."""
    changes = diff(old, new)
    names = {r.id: r.event_type for r in (*old.rules, *new.rules)}
    names.update({rs.id: rs.name for rs in (*old.rulesets, *new.rulesets)})
    names.update({lv.id: lv.name for lv in (*old.levels, *new.levels)})
    names.update({d.id: f"{d.decrease} after {d.inactive_for} {d.unit}" for d in (*old.decay_rules, *new.decay_rules)})
    names.update({m.id: f"{m.source_field} → {m.kind}.{m.property}" for m in (*old.mappings, *new.mappings)})
    names.update({rs.id: f"{rs.kind} {rs.name}" for rs in (*old.fit_rulesets, *new.fit_rulesets)})
    names.update({
        r.id: f"{r.property} {r.condition} {r.comparison_value}".strip() for r in (*old.fit_rules, *new.fit_rules)
    })
    names.update({lv.id: f"{lv.kind} {lv.name}" for lv in (*old.fit_levels, *new.fit_levels)})
    names.update({
        f.id: f"{f.count_threshold}x {f.event_type} in {f.time_window_ms} ms" for f in (*old.filters, *new.filters)
    })
    lines: list[str] = []
    for part, label in ITEM_PARTS:
        entry = changes[part]
        for item in entry["added"]:
            lines.append(f"{label} {names.get(item['id'], item['id'])} added")
        for item in entry["removed"]:
            lines.append(f"{label} {names.get(item['id'], item['id'])} removed")
        for item in entry["changed"]:
            shown = ", ".join(
                f"{name} {_short(c['before'])} → {_short(c['after'])}" for name, c in item["changes"].items()
            )
            lines.append(f"{label} {names.get(item['id'], item['id'])}: {shown}")
    for name, c in changes["settings"].items():
        lines.append(f"{name} {_short(c['before'])} → {_short(c['after'])}")
    for name, c in changes["surge"].items():
        lines.append(f"surge {name} {_short(c['before'])} → {_short(c['after'])}")
    if not lines:
        return "no changes"
    more = len(lines) - limit
    return "; ".join(lines[:limit]) + (f"; and {more} more" if more > 0 else "")


def _field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in dict.fromkeys([*before, *after])
        if name != "id" and before.get(name) != after.get(name)
    }


def _short(value: Any) -> str:
    text = "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(spec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(spec):
        value = getattr(spec, f.name)
        if isinstance(value, datetime):
            value = _format_time(value)
        elif isinstance(value, tuple):
            value = [dict(v) if isinstance(v, Mapping) else v for v in value]
        out[f.name] = value
    return out


def _format_time(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

