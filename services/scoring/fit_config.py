"""Fit configuration: field mappings, fit rulesets and rules, fit levels (for lead profiles and for accounts).

Every change is a change of the unit's scoring model, made like the engagement rules and levels: the policy is
asked (Action.EDIT_SCORING), `begin_change` takes the configuration lock, the change is audited, and `publish`
records the new version last (it rescores the stored fit of every lead or account when fit rules move).
`kind` is "profile" (leads) or "account" everywhere; every read and change of the account kind answers only
while the unit's ABM switch is on (services.people.owner_scores.require_abm: 403 `abm_disabled`). Views are dicts in
the API's shapes, where the property a rule or mapping reads is named `profile_property` or `account_property` by
kind, and errors name those fields.

`apply_mappings_to_history` re-applies the current mappings to the event log (an admin backfill).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core import levels as core_levels
from core import profile as core_profile
from core import scoring
from core.profile import ACCOUNT_PROFILE_EVENT, LEAD_PROFILE_EVENT, PROFILE_KINDS, UPDATE_BEHAVIORS, ProfileChange
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.people.owner_scores import abm_enabled, require_abm
from services.people.profiles import SYSTEM_CHANNEL, set_account_profile, set_lead_profile
from services.scoring.levels import check_levels, clean_level_name
from services.scoring.model import begin_change, lock_config, published_model
from services.scoring.publish import publish
from services.scoring.rules import MAX_WEIGHT, ensure_name_free
from services.tenancy import audit, policy
from services.tenancy.policy import Action

_NAME_MAX = 200
_FIELD_MAX = 200  # source_field and property (the columns' width)
_VALUE_MAX = 1000  # comparison_value
UI_ORDER_MAX = 2**31 - 1  # an INTEGER column
FIT_RULE_FIELDS: tuple[str, ...] = ("property", "condition", "comparison_value", "weight", "ui_order")
_NO_VALUE_CONDITIONS = frozenset({"exists", "not_exists"})


def property_field(kind: str) -> str:
    """The API's name of the profile property a rule or mapping of `kind` reads: profile_property/account_property."""
    return f"{kind}_property"


def _kind(kind: str) -> str:
    if kind not in PROFILE_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(PROFILE_KINDS)}; got {kind!r}")
    return kind


