"""Segments: CRUD of segments and their rules, and membership as a live query.

Membership is defined by `core.segments.matches`. Here the rules compile to one SQL boolean expression over a lead
row, in three-valued logic: every rule's SQL is either exactly what the pure evaluator answers, or NULL where SQL
cannot be sure (text that is not plain ASCII, whose case folding SQL does not do like Python's `casefold`; a
string whose numeric reading matters; a JSON array or object; numbers beyond 2**53). SQL's AND/OR/NOT over
TRUE/FALSE/NULL is Kleene logic, so the whole expression is TRUE for certain members, FALSE for certain
non-members, and NULL for the few leads the pure evaluator then decides in Python. Count and list never disagree
with `core.segments`.

A segment's `active` flag does not change its membership: an inactive segment still counts and lists its members
(use it to park a segment without losing it). Merged leads (`merged_into` set) are never members; erased leads are
gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Float,
    Numeric,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from core import levels as core_levels
from core import segments as core
from core.scoring import CONDITION_OPERATORS, Condition, condition_holds
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound
from services.scoring import levels as level_service
from services.scoring.model import live_model, published_model
from services.scoring.rules import ensure_name_free
from services.tenancy import audit, policy
from services.tenancy.policy import Action

NAME_MAX = 200
DESCRIPTION_MAX = 2000
FIELD_MAX = 200
VALUE_MAX = 1000
ORDER_MAX = 2**31 - 1
WITHIN_DAYS_MAX = 36500
RULE_FIELDS: tuple[str, ...] = (
    "rule_name", "rule_type", "field_name", "operator", "value", "event_type", "within_days", "logic_group",
    "logic_op", "order_index", "active",
)
_EXACT_FLOAT = 9007199254740992  # 2**53: beyond it a JSON integer does not read as the same float everywhere
_NUMBER_CHARS = frozenset("0123456789.e+-infa")  # every character str() of an int or float can hold
_CHUNK = 500


# --- CRUD ----------------------------------------------------------------------------------------------------------


def segment_view(row: models.Segment) -> dict[str, Any]:
    return {
        "segment_id": row.id, "name": row.name, "description": row.description, "active": bool(row.active),
        "created_at": row.created_at, "updated_at": row.updated_at, "created_by": row.created_by,
        "updated_by": row.updated_by,
    }


def rule_view(row: models.SegmentRule) -> dict[str, Any]:
    return {
        "rule_id": row.id, "segment_id": row.segment_id, "org_id": row.org_id, "rule_name": row.rule_name,
        "rule_type": row.rule_type, "field_name": row.field_name, "operator": row.operator, "value": row.value,
        "event_type": row.event_type, "within_days": row.within_days, "logic_group": int(row.logic_group),
        "logic_op": row.logic_op, "order_index": int(row.order_index), "active": bool(row.active),
        "created_at": row.created_at, "updated_at": row.updated_at, "created_by": row.created_by,
        "updated_by": row.updated_by,
    }


def _text(value: Any, name: str, max_length: int, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(name, "is required and must be a non-empty string")
        return None
    if not isinstance(value, str):
        raise InvalidInput(name, "must be a string")
    clean = value.strip()
    if len(clean) > max_length:
        raise InvalidInput(name, f"must be at most {max_length} characters")
    if "\x00" in clean:
        raise InvalidInput(name, "must not contain NUL")
    return clean


def _segment_name(value: Any) -> str:
    name = _text(value, "name", NAME_MAX, required=True)
    assert name is not None
    return " ".join(name.split())


def _ensure_name_free(session: Session, tenant: Tenant, name: str, except_id: str | None) -> None:
    ensure_name_free(session, models.Segment, name, models.Segment.unit_id == tenant.unit_id, except_id=except_id,
                     taken=f"a segment named {name!r} already exists")


def list_segments(session: Session, tenant: Tenant) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(models.Segment).where(models.Segment.unit_id == tenant.unit_id)
        .order_by(models.Segment.created_at, models.Segment.id)
    )
    return [segment_view(r) for r in rows]


def segment_row(session: Session, tenant: Tenant, segment_id: str) -> models.Segment:
    row = session.get(models.Segment, segment_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"segment {segment_id!r} does not exist in this unit", field="id")
    return row


def get_segment(session: Session, tenant: Tenant, segment_id: str) -> dict[str, Any]:
    return segment_view(segment_row(session, tenant, segment_id))


def create_segment(
    session: Session, tenant: Tenant, *, name: Any, description: Any = None, active: bool | None = None,
    now: datetime,
) -> dict[str, Any]:
    policy.require(tenant, Action.EDIT_SCORING)
    clean = _segment_name(name)
    _ensure_name_free(session, tenant, clean, None)
    row = models.Segment(
        id=new_id("sg"), org_id=tenant.org_id, unit_id=tenant.unit_id, name=clean,
        description=_text(description, "description", DESCRIPTION_MAX, required=False),
        active=True if active is None else bool(active), created_at=now, updated_at=now,
        created_by=tenant.actor, updated_by=tenant.actor,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "segment", row, now)
    return segment_view(row)


def update_segment(
    session: Session, tenant: Tenant, segment_id: str, *, name: Any, description: Any = None,
    active: bool | None = None, now: datetime,
) -> dict[str, Any]:
    """Replace the segment's name and description (as PUT does); `active` keeps its value when not given."""
    policy.require(tenant, Action.EDIT_SCORING)
    row = segment_row(session, tenant, segment_id)
    before = audit.snapshot(row)
    clean = _segment_name(name)
    _ensure_name_free(session, tenant, clean, row.id)
    row.name = clean
    row.description = _text(description, "description", DESCRIPTION_MAX, required=False)
    if active is not None:
        row.active = bool(active)
    row.updated_at, row.updated_by = now, tenant.actor
    session.flush()
    audit.updated(session, tenant, "segment", before, row, now)
    return segment_view(row)


