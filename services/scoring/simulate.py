"""What-if before publishing: apply a draft of changes to the scoring model, replay the unit's events under the
live model and under the draft, and say who would move (levels, distribution, top movers, milestone firings),
without writing anything. `publish_draft` then publishes the same draft as one version.

A draft is a plain mapping, every part optional:

    {"rules": {"add": [rule bodies as for POST /v1/rules],
               "update": [{"rule_id": ..., fields to change}],
               "remove": [rule_id, ...]},
     "levels": [the full engagement level list: {name, min_score, max_score, id?}],
     "profile_rules": {"add": [fit rule bodies as for POST /v1/profile/rulesets/{id}/rules, plus ruleset_id],
                       "update": [{"rule_id": ..., fields to change}],
                       "remove": [rule_id, ...]},
     "account_rules": the same for account rules (`account_property`),
     "profile_levels": [the full profile (fit) level list], "account_levels": [the full account level list],
     "filters": {"add": [filter bodies as for POST /v1/filters/inorganic],
                 "update": [{"filter_id": ..., fields to change}], "remove": [filter_id, ...]},
     "event_types": [{"event_type": ..., "max_processing_scope": "observe" | "decide" | "activate"}],
     "bot_filter_enabled": true | false,
     "surge_policy": {"mode", "bands": [{"min_events", "multiplier"}], "idle_reset_seconds", "multiplier_cap"}}

Each part is applied by one function of `_APPLIERS` (a later part, e.g. a surge policy, is one more entry).
Problems raise InvalidInput naming the path, e.g. "changes.rules.add[0].weight".

Fit (profile and account) is compared too: it is a function of the stored profiles and the fit rules, so no log is
replayed for it; `simulate_fit` scores every stored profile under the published model and under the draft.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import levels as core_levels
from core import replay as vector
from core.fit import FitRuleSpec
from core.model import FitLevelSpec, LevelSpec, RuleSpec, ScoringModel
from core.profile import PROFILE_KINDS
from core.quarantine import DEFAULT_SCOPE, EventTypeScope, FilterSpec
from core.scoring import DECAY_EVENT_TYPE
from core.triggers import Milestone
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import InvalidInput
from services.people.owner_scores import require_abm
from services.scoring.filters import FILTER_FIELDS, check_filter, check_scope
from services.scoring.fit_config import validate_fit_rule
from services.scoring.levels import LEVEL_NAME_MAX
from services.scoring.model import begin_change, live_model, published_model, write_tables
from services.scoring.publish import Published, publish
from services.scoring.rescore import load_event_columns
from services.scoring.rules import RuleValues, check_event_type, validate_rule
from services.scoring.surge_policy import check_surge_policy
from services.tenancy import audit, policy
from services.tenancy.policy import Action
from services.triggers.triggers import _active_triggers, _milestone

TOP_MOVERS = 20
HISTOGRAM_BINS = 20

# --- applying a draft ----------------------------------------------------------------------------------------------

Applier = Callable[[ScoringModel, Any, str], ScoringModel]
_Spec = TypeVar("_Spec", RuleSpec, FitRuleSpec, FilterSpec)


def apply_changes(model: ScoringModel, changes: Mapping[str, Any] | None) -> ScoringModel:
    """`model` with the draft `changes` applied (validated; InvalidInput names the path of the first problem)."""
    if changes is None:
        return model
    if not isinstance(changes, Mapping):
        raise InvalidInput("changes", "must be an object")
    for key in changes:
        if key not in _APPLIERS:
            raise InvalidInput(f"changes.{key}", f"unknown part; one of {', '.join(_APPLIERS)}")
    for part, applier in _APPLIERS.items():
        if changes.get(part) is not None:
            model = applier(model, changes[part], f"changes.{part}")
    return model


def _apply_rules(model: ScoringModel, raw: Any, path: str) -> ScoringModel:
    def update(current: RuleSpec, item: Mapping[str, Any], where: str) -> RuleSpec:
        fields = {**_rule_fields(current), **{k: v for k, v in item.items() if k != "rule_id"}}
        values = validate_rule(fields, prefix=f"{where}.")
        return _rule_spec(current.id, _ruleset(model, values, f"{where}.ruleset_id"), values)

    def add(body: Mapping[str, Any], where: str) -> RuleSpec:
        values = validate_rule(body, prefix=f"{where}.", ignore=_READ_ONLY)
        return _rule_spec(new_id("rl"), _ruleset(model, values, f"{where}.ruleset_id"), values)

    edit = _edit_rules(raw, path, {r.id: r for r in model.rules}, "rule", update, add, "must be a rule object")
    kept = [edit.updated.get(r.id, r) for r in model.rules if r.id not in edit.removed]
    # Only the rules change: every other part of the model (levels, decay, settings, fit) is kept as it is.
    return replace(model, rules=ScoringModel.build(rules=[*kept, *edit.added]).rules)


@dataclass(frozen=True, slots=True)
class _RuleEdit(Generic[_Spec]):
    removed: set[str]
    updated: dict[str, _Spec]
    added: list[_Spec]


def _edit_rules(
    raw: Any,
    path: str,
    rules: Mapping[str, _Spec],
    label: str,
    update: Callable[[_Spec, Mapping[str, Any], str], _Spec],
    add: Callable[[Mapping[str, Any], str], _Spec],
    add_shape: str,
    *,
    id_key: str = "rule_id",
    noun: str = "rule",
) -> _RuleEdit[_Spec]:
    """A draft's `{add, update, remove}` of rules (engagement or fit), checked item by item: removed ids, updated
    rules (`update` builds one from the current rule and the item's fields) and added ones (`add` builds one from
    its body); `label` names the kind of rule in errors, which name the path of the first problem."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(path, "must be an object with add, update and remove")
    for key in raw:
        if key not in ("add", "update", "remove"):
            raise InvalidInput(f"{path}.{key}", "unknown field; one of add, update, remove")
    removed: set[str] = set()
    for index, rule_id in enumerate(_list(raw.get("remove"), f"{path}.remove")):
        where = f"{path}.remove[{index}]"
        if not isinstance(rule_id, str) or rule_id not in rules:
            raise InvalidInput(where, f"unknown {label} {rule_id!r}")
        if rule_id in removed:
            raise InvalidInput(where, f"{noun} {rule_id!r} is removed more than once")
        removed.add(rule_id)
    updated: dict[str, _Spec] = {}
    for index, item in enumerate(_list(raw.get("update"), f"{path}.update")):
        where = f"{path}.update[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(where, f"must be an object with {id_key} and the fields to change")
        rule_id = item.get(id_key)
        if not isinstance(rule_id, str) or rule_id not in rules:
            raise InvalidInput(f"{where}.{id_key}", f"unknown {label} {rule_id!r}")
        if rule_id in removed:
            raise InvalidInput(f"{where}.{id_key}", f"{noun} {rule_id!r} is also removed")
        if rule_id in updated:
            raise InvalidInput(f"{where}.{id_key}", f"{noun} {rule_id!r} is updated more than once")
        updated[rule_id] = update(rules[rule_id], item, where)
    added: list[_Spec] = []
    for index, body in enumerate(_list(raw.get("add"), f"{path}.add")):
        where = f"{path}.add[{index}]"
        if not isinstance(body, Mapping):
            raise InvalidInput(where, add_shape)
        added.append(add(body, where))
    return _RuleEdit(removed, updated, added)


