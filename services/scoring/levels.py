"""Engagement levels (Cold/Warm/Hot ...): the unit's set of score bands, kept free of overlaps and gaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from core import levels as core_levels
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.scoring.model import begin_change
from services.scoring.publish import publish
from services.tenancy import audit, policy
from services.tenancy.policy import Action


@dataclass(frozen=True, slots=True)
class LevelInput:
    name: str
    min_score: int
    max_score: int
    id: str | None = None


def level_view(level: core_levels.Level | models.EngagementLevel) -> dict[str, Any]:
    """The API/dashboard shape of a level; `stage_id` is the reference document's name for the id."""
    return {
        "id": level.id,
        "stage_id": level.id,
        "name": level.name,
        "min_score": level.min_score,
        "max_score": level.max_score,
    }


def _rows(session: Session, tenant: Tenant) -> list[models.EngagementLevel]:
    return list(
        session.scalars(
            select(models.EngagementLevel)
            .where(models.EngagementLevel.unit_id == tenant.unit_id)
            .order_by(models.EngagementLevel.min_score, models.EngagementLevel.name)
        )
    )


def load_levels(session: Session, tenant: Tenant) -> list[core_levels.Level]:
    """The unit's levels as core values, lowest band first."""
    return [core_levels.Level(r.id, r.name, r.min_score, r.max_score) for r in _rows(session, tenant)]


def list_levels(session: Session, tenant: Tenant) -> list[dict[str, Any]]:
    return [level_view(r) for r in _rows(session, tenant)]


def get_level(session: Session, tenant: Tenant, level_id: str) -> dict[str, Any]:
    return level_view(_get(session, tenant, level_id))


def level_by_name(session: Session, tenant: Tenant, name: str) -> core_levels.Level | None:
    key = name.strip().casefold()
    return next((lv for lv in load_levels(session, tenant) if lv.name.strip().casefold() == key), None)


def level_for_score(score: int, levels: Sequence[core_levels.Level]) -> dict[str, Any] | None:
    level = core_levels.level_for(score, levels)
    return None if level is None else {"id": level.id, "name": level.name}


def level_for_scores(
    scores: Mapping[str, int], levels: Sequence[core_levels.Level]
) -> dict[str, dict[str, Any] | None]:
    """Level ({id, name} or None) per owner id, for a page of leads scored in one query."""
    return {owner: level_for_score(score, levels) for owner, score in scores.items()}


def _get(session: Session, tenant: Tenant, level_id: str) -> models.EngagementLevel:
    row = session.get(models.EngagementLevel, level_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"engagement level {level_id!r} does not exist in this unit", field="id")
    return row


LEVEL_NAME_MAX = 100


def check_levels(levels: Sequence[core_levels.Level]) -> None:
    """A level set's rule, for engagement and fit levels alike (core.levels.validate_levels: sound bounds, no
    overlap, no gap, unique names); InvalidInput naming `levels` with every problem."""
    problems = core_levels.validate_levels(levels)
    if problems:
        raise InvalidInput("levels", "; ".join(problems))


def clean_level_name(name: Any) -> str:
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned:
        raise InvalidInput("name", "must not be empty")
    if len(cleaned) > LEVEL_NAME_MAX:
        raise InvalidInput("name", f"at most {LEVEL_NAME_MAX} characters")
    return cleaned


def create_level(
    session: Session, tenant: Tenant, *, name: str, min_score: int, max_score: int, now: datetime
) -> dict[str, Any]:
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    name = clean_level_name(name)
    current = load_levels(session, tenant)
    level_id = new_id("st")
    check_levels([*current, core_levels.Level(level_id, name, min_score, max_score)])
    row = models.EngagementLevel(
        id=level_id, org_id=tenant.org_id, unit_id=tenant.unit_id, name=name, min_score=min_score,
        max_score=max_score, created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "level", row, now)
    publish(session, tenant, now=now)
    return level_view(row)


def update_level(
    session: Session, tenant: Tenant, level_id: str, *, name: str, min_score: int, max_score: int, now: datetime
) -> dict[str, Any]:
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = _get(session, tenant, level_id)
    before = audit.snapshot(row)
    name = clean_level_name(name)
    others = [lv for lv in load_levels(session, tenant) if lv.id != level_id]
    check_levels([*others, core_levels.Level(level_id, name, min_score, max_score)])
    row.name, row.min_score, row.max_score, row.updated_at = name, min_score, max_score, now
    session.flush()
    audit.updated(session, tenant, "level", before, row, now)
    publish(session, tenant, now=now)
    return level_view(row)


def delete_level(session: Session, tenant: Tenant, level_id: str, *, now: datetime) -> None:
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    row = _get(session, tenant, level_id)
    check_levels([lv for lv in load_levels(session, tenant) if lv.id != level_id])
    audit.deleted(session, tenant, "level", row)
    session.delete(row)
    session.flush()
    publish(session, tenant, now=now)


def replace_all(session: Session, tenant: Tenant, levels: Sequence[LevelInput], now: datetime) -> list[dict[str, Any]]:
    """Replace the whole set in one go (the dashboard's editable grid); ids given for known levels are kept."""
    policy.require(tenant, Action.EDIT_SCORING)
    begin_change(session, tenant, now)
    existing = {r.id: r for r in _rows(session, tenant)}
    planned: list[core_levels.Level] = []
    for pos, item in enumerate(levels):
        try:
            name = clean_level_name(item.name)
        except InvalidInput as exc:
            raise InvalidInput(f"levels[{pos}].name", exc.message.split(": ", 1)[-1]) from None
        keep = item.id if item.id and item.id in existing else None
        planned.append(core_levels.Level(keep or new_id("st"), name, int(item.min_score), int(item.max_score)))
    if len({lv.id for lv in planned}) != len(planned):
        raise InvalidInput("levels", "the same level id appears more than once")
    check_levels(planned)
    created = {lv.id: existing[lv.id].created_at for lv in planned if lv.id in existing}
    session.execute(delete(models.EngagementLevel).where(models.EngagementLevel.unit_id == tenant.unit_id))
    if planned:
        session.execute(
            cast(Table, models.EngagementLevel.__table__).insert(),
            [
                {
                    "id": lv.id, "org_id": tenant.org_id, "unit_id": tenant.unit_id, "name": lv.name,
                    "min_score": lv.min_score, "max_score": lv.max_score,
                    "created_at": created.get(lv.id, now), "updated_at": now,
                }
                for lv in planned
            ],
        )
    audit.record(session, tenant, action="update", entity_type="levels", entity_id=None, now=now,
                 before={i: level_view(r) for i, r in existing.items()}, after={v.id: level_view(v) for v in planned})
    session.expire_all()
    publish(session, tenant, now=now)
    return [level_view(lv) for lv in sorted(planned, key=lambda lv: lv.min_score)]