def _text(value: Any, name: str, max_length: int, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(name, "is required and must be a non-empty string")
    clean = value.strip()
    if len(clean) > max_length:
        raise InvalidInput(name, f"must be at most {max_length} characters")
    return clean


def _integer(value: Any, name: str, limit: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(name, "is required and must be an integer")
    if abs(value) > limit:
        raise InvalidInput(name, f"must be between {-limit} and {limit}")
    return value


def _readable(session: Session, tenant: Tenant, kind: str) -> str:
    """`kind`, once checked: account configuration answers only while ABM is on (403 `abm_disabled` otherwise)."""
    if _kind(kind) == "account":
        require_abm(session, tenant)
    return kind


def _begin(session: Session, tenant: Tenant, kind: str, now: datetime) -> None:
    policy.require(tenant, Action.EDIT_SCORING)
    _readable(session, tenant, kind)  # before begin_change: a refused change writes nothing
    begin_change(session, tenant, now)


# --- field mappings ------------------------------------------------------------------------------------------------


def mapping_view(row: models.FieldMapping) -> dict[str, Any]:
    return {
        "id": row.id,
        "source_field": row.source_field,
        property_field(row.kind): row.property,
        "update_behavior": row.update_behavior,
        "created_at": row.created_at,
    }


def list_mappings(session: Session, tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(models.FieldMapping)
        .where(
            models.FieldMapping.unit_id == tenant.unit_id, models.FieldMapping.kind == _readable(session, tenant, kind)
        )
        .order_by(models.FieldMapping.created_at, models.FieldMapping.id)
    )
    return [mapping_view(r) for r in rows]


def _behavior(value: Any) -> str:
    if not isinstance(value, str) or value.strip() not in UPDATE_BEHAVIORS:
        raise InvalidInput("update_behavior", f"must be one of {', '.join(UPDATE_BEHAVIORS)}; got {value!r}")
    return value.strip()


def create_mapping(
    session: Session,
    tenant: Tenant,
    kind: str,
    *,
    source_field: str,
    property: str,
    update_behavior: str = "always_latest",
    now: datetime,
) -> dict[str, Any]:
    _begin(session, tenant, kind, now)
    row = models.FieldMapping(
        id=new_id("fm"), org_id=tenant.org_id, unit_id=tenant.unit_id, kind=kind,
        source_field=_text(source_field, "source_field", _FIELD_MAX),
        property=_text(property, property_field(kind), _FIELD_MAX),
        update_behavior=_behavior(update_behavior), created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "field_mapping", row, now)
    publish(session, tenant, now=now)
    return mapping_view(row)


def update_mapping(
    session: Session,
    tenant: Tenant,
    kind: str,
    mapping_id: str,
    *,
    source_field: str,
    property: str,
    update_behavior: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Replace a mapping's source field and property; `update_behavior` None keeps the current one."""
    _begin(session, tenant, kind, now)
    row = _mapping_row(session, tenant, kind, mapping_id)
    before = audit.snapshot(row)
    row.source_field = _text(source_field, "source_field", _FIELD_MAX)
    row.property = _text(property, property_field(kind), _FIELD_MAX)
    if update_behavior is not None:
        row.update_behavior = _behavior(update_behavior)
    row.updated_at = now
    session.flush()
    audit.updated(session, tenant, "field_mapping", before, row, now)
    publish(session, tenant, now=now)
    return mapping_view(row)


def delete_mapping(session: Session, tenant: Tenant, kind: str, mapping_id: str, *, now: datetime) -> None:
    _begin(session, tenant, kind, now)
    row = _mapping_row(session, tenant, kind, mapping_id)
    audit.deleted(session, tenant, "field_mapping", row, now)
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


def _mapping_row(session: Session, tenant: Tenant, kind: str, mapping_id: str) -> models.FieldMapping:
    row = session.scalar(
        select(models.FieldMapping).where(
            models.FieldMapping.unit_id == tenant.unit_id, models.FieldMapping.kind == kind,
            models.FieldMapping.id == mapping_id,
        )
    )
    if row is None:
        raise NotFound(f"{kind} field mapping {mapping_id!r} does not exist in this unit", field="id")
    return row


# --- fit rulesets --------------------------------------------------------------------------------------------------


def ruleset_view(row: models.FitRuleset) -> dict[str, Any]:
    return {
        "id": row.id,
        "org_id": row.org_id,
        "name": row.name,
        "enabled": bool(row.enabled),
        "is_primary": bool(row.is_primary),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def list_fit_rulesets(session: Session, tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(models.FitRuleset)
        .where(models.FitRuleset.unit_id == tenant.unit_id, models.FitRuleset.kind == _readable(session, tenant, kind))
        .order_by(models.FitRuleset.created_at, models.FitRuleset.id)
    )
    return [ruleset_view(r) for r in rows]


def create_fit_ruleset(
    session: Session,
    tenant: Tenant,
    kind: str,
    *,
    name: str,
    enabled: bool = True,
    is_primary: bool = False,
    now: datetime,
) -> dict[str, Any]:
    """A new ruleset of `kind`; the kind's first one (or one asked to be) becomes its primary ruleset."""
    _begin(session, tenant, kind, now)
    clean = _ruleset_name(name)
    _ensure_name_free(session, tenant, kind, clean, except_id=None)
    row = models.FitRuleset(
        id=new_id("frs"), org_id=tenant.org_id, unit_id=tenant.unit_id, kind=kind, name=clean,
        enabled=bool(enabled), is_primary=False, created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    has_primary = session.scalar(
        select(models.FitRuleset.id).where(
            models.FitRuleset.unit_id == tenant.unit_id, models.FitRuleset.kind == kind, models.FitRuleset.is_primary
        )
    )
    if is_primary or has_primary is None:
        _make_primary(session, tenant, row, now)
    audit.created(session, tenant, "fit_ruleset", row, now)
    publish(session, tenant, now=now)
    return ruleset_view(row)


def update_fit_ruleset(
    session: Session,
    tenant: Tenant,
    kind: str,
    ruleset_id: str,
    *,
    name: str,
    enabled: bool | None = None,
    is_primary: bool | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Rename a ruleset, enable or disable it, make it primary (clearing the flag on the kind's others) or not
    (then the kind's first enabled ruleset counts as primary, core.fit.FitBook). None keeps a flag as it is."""
    _begin(session, tenant, kind, now)
    row = _ruleset_row(session, tenant, kind, ruleset_id)
    before = audit.snapshot(row)
    clean = _ruleset_name(name)
    if clean != row.name:
        _ensure_name_free(session, tenant, kind, clean, except_id=row.id)
        row.name = clean
    if enabled is not None:
        row.enabled = bool(enabled)
    if is_primary is True and not row.is_primary:
        _make_primary(session, tenant, row, now)
    elif is_primary is False:
        row.is_primary = False
    row.updated_at = now
    session.flush()
    audit.updated(session, tenant, "fit_ruleset", before, row, now)
    publish(session, tenant, now=now)
    return ruleset_view(row)


def delete_fit_ruleset(session: Session, tenant: Tenant, kind: str, ruleset_id: str, *, now: datetime) -> None:
    """Delete a ruleset with its rules; stored fit loses its score (publish rescores fit)."""
    _begin(session, tenant, kind, now)
    row = _ruleset_row(session, tenant, kind, ruleset_id)
    audit.deleted(session, tenant, "fit_ruleset", row, now)
    session.execute(
        delete(models.FitRule).where(models.FitRule.unit_id == tenant.unit_id, models.FitRule.ruleset_id == row.id)
    )
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


def _ruleset_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", "is required and must be a non-empty string")
    clean = " ".join(name.split())
    if len(clean) > _NAME_MAX:
        raise InvalidInput("name", f"must be at most {_NAME_MAX} characters")
    return clean


def _ensure_name_free(session: Session, tenant: Tenant, kind: str, name: str, except_id: str | None) -> None:
    fr = models.FitRuleset
    ensure_name_free(session, fr, name, fr.unit_id == tenant.unit_id, fr.kind == kind, except_id=except_id,
                     taken=f"a {kind} ruleset named {name!r} already exists")


def _make_primary(session: Session, tenant: Tenant, row: models.FitRuleset, now: datetime) -> None:
    session.execute(
        update(models.FitRuleset)
        .where(
            models.FitRuleset.unit_id == tenant.unit_id, models.FitRuleset.kind == row.kind,
            models.FitRuleset.id != row.id, models.FitRuleset.is_primary,
        )
        .values(is_primary=False, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    row.is_primary = True
    row.updated_at = now
    session.flush()


def _ruleset_row(session: Session, tenant: Tenant, kind: str, ruleset_id: str) -> models.FitRuleset:
    row = session.scalar(
        select(models.FitRuleset).where(
            models.FitRuleset.unit_id == tenant.unit_id, models.FitRuleset.kind == kind,
            models.FitRuleset.id == ruleset_id,
        )
    )
    if row is None:
        raise NotFound(f"{kind} ruleset {ruleset_id!r} does not exist in this unit", field="ruleset_id")
    return row


# --- fit rules -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FitRuleValues:
    """Validated editable fields of one fit rule."""

    property: str
    condition: str
    comparison_value: str
    weight: int
    ui_order: int


def validate_fit_rule(fields: Mapping[str, Any], kind: str, *, prefix: str = "") -> FitRuleValues:
    """Check and normalize a fit rule's fields (`property` or the API's `<kind>_property`, condition,
    comparison_value, weight, ui_order); raise InvalidInput naming the first bad field as the API names it."""
    prop_name = property_field(kind)
    known = {*FIT_RULE_FIELDS, prop_name}
    for key in fields:
        if key not in known:
            raise InvalidInput(f"{prefix}{key}", "unknown field")
    prop = fields.get(prop_name, fields.get("property"))
    prop = _text(prop, f"{prefix}{prop_name}", _FIELD_MAX)
    condition = fields.get("condition")
    if not isinstance(condition, str) or condition.strip() not in scoring.CONDITION_OPERATORS:
        raise InvalidInput(
            f"{prefix}condition", f"must be one of {', '.join(scoring.CONDITION_OPERATORS)}; got {condition!r}"
        )
    condition = condition.strip()
    value = fields.get("comparison_value")
    if value is None and condition in _NO_VALUE_CONDITIONS:
        value = ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput(f"{prefix}comparison_value", "is required and must be a string")
    value = value.strip()
    if len(value) > _VALUE_MAX:
        raise InvalidInput(f"{prefix}comparison_value", f"must be at most {_VALUE_MAX} characters")
    if not value and condition not in _NO_VALUE_CONDITIONS:
        raise InvalidInput(f"{prefix}comparison_value", f"is required for condition {condition!r}")
    try:
        scoring.Condition(prop, condition, value)
    except ValueError as exc:
        raise InvalidInput(f"{prefix}comparison_value", str(exc)) from None
    weight = _integer(fields.get("weight"), f"{prefix}weight", MAX_WEIGHT)
    ui_order = fields.get("ui_order")
    ui_order = 0 if ui_order is None else _integer(ui_order, f"{prefix}ui_order", UI_ORDER_MAX)
    return FitRuleValues(prop, condition, value, weight, ui_order)


def rule_view(row: models.FitRule, kind: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "ruleset_id": row.ruleset_id,
        property_field(kind): row.property,
        "condition": row.condition,
        "comparison_value": row.comparison_value,
        "weight": int(row.weight),
        "ui_order": int(row.ui_order),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def list_fit_rules(session: Session, tenant: Tenant, kind: str, ruleset_id: str) -> list[dict[str, Any]]:
    ruleset = _ruleset_row(session, tenant, _readable(session, tenant, kind), ruleset_id)
    rows = session.scalars(
        select(models.FitRule)
        .where(models.FitRule.unit_id == tenant.unit_id, models.FitRule.ruleset_id == ruleset.id)
        .order_by(models.FitRule.ui_order, models.FitRule.created_at, models.FitRule.id)
    )
    return [rule_view(r, kind) for r in rows]


def create_fit_rule(
    session: Session,
    tenant: Tenant,
    kind: str,
    ruleset_id: str,
    *,
    property: str,
    condition: str,
    comparison_value: str,
    weight: int,
    ui_order: int = 0,
    now: datetime,
) -> dict[str, Any]:
    _begin(session, tenant, kind, now)
    ruleset = _ruleset_row(session, tenant, kind, ruleset_id)
    values = validate_fit_rule(
        {"property": property, "condition": condition, "comparison_value": comparison_value, "weight": weight,
         "ui_order": ui_order},
        kind,
    )
    row = models.FitRule(
        id=new_id("fr"), org_id=tenant.org_id, unit_id=tenant.unit_id, ruleset_id=ruleset.id,
        property=values.property, condition=values.condition, comparison_value=values.comparison_value,
        weight=values.weight, ui_order=values.ui_order, created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "fit_rule", row, now)
    publish(session, tenant, now=now)
    return rule_view(row, kind)


def update_fit_rule(
    session: Session,
    tenant: Tenant,
    kind: str,
    ruleset_id: str,
    rule_id: str,
    *,
    fields: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Partial update: the fields given (keys of FIT_RULE_FIELDS, or `<kind>_property` for `property`) change,
    the others keep their value."""
    _begin(session, tenant, kind, now)
    row = _rule_row(session, tenant, kind, ruleset_id, rule_id)
    before = audit.snapshot(row)
    current = {"property": row.property, "condition": row.condition, "comparison_value": row.comparison_value,
               "weight": int(row.weight), "ui_order": int(row.ui_order)}
    sent = dict(fields)
    if property_field(kind) in sent:
        sent["property"] = sent.pop(property_field(kind))
    values = validate_fit_rule({**current, **sent}, kind)
    row.property, row.condition, row.comparison_value = values.property, values.condition, values.comparison_value
    row.weight, row.ui_order, row.updated_at = values.weight, values.ui_order, now
    session.flush()
    audit.updated(session, tenant, "fit_rule", before, row, now)
    publish(session, tenant, now=now)
    return rule_view(row, kind)


def delete_fit_rule(
    session: Session, tenant: Tenant, kind: str, ruleset_id: str, rule_id: str, *, now: datetime
) -> None:
    _begin(session, tenant, kind, now)
    row = _rule_row(session, tenant, kind, ruleset_id, rule_id)
    audit.deleted(session, tenant, "fit_rule", row, now)
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


def _rule_row(session: Session, tenant: Tenant, kind: str, ruleset_id: str, rule_id: str) -> models.FitRule:
    ruleset = _ruleset_row(session, tenant, kind, ruleset_id)
    row = session.scalar(
        select(models.FitRule).where(
            models.FitRule.unit_id == tenant.unit_id, models.FitRule.ruleset_id == ruleset.id,
            models.FitRule.id == rule_id,
        )
    )
    if row is None:
        raise NotFound(f"rule {rule_id!r} does not exist in {kind} ruleset {ruleset.name!r}", field="rule_id")
    return row


# --- fit levels ----------------------------------------------------------------------------------------------------


def level_view(row: models.FitLevel) -> dict[str, Any]:
    """The API shape of a fit level: the engagement level's fields, `level_id` as the reference names the id, and
    `created_by`/`updated_by` (the Tenant's actor: a person's email or the credential's name; null for levels made
    before they were kept)."""
    return {
        "id": row.id,
        "level_id": row.id,
        "name": row.name,
        "min_score": int(row.min_score),
        "max_score": int(row.max_score),
        "org_id": row.org_id,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
    }


def _level_rows(session: Session, tenant: Tenant, kind: str) -> list[models.FitLevel]:
    return list(
        session.scalars(
            select(models.FitLevel)
            .where(models.FitLevel.unit_id == tenant.unit_id, models.FitLevel.kind == kind)
            .order_by(models.FitLevel.min_score, models.FitLevel.name)
        )
    )


def list_fit_levels(session: Session, tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    return [level_view(r) for r in _level_rows(session, tenant, _readable(session, tenant, kind))]


def _as_core(rows: Iterable[models.FitLevel]) -> list[core_levels.Level]:
    return [core_levels.Level(r.id, r.name, int(r.min_score), int(r.max_score)) for r in rows]


def create_fit_level(
    session: Session, tenant: Tenant, kind: str, *, name: str, min_score: int, max_score: int, now: datetime
) -> dict[str, Any]:
    _begin(session, tenant, kind, now)
    clean = clean_level_name(name)
    level_id = new_id("fl")
    new = core_levels.Level(level_id, clean, min_score, max_score)
    check_levels([*_as_core(_level_rows(session, tenant, kind)), new])
    row = models.FitLevel(
        id=level_id, org_id=tenant.org_id, unit_id=tenant.unit_id, kind=kind, name=clean, min_score=min_score,
        max_score=max_score, created_at=now, updated_at=now, created_by=tenant.actor, updated_by=tenant.actor,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "fit_level", row, now)
    publish(session, tenant, now=now)
    return level_view(row)


def update_fit_level(
    session: Session,
    tenant: Tenant,
    kind: str,
    level_id: str,
    *,
    name: str,
    min_score: int,
    max_score: int,
    now: datetime,
) -> dict[str, Any]:
    _begin(session, tenant, kind, now)
    row = _level_row(session, tenant, kind, level_id)
    before = audit.snapshot(row)
    clean = clean_level_name(name)
    others = [lv for lv in _as_core(_level_rows(session, tenant, kind)) if lv.id != row.id]
    check_levels([*others, core_levels.Level(row.id, clean, min_score, max_score)])
    row.name, row.min_score, row.max_score, row.updated_at = clean, min_score, max_score, now
    row.updated_by = tenant.actor
    session.flush()
    audit.updated(session, tenant, "fit_level", before, row, now)
    publish(session, tenant, now=now)
    return level_view(row)


def delete_fit_level(session: Session, tenant: Tenant, kind: str, level_id: str, *, now: datetime) -> None:
    """Delete a level; refused (422) when it would leave a gap between the levels around it."""
    _begin(session, tenant, kind, now)
    row = _level_row(session, tenant, kind, level_id)
    check_levels([lv for lv in _as_core(_level_rows(session, tenant, kind)) if lv.id != row.id])
    audit.deleted(session, tenant, "fit_level", row, now)
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


def _level_row(session: Session, tenant: Tenant, kind: str, level_id: str) -> models.FitLevel:
    row = session.scalar(
        select(models.FitLevel).where(
            models.FitLevel.unit_id == tenant.unit_id, models.FitLevel.kind == kind, models.FitLevel.id == level_id
        )
    )
    if row is None:
        raise NotFound(f"{kind} level {level_id!r} does not exist in this unit", field="id")
    return row


# --- applying mappings to history ----------------------------------------------------------------------------------

LoggedEvent = tuple[str, str | None, Mapping[str, Any] | None]  # event_type, channel, metadata


def mapped_history_profile(
    logged: Iterable[LoggedEvent],
    mappings: Iterable[core_profile.MappingSpec],
    profile_event: str,
    stored: Mapping[str, Any],
) -> dict[str, Any]:
    """The profile an owner would have if `mappings` had applied when its events arrived.

    `logged` are its events (event_type, channel, metadata) in log order. When the fold of its profile changes is
    its stored profile (as services.people.profiles keeps it), the changes are folded again with every non-system
    event's metadata run through the mappings where it happened, so an edit made after an event still wins over the
    event's value. Otherwise (a profile the log does not explain) the mappings run over the events on top of the
    stored profile, so nothing stored is lost. Either way, running it on its own result changes nothing more."""
    specs = tuple(mappings)
    events = list(logged)
    plain: dict[str, Any] = {}
    for event_type, _channel, metadata in events:
        if event_type == profile_event:
            plain = core_profile.apply_change(plain, ProfileChange.from_metadata(metadata or {}))
    interleave = plain == dict(stored)
    profile: dict[str, Any] = {} if interleave else dict(stored)
    for event_type, channel, metadata in events:
        if event_type == profile_event:
            if interleave:
                profile = core_profile.apply_change(profile, ProfileChange.from_metadata(metadata or {}))
        elif channel != SYSTEM_CHANNEL and event_type not in core_profile.PROFILE_EVENT_TYPES:
            profile = core_profile.apply_mappings(profile, specs, metadata or {})
    return profile


def apply_mappings_to_history(session: Session, tenant: Tenant, now: datetime) -> dict[str, int]:
    """Re-apply the current profile and account mappings to every lead's (account's) logged events, in log order,
    with each mapping's update behavior (`mapped_history_profile`). A resulting change is written through
    services.people.profiles (a profile event; fit recomputed under the published model). Idempotent: a second
    run finds nothing to change. Mappings read an event's stored metadata (its properties); the contact and
    company objects of a signal or CRM event are not in the log, so `contact.*` and `company.*` sources only apply
    at ingest. Merged leads are skipped (their events belong to the lead they were merged into). Account mappings
    apply only while the unit's ABM switch is on (accounts count 0 otherwise).

    Returns {"leads_processed", "leads_updated", "accounts_processed", "accounts_updated"}.
    """
    policy.require(tenant, Action.MANAGE_UNIT)
    lock_config(session, tenant, exclusive=True)  # no ingest writes profiles while their history is folded
    model = published_model(session, tenant)
    counts: dict[str, int] = {}
    abm = abm_enabled(session, tenant)
    for kind, prefix in (("profile", "leads"), ("account", "accounts")):
        owner: type[models.Lead] | type[models.Account] = models.Lead if kind == "profile" else models.Account
        where = [owner.unit_id == tenant.unit_id]
        if owner is models.Lead:
            where.append(models.Lead.merged_into.is_(None))
        if kind == "account" and not abm:  # account mappings are account scoring: they wait for the ABM switch
            counts[f"{prefix}_processed"] = counts[f"{prefix}_updated"] = 0
            continue
        mappings = model.mappings_for(kind)
        processed = updated = 0
        if not mappings:
            processed = int(session.scalar(select(func.count()).select_from(owner).where(*where)) or 0)
        else:
            owner_column = models.Event.lead_id if kind == "profile" else models.Event.account_id
            profile_event = LEAD_PROFILE_EVENT if kind == "profile" else ACCOUNT_PROFILE_EVENT
            logged: dict[str, list[LoggedEvent]] = {}
            for owner_id, event_type, channel, metadata in session.execute(
                select(owner_column, models.Event.event_type, models.Event.channel, models.Event.metadata_)
                .where(models.Event.unit_id == tenant.unit_id, owner_column.is_not(None))
                .order_by(models.Event.seq)
                .execution_options(yield_per=5000)
            ):
                logged.setdefault(owner_id, []).append((event_type, channel, metadata))
            rows = cast(
                "list[models.Lead | models.Account]",
                list(session.scalars(select(owner).where(*where).order_by(owner.id))),
            )
            for row in rows:
                processed += 1
                stored = dict(row.metadata_ or {})
                wanted = mapped_history_profile(logged.pop(row.id, ()), mappings, profile_event, stored)
                if wanted == stored:
                    continue
                if isinstance(row, models.Lead):
                    change = set_lead_profile(session, tenant, row, wanted, via="mapping", now=now, model=model)
                else:
                    change = set_account_profile(session, tenant, row, wanted, via="mapping", now=now, model=model)
                updated += change is not None
        counts[f"{prefix}_processed"], counts[f"{prefix}_updated"] = processed, updated
    session.flush()
    audit.record(session, tenant, action="update", entity_type="profile_mappings_backfill", entity_id=None,
                 before=None, after=counts, now=now)
    return counts