# Fields of a rule as the API shows it; a body copied from GET /v1/rules may carry them, they are ignored.
_READ_ONLY = frozenset({"id", "rule_id", "created_at", "updated_at", "created_by", "updated_by", "org_id", "unit_id"})


def _list(raw: Any, path: str) -> Sequence[Any]:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise InvalidInput(path, "must be a list")
    return raw


def _rule_fields(rule: RuleSpec) -> dict[str, Any]:
    return {
        "ruleset_id": rule.ruleset_id, "event_type": rule.event_type, "weight": rule.weight, "icon": rule.icon,
        "active": rule.active, "start_at": rule.start_at, "end_at": rule.end_at,
        "conditions": [dict(c) for c in rule.conditions],
    }


def _ruleset(model: ScoringModel, values: RuleValues, where: str) -> str:
    if values.ruleset_id is None:
        if model.primary_ruleset_id is None:
            raise InvalidInput(where, "this unit has no ruleset; create one first")
        return model.primary_ruleset_id
    if model.ruleset(values.ruleset_id) is None:
        raise InvalidInput(where, f"unknown ruleset {values.ruleset_id!r}")
    return values.ruleset_id


def _rule_spec(rule_id: str, ruleset_id: str, values: RuleValues) -> RuleSpec:
    return RuleSpec(
        id=rule_id, ruleset_id=ruleset_id, event_type=values.event_type, weight=values.weight, icon=values.icon,
        active=values.active, start_at=values.start_at, end_at=values.end_at,
        conditions=tuple(dict(c) for c in values.conditions),
    )


