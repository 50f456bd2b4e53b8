"""Rulesets and scoring rules: list, create, edit, delete, and replace a ruleset's rules from an editor grid.

Every change is published as a new version of the unit's scoring model (services.scoring.publish), which
rescores the unit from its event log when the change can move a score, so every read agrees with the rules.
Rule fields arrive as plain mappings (from the API or the dashboard grid) and are validated here, so
both callers report the same errors, each naming its field (e.g. "conditions[0].operator").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from core import scoring
from core.profile import PROFILE_EVENT_TYPES
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound
from services.scoring.model import begin_change
from services.scoring.publish import publish
from services.tenancy import audit, policy
from services.tenancy.policy import Action

RULE_FIELDS: tuple[str, ...] = (
    "ruleset_id", "event_type", "weight", "icon", "active", "start_at", "end_at", "conditions",
)
CONDITION_FIELDS: tuple[str, ...] = ("property", "operator", "value")
MAX_WEIGHT = 1_000_000
MAX_CONDITIONS = 20
_NAME_MAX = 200
EVENT_TYPE_MAX = 200
_ICON_MAX = 64
_SCORE_COLUMN_MAX = 64


@dataclass(frozen=True, slots=True)
class RulesetView:
    id: str
    name: str
    score_column: str
    is_primary: bool
    created_at: datetime
    updated_at: datetime
    rule_count: int = 0


@dataclass(frozen=True, slots=True)
class RuleView:
    id: str
    ruleset_id: str
    event_type: str
    weight: int
    icon: str | None
    active: bool
    start_at: datetime | None
    end_at: datetime | None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class RuleValues:
    """Validated, normalized editable fields of one rule."""

    ruleset_id: str | None
    event_type: str
    weight: int
    icon: str | None
    active: bool
    start_at: datetime | None
    end_at: datetime | None
    conditions: list[dict[str, Any]]


# --- rulesets ------------------------------------------------------------------------------------------------------


def list_rulesets(session: Session, tenant: Tenant) -> list[RulesetView]:
    counts = dict(
        session.execute(
            select(models.Rule.ruleset_id, func.count())
            .where(models.Rule.unit_id == tenant.unit_id)
            .group_by(models.Rule.ruleset_id)
        ).all()
    )
    rows = session.scalars(
        select(models.Ruleset)
        .where(models.Ruleset.unit_id == tenant.unit_id)
        .order_by(models.Ruleset.created_at, models.Ruleset.id)
    ).all()
    return [_ruleset_view(r, int(counts.get(r.id, 0))) for r in rows]


def get_ruleset(session: Session, tenant: Tenant, ruleset_id: str) -> RulesetView:
    row = _ruleset_row(session, tenant, ruleset_id)
    count = session.scalar(
        select(func.count()).select_from(models.Rule).where(
            models.Rule.unit_id == tenant.unit_id, models.Rule.ruleset_id == row.id
        )
    )
    return _ruleset_view(row, int(count or 0))


def create_ruleset(
    session: Session,
    tenant: Tenant,
    *,
    name: str,
    score_column: str = "total_score",
    is_primary: bool = False,
    now: datetime,
) -> RulesetView:
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    clean_name = _ruleset_name(name)
    column = _score_column(score_column)
    _ensure_name_free(session, tenant, clean_name, except_id=None)
    row = models.Ruleset(
        id=new_id("rs"), org_id=tenant.org_id, unit_id=tenant.unit_id, name=clean_name, score_column=column,
        is_primary=False, created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    has_primary = session.scalar(
        select(models.Ruleset.id).where(models.Ruleset.unit_id == tenant.unit_id, models.Ruleset.is_primary)
    )
    if is_primary or has_primary is None:
        _make_primary(session, tenant, row, now)
    audit.created(session, tenant, "ruleset", row, now)
    publish(session, tenant, now=now)
    return _ruleset_view(row, 0)


def update_ruleset(
    session: Session,
    tenant: Tenant,
    ruleset_id: str,
    *,
    name: str | None = None,
    score_column: str | None = None,
    is_primary: bool | None = None,
    now: datetime,
) -> RulesetView:
    """Rename a ruleset, change its score column, or make it the primary one (never un-primary the only primary)."""
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = _ruleset_row(session, tenant, ruleset_id)
    before = audit.snapshot(row)
    if name is not None:
        clean_name = _ruleset_name(name)
        if clean_name != row.name:
            _ensure_name_free(session, tenant, clean_name, except_id=row.id)
            row.name = clean_name
    if score_column is not None:
        row.score_column = _score_column(score_column)
    if is_primary is True and not row.is_primary:
        _make_primary(session, tenant, row, now)
    elif is_primary is False and row.is_primary:
        raise Conflict(
            f"ruleset {row.name!r} is the primary ruleset; make another ruleset primary instead", field="is_primary"
        )
    row.updated_at = now
    session.flush()
    audit.updated(session, tenant, "ruleset", before, row, now)
    publish(session, tenant, now=now)
    return get_ruleset(session, tenant, row.id)


def delete_ruleset(session: Session, tenant: Tenant, ruleset_id: str, *, now: datetime) -> None:
    """Delete a ruleset with its rules and scores; the primary and the last ruleset cannot be deleted."""
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = _ruleset_row(session, tenant, ruleset_id)
    total = session.scalar(
        select(func.count()).select_from(models.Ruleset).where(models.Ruleset.unit_id == tenant.unit_id)
    )
    if int(total or 0) <= 1:
        raise Conflict(f"ruleset {row.name!r} is the last ruleset of this unit; a unit needs at least one")
    if row.is_primary:
        raise Conflict(f"ruleset {row.name!r} is the primary ruleset; make another ruleset primary before deleting it")
    unit = tenant.unit_id
    audit.deleted(session, tenant, "ruleset", row)
    session.execute(delete(models.Rule).where(models.Rule.unit_id == unit, models.Rule.ruleset_id == row.id))
    session.execute(
        delete(models.LeadScore).where(models.LeadScore.unit_id == unit, models.LeadScore.ruleset_id == row.id)
    )
    session.execute(
        delete(models.AccountScore).where(models.AccountScore.unit_id == unit, models.AccountScore.ruleset_id == row.id)
    )
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


# --- rules ---------------------------------------------------------------------------------------------------------


def list_rules(session: Session, tenant: Tenant, ruleset_id: str | None = None) -> list[RuleView]:
    stmt = select(models.Rule).where(models.Rule.unit_id == tenant.unit_id)
    if ruleset_id is not None:
        _ruleset_row(session, tenant, ruleset_id)
        stmt = stmt.where(models.Rule.ruleset_id == ruleset_id)
    rows = session.scalars(stmt.order_by(models.Rule.created_at, models.Rule.id)).all()
    return [_rule_view(r) for r in rows]


def get_rule(session: Session, tenant: Tenant, rule_id: str) -> RuleView:
    return _rule_view(_rule_row(session, tenant, rule_id))


def create_rule(
    session: Session, tenant: Tenant, fields: Mapping[str, Any], *, now: datetime, actor: str | None = None
) -> RuleView:
    """Create a rule from `fields` (keys: RULE_FIELDS); without ruleset_id it goes to the primary ruleset."""
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    values = validate_rule(fields)
    ruleset_id = _target_ruleset(session, tenant, values.ruleset_id, field_name="ruleset_id")
    row = _new_rule_row(tenant, ruleset_id, values, now, actor or tenant.actor)
    session.add(row)
    session.flush()
    audit.created(session, tenant, "rule", row, now)
    publish(session, tenant, now=now)
    return _rule_view(row)


def update_rule(
    session: Session,
    tenant: Tenant,
    rule_id: str,
    fields: Mapping[str, Any],
    *,
    now: datetime,
    actor: str | None = None,
) -> RuleView:
    """Full update of a rule's editable fields; a missing ruleset_id keeps the rule where it is."""
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = _rule_row(session, tenant, rule_id)
    before = audit.snapshot(row)
    values = validate_rule(fields)
    ruleset_id = row.ruleset_id
    if values.ruleset_id is not None and values.ruleset_id != row.ruleset_id:
        ruleset_id = _target_ruleset(session, tenant, values.ruleset_id, field_name="ruleset_id")
    _apply(row, ruleset_id, values, now, actor or tenant.actor)
    session.flush()
    audit.updated(session, tenant, "rule", before, row, now)
    publish(session, tenant, now=now)
    return _rule_view(row)


