"""The one home of a unit's scoring model (core.model.ScoringModel): load it, cache it, lock it, number it.

Every published change of the scoring configuration (rules, rulesets, levels, decay rules, settings) becomes a
numbered version (services.scoring.publish). The unit row keeps two numbers:

- `scoring_version`: the newest published version; the editing tables (rules, rulesets, ...) hold exactly it.
- `scoring_live_version`: the version whose scores are stored. Ingest, replay and every score read use this one.
  It trails `scoring_version` only while a publish rescores a large unit aside (services.scoring.publish).

A model is cached per process by (database, unit, version): versions never change, so a cached one is never
stale, and asking which version is live is one primary-key read. A unit that predates versioning (both
numbers 0) is read from the editing tables every time until its first change records a baseline version.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from core.fit import FitRulesetSpec, FitRuleSpec
from core.model import DecaySpec, FitLevelSpec, LevelSpec, RulesetSpec, RuleSpec, ScoringModel, SettingsSpec
from core.profile import MappingSpec
from core.quarantine import DEFAULT_SCOPE, EventTypeScope, FilterSpec
from core.surge import SurgeSpec, bands_of, preset_bands
from db import models
from services.after_commit import on_commit
from services.context import Tenant
from services.errors import NotFound

BASELINE_SUMMARY = "configuration before versioning"


@dataclass(frozen=True, slots=True)
class Heads:
    published: int  # newest published version (0: none yet)
    live: int  # version whose scores are stored


def lock_config(session: Session, tenant: Tenant, *, exclusive: bool) -> None:
    """Serialize changes of a unit's scoring configuration against the transactions that score with it.

    A change takes it exclusively; ingest takes it shared before loading the live model, so an ingest never
    stores scores computed with a model that a concurrent change has replaced. PostgreSQL only (a
    transaction-scoped advisory lock, no row writes); SQLite already runs one writer at a time (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"leadvane:scoring:{tenant.unit_id}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {function}(:key)"), {"key": key})