def _apply_levels(model: ScoringModel, raw: Any, path: str) -> ScoringModel:
    """The draft's levels replace the whole set; ids of known levels are kept, others get new ids."""
    planned = _planned_levels(raw, path, {lv.id for lv in model.levels}, "st")
    return replace(model, levels=ScoringModel.build(levels=planned).levels)


def _planned_levels(raw: Any, path: str, known: set[str], id_prefix: str) -> list[LevelSpec]:
    """A full level list of a draft, validated (`_check_levels`); `known` ids are kept, others get new ones."""
    planned: list[LevelSpec] = []
    for index, item in enumerate(_list(raw, path)):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(where, "must be an object with name, min_score and max_score")
        for key in item:
            if key not in ("id", "name", "min_score", "max_score", "stage_id"):
                raise InvalidInput(f"{where}.{key}", "unknown field")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"{where}.name", "must not be empty")
        if len(name.strip()) > LEVEL_NAME_MAX:
            raise InvalidInput(f"{where}.name", f"at most {LEVEL_NAME_MAX} characters")
        bounds = []
        for bound in ("min_score", "max_score"):
            value = item.get(bound)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput(f"{where}.{bound}", "is required and must be an integer")
            bounds.append(value)
        level_id = item.get("id")
        if level_id is not None and not isinstance(level_id, str):
            raise InvalidInput(f"{where}.id", "must be a level id")
        if level_id in {lv.id for lv in planned}:
            raise InvalidInput(f"{where}.id", f"level {level_id!r} appears more than once")
        keep = level_id if level_id in known else None
        planned.append(LevelSpec(keep or new_id(id_prefix), name.strip(), bounds[0], bounds[1]))
    _check_levels(planned, path)
    return planned


def _check_levels(planned: Sequence[LevelSpec], path: str) -> None:
    """The level validator's rules (core.levels.validate_levels), each problem named by the level it is about."""
    as_core = [core_levels.Level(lv.id, lv.name, lv.min_score, lv.max_score) for lv in planned]
    seen: dict[str, int] = {}
    for index, level in enumerate(as_core):
        problems = core_levels.validate_levels([level])
        if problems:
            raise InvalidInput(f"{path}[{index}].min_score", problems[0])
        key = level.name.casefold()
        if key in seen:
            raise InvalidInput(f"{path}[{index}].name", f"level name {level.name!r} is used more than once")
        seen[key] = index
    ordered = sorted(range(len(as_core)), key=lambda i: (as_core[i].min_score, as_core[i].max_score))
    for low, high in itertools.pairwise(ordered):
        problems = core_levels.validate_levels([as_core[low], as_core[high]])
        if problems:
            raise InvalidInput(f"{path}[{high}].min_score", problems[0])


def _fit_rules_applier(kind: str) -> Applier:
    def apply(model: ScoringModel, raw: Any, path: str) -> ScoringModel:
        return _apply_fit_rules(model, raw, path, kind)

    return apply


def _apply_fit_rules(model: ScoringModel, raw: Any, path: str, kind: str) -> ScoringModel:
    """Fit rules of `kind` added, updated, removed (the shape of `changes.rules`); validated as the fit rule
    routes validate (services.scoring.fit_config.validate_fit_rule). An added rule names its ruleset_id."""
    rulesets = {rs.id for rs in model.fit_rulesets if rs.kind == kind}

    def ruleset_of(value: Any, where: str) -> str:
        if not isinstance(value, str) or value not in rulesets:
            raise InvalidInput(where, f"unknown {kind} ruleset {value!r}")
        return value

    def update(current: FitRuleSpec, item: Mapping[str, Any], where: str) -> FitRuleSpec:
        ruleset_id = ruleset_of(item.get("ruleset_id", current.ruleset_id), f"{where}.ruleset_id")
        fields = {
            "property": current.property, "condition": current.condition,
            "comparison_value": current.comparison_value, "weight": current.weight, "ui_order": current.ui_order,
            **{k: v for k, v in item.items() if k not in ("rule_id", "ruleset_id")},
        }
        values = validate_fit_rule(fields, kind, prefix=f"{where}.")
        return FitRuleSpec(current.id, ruleset_id, values.property, values.condition, values.comparison_value,
                           values.weight, values.ui_order)

    def add(body: Mapping[str, Any], where: str) -> FitRuleSpec:
        ruleset_id = ruleset_of(body.get("ruleset_id"), f"{where}.ruleset_id")
        fields = {k: v for k, v in body.items() if k != "ruleset_id" and k not in _FIT_READ_ONLY}
        values = validate_fit_rule(fields, kind, prefix=f"{where}.")
        return FitRuleSpec(new_id("fr"), ruleset_id, values.property, values.condition, values.comparison_value,
                           values.weight, values.ui_order)

    rules = {r.id: r for r in model.fit_rules if r.ruleset_id in rulesets}
    edit = _edit_rules(raw, path, rules, f"{kind} rule", update, add, "must be a rule object with its ruleset_id")
    kept = [edit.updated.get(r.id, r) for r in model.fit_rules if r.id not in edit.removed]
    return replace(model, fit_rules=ScoringModel.build(fit_rules=[*kept, *edit.added]).fit_rules)