def delete_rule(session: Session, tenant: Tenant, rule_id: str, *, now: datetime) -> None:
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = _rule_row(session, tenant, rule_id)
    audit.deleted(session, tenant, "rule", row)
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


def save_ruleset_rules(
    session: Session,
    tenant: Tenant,
    ruleset_id: str,
    rows: Sequence[Mapping[str, Any]],
    now: datetime,
    actor: str | None = None,
) -> list[RuleView]:
    """Make a ruleset's rules exactly `rows` (an editor grid), atomically, then rescore once.

    A row with an "id" updates that rule, a row without one creates a rule, and rules of the ruleset
    missing from `rows` are deleted. Every row is validated before anything changes; the first problem
    raises InvalidInput naming the row and field, e.g. "rows[2].weight: must be an integer".
    """
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    ruleset = _ruleset_row(session, tenant, ruleset_id)
    existing = {
        r.id: r
        for r in session.scalars(
            select(models.Rule).where(models.Rule.unit_id == tenant.unit_id, models.Rule.ruleset_id == ruleset.id)
        )
    }
    plan: list[tuple[models.Rule | None, RuleValues]] = []
    seen: set[str] = set()
    for index, raw in enumerate(rows):
        prefix = f"rows[{index}]"
        if not isinstance(raw, Mapping):
            raise InvalidInput(prefix, "must be an object")
        rule_id = raw.get("id")
        if rule_id is not None and (not isinstance(rule_id, str) or not rule_id.strip()):
            rule_id = None
        target: models.Rule | None = None
        if rule_id is not None:
            target = existing.get(rule_id)
            if target is None:
                raise InvalidInput(f"{prefix}.id", f"rule {rule_id!r} is not in ruleset {ruleset.name!r}")
            if rule_id in seen:
                raise InvalidInput(f"{prefix}.id", f"rule {rule_id!r} appears in more than one row")
            seen.add(rule_id)
        fields = {k: v for k, v in raw.items() if k not in ("id", "rule_id", "ruleset_id")}
        values = validate_rule(fields, prefix=f"{prefix}.", ignore=_GRID_READ_ONLY)
        plan.append((target, values))
    before = {rule_id: audit.snapshot(row) for rule_id, row in existing.items()}
    for rule_id, row in existing.items():
        if rule_id not in seen:
            session.delete(row)
    result: list[models.Rule] = []
    for target, values in plan:
        if target is None:
            target = _new_rule_row(tenant, ruleset.id, values, now, actor or tenant.actor)
            session.add(target)
        elif _changed(target, values):
            _apply(target, ruleset.id, values, now, actor or tenant.actor)
        result.append(target)
    session.flush()
    audit.record(session, tenant, action="update", entity_type="ruleset_rules", entity_id=ruleset.id, before=before,
                 after={r.id: audit.snapshot(r) for r in result}, now=now)
    publish(session, tenant, now=now)
    return [_rule_view(r) for r in result]