def heads(session: Session, tenant: Tenant) -> Heads:
    row = session.execute(
        select(models.Unit.scoring_version, models.Unit.scoring_live_version).where(models.Unit.id == tenant.unit_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"unit {tenant.unit_id!r} does not exist")
    return Heads(int(row[0] or 0), int(row[1] or 0))


def live_model(session: Session, tenant: Tenant) -> ScoringModel:
    """The model the unit's stored scores are computed with: what ingest scores with and every read shows."""
    if session.new or session.dirty or session.deleted:
        session.flush()  # a legacy (unversioned) unit's model must see this transaction's own changes
    return _model_of(session, tenant, heads(session, tenant).live)


def live_and_published(session: Session, tenant: Tenant) -> tuple[ScoringModel, ScoringModel]:
    """`live_model` and `published_model` with one read of the unit's version numbers (one object when the newest
    version is live, as it is except during an aside publish): ingest needs both for every request."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    versions = heads(session, tenant)
    live = _model_of(session, tenant, versions.live)
    if versions.published == versions.live:
        return live, live
    return live, _model_of(session, tenant, versions.published)


def published_model(session: Session, tenant: Tenant) -> ScoringModel:
    """The newest published model (what the editing tables hold)."""
    return _model_of(session, tenant, heads(session, tenant).published)


def _model_of(session: Session, tenant: Tenant, version: int) -> ScoringModel:
    """Published version `version`; for 0 (a unit from before versioning) the model the editing tables hold."""
    return model_at(session, tenant, version) if version else load_from_tables(session, tenant)


def model_at(session: Session, tenant: Tenant, version: int) -> ScoringModel:
    """Published version `version` of the unit's model; NotFound for a version that does not exist."""
    key = (session.get_bind().engine.url, tenant.unit_id, version)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    document = session.scalar(
        select(models.ScoringVersion.model).where(
            models.ScoringVersion.unit_id == tenant.unit_id, models.ScoringVersion.version == version
        )
    )
    if document is None:
        raise NotFound(f"scoring version {version} does not exist", field="version")
    model = ScoringModel.from_document(document)
    _CACHE.put(key, model)
    return model


def load_from_tables(session: Session, tenant: Tenant) -> ScoringModel:
    """The model the editing tables describe now (this transaction's changes included once flushed)."""
    unit = tenant.unit_id
    rulesets = session.scalars(
        select(models.Ruleset)
        .where(models.Ruleset.unit_id == unit)
        .order_by(models.Ruleset.created_at, models.Ruleset.id)
    ).all()
    rules = session.scalars(select(models.Rule).where(models.Rule.unit_id == unit)).all()
    levels = session.scalars(select(models.EngagementLevel).where(models.EngagementLevel.unit_id == unit)).all()
    decays = session.scalars(select(models.DecayRule).where(models.DecayRule.unit_id == unit)).all()
    settings_row = session.get(models.ScoringSettings, unit)
    mappings = session.scalars(select(models.FieldMapping).where(models.FieldMapping.unit_id == unit)).all()
    fit_rulesets = session.scalars(
        select(models.FitRuleset)
        .where(models.FitRuleset.unit_id == unit)
        .order_by(models.FitRuleset.created_at, models.FitRuleset.id)
    ).all()
    fit_rules = session.scalars(select(models.FitRule).where(models.FitRule.unit_id == unit)).all()
    fit_levels = session.scalars(select(models.FitLevel).where(models.FitLevel.unit_id == unit)).all()
    filters = session.scalars(select(models.InorganicFilter).where(models.InorganicFilter.unit_id == unit)).all()
    scopes = session.execute(
        select(models.EventTypeSetting.event_type, models.EventTypeSetting.max_processing_scope).where(
            models.EventTypeSetting.unit_id == unit, models.EventTypeSetting.max_processing_scope != DEFAULT_SCOPE
        )
    ).all()
    surge_row = session.get(models.SurgePolicy, unit)
    return ScoringModel.build(
        filters=(FilterSpec(f.id, f.event_type, int(f.count_threshold), int(f.time_window_ms), bool(f.group_events))
                 for f in filters),
        event_type_scopes=(EventTypeScope(event_type, scope) for event_type, scope in scopes),
        surge=surge_spec(surge_row),
        mappings=(MappingSpec(m.id, m.kind, m.source_field, m.property, m.update_behavior) for m in mappings),
        fit_rulesets=(FitRulesetSpec(rs.id, rs.kind, rs.name, bool(rs.enabled), bool(rs.is_primary))
                      for rs in fit_rulesets),
        fit_rules=(
            FitRuleSpec(r.id, r.ruleset_id, r.property, r.condition, r.comparison_value, int(r.weight), int(r.ui_order))
            for r in fit_rules
        ),
        fit_levels=(FitLevelSpec(lv.id, lv.kind, lv.name, int(lv.min_score), int(lv.max_score)) for lv in fit_levels),
        rulesets=(RulesetSpec(r.id, r.name, r.score_column, bool(r.is_primary)) for r in rulesets),
        rules=(
            RuleSpec(
                id=r.id, ruleset_id=r.ruleset_id, event_type=r.event_type, weight=int(r.weight), icon=r.icon,
                active=bool(r.active), start_at=r.start_at, end_at=r.end_at,
                conditions=tuple(dict(c) for c in (r.conditions or [])),
            )
            for r in rules
        ),
        levels=(LevelSpec(lv.id, lv.name, int(lv.min_score), int(lv.max_score)) for lv in levels),
        decay_rules=(DecaySpec(d.id, int(d.inactive_for), d.unit, int(d.decrease)) for d in decays),
        settings=SettingsSpec(
            allow_negative_scores=bool(settings_row.allow_negative_scores),
            abm_enabled=bool(settings_row.abm_enabled),
            session_timeout_minutes=int(settings_row.session_timeout_minutes),
            bot_filter_enabled=bool(settings_row.bot_filter_enabled),
        )
        if settings_row is not None
        else SettingsSpec(),
    )


def surge_spec(row: models.SurgePolicy | None) -> SurgeSpec:
    """The surge policy a row describes (no row: off); standard and gentle use their presets' bands."""
    if row is None:
        return SurgeSpec()
    return SurgeSpec(
        mode=row.mode, bands=preset_bands(row.mode, bands_of(row.bands or ())),
        idle_reset_seconds=int(row.idle_reset_seconds), multiplier_cap=float(row.multiplier_cap),
    )


def begin_change(session: Session, tenant: Tenant, now: datetime) -> None:
    """Take the unit's configuration lock for a change. A unit that has never published a version first records
    its current configuration as version 1, so the history (and a rollback) starts from what was there."""
    lock_config(session, tenant, exclusive=True)
    if heads(session, tenant).published == 0:
        record_version(session, tenant, load_from_tables(session, tenant), now=now, summary=BASELINE_SUMMARY,
                       published_by=None, live=True)


def record_version(
    session: Session,
    tenant: Tenant,
    model: ScoringModel,
    *,
    now: datetime,
    summary: str,
    published_by: str | None,
    live: bool,
) -> int:
    """Store `model` as the unit's next version and make it the published one (and the live one when `live`)."""
    version = heads(session, tenant).published + 1
    session.add(
        models.ScoringVersion(
            unit_id=tenant.unit_id, org_id=tenant.org_id, version=version, published_at=now,
            published_by=published_by, summary=summary, model=model.to_document(),
        )
    )
    values: dict[str, Any] = {"scoring_version": version}
    if live:
        values["scoring_live_version"] = version
    session.execute(update(models.Unit).where(models.Unit.id == tenant.unit_id).values(**values))
    session.flush()
    key = (session.get_bind().engine.url, tenant.unit_id, version)
    on_commit(session, lambda: _CACHE.put(key, model))  # not before: a rolled-back version number is reused
    return version


def set_live(session: Session, tenant: Tenant, version: int) -> None:
    """Stored scores are now those of `version`."""
    session.execute(
        update(models.Unit).where(models.Unit.id == tenant.unit_id).values(scoring_live_version=version)
    )


class _ModelCache:
    """Published models by (database URL, unit, version); bounded, least recently used dropped first."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, str, int], ScoringModel] = OrderedDict()

    def get(self, key: tuple[Any, str, int]) -> ScoringModel | None:
        with self._lock:
            model = self._entries.get(key)
            if model is not None:
                self._entries.move_to_end(key)
            return model

    def put(self, key: tuple[Any, str, int], model: ScoringModel) -> None:
        with self._lock:
            self._entries[key] = model
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_CACHE = _ModelCache()


def write_tables(session: Session, tenant: Tenant, model: ScoringModel, *, now: datetime, actor: str | None) -> None:
    """Make the editing tables describe `model` (the inverse of `load_from_tables`): rows keep their ids, so a
    restored rule is the same rule in diffs and explanations. Call between `begin_change` and `publish`.

    Scores of removed rulesets are dropped; the publish that follows rescores the rest.
    """
    unit = tenant.unit_id
    existing_rulesets = {r.id: r for r in session.scalars(select(models.Ruleset).where(models.Ruleset.unit_id == unit))}
    wanted_rulesets = {rs.id for rs in model.rulesets}
    gone = [rs_id for rs_id in existing_rulesets if rs_id not in wanted_rulesets]
    if gone:
        for score_model in (models.LeadScore, models.AccountScore):
            session.execute(delete(score_model).where(score_model.unit_id == unit, score_model.ruleset_id.in_(gone)))
        session.execute(delete(models.Rule).where(models.Rule.unit_id == unit, models.Rule.ruleset_id.in_(gone)))
        session.execute(delete(models.Ruleset).where(models.Ruleset.unit_id == unit, models.Ruleset.id.in_(gone)))
    # Names are unique per unit: park kept rulesets under their ids first, so two that swap names cannot collide.
    names = {rs_id: row.name for rs_id, row in existing_rulesets.items()}
    for rs_id, kept in existing_rulesets.items():
        if rs_id in wanted_rulesets:
            kept.name = f"~restoring~{rs_id}"
    session.flush()
    for rs_spec in model.rulesets:
        found = existing_rulesets.get(rs_spec.id)
        ruleset_row = found or models.Ruleset(
            id=rs_spec.id, org_id=tenant.org_id, unit_id=unit, created_at=now, updated_at=now
        )
        if found is None:
            session.add(ruleset_row)
        old = (names.get(rs_spec.id), ruleset_row.score_column, ruleset_row.is_primary)
        if old != (rs_spec.name, rs_spec.score_column, rs_spec.is_primary):
            ruleset_row.updated_at = now
        ruleset_row.name, ruleset_row.score_column = rs_spec.name, rs_spec.score_column
        ruleset_row.is_primary = rs_spec.is_primary
    session.flush()

    existing_rules = {r.id: r for r in session.scalars(select(models.Rule).where(models.Rule.unit_id == unit))}
    wanted_rules = {r.id for r in model.rules}
    for rule_id, row in existing_rules.items():
        if rule_id not in wanted_rules:
            session.delete(row)
    for spec in model.rules:
        rule_row = existing_rules.get(spec.id)
        values = {
            "ruleset_id": spec.ruleset_id, "event_type": spec.event_type, "weight": spec.weight, "icon": spec.icon,
            "active": spec.active, "start_at": spec.start_at, "end_at": spec.end_at,
            "conditions": [dict(c) for c in spec.conditions],
        }
        if rule_row is None:
            session.add(models.Rule(id=spec.id, org_id=tenant.org_id, unit_id=unit, created_at=now, updated_at=now,
                                    created_by=actor, updated_by=actor, **values))
        elif any(getattr(rule_row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(rule_row, k, v)
            rule_row.updated_at, rule_row.updated_by = now, actor

    existing_levels = {lv.id: lv for lv in session.scalars(
        select(models.EngagementLevel).where(models.EngagementLevel.unit_id == unit))}
    session.execute(delete(models.EngagementLevel).where(models.EngagementLevel.unit_id == unit))
    session.flush()
    for level in model.levels:
        created = existing_levels[level.id].created_at if level.id in existing_levels else now
        session.add(models.EngagementLevel(id=level.id, org_id=tenant.org_id, unit_id=unit, name=level.name,
                                           min_score=level.min_score, max_score=level.max_score,
                                           created_at=created, updated_at=now))

    existing_decays = {
        d.id: d for d in session.scalars(select(models.DecayRule).where(models.DecayRule.unit_id == unit))
    }
    wanted_decays = {d.id for d in model.decay_rules}
    for decay_id, decay_row in existing_decays.items():
        if decay_id not in wanted_decays:
            session.delete(decay_row)
    for d in model.decay_rules:
        kept_decay = existing_decays.get(d.id)
        if kept_decay is None:
            session.add(models.DecayRule(id=d.id, org_id=tenant.org_id, unit_id=unit, inactive_for=d.inactive_for,
                                         unit=d.unit, decrease=d.decrease, created_at=now, updated_at=now))
        elif (kept_decay.inactive_for, kept_decay.unit, kept_decay.decrease) != (d.inactive_for, d.unit, d.decrease):
            kept_decay.inactive_for, kept_decay.unit, kept_decay.decrease = d.inactive_for, d.unit, d.decrease
            kept_decay.updated_at = now

    _write_fit_tables(session, tenant, model, now=now, actor=actor)

    settings_row = session.get(models.ScoringSettings, unit)
    if settings_row is None:
        settings_row = models.ScoringSettings(unit_id=unit, org_id=tenant.org_id)
        session.add(settings_row)
    s = model.settings
    settings_row.allow_negative_scores = s.allow_negative_scores
    settings_row.abm_enabled = s.abm_enabled
    settings_row.session_timeout_minutes = s.session_timeout_minutes
    settings_row.bot_filter_enabled = s.bot_filter_enabled
    settings_row.updated_at = now
    _write_targeting_tables(session, tenant, model, now=now, actor=actor)
    session.flush()


def _write_targeting_tables(
    session: Session, tenant: Tenant, model: ScoringModel, *, now: datetime, actor: str | None
) -> None:
    """write_tables for inorganic filters (ids kept), event-type scopes and the surge policy."""
    unit, org = tenant.unit_id, tenant.org_id
    existing = {f.id: f for f in session.scalars(
        select(models.InorganicFilter).where(models.InorganicFilter.unit_id == unit))}
    wanted = {f.id: f for f in model.filters}
    for filter_id, row in existing.items():
        if filter_id not in wanted:
            session.delete(row)
    for spec in model.filters:
        values = {"event_type": spec.event_type, "count_threshold": spec.count_threshold,
                  "time_window_ms": spec.time_window_ms, "group_events": spec.group_events}
        found = existing.get(spec.id)
        if found is None:
            session.add(models.InorganicFilter(id=spec.id, org_id=org, unit_id=unit, created_at=now, updated_at=now,
                                               created_by=actor, updated_by=actor, **values))
        elif any(getattr(found, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(found, k, v)
            found.updated_at, found.updated_by = now, actor
    scopes = {sc.id: sc.scope for sc in model.event_type_scopes}
    settings = {row.event_type: row for row in session.scalars(
        select(models.EventTypeSetting).where(models.EventTypeSetting.unit_id == unit))}
    for event_type, setting in settings.items():
        scope = scopes.get(event_type, DEFAULT_SCOPE)
        if setting.max_processing_scope != scope:
            setting.max_processing_scope, setting.updated_at, setting.updated_by = scope, now, actor
    for event_type, scope in scopes.items():
        if event_type not in settings:
            session.add(models.EventTypeSetting(unit_id=unit, event_type=event_type, org_id=org, hidden=False,
                                                max_processing_scope=scope, updated_at=now, updated_by=actor))
    surge_row = session.get(models.SurgePolicy, unit)
    if surge_spec(surge_row) != model.surge:
        if surge_row is None:
            surge_row = models.SurgePolicy(unit_id=unit, org_id=org)
            session.add(surge_row)
        document = model.surge.to_document()
        surge_row.mode, surge_row.bands = document["mode"], document["bands"]
        surge_row.idle_reset_seconds = model.surge.idle_reset_seconds
        surge_row.multiplier_cap = model.surge.multiplier_cap
        surge_row.updated_at, surge_row.updated_by = now, actor


def _write_fit_tables(
    session: Session, tenant: Tenant, model: ScoringModel, *, now: datetime, actor: str | None
) -> None:
    """write_tables for the fit parts: field mappings, fit rulesets and rules, fit levels (ids kept; a fit level
    keeps who made it, and who last changed it unless `actor` changes it now)."""
    unit, org = tenant.unit_id, tenant.org_id
    level_authors = {
        row.id: ((row.kind, row.name, int(row.min_score), int(row.max_score)), row.created_by, row.updated_by)
        for row in session.execute(
            select(models.FitLevel.id, models.FitLevel.kind, models.FitLevel.name, models.FitLevel.min_score,
                   models.FitLevel.max_score, models.FitLevel.created_by, models.FitLevel.updated_by)
            .where(models.FitLevel.unit_id == unit)
        )
    }
    created: dict[str, datetime] = {}
    for table in (models.FitRule, models.FitLevel, models.FieldMapping):
        for row_id, created_at in session.execute(select(table.id, table.created_at).where(table.unit_id == unit)):
            created[row_id] = created_at
    rs_created = dict(session.execute(
        select(models.FitRuleset.id, models.FitRuleset.created_at).where(models.FitRuleset.unit_id == unit)
    ).all())
    # Small tables: replace them wholesale (rules first: they reference their rulesets).
    for gone in (models.FitRule, models.FitLevel, models.FieldMapping, models.FitRuleset):
        session.execute(delete(gone).where(gone.unit_id == unit))
    session.flush()
    for rs in model.fit_rulesets:
        at = rs_created.get(rs.id, now)
        session.add(models.FitRuleset(id=rs.id, org_id=org, unit_id=unit, kind=rs.kind, name=rs.name,
                                      enabled=rs.enabled, is_primary=rs.is_primary, created_at=at, updated_at=now))
    session.flush()
    for r in model.fit_rules:
        session.add(models.FitRule(id=r.id, org_id=org, unit_id=unit, ruleset_id=r.ruleset_id, property=r.property,
                                   condition=r.condition, comparison_value=r.comparison_value, weight=r.weight,
                                   ui_order=r.ui_order, created_at=created.get(r.id, now), updated_at=now))
    for lv in model.fit_levels:
        was, created_by, updated_by = level_authors.get(lv.id, (None, actor, actor))
        if was is not None and was != (lv.kind, lv.name, lv.min_score, lv.max_score):
            updated_by = actor
        session.add(models.FitLevel(id=lv.id, org_id=org, unit_id=unit, kind=lv.kind, name=lv.name,
                                    min_score=lv.min_score, max_score=lv.max_score,
                                    created_at=created.get(lv.id, now), updated_at=now,
                                    created_by=created_by, updated_by=updated_by))
    for m in model.mappings:
        session.add(models.FieldMapping(id=m.id, org_id=org, unit_id=unit, kind=m.kind, source_field=m.source_field,
                                        property=m.property, update_behavior=m.update_behavior,
                                        created_at=created.get(m.id, now), updated_at=now))