# Fields of a fit rule as the API shows it; a body copied from a GET may carry them, they are ignored.
_FIT_READ_ONLY = frozenset({"id", "rule_id", "created_at", "updated_at"})


def _fit_levels_applier(kind: str) -> Applier:
    def apply(model: ScoringModel, raw: Any, path: str) -> ScoringModel:
        known = {lv.id for lv in model.fit_levels if lv.kind == kind}
        if isinstance(raw, list | tuple):  # `level_id` (the fit level's name for its id, as GET shows it) is `id`
            raw = [
                {**{k: v for k, v in item.items() if k != "level_id"}, "id": item.get("id", item["level_id"])}
                if isinstance(item, Mapping) and "level_id" in item else item
                for item in raw
            ]
        planned = _planned_levels(raw, path, known, "fl")
        others = [lv for lv in model.fit_levels if lv.kind != kind]
        mine = [FitLevelSpec(lv.id, kind, lv.name, lv.min_score, lv.max_score) for lv in planned]
        return replace(model, fit_levels=ScoringModel.build(fit_levels=[*others, *mine]).fit_levels)

    return apply


def _apply_filters(model: ScoringModel, raw: Any, path: str) -> ScoringModel:
    """Inorganic filters added, updated (`filter_id` and the fields to change) and removed, validated as the filter
    routes validate (services.scoring.filters.check_filter)."""

    def fields_of(spec: FilterSpec) -> dict[str, Any]:
        return {"event_type": spec.event_type, "count_threshold": spec.count_threshold,
                "time_window_ms": spec.time_window_ms, "group_events": spec.group_events}

    def update(current: FilterSpec, item: Mapping[str, Any], where: str) -> FilterSpec:
        sent = {k: v for k, v in item.items() if k != "filter_id" and (v is not None or k not in FILTER_FIELDS)}
        values = check_filter({**fields_of(current), **sent}, prefix=f"{where}.")
        return FilterSpec(current.id, values.event_type, values.count_threshold, values.time_window_ms,
                          values.group_events)

    def add(body: Mapping[str, Any], where: str) -> FilterSpec:
        values = check_filter(body, prefix=f"{where}.", ignore=_FILTER_READ_ONLY)
        return FilterSpec(new_id("if"), values.event_type, values.count_threshold, values.time_window_ms,
                          values.group_events)

    edit = _edit_rules(raw, path, {f.id: f for f in model.filters}, "filter", update, add,
                       "must be a filter object", id_key="filter_id", noun="filter")
    kept = [edit.updated.get(f.id, f) for f in model.filters if f.id not in edit.removed]
    return replace(model, filters=ScoringModel.build(filters=[*kept, *edit.added]).filters)


# Fields of a filter as the API shows it; a body copied from GET /v1/filters/inorganic may carry them, ignored.
_FILTER_READ_ONLY = frozenset({"filter_id", "org_id", "created_by", "updated_by", "created_at", "updated_at",
                               "quarantined_count"})


def _apply_event_types(model: ScoringModel, raw: Any, path: str) -> ScoringModel:
    """Processing scopes `[{event_type, max_processing_scope}]` set on top of the model's (activate drops a type's
    scope: the default)."""
    scopes = {s.id: s.scope for s in model.event_type_scopes}
    seen: set[str] = set()
    for index, item in enumerate(_list(raw, path)):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(where, "must be an object with event_type and max_processing_scope")
        for key in item:
            if key not in ("event_type", "max_processing_scope"):
                raise InvalidInput(f"{where}.{key}", "unknown field; one of event_type, max_processing_scope")
        event_type = check_event_type(item.get("event_type"), f"{where}.event_type")
        if event_type in seen:
            raise InvalidInput(f"{where}.event_type", f"event type {event_type!r} appears more than once")
        seen.add(event_type)
        scopes[event_type] = check_scope(item.get("max_processing_scope"), f"{where}.max_processing_scope")
    kept = [EventTypeScope(name, scope) for name, scope in scopes.items() if scope != DEFAULT_SCOPE]
    return replace(model, event_type_scopes=ScoringModel.build(event_type_scopes=kept).event_type_scopes)