def observed_event_types(session: Session, tenant: Tenant, limit: int = 200) -> list[str]:
    """Event types seen in the unit's log, most frequent first: suggestions for the rule editor."""
    rows = session.execute(
        select(models.Event.event_type, func.count().label("n"))
        .where(models.Event.unit_id == tenant.unit_id, models.Event.event_type != scoring.DECAY_EVENT_TYPE)
        .group_by(models.Event.event_type)
        .order_by(func.count().desc(), models.Event.event_type)
        .limit(limit)
    ).all()
    return [event_type for event_type, _n in rows]


# --- validation ----------------------------------------------------------------------------------------------------

# Columns an editor grid may carry along for display; they are not editable and are ignored.
_GRID_READ_ONLY = frozenset({"created_at", "updated_at", "created_by", "updated_by", "org_id", "unit_id"})


def check_event_type(value: Any, name: str = "event_type") -> str:
    """An event type a rule, filter or event-type setting may name: non-empty, at most 200 characters, not the
    system types (score decay, profile changes). Returns it stripped; InvalidInput names `name`."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(name, "is required and must be a non-empty string")
    event_type = value.strip()
    if len(event_type) > EVENT_TYPE_MAX:
        raise InvalidInput(name, f"must be at most {EVENT_TYPE_MAX} characters")
    if event_type == scoring.DECAY_EVENT_TYPE:
        raise InvalidInput(name, f"{scoring.DECAY_EVENT_TYPE!r} is reserved for score decay")
    if event_type in PROFILE_EVENT_TYPES:
        raise InvalidInput(name, f"{event_type!r} is reserved for profile changes")
    return event_type


def validate_rule(fields: Mapping[str, Any], *, prefix: str = "", ignore: frozenset[str] = frozenset()) -> RuleValues:
    """Check and normalize a rule's editable fields; raise InvalidInput naming the first bad field."""
    for key in fields:
        if key not in RULE_FIELDS and key not in ignore:
            raise InvalidInput(f"{prefix}{key}", "unknown field")
    fields = {k: _plain(v) for k, v in fields.items()}
    ruleset_id = fields.get("ruleset_id")
    if ruleset_id is not None and (not isinstance(ruleset_id, str) or not ruleset_id.strip()):
        raise InvalidInput(f"{prefix}ruleset_id", "must be a ruleset id")
    event_type = check_event_type(fields.get("event_type"), f"{prefix}event_type")
    weight = fields.get("weight")
    if isinstance(weight, float) and weight.is_integer():
        weight = int(weight)
    if not isinstance(weight, int) or isinstance(weight, bool):
        raise InvalidInput(f"{prefix}weight", "is required and must be an integer (negative allowed)")
    if abs(weight) > MAX_WEIGHT:
        raise InvalidInput(f"{prefix}weight", f"must be between -{MAX_WEIGHT} and {MAX_WEIGHT}")
    icon = fields.get("icon")
    if icon is not None:
        if not isinstance(icon, str):
            raise InvalidInput(f"{prefix}icon", "must be a string")
        icon = icon.strip() or None
        if icon is not None and len(icon) > _ICON_MAX:
            raise InvalidInput(f"{prefix}icon", f"must be at most {_ICON_MAX} characters")
    active = fields.get("active", True)
    if active is None:
        active = True
    if not isinstance(active, bool):
        raise InvalidInput(f"{prefix}active", "must be true or false")
    start_at = _aware(fields.get("start_at"), f"{prefix}start_at")
    end_at = _aware(fields.get("end_at"), f"{prefix}end_at")
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise InvalidInput(f"{prefix}end_at", "must be after start_at")
    conditions = validate_conditions(fields.get("conditions"), prefix=f"{prefix}conditions")
    return RuleValues(
        ruleset_id=ruleset_id.strip() if isinstance(ruleset_id, str) else None,
        event_type=event_type,
        weight=weight,
        icon=icon,
        active=active,
        start_at=start_at,
        end_at=end_at,
        conditions=conditions,
    )


