"""A unit's scoring history: its published versions, what each changed, and going back to one.

Versions are recorded by services.scoring.publish and kept forever. A rollback is itself a change: it writes the
old version's configuration back into the editing tables (ids kept) and publishes it as a NEW version, so the
history only grows and a rollback can itself be rolled back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.model import FIELD_PARTS, ITEM_PARTS, ScoringModel, diff
from db import models
from services.context import Tenant
from services.errors import Conflict, NotFound
from services.scoring.model import begin_change, heads, model_at, published_model, write_tables
from services.scoring.publish import publish
from services.tenancy import audit, policy
from services.tenancy.policy import Action

MAX_STORED_VERSION = 2**31 - 1  # scoring_versions.version is a 32-bit integer column

# Per item part of the diff (core.model.ITEM_PARTS, every one of them), the name its changed items' ids go by
# (`rule_id`, ...), as the rest of the API names them.
ID_NAMES: dict[str, str] = {
    "rulesets": "ruleset_id", "rules": "rule_id", "levels": "level_id", "decay_rules": "decay_id",
    "mappings": "mapping_id", "fit_rulesets": "ruleset_id", "fit_rules": "rule_id", "fit_levels": "level_id",
    "filters": "filter_id", "event_type_scopes": "event_type",
}


@dataclass(frozen=True, slots=True)
class VersionMeta:
    version: int
    published_at: datetime
    published_by: str | None  # the person's email or key name; None for versions the system recorded
    summary: str
    live: bool  # the version whose scores are stored (services.scoring.model.Heads.live)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_versions(session: Session, tenant: Tenant) -> list[VersionMeta]:
    """Every published version of the unit, newest first."""
    live = heads(session, tenant).live
    v = models.ScoringVersion
    rows = session.execute(
        select(v.version, v.published_at, v.published_by, v.summary)
        .where(v.unit_id == tenant.unit_id)
        .order_by(v.version.desc())
    )
    return [VersionMeta(n, at, by, summary or "", n == live) for n, at, by, summary in rows]


def version_meta(session: Session, tenant: Tenant, version: int, *, field: str = "version") -> VersionMeta:
    """One version's meta; NotFound naming `field` when the unit has no such version."""
    v = models.ScoringVersion
    row = None
    if 1 <= version <= MAX_STORED_VERSION:  # beyond: cannot exist, and PostgreSQL would refuse the comparison
        row = session.execute(
            select(v.published_at, v.published_by, v.summary).where(v.unit_id == tenant.unit_id, v.version == version)
        ).one_or_none()
    if row is None:
        raise NotFound(f"{field}: scoring version {version} does not exist in this unit", field=field)
    return VersionMeta(version, row[0], row[1], row[2] or "", version == heads(session, tenant).live)


def version_model(session: Session, tenant: Tenant, version: int, *, field: str = "version") -> ScoringModel:
    """Published version `version` of the unit's model; NotFound naming `field` when there is no such version."""
    if not 1 <= version <= MAX_STORED_VERSION:
        raise NotFound(f"{field}: scoring version {version} does not exist in this unit", field=field)
    try:
        return model_at(session, tenant, version)
    except NotFound:
        raise NotFound(f"{field}: scoring version {version} does not exist in this unit", field=field) from None


def get_version(session: Session, tenant: Tenant, version: int) -> dict[str, Any]:
    """The version's meta and `model`: the whole configuration as it was published (core.model document)."""
    meta = version_meta(session, tenant, version)
    return {**meta.as_dict(), "model": model_at(session, tenant, version).to_document()}