def _apply_bot_filter(model: ScoringModel, raw: Any, path: str) -> ScoringModel:
    if not isinstance(raw, bool):
        raise InvalidInput(path, "must be true or false")
    return replace(model, settings=replace(model.settings, bot_filter_enabled=raw))


def _apply_surge_policy(model: ScoringModel, raw: Any, path: str) -> ScoringModel:
    return replace(model, surge=check_surge_policy(raw, prefix=f"{path}."))


_APPLIERS: dict[str, Applier] = {
    "rules": _apply_rules,
    "levels": _apply_levels,
    "profile_rules": _fit_rules_applier("profile"),
    "account_rules": _fit_rules_applier("account"),
    "profile_levels": _fit_levels_applier("profile"),
    "account_levels": _fit_levels_applier("account"),
    "filters": _apply_filters,
    "event_types": _apply_event_types,
    "bot_filter_enabled": _apply_bot_filter,
    "surge_policy": _apply_surge_policy,
}


# --- simulating ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LevelChange:
    from_level: str | None
    to_level: str | None
    count: int


@dataclass(frozen=True, slots=True)
class Bin:
    min: int
    max: int
    count: int


@dataclass(frozen=True, slots=True)
class Mover:
    lead_id: str
    email: str | None
    before: int
    after: int


@dataclass(frozen=True, slots=True)
class FitMover:
    id: str  # lead id (profile) or account id (account)
    label: str | None  # the lead's email, the account's domain (else name)
    before: int
    after: int


@dataclass(frozen=True, slots=True)
class FitSimulation:
    """Fit of one kind now (published model) and under the draft, over the unit's stored profiles."""

    kind: str
    evaluated: int
    changed: int
    level_changes: list[LevelChange] = field(default_factory=list)
    distribution_before: list[Bin] = field(default_factory=list)
    distribution_after: list[Bin] = field(default_factory=list)
    top_movers: list[FitMover] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "leads_evaluated": self.evaluated,
            "leads_changed": self.changed,
            "level_changes": [{"from": c.from_level, "to": c.to_level, "count": c.count} for c in self.level_changes],
            "distribution_before": {"bins": [_bin(b) for b in self.distribution_before]},
            "distribution_after": {"bins": [_bin(b) for b in self.distribution_after]},
            "top_movers": [{"id": m.id, "label": m.label, "before": m.before, "after": m.after}
                           for m in self.top_movers],
        }


@dataclass(frozen=True, slots=True)
class SimulationResult:
    leads_evaluated: int
    leads_changed: int
    level_changes: list[LevelChange] = field(default_factory=list)
    distribution_before: list[Bin] = field(default_factory=list)
    distribution_after: list[Bin] = field(default_factory=list)
    top_movers: list[Mover] = field(default_factory=list)
    trigger_firings: dict[str, int] = field(default_factory=dict)
    events: int = 0  # events replayed (the window's)
    since: datetime | None = None
    fit: dict[str, FitSimulation] = field(default_factory=dict)  # per kind: profile, account

    def as_dict(self) -> dict[str, Any]:
        return {
            "leads_evaluated": self.leads_evaluated,
            "leads_changed": self.leads_changed,
            "level_changes": [{"from": c.from_level, "to": c.to_level, "count": c.count} for c in self.level_changes],
            "distribution_before": {"bins": [_bin(b) for b in self.distribution_before]},
            "distribution_after": {"bins": [_bin(b) for b in self.distribution_after]},
            "top_movers": [
                {"lead_id": m.lead_id, "email": m.email, "before": m.before, "after": m.after} for m in self.top_movers
            ],
            "trigger_firings": dict(self.trigger_firings),
            "events": self.events,
            "since": self.since,
            "fit": {kind: self.fit[kind].as_dict() if kind in self.fit else _no_fit(kind) for kind in PROFILE_KINDS},
        }


def _no_fit(kind: str) -> dict[str, Any]:
    return FitSimulation(kind, 0, 0).as_dict()