def delete_segment(session: Session, tenant: Tenant, segment_id: str, *, now: datetime) -> None:
    policy.require(tenant, Action.EDIT_SCORING)
    row = segment_row(session, tenant, segment_id)
    users = segment_users(session, tenant, row.id)
    if users:
        # Deleting it would silently change who those fire or sync for (nobody): say so instead.
        raise Conflict(f"segment {row.name!r} is used by {', '.join(users)}; change those first")
    audit.deleted(session, tenant, "segment", row, now)
    # Its rules go first, in one statement (deleting them row by row raced the foreign key's own cascade).
    r = models.SegmentRule
    session.execute(sql_delete(r).where(r.unit_id == tenant.unit_id, r.segment_id == row.id)
                    .execution_options(synchronize_session=False))
    session.delete(row)
    session.flush()


def segment_users(session: Session, tenant: Tenant, segment_id: str) -> list[str]:
    """What restricts itself to the segment: triggers (any kind) and the CRM's scheduled sync."""
    t = models.Trigger
    users = [f"{kind} trigger {name or trigger_id!r}" for trigger_id, kind, name, config in session.execute(
        select(t.id, t.kind, t.name, t.config).where(t.unit_id == tenant.unit_id).order_by(t.created_at, t.id)
    ) if (config or {}).get("segment_id") == segment_id]
    crm = session.scalar(select(models.CrmSettings.unit_id).where(
        models.CrmSettings.unit_id == tenant.unit_id, models.CrmSettings.sync_segment_id == segment_id))
    return users + (["the CRM sync"] if crm else [])


def _rule_rows(session: Session, tenant: Tenant, segment_id: str) -> list[models.SegmentRule]:
    r = models.SegmentRule
    return list(session.scalars(
        select(r).where(r.unit_id == tenant.unit_id, r.segment_id == segment_id)
        .order_by(r.logic_group, r.order_index, r.created_at, r.id)
    ))


def list_rules(session: Session, tenant: Tenant, segment_id: str) -> list[dict[str, Any]]:
    segment = segment_row(session, tenant, segment_id)
    return [rule_view(r) for r in _rule_rows(session, tenant, segment.id)]


def _integer(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(name, "must be an integer")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}")
    return value