def diff_versions(session: Session, tenant: Tenant, version: int, against: int | None = None) -> dict[str, Any]:
    """What changed from version `against` (default: the one before) to `version`.

    Per item part (rulesets, rules, levels, decay_rules, mappings, fit_rulesets, fit_rules, fit_levels, filters,
    event_type_scopes): `added` and `removed` as whole item documents, `changed` as `{<id name> (ID_NAMES: rule_id,
    ruleset_id, level_id, decay_id, mapping_id, filter_id, event_type), name, changes: {field: {before, after}}}`;
    `settings` and `surge` (the surge policy) as `{field: {before, after}}`. Version 1 has nothing before it: without
    `against` it is compared with an empty configuration and `against` is 0.
    """
    version_meta(session, tenant, version)
    if against is None:
        against = version - 1
    if against == 0:
        old = ScoringModel.build()
    else:
        version_meta(session, tenant, against, field="against")
        old = model_at(session, tenant, against)
    new = model_at(session, tenant, version)
    changes = diff(old, new)
    names = _item_names(old, new)
    result: dict[str, Any] = {"version": version, "against": against}
    for part, _label in ITEM_PARTS:
        entry, id_name, part_names = changes[part], ID_NAMES[part], names.get(part, {})
        result[part] = {
            "added": entry["added"],
            "removed": entry["removed"],
            "changed": [
                {id_name: item["id"], "name": part_names.get(item["id"], item["id"]), "changes": item["changes"]}
                for item in entry["changed"]
            ],
        }
    for part in FIELD_PARTS:
        result[part] = changes[part]
    return result


def rollback(session: Session, tenant: Tenant, version: int, now: datetime) -> VersionMeta:
    """Make version `version`'s configuration the unit's again, as a new version, and rescore to it.

    Conflict when it is what is published already (nothing would change).
    """
    policy.require(tenant, Action.EDIT_SCORING)
    version_meta(session, tenant, version)  # before begin_change: a unit without versions gets no baseline for a 404
    begin_change(session, tenant, now)
    wanted = model_at(session, tenant, version)
    current = heads(session, tenant).published
    if wanted == published_model(session, tenant):
        raise Conflict(
            f"version {version} is the configuration published now (version {current}): nothing to restore",
            field="version",
        )
    write_tables(session, tenant, wanted, now=now, actor=tenant.actor)
    published = publish(session, tenant, now=now, summary=f"rollback to version {version}")
    if published is None:  # write_tables made the tables equal to the published model: cannot happen, see above
        raise Conflict(f"version {version} is the configuration published now: nothing to restore", field="version")
    audit.record(
        session, tenant, action="rollback", entity_type="scoring_version", entity_id=str(published.version),
        before={"version": current}, after={"version": published.version, "restored": version}, now=now,
    )
    return version_meta(session, tenant, published.version)


def _item_names(*models_: ScoringModel) -> dict[str, dict[str, str]]:
    """Per item part, a readable name per item id (a rule's event type, a ruleset's or level's name, a decay rule's
    terms, ...); the newest model's name wins."""
    names: dict[str, dict[str, str]] = {part: {} for part, _label in ITEM_PARTS}
    for model in models_:
        names["rules"].update({r.id: r.event_type for r in model.rules})
        names["rulesets"].update({rs.id: rs.name for rs in model.rulesets})
        names["levels"].update({lv.id: lv.name for lv in model.levels})
        names["decay_rules"].update({d.id: f"-{d.decrease} after {d.inactive_for} {d.unit}" for d in model.decay_rules})
        names["mappings"].update({m.id: f"{m.source_field} → {m.property}" for m in model.mappings})
        names["fit_rulesets"].update({rs.id: rs.name for rs in model.fit_rulesets})
        names["fit_rules"].update(
            {r.id: f"{r.property} {r.condition} {r.comparison_value}".strip() for r in model.fit_rules}
        )
        names["fit_levels"].update({lv.id: lv.name for lv in model.fit_levels})
        names["filters"].update(
            {f.id: f"{f.count_threshold}x {f.event_type} in {f.time_window_ms} ms" for f in model.filters}
        )
        names["event_type_scopes"].update({sc.id: sc.id for sc in model.event_type_scopes})
    return names