def _bin(b: Bin) -> dict[str, int]:
    return {"min": b.min, "max": b.max, "count": b.count}


def simulate(
    session: Session, tenant: Tenant, changes: Mapping[str, Any] | None, days: int | None, now: datetime
) -> SimulationResult:
    """Replay the unit's events of the last `days` days (None: all of them) under the live model and under the
    draft (the published model with `changes`), and compare the primary ruleset's lead scores. Writes nothing.

    In a window, both sides start every lead at 0 at the window's start, so they compare like with like; with
    `days=None` the draft's scores are exactly what publishing the draft stores."""
    policy.require(tenant, Action.EDIT_SCORING)
    _require_abm_for_account_parts(session, tenant, changes)
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise InvalidInput("days", "must be a whole number of days, at least 1")
    live = live_model(session, tenant)
    draft = apply_changes(published_model(session, tenant), changes)
    since = None if days is None else now - timedelta(days=days)
    # Account scores are not compared: without account codes the replay skips folding them.
    loaded = load_event_columns(session, tenant, since=since)
    cols = replace(loaded, account=np.full(len(loaded), -1, dtype=np.int64), account_ids=())
    before_replay = vector.replay(live, cols)
    after_replay = vector.replay(draft, cols)
    before = _primary_scores(before_replay, live, len(cols.lead_ids))
    after_rs = after_replay.ruleset(draft.primary_ruleset_id or "")
    after = _primary_scores(after_replay, draft, len(cols.lead_ids))
    firings = {}
    if after_rs is not None:
        firings = milestone_firings(cols, after_rs.lead_before, after_rs.lead_after, _milestones(session, tenant))
    movers = top_movers(cols.lead_ids, before, after)
    emails = _emails(session, tenant, [lead_id for lead_id, _b, _a in movers])
    shared = histogram_edges(before, after)
    return SimulationResult(
        leads_evaluated=len(cols.lead_ids),
        leads_changed=int(np.count_nonzero(before != after)),
        level_changes=level_changes(before, after, live.levels, draft.levels),
        distribution_before=histogram(before, shared),
        distribution_after=histogram(after, shared),
        top_movers=[Mover(lead_id, emails.get(lead_id), b, a) for lead_id, b, a in movers],
        trigger_firings=firings,
        events=len(cols),
        since=since,
        fit=simulate_fit(session, tenant, published_model(session, tenant), draft),
    )


def simulate_fit(
    session: Session, tenant: Tenant, before: ScoringModel, after: ScoringModel
) -> dict[str, FitSimulation]:
    """Per kind, the fit of every stored profile (leads not merged away; accounts) under `before` and `after`:
    who would move, level changes, distributions. No log replay: fit is a function of the profile. Writes nothing.
    With `before` the published model, `before` scores are the stored ones and `after` what publishing stores."""
    result: dict[str, FitSimulation] = {}
    for kind in PROFILE_KINDS:
        if kind == "profile":
            rows = session.execute(
                select(models.Lead.id, models.Lead.email, models.Lead.metadata_)
                .where(models.Lead.unit_id == tenant.unit_id, models.Lead.merged_into.is_(None))
                .order_by(models.Lead.id)
            ).all()
        else:
            rows = session.execute(
                select(models.Account.id, func.coalesce(models.Account.domain, models.Account.name),
                       models.Account.metadata_)
                .where(models.Account.unit_id == tenant.unit_id)
                .order_by(models.Account.id)
            ).all()
        book_before, book_after = before.fit_book(kind), after.fit_book(kind)
        same = after.fit_same_as(before, kind)
        ids = [row[0] for row in rows]
        labels = {row[0]: row[1] for row in rows}
        scores_before = np.fromiter((book_before.fit(row[2] or {}).score for row in rows), dtype=np.int64,
                                    count=len(rows))
        scores_after = scores_before.copy() if same else np.fromiter(
            (book_after.fit(row[2] or {}).score for row in rows), dtype=np.int64, count=len(rows)
        )
        shared = histogram_edges(scores_before, scores_after)
        movers = top_movers(ids, scores_before, scores_after)
        result[kind] = FitSimulation(
            kind=kind,
            evaluated=len(rows),
            changed=int(np.count_nonzero(scores_before != scores_after)),
            level_changes=level_changes(scores_before, scores_after, _fit_levels(before, kind),
                                        _fit_levels(after, kind)),
            distribution_before=histogram(scores_before, shared),
            distribution_after=histogram(scores_after, shared),
            top_movers=[FitMover(i, labels.get(i), b, a) for i, b, a in movers],
        )
    return result