def validate_rule(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalize a rule's fields (keys of RULE_FIELDS); InvalidInput names the first bad field."""
    for key in fields:
        if key not in RULE_FIELDS:
            raise InvalidInput(key, "unknown field")
    rule_type = fields.get("rule_type")
    if rule_type not in core.RULE_TYPES:
        raise InvalidInput("rule_type", f"must be one of {', '.join(core.RULE_TYPES)}; got {rule_type!r}")
    operator = fields.get("operator")
    if operator not in CONDITION_OPERATORS:
        raise InvalidInput("operator", f"must be one of {', '.join(CONDITION_OPERATORS)}; got {operator!r}")
    logic_op = fields.get("logic_op") or "AND"
    if logic_op not in core.LOGIC_OPS:
        raise InvalidInput("logic_op", f"must be one of {', '.join(core.LOGIC_OPS)}; got {logic_op!r}")
    value = fields.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    value = _text(value, "value", VALUE_MAX, required=False)
    if operator in core.NO_VALUE_OPERATORS:
        value = None
    field_name = _text(fields.get("field_name"), "field_name", FIELD_MAX, required=rule_type != "score") or ""
    event_type = _text(fields.get("event_type"), "event_type", FIELD_MAX, required=rule_type == "event_metadata")
    within = fields.get("within_days")
    within = None if within is None else _integer(within, "within_days", 1, WITHIN_DAYS_MAX)
    if rule_type != "event_metadata":
        event_type, within = None, None
    out = {
        "rule_name": _text(fields.get("rule_name"), "rule_name", NAME_MAX, required=False),
        "rule_type": rule_type, "field_name": field_name, "operator": operator, "value": value,
        "event_type": event_type, "within_days": within,
        "logic_group": _integer(fields.get("logic_group") or 0, "logic_group", 0, ORDER_MAX),
        "logic_op": logic_op,
        "order_index": _integer(fields.get("order_index") or 0, "order_index", -ORDER_MAX, ORDER_MAX),
        "active": True if fields.get("active") is None else bool(fields.get("active")),
    }
    try:
        core.SegmentRule(**{k: v for k, v in out.items() if k != "rule_name"})
    except ValueError as exc:
        name, _, message = str(exc).partition(": ")
        raise InvalidInput(name, message) from None
    return out


def _rule_values(row: models.SegmentRule) -> dict[str, Any]:
    return {name: getattr(row, name) for name in RULE_FIELDS}


def create_rule(
    session: Session, tenant: Tenant, segment_id: str, *, fields: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    policy.require(tenant, Action.EDIT_SCORING)
    segment = segment_row(session, tenant, segment_id)
    values = validate_rule(fields)
    row = models.SegmentRule(
        id=new_id("sgr"), org_id=tenant.org_id, unit_id=tenant.unit_id, segment_id=segment.id, **values,
        created_at=now, updated_at=now, created_by=tenant.actor, updated_by=tenant.actor,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "segment_rule", row, now)
    return rule_view(row)


def _rule_row(session: Session, tenant: Tenant, segment_id: str, rule_id: str) -> models.SegmentRule:
    segment = segment_row(session, tenant, segment_id)
    row = session.get(models.SegmentRule, rule_id)
    if row is None or row.unit_id != tenant.unit_id or row.segment_id != segment.id:
        raise NotFound(f"rule {rule_id!r} does not exist in segment {segment_id!r}", field="ruleId")
    return row


def update_rule(
    session: Session, tenant: Tenant, segment_id: str, rule_id: str, *, fields: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Partial update: the fields given change, the others keep their value."""
    policy.require(tenant, Action.EDIT_SCORING)
    row = _rule_row(session, tenant, segment_id, rule_id)
    before = audit.snapshot(row)
    values = validate_rule({**_rule_values(row), **fields})
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at, row.updated_by = now, tenant.actor
    session.flush()
    audit.updated(session, tenant, "segment_rule", before, row, now)
    return rule_view(row)


def delete_rule(session: Session, tenant: Tenant, segment_id: str, rule_id: str, *, now: datetime) -> None:
    policy.require(tenant, Action.EDIT_SCORING)
    row = _rule_row(session, tenant, segment_id, rule_id)
    audit.deleted(session, tenant, "segment_rule", row, now)
    session.delete(row)
    session.flush()


def core_rules(session: Session, tenant: Tenant, segment_id: str) -> list[core.SegmentRule]:
    """The segment's rules as core values (NotFound for another unit's or an unknown segment)."""
    segment = segment_row(session, tenant, segment_id)
    return [as_core(r) for r in _rule_rows(session, tenant, segment.id)]


def as_core(row: models.SegmentRule | Mapping[str, Any]) -> core.SegmentRule:
    get: Callable[[str], Any] = row.get if isinstance(row, Mapping) else lambda n: getattr(row, n)
    return core.SegmentRule(
        rule_type=get("rule_type"), field_name=get("field_name") or "", operator=get("operator"),
        value=get("value"), event_type=get("event_type"), within_days=get("within_days"),
        logic_group=int(get("logic_group") or 0), logic_op=get("logic_op") or "AND",
        order_index=int(get("order_index") or 0), active=bool(get("active")), id=str(get("id") or ""),
    )


# --- the SQL compiler ----------------------------------------------------------------------------------------------

_UNKNOWN: ColumnElement[Any] = cast(null(), Boolean)


def _const(value: bool) -> ColumnElement[Any]:
    return true() if value else false()


def _holds(condition: Condition, subject: dict[str, Any]) -> bool:
    return condition_holds(condition, subject, fold_case=True)


def _options(condition: Condition) -> list[str]:
    if condition.operator in ("in", "not_in"):
        return [o.strip() for o in str(condition.value).split(",")]
    return [str(condition.value)]


@dataclass(frozen=True, slots=True)
class _Dialect:
    name: str

    def lower(self, text: Any) -> Any:
        return func.lower(text)

    def is_ascii(self, text: Any) -> Any:
        if self.name == "postgresql":
            return text.op("~", is_comparison=True)(literal("^[ -~]*$"))
        return not_(text.op("GLOB", is_comparison=True)(literal("*[^ -~]*")))

    def has_digit(self, text: Any) -> Any:
        if self.name == "postgresql":
            return text.op("~", is_comparison=True)(literal("[0-9]"))
        return text.op("GLOB", is_comparison=True)(literal("*[0-9]*"))

    def contains(self, text: Any, wanted: str) -> Any:
        if self.name == "postgresql":
            return func.strpos(text, literal(wanted)) > 0
        return func.instr(text, literal(wanted)) > 0

    def starts(self, text: Any, wanted: str) -> Any:
        return func.substr(text, 1, len(wanted)) == literal(wanted)

    def ends(self, text: Any, wanted: str) -> Any:
        if self.name == "postgresql":
            return func.right(text, len(wanted)) == literal(wanted)
        return and_(func.length(text) >= len(wanted), func.substr(text, -len(wanted)) == literal(wanted))

    def as_text(self, number: Any) -> Any:
        return cast(number, String)


def _text_op(d: _Dialect, op: str, text: Any, wanted: str) -> Any:
    """text (already folded) against a folded `wanted`, for the substring operators."""
    if wanted == "":
        return _const(op != "not_contains")
    if op == "contains":
        return d.contains(text, wanted)
    if op == "not_contains":
        return not_(d.contains(text, wanted))
    if op == "starts_with":
        return d.starts(text, wanted)
    return d.ends(text, wanted)


def _string_branch(d: _Dialect, condition: Condition, s: Any) -> Any:
    """The condition on a non-NULL SQL string `s` (a JSON string or a text column), three-valued."""
    op = condition.operator
    if op in core.NO_VALUE_OPERATORS:
        return _const(_holds(condition, {"value": "x"}))
    folded = d.lower(s)
    nonnumeric = and_(not_(d.has_digit(s)), not_(d.contains(folded, "inf")), not_(d.contains(folded, "nan")))
    if op in core.NUMERIC_OPERATORS:
        # an ASCII string without a digit, "inf" or "nan" never reads as a number
        return case((and_(d.is_ascii(s), nonnumeric), false()), else_=_UNKNOWN)
    if op in ("equals", "not_equals", "in", "not_in"):
        equal_any: list[Any] = []
        for option in _options(condition):
            text_equal = folded == literal(option.casefold())
            if core.as_number(option) is None:
                equal_any.append(text_equal)
            else:  # a numeric string compares as a number: only a certainly non-numeric one compares as text
                equal_any.append(case((nonnumeric, text_equal), else_=_UNKNOWN))
        found = or_(*equal_any)
        outcome = found if op in ("equals", "in") else not_(found)
        return case((d.is_ascii(s), outcome), else_=_UNKNOWN)
    return case((d.is_ascii(s), _text_op(d, op, folded, str(condition.value).casefold())), else_=_UNKNOWN)


def _number_branch(d: _Dialect, condition: Condition, x: Any, *, integer: bool) -> Any:
    """The condition on a non-NULL SQL number `x` (|x| < 2**53); `integer`: x is an integer column, whose text
    is the same in SQL and Python."""
    op = condition.operator
    if op in core.NO_VALUE_OPERATORS:
        return _const(_holds(condition, {"value": 1}))
    if op in core.NUMERIC_OPERATORS:
        bound = core.as_number(condition.value)
        assert bound is not None
        return {"gt": x > bound, "gte": x >= bound, "lt": x < bound, "lte": x <= bound}[op]
    if op in ("equals", "not_equals", "in", "not_in"):
        equal_any: list[Any] = []
        for option in _options(condition):
            number = core.as_number(option)
            if number is not None:
                equal_any.append(x == number)
            elif integer:
                equal_any.append(d.as_text(x) == literal(option.casefold()))
            elif set(option.casefold()) - _NUMBER_CHARS:
                equal_any.append(false())
            else:
                equal_any.append(_UNKNOWN)
        found = or_(*equal_any)
        return found if op in ("equals", "in") else not_(found)
    wanted = str(condition.value).casefold()
    if integer:
        return _text_op(d, op, d.as_text(x), wanted)
    if wanted and set(wanted) - _NUMBER_CHARS:
        return _const(op == "not_contains")
    return _UNKNOWN


def _on_json(d: _Dialect, condition: Condition, column: Any, key: str) -> Any:
    """The condition on `key` of a JSON object column. One simple CASE over the value's JSON type, so the type is
    read once per row."""
    missing, null_ = _const(_holds(condition, {})), _const(_holds(condition, {"value": None}))
    yes, no = _const(_holds(condition, {"value": True})), _const(_holds(condition, {"value": False}))
    if d.name == "postgresql":
        node = column.op("->")(literal(key))
        raw = column.op("->>")(literal(key))
        number = case((func.abs(cast(raw, Numeric)) < _EXACT_FLOAT,
                       _number_branch(d, condition, cast(raw, Float), integer=False)), else_=_UNKNOWN)
        return case(
            {"missing": missing, "null": null_, "boolean": case((raw == "true", yes), else_=no),
             "string": _string_branch(d, condition, raw), "number": number},
            value=func.coalesce(func.jsonb_typeof(node), literal("missing")), else_=_UNKNOWN,
        )
    if '"' in key or "\\" in key or "\x00" in key:
        return _UNKNOWN  # not expressible as a SQLite JSON path: the rule is decided in Python
    json_type, value = _sqlite_json(column, key)
    number = case((func.abs(value) < _EXACT_FLOAT, _number_branch(d, condition, cast(value, Float), integer=False)),
                  else_=_UNKNOWN)
    return case(
        {"missing": missing, "null": null_, "true": yes, "false": no, "text": _string_branch(d, condition, value),
         "integer": number, "real": number},
        value=json_type, else_=_UNKNOWN,
    )


def _sqlite_json(column: Any, key: str) -> tuple[Any, Any]:
    """(json type coalesced to 'missing', value) of `key` in a SQLite JSON column."""
    path = literal(f'$."{key}"')
    return func.coalesce(func.json_type(column, path), literal("missing")), func.json_extract(column, path)


def _on_string_column(d: _Dialect, condition: Condition, column: Any) -> Any:
    return case((column.is_(None), _const(_holds(condition, {}))), else_=_string_branch(d, condition, column))


def _on_integer(d: _Dialect, condition: Condition, column: Any) -> Any:
    return case((column.is_(None), _const(_holds(condition, {}))),
                else_=_number_branch(d, condition, column, integer=True))


def _on_level(condition: Condition, score: Any, levels: Sequence[core_levels.Level]) -> Any:
    """The condition on the name of the level `score` falls in (the first level containing it, as level_for)."""
    contains = [and_(score >= lv.min_score, score <= lv.max_score) for lv in levels]
    picked = [
        and_(contains[i], *[not_(c) for c in contains[:i]])
        for i, lv in enumerate(levels) if _holds(condition, {"value": lv.name})
    ]
    if _holds(condition, {}):
        picked.append(and_(*[not_(c) for c in contains]) if contains else true())
    return or_(*picked) if picked else false()


@dataclass
class Plan:
    """A segment's compiled membership: `expression` over the row of `select_from`, TRUE/FALSE/NULL."""

    expression: Any
    joins: list[tuple[Any, Any]]
    rules: list[core.SegmentRule]
    scan_table: bool = False  # read the whole leads table rather than the unit's index (see _unit_holds_most_leads)


def compile_rules(
    session: Session, tenant: Tenant, rules: Sequence[core.SegmentRule], now: datetime
) -> Plan:
    d = _Dialect(session.get_bind().dialect.name)
    lead = models.Lead
    primary_id = live_model(session, tenant).primary_ruleset_id
    primary = aliased(models.LeadScore, name="primary_score")
    account = aliased(models.Account, name="lead_account")
    joins: list[tuple[Any, Any]] = []
    need_primary = need_account = False
    levels: list[core_levels.Level] | None = None
    fit_levels: list[core_levels.Level] | None = None

    def score_of(ruleset_id: str | None) -> Any:
        nonlocal need_primary
        if ruleset_id is None or ruleset_id == primary_id:
            need_primary = True
            return func.coalesce(primary.score, literal(0))
        s = models.LeadScore
        return func.coalesce(
            select(s.score).where(s.lead_id == lead.id, s.ruleset_id == ruleset_id, s.unit_id == tenant.unit_id)
            .scalar_subquery(),
            literal(0),
        )

    def one(rule: core.SegmentRule) -> Any:
        nonlocal need_account, levels, fit_levels
        condition = rule.condition
        kind = rule.rule_type
        if kind == "lead_metadata":
            return _on_json(d, condition, lead.metadata_, rule.field_name)
        if kind == "score":
            rs = None if rule.field_name in core.PRIMARY_SCORE_FIELDS else rule.field_name
            return _on_integer(d, condition, score_of(rs))
        if kind == "level":
            if levels is None:
                levels = level_service.load_levels(session, tenant)
            return _on_level(condition, score_of(None), levels)
        if kind == "fit_level":
            if fit_levels is None:
                fit_levels = published_model(session, tenant).fit_levels_for("profile")
            return _on_level(condition, lead.fit_score, fit_levels)
        if kind == "account":
            need_account = True
            if rule.field_name == "fit_score":
                return _on_integer(d, condition, account.fit_score)
            if rule.field_name in ("domain", "name"):
                return _on_string_column(d, condition, getattr(account, rule.field_name))
            return case((account.id.is_(None), _const(_holds(condition, {}))),
                        else_=_on_json(d, condition, account.metadata_, rule.field_name))
        # event_metadata: the leads with a matching event, found by the pure evaluator over the type's events in
        # the window (read once; each distinct metadata text is decided once), then one IN over their ids.
        return lead.id.in_(id_list_select(d.name, sorted(_leads_with_matching_event(session, tenant, rule, now))))

    parts: list[Any] = []
    for group in core.grouped(rules):
        acc = one(group[0])
        for rule in group[1:]:
            acc = or_(acc, one(rule)) if rule.logic_op == "OR" else and_(acc, one(rule))
        parts.append(acc)
    if need_primary:
        joins.append((primary, and_(primary.lead_id == lead.id, primary.ruleset_id == (primary_id or ""))))
    if need_account:
        joins.append((account, and_(account.id == lead.account_id, account.unit_id == tenant.unit_id)))
    expression = and_(*parts) if parts else true()
    return Plan(expression, joins, list(rules), d.name == "sqlite" and _unit_holds_most_leads(session, tenant))


def _unit_holds_most_leads(session: Session, tenant: Tenant) -> bool:
    """SQLite keeps no statistics unless ANALYZE runs, so it always walks the unit's index and then looks each lead
    up in the table, in index order. When the unit holds most of the table (the common self-hosted case), one scan
    of the table in its own order is faster (100k leads: 0.47 s instead of 0.75 s for a 5-rule segment). Costs two
    index reads (~6 ms at 100k leads)."""
    lead = models.Lead
    total = session.scalar(select(func.max(literal_column("rowid"))).select_from(lead)) or 0
    mine = session.scalar(select(func.count()).select_from(lead).where(lead.unit_id == tenant.unit_id)) or 0
    return total > 0 and mine * 2 >= total


def _leads_with_matching_event(
    session: Session, tenant: Tenant, rule: core.SegmentRule, now: datetime
) -> set[str]:
    """The leads with an event of the rule's type (in its window) whose metadata satisfies its condition. Exact by
    construction (core.segments.event_matches), and one pass over the events instead of JSON functions per row:
    metadata repeats (pages, campaigns), so each distinct text is parsed and decided once."""
    e = models.Event
    query = select(e.lead_id, cast(e.metadata_, Text)).where(
        e.unit_id == tenant.unit_id, e.event_type == rule.event_type, e.lead_id.is_not(None)
    )
    if rule.within_days is not None:
        query = query.where(e.occurred_at >= now - timedelta(days=rule.within_days))
    verdicts: dict[str | None, bool] = {}
    found: set[str] = set()
    for lead_id, text in session.execute(query):
        verdict = verdicts.get(text)
        if verdict is None:
            verdict = verdicts[text] = core.event_matches(rule, orjson.loads(text) if text else None)
        if verdict:
            found.add(str(lead_id))
    return found


def id_list_select(dialect: str, ids: Sequence[str]) -> Any:
    """A select of the given ids, passed as one JSON / array parameter (any number of them stays within the
    databases' limits on parameters)."""
    if dialect == "postgresql":
        return select(func.unnest(cast(literal(list(ids)), ARRAY(String))).column_valued("id"))
    return select(literal_column("value")).select_from(func.json_each(literal(json.dumps(list(ids)))))


def _leads_where(tenant: Tenant, plan: Plan, condition: Any) -> Any:
    lead = models.Lead
    stmt = select(lead.id).select_from(lead)
    for target, on in plan.joins:
        stmt = stmt.outerjoin(target, on)
    # SQLite: a unary + keeps the unit's index out of the plan (a scan of the table, see _unit_holds_most_leads).
    unit = literal_column("+leads.unit_id") if plan.scan_table else lead.unit_id
    return stmt.where(unit == tenant.unit_id, lead.merged_into.is_(None), condition)


@dataclass(frozen=True, slots=True)
class Membership:
    """Members: the leads SQL is sure of (`certain`, a select of lead ids) plus `decided`, the uncertain leads the
    pure evaluator admitted."""

    certain: Any
    decided: list[str]
    certain_count: int
    unsure_count: int

    dialect: str = "sqlite"

    @property
    def ids_select(self) -> Any:
        """One select of every member's id (the decided ids go in as one JSON / array parameter, so any number of
        them stays within the databases' limits on parameters)."""
        if not self.decided:
            return self.certain
        return self.certain.union(id_list_select(self.dialect, self.decided))


def _membership(session: Session, tenant: Tenant, rules: Sequence[core.SegmentRule], now: datetime) -> Membership:
    plan = compile_rules(session, tenant, rules, now)
    certain = _leads_where(tenant, plan, plan.expression)
    # One pass, the expression evaluated once per lead: how many leads SQL is sure are in, sure are out, unsure.
    verdicts = _leads_where(tenant, plan, true()).with_only_columns(plan.expression.label("verdict")).subquery()
    counts = {verdict: n for verdict, n in session.execute(
        select(verdicts.c.verdict, func.count()).group_by(verdicts.c.verdict))}
    yes = sum(n for verdict, n in counts.items() if verdict is not None and bool(verdict))
    unsure: list[str] = []
    if counts.get(None):
        unsure = list(session.scalars(_leads_where(tenant, plan, plan.expression.is_(None))))
    decided = [lid for lid, facts in lead_facts(session, tenant, unsure, rules, now).items()
               if core.matches(rules, facts)]
    return Membership(certain, decided, int(yes), len(unsure), session.get_bind().dialect.name)


def membership(session: Session, tenant: Tenant, segment_id: str, now: datetime) -> Membership:
    return _membership(session, tenant, core_rules(session, tenant, segment_id), now)


def member_ids_select(session: Session, tenant: Tenant, segment_id: str, now: datetime) -> Any:
    """A select of the ids of the segment's members (for `lead.id.in_(...)` in other queries)."""
    return membership(session, tenant, segment_id, now).ids_select


def count_rules(session: Session, tenant: Tenant, rules: Sequence[core.SegmentRule], now: datetime) -> int:
    """How many leads the rules select (also for rules being edited, not yet saved)."""
    found = _membership(session, tenant, rules, now)
    return found.certain_count + len(found.decided)


def count_members(session: Session, tenant: Tenant, segment_id: str, now: datetime) -> int:
    return count_rules(session, tenant, core_rules(session, tenant, segment_id), now)


# --- facts for the pure evaluator ----------------------------------------------------------------------------------


def lead_facts(
    session: Session, tenant: Tenant, lead_ids: Sequence[str], rules: Sequence[core.SegmentRule] | None,
    now: datetime,
) -> dict[str, core.LeadFacts]:
    """The facts core.segments reads, per lead id (leads of the unit only). Events are loaded only of the event
    types `rules` read (all when `rules` is None... none then: triggers' filters read no events)."""
    out: dict[str, core.LeadFacts] = {}
    if not lead_ids:
        return out
    primary_id = live_model(session, tenant).primary_ruleset_id
    levels = level_service.load_levels(session, tenant)
    fit_levels = published_model(session, tenant).fit_levels_for("profile")
    event_types = sorted({r.event_type for r in rules or () if r.rule_type == "event_metadata" and r.event_type})
    lead, account = models.Lead, models.Account
    for start in range(0, len(lead_ids), _CHUNK):
        chunk = list(lead_ids[start:start + _CHUNK])
        rows = session.execute(
            select(lead.id, lead.metadata_, lead.fit_score, lead.email, lead.first_name, lead.last_name,
                   lead.account_id, account.domain, account.name, account.fit_score.label("account_fit"),
                   account.metadata_.label("account_metadata"))
            .select_from(lead)
            .outerjoin(account, and_(account.id == lead.account_id, account.unit_id == tenant.unit_id))
            .where(lead.unit_id == tenant.unit_id, lead.id.in_(chunk))
        ).all()
        scores: dict[str, dict[str, int]] = {lid: {} for lid in chunk}
        s = models.LeadScore
        for lid, rs, score in session.execute(
            select(s.lead_id, s.ruleset_id, s.score).where(s.unit_id == tenant.unit_id, s.lead_id.in_(chunk))
        ):
            scores[lid][rs] = int(score)
        events: dict[str, list[core.EventFacts]] = {lid: [] for lid in chunk}
        if event_types:
            e = models.Event
            for lid, et, at, meta in session.execute(
                select(e.lead_id, e.event_type, e.occurred_at, e.metadata_).where(
                    e.unit_id == tenant.unit_id, e.lead_id.in_(chunk), e.event_type.in_(event_types)
                )
            ):
                events[lid].append(core.EventFacts(et, at, meta if isinstance(meta, dict) else {}))
        for r in rows:
            score = scores[r.id].get(primary_id, 0) if primary_id else 0
            level = core_levels.level_for(score, levels)
            fit = core_levels.level_for(int(r.fit_score or 0), fit_levels)
            has_account = r.account_id is not None and r.name is not None
            columns = {"domain": r.domain, "name": r.name, "fit_score": r.account_fit}
            out[r.id] = core.LeadFacts(
                profile=r.metadata_ if isinstance(r.metadata_, dict) else {},
                attributes={
                    "score": score, "level": level.name if level else None, "fit_score": int(r.fit_score or 0),
                    "fit_level": fit.name if fit else None, "email": r.email, "first_name": r.first_name,
                    "last_name": r.last_name, "account_id": r.account_id if has_account else None,
                    "account_domain": r.domain, "account_name": r.name,
                },
                scores=scores[r.id],
                account={k: v for k, v in columns.items() if v is not None} if has_account else None,
                account_profile=(r.account_metadata if isinstance(r.account_metadata, dict) else {})
                if has_account else None,
                events=events[r.id], as_of=now,
            )
    return out


# --- trigger filters -----------------------------------------------------------------------------------------------


def check_trigger_filters(session: Session, tenant: Tenant, config: Mapping[str, Any]) -> dict[str, Any]:
    """The targeting part of a trigger's config, validated: {segment_id, profile_filters, lead_attribute_filters}
    (segment_id must name a segment of the unit)."""
    out: dict[str, Any] = {}
    segment_id = config.get("segment_id")
    if segment_id is not None and segment_id != "":
        if not isinstance(segment_id, str):
            raise InvalidInput("segment_id", "must be a string")
        row = session.get(models.Segment, segment_id)
        if row is None or row.unit_id != tenant.unit_id:
            raise InvalidInput("segment_id", f"no segment {segment_id!r} in this unit")
        out["segment_id"] = segment_id
    for name, attributes in (("profile_filters", False), ("lead_attribute_filters", True)):
        items = config.get(name) or []
        if not isinstance(items, list):
            raise InvalidInput(name, "must be a list of {field_name, operator, value}")
        clean = []
        for pos, item in enumerate(items):
            problem = core.filter_problem(item, attributes=attributes)
            if problem is not None:
                raise InvalidInput(f"{name}[{pos}].{problem[0]}".rstrip("."), problem[1])
            value = item.get("value")
            clean.append({"field_name": item["field_name"].strip(), "operator": item["operator"],
                          "value": None if value is None else str(value).strip()})
        out[name] = clean
    return out


def lead_passes_filters(
    session: Session, tenant: Tenant, config: Mapping[str, Any], lead_id: str | None, now: datetime
) -> bool:
    """Whether a trigger with this config may fire for the lead: a member of its segment (when set) passing its
    profile and lead attribute filters. A trigger without any of them passes every lead (and costs nothing)."""
    segment_id = config.get("segment_id")
    profile = [core.Filter(**f) for f in config.get("profile_filters") or []]
    attributes = [core.Filter(**f) for f in config.get("lead_attribute_filters") or []]
    if not segment_id and not profile and not attributes:
        return True
    if lead_id is None:
        return False
    rules: list[core.SegmentRule] = []
    if segment_id:
        row = session.get(models.Segment, segment_id)
        if row is None or row.unit_id != tenant.unit_id:
            return False  # the segment was deleted: nobody is a member
        rules = core_rules(session, tenant, segment_id)
    facts = lead_facts(session, tenant, [lead_id], rules, now).get(lead_id)
    if facts is None:
        return False
    lead = session.get(models.Lead, lead_id)
    if lead is None or lead.merged_into is not None:
        return False
    return core.matches(rules, facts) and core.filters_pass(profile, attributes, facts)


def lead_segments(session: Session, tenant: Tenant, lead_id: str, now: datetime) -> list[dict[str, Any]]:
    """The unit's active segments (with rules) the lead is a member of: [{id, name}], by name."""
    rows = list(session.scalars(
        select(models.Segment).where(models.Segment.unit_id == tenant.unit_id, models.Segment.active.is_(True))
        .order_by(models.Segment.name, models.Segment.id)
    ))
    rules = {row.id: core_rules(session, tenant, row.id) for row in rows}
    facts = lead_facts(session, tenant, [lead_id], [r for group in rules.values() for r in group], now).get(lead_id)
    if facts is None:
        return []
    return [{"id": row.id, "name": row.name} for row in rows if rules[row.id] and core.matches(rules[row.id], facts)]