def validate_conditions(raw: Any, *, prefix: str = "conditions") -> list[dict[str, Any]]:
    """Conditions as stored: [{"property", "operator", "value"}], each accepted by core.scoring.Condition."""
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise InvalidInput(prefix, "must be a list of {property, operator, value}")
    if len(raw) > MAX_CONDITIONS:
        raise InvalidInput(prefix, f"at most {MAX_CONDITIONS} conditions per rule")
    result: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        where = f"{prefix}[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(where, "must be an object with property, operator and value")
        for key in item:
            if key not in CONDITION_FIELDS:
                raise InvalidInput(f"{where}.{key}", "unknown field")
        prop = item.get("property")
        if not isinstance(prop, str) or not prop.strip():
            raise InvalidInput(f"{where}.property", "is required and must be a non-empty string")
        operator = item.get("operator")
        if not isinstance(operator, str) or operator.strip() not in scoring.CONDITION_OPERATORS:
            raise InvalidInput(
                f"{where}.operator", f"must be one of {', '.join(scoring.CONDITION_OPERATORS)}; got {operator!r}"
            )
        operator = operator.strip()
        value = item.get("value")
        if not _json_scalar(value) and not (
            isinstance(value, list | tuple) and all(_json_scalar(v) and v is not None for v in value)
        ):
            raise InvalidInput(f"{where}.value", "must be a string, number, boolean, null or a list of those")
        if isinstance(value, list | tuple) and operator != "in":
            raise InvalidInput(f"{where}.value", f"a list is only allowed with operator 'in', not {operator!r}")
        if operator not in ("exists", "not_exists") and value is None:
            raise InvalidInput(f"{where}.value", f"is required for operator {operator!r}")
        try:
            scoring.Condition(prop.strip(), operator, list(value) if isinstance(value, tuple) else value)
        except ValueError as exc:
            raise InvalidInput(f"{where}.value", str(exc)) from None
        result.append({"property": prop.strip(), "operator": operator, "value": value})
    return result