def _fit_levels(model: ScoringModel, kind: str) -> list[LevelSpec]:
    return [LevelSpec(lv.id, lv.name, lv.min_score, lv.max_score) for lv in model.fit_levels if lv.kind == kind]


def _primary_scores(result: vector.VectorReplay, model: ScoringModel, n_leads: int) -> npt.NDArray[np.int64]:
    rs = result.ruleset(model.primary_ruleset_id or "")
    if rs is None:
        return np.zeros(n_leads, dtype=np.int64)
    return np.asarray(rs.lead_scores).astype(np.int64)  # object arrays only for sums beyond 2**62


def _milestones(session: Session, tenant: Tenant) -> list[tuple[str, Milestone]]:
    return [(row.id, _milestone(row)) for row in _active_triggers(session, tenant) if row.kind == "milestone"]


def _emails(session: Session, tenant: Tenant, lead_ids: Sequence[str]) -> dict[str, str | None]:
    if not lead_ids:
        return {}
    rows = session.execute(
        select(models.Lead.id, models.Lead.email).where(
            models.Lead.unit_id == tenant.unit_id, models.Lead.id.in_(list(lead_ids))
        )
    )
    return {lead_id: email for lead_id, email in rows}


# --- the maths, on plain arrays ------------------------------------------------------------------------------------


def level_codes(scores: npt.NDArray[np.int64], levels: Sequence[LevelSpec]) -> npt.NDArray[np.int64]:
    """Per score, the index of its level in `levels` (-1: in no level). Levels do not overlap."""
    if not levels or scores.size == 0:
        return np.full(scores.shape, -1, dtype=np.int64)
    order = sorted(range(len(levels)), key=lambda i: levels[i].min_score)
    mins = np.array([levels[i].min_score for i in order], dtype=np.int64)
    maxs = np.array([levels[i].max_score for i in order], dtype=np.int64)
    position = np.searchsorted(mins, scores, side="right") - 1
    inside = (position >= 0) & (scores <= maxs[np.clip(position, 0, None)])
    return np.where(inside, np.array(order, dtype=np.int64)[np.clip(position, 0, None)], -1)


def level_changes(
    before: npt.NDArray[np.int64], after: npt.NDArray[np.int64],
    levels_before: Sequence[LevelSpec], levels_after: Sequence[LevelSpec],
) -> list[LevelChange]:
    """How many leads go from each level (by name; None: no level) to another; unchanged pairs left out.
    Largest count first."""
    if before.size == 0:
        return []
    names_before = [lv.name for lv in levels_before] + [None]  # code -1 indexes the last entry: no level
    names_after = [lv.name for lv in levels_after] + [None]
    width = len(names_after)
    pairs = level_codes(before, levels_before) % len(names_before) * width + level_codes(after, levels_after) % width
    codes, counts = np.unique(pairs, return_counts=True)
    found: dict[tuple[str | None, str | None], int] = {}
    for code, count in zip(codes.tolist(), counts.tolist(), strict=True):
        pair = (names_before[code // width], names_after[code % width])
        if pair[0] != pair[1]:
            found[pair] = found.get(pair, 0) + count
    changes = [LevelChange(a, b, n) for (a, b), n in found.items()]
    return sorted(changes, key=lambda c: (-c.count, str(c.from_level), str(c.to_level)))


def stored_fit_distribution(session: Session, tenant: Tenant, kind: str) -> list[dict[str, int]]:
    """Histogram bins ({min, max, count}) of the unit's stored fit scores of `kind` (leads not merged away, or
    accounts): one indexed column read, no profile is scored (what the Fit page draws its levels over)."""
    owner = models.Lead if kind == "profile" else models.Account
    stmt = select(owner.fit_score).where(owner.unit_id == tenant.unit_id)
    if owner is models.Lead:
        stmt = stmt.where(models.Lead.merged_into.is_(None))
    scores = np.array(session.scalars(stmt).all(), dtype=np.int64)
    return [_bin(b) for b in histogram(scores, histogram_edges(scores, scores))]


def histogram_edges(
    before: npt.NDArray[np.int64], after: npt.NDArray[np.int64], bins: int = HISTOGRAM_BINS
) -> tuple[int, int, int]:
    """(lowest score, bin width, number of bins): integer bins covering both sides, so they compare bar by bar."""
    if before.size == 0:
        return 0, 1, 0
    low = int(min(before.min(), after.min()))
    high = int(max(before.max(), after.max()))
    width = max(1, -(-(high - low + 1) // bins))
    return low, width, (high - low) // width + 1


def histogram(scores: npt.NDArray[np.int64], edges: tuple[int, int, int]) -> list[Bin]:
    low, width, count = edges
    if count == 0:
        return []
    tally = np.bincount((scores - low) // width, minlength=count).tolist()
    return [Bin(low + k * width, low + (k + 1) * width - 1, int(n)) for k, n in enumerate(tally)]


def top_movers(
    lead_ids: Sequence[str], before: npt.NDArray[np.int64], after: npt.NDArray[np.int64], limit: int = TOP_MOVERS
) -> list[tuple[str, int, int]]:
    """(lead_id, before, after) of the leads whose score moves most (largest |after - before| first, then by id)."""
    moved = np.flatnonzero(before != after)
    if moved.size == 0:
        return []
    size = np.abs(after[moved] - before[moved])
    # The `limit` largest moves, ties by lead id: take every lead at least as large as the limit-th move, then sort.
    if moved.size > limit:
        cutoff = np.partition(size, moved.size - limit)[moved.size - limit]
        keep = size >= cutoff
        moved, size = moved[keep], size[keep]
    ranked = sorted(zip(moved.tolist(), size.tolist(), strict=True), key=lambda p: (-p[1], lead_ids[p[0]]))
    return [(lead_ids[i], int(before[i]), int(after[i])) for i, _ in ranked[:limit]]


def milestone_firings(
    cols: vector.EventColumns,
    lead_before: npt.NDArray[Any],
    lead_after: npt.NDArray[Any],
    milestones: Sequence[tuple[str, Milestone]],
) -> dict[str, int]:
    """Per milestone trigger, how many events would fire it: the crossing is found in numpy, then each candidate
    is confirmed with the trigger's own rule (core.triggers.Milestone.fires), as ingest does per event."""
    result: dict[str, int] = {}
    has_lead = cols.lead >= 0
    if DECAY_EVENT_TYPE in cols.types:
        has_lead = has_lead & (cols.event_type != list(cols.types).index(DECAY_EVENT_TYPE))
    for trigger_id, spec in milestones:
        threshold = spec.score_threshold
        candidate = has_lead & (lead_before < threshold) & (lead_after >= threshold)
        if spec.event_type:
            if spec.event_type not in cols.types:
                result[trigger_id] = 0
                continue
            candidate &= cols.event_type == list(cols.types).index(spec.event_type)
        fired = 0
        for i in np.flatnonzero(candidate).tolist():
            if spec.fires(cols.types[cols.event_type[i]], int(lead_before[i]), int(lead_after[i])):
                fired += 1
        result[trigger_id] = fired
    return result


# --- publishing ----------------------------------------------------------------------------------------------------


def publish_draft(
    session: Session, tenant: Tenant, changes: Mapping[str, Any] | None, now: datetime, *, summary: str | None = None
) -> Published | None:
    """Publish the whole draft as one version (None when it changes nothing); stored scores become those that
    `simulate(days=None)` showed as `after`."""
    policy.require(tenant, Action.EDIT_SCORING)
    _require_abm_for_account_parts(session, tenant, changes)
    begin_change(session, tenant, now)
    before = published_model(session, tenant)
    draft = apply_changes(before, changes)
    write_tables(session, tenant, draft, now=now, actor=tenant.actor)
    audit.record(session, tenant, action="update", entity_type="scoring_draft", entity_id=None,
                 before=None, after={"changes": _plain_changes(changes)}, now=now)
    return publish(session, tenant, now=now, summary=summary)


# Draft parts that edit account scoring: like the account endpoints, they need the unit's ABM switch on.
ACCOUNT_PARTS = ("account_rules", "account_levels")


def _require_abm_for_account_parts(session: Session, tenant: Tenant, changes: Mapping[str, Any] | None) -> None:
    if isinstance(changes, Mapping) and any(part in changes for part in ACCOUNT_PARTS):
        require_abm(session, tenant)


def _plain_changes(changes: Mapping[str, Any] | None) -> Any:
    """The draft as JSON can store it (dates as ISO text)."""
    if isinstance(changes, Mapping):
        return {str(k): _plain_changes(v) for k, v in changes.items()}
    if isinstance(changes, list | tuple):
        return [_plain_changes(v) for v in changes]
    if isinstance(changes, datetime):
        return changes.isoformat()
    return changes