def _plain(value: Any) -> Any:
    """Plain Python values from what an editor grid may hand over (numpy scalars, NaN/NaT for empty cells)."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    elif hasattr(value, "item") and not isinstance(value, list | tuple | dict | str):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN: an empty grid cell
        return None
    if type(value).__name__ == "NaTType":
        return None
    return value


def _json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _aware(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(name, f"not an ISO 8601 date-time: {value!r}") from None
    if not isinstance(value, datetime):
        raise InvalidInput(name, "must be a date-time")
    if value.tzinfo is None:
        raise InvalidInput(name, "must include a timezone offset (e.g. 2026-01-01T00:00:00Z)")
    return value.astimezone(UTC)


def _ruleset_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", "is required and must be a non-empty string")
    clean = " ".join(name.split())
    if len(clean) > _NAME_MAX:
        raise InvalidInput("name", f"must be at most {_NAME_MAX} characters")
    return clean


def _score_column(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("score_column", "must be a non-empty string")
    clean = value.strip()
    if len(clean) > _SCORE_COLUMN_MAX:
        raise InvalidInput("score_column", f"must be at most {_SCORE_COLUMN_MAX} characters")
    return clean


# --- rows ----------------------------------------------------------------------------------------------------------


def ensure_name_free(
    session: Session, table: Any, name: str, *scope: Any, except_id: str | None, taken: str
) -> None:
    """Conflict (naming `name`, saying `taken`) when another row of `table` within `scope` (e.g. the unit) has this
    name, ignoring case; `except_id` is the row being renamed. SQLite's lower() folds ASCII only: the exact name is
    compared too, or "Ä" passes here and breaks the unique key. Rulesets, fit rulesets and segments share it."""
    stmt = select(table.id).where(*scope, or_(table.name == name, func.lower(table.name) == name.lower()))
    if except_id is not None:
        stmt = stmt.where(table.id != except_id)
    if session.scalar(stmt) is not None:
        raise Conflict(taken, field="name")


def _ensure_name_free(session: Session, tenant: Tenant, name: str, except_id: str | None) -> None:
    ensure_name_free(session, models.Ruleset, name, models.Ruleset.unit_id == tenant.unit_id, except_id=except_id,
                     taken=f"a ruleset named {name!r} already exists")


def _make_primary(session: Session, tenant: Tenant, row: models.Ruleset, now: datetime) -> None:
    session.execute(
        update(models.Ruleset)
        .where(models.Ruleset.unit_id == tenant.unit_id, models.Ruleset.id != row.id, models.Ruleset.is_primary)
        .values(is_primary=False, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    row.is_primary = True
    row.updated_at = now
    session.flush()


def _ruleset_row(session: Session, tenant: Tenant, ruleset_id: str) -> models.Ruleset:
    row = session.scalar(
        select(models.Ruleset).where(models.Ruleset.unit_id == tenant.unit_id, models.Ruleset.id == ruleset_id)
    )
    if row is None:
        raise NotFound(f"ruleset {ruleset_id!r} does not exist in this unit", field="ruleset_id")
    return row


def _target_ruleset(session: Session, tenant: Tenant, ruleset_id: str | None, *, field_name: str) -> str:
    if ruleset_id is None:
        primary = session.scalar(
            select(models.Ruleset.id)
            .where(models.Ruleset.unit_id == tenant.unit_id)
            .order_by(models.Ruleset.is_primary.desc(), models.Ruleset.created_at, models.Ruleset.id)
            .limit(1)
        )
        if primary is None:
            raise Conflict("this unit has no ruleset; create one first", field=field_name)
        return primary
    return _ruleset_row(session, tenant, ruleset_id).id


def _rule_row(session: Session, tenant: Tenant, rule_id: str) -> models.Rule:
    row = session.scalar(select(models.Rule).where(models.Rule.unit_id == tenant.unit_id, models.Rule.id == rule_id))
    if row is None:
        raise NotFound(f"rule {rule_id!r} does not exist in this unit", field="rule_id")
    return row


def _new_rule_row(tenant: Tenant, ruleset_id: str, values: RuleValues, now: datetime, actor: str | None) -> models.Rule:
    return models.Rule(
        id=new_id("rl"), org_id=tenant.org_id, unit_id=tenant.unit_id, ruleset_id=ruleset_id,
        event_type=values.event_type, weight=values.weight, icon=values.icon, active=values.active,
        start_at=values.start_at, end_at=values.end_at, conditions=values.conditions,
        created_at=now, updated_at=now, created_by=actor, updated_by=actor,
    )


def _changed(row: models.Rule, values: RuleValues) -> bool:
    stored = (row.event_type, row.weight, row.icon, row.active, row.start_at, row.end_at, list(row.conditions or []))
    wanted = (
        values.event_type, values.weight, values.icon, values.active, values.start_at, values.end_at, values.conditions
    )
    return stored != wanted


def _apply(row: models.Rule, ruleset_id: str, values: RuleValues, now: datetime, actor: str | None) -> None:
    row.ruleset_id = ruleset_id
    row.event_type = values.event_type
    row.weight = values.weight
    row.icon = values.icon
    row.active = values.active
    row.start_at = values.start_at
    row.end_at = values.end_at
    row.conditions = values.conditions
    row.updated_at = now
    row.updated_by = actor


def _ruleset_view(row: models.Ruleset, rule_count: int) -> RulesetView:
    return RulesetView(
        row.id, row.name, row.score_column, bool(row.is_primary), row.created_at, row.updated_at, rule_count
    )


def _rule_view(row: models.Rule) -> RuleView:
    return RuleView(
        id=row.id, ruleset_id=row.ruleset_id, event_type=row.event_type, weight=row.weight, icon=row.icon,
        active=bool(row.active), start_at=row.start_at, end_at=row.end_at, conditions=list(row.conditions or []),
        created_at=row.created_at, updated_at=row.updated_at, created_by=row.created_by, updated_by=row.updated_by,
    )
