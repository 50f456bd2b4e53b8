"""Fit scores of leads (profile rulesets) and accounts (account rulesets): computed, stored, rescored, verified.

A lead's fit is a function of its profile (`leads.metadata`) and the published model's fit rules (core.fit): it is
stored in `fit_score` (primary ruleset) and `fit_scores` (per enabled ruleset) so lists can sort and filter on it,
and recomputed wherever a profile changes (services.people.profiles) or the fit rules do (`publish` calls
`rescore_fit`). Fit follows the newest published model at once (it never goes "aside": rescoring fit reads only
profiles, not the event log).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.orm import Session

from core import levels as core_levels
from core.fit import Fit
from core.model import ScoringModel
from db import models
from services.context import Tenant

_CHUNK = 5000
_OWNERS: dict[str, type[models.Lead] | type[models.Account]] = {"profile": models.Lead, "account": models.Account}


def fit_of(model: ScoringModel, kind: str, profile: Mapping[str, Any] | None) -> Fit:
    return model.fit_book(kind).fit(profile or {})


def fit_level(model: ScoringModel, kind: str, score: int | None) -> str | None:
    """The name of the fit level `score` falls in (None without fit levels or outside them)."""
    if score is None:
        return None
    level = core_levels.level_for(int(score), model.fit_levels_for(kind))
    return level.name if level else None


def fit_columns(model: ScoringModel, kind: str, profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored fit columns of a profile: {"fit_score", "fit_scores"}."""
    fit = fit_of(model, kind, profile)
    return {"fit_score": fit.score, "fit_scores": dict(fit.scores)}


@dataclass(frozen=True, slots=True)
class FitRescore:
    kind: str
    checked: int
    changed: int


def rescore_fit(session: Session, tenant: Tenant, model: ScoringModel, kind: str) -> FitRescore:
    """Make every stored fit of `kind` in the unit that of `model`; rows whose fit did not move are not written."""
    owner = _OWNERS[kind]
    book = model.fit_book(kind)
    checked = changed = 0
    after = ""
    # JSON as text, decoded here with orjson: the JSON type's per-row processing cost more than scoring the rows.
    page = text(
        f"SELECT id, CAST(metadata AS TEXT), fit_score, CAST(fit_scores AS TEXT) FROM {owner.__tablename__} "
        "WHERE unit_id = :unit AND id > :after ORDER BY id LIMIT :limit"
    )
    while True:
        rows = session.execute(page, {"unit": tenant.unit_id, "after": after, "limit": _CHUNK}).all()
        if not rows:
            break
        after = rows[-1][0]
        updates: list[dict[str, Any]] = []
        for row_id, profile_text, score, scores_text in rows:
            fit = book.fit(orjson.loads(profile_text) if profile_text else {})
            if fit.score != score or dict(fit.scores) != (orjson.loads(scores_text) if scores_text else {}):
                updates.append({"b_id": row_id, "b_score": fit.score, "b_scores": dict(fit.scores)})
        checked += len(rows)
        if updates:
            table = cast(Table, owner.__table__)
            scores_type = table.c.fit_scores.type
            session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(fit_score=bindparam("b_score"), fit_scores=bindparam("b_scores", type_=scores_type)),
                updates,
            )
            changed += len(updates)
    return FitRescore(kind, checked, changed)


def verify_fit(session: Session, tenant: Tenant, model: ScoringModel) -> list[str]:
    """Stored fit scores that differ from the model's fit of the stored profile; empty when they agree."""
    problems: list[str] = []
    for kind, owner in _OWNERS.items():
        book = model.fit_book(kind)
        for row_id, profile, score, scores in session.execute(
            select(owner.id, owner.metadata_, owner.fit_score, owner.fit_scores).where(owner.unit_id == tenant.unit_id)
        ):
            fit = book.fit(profile or {})
            if fit.score != score or dict(fit.scores) != (scores or {}):
                problems.append(f"{kind} {row_id}: stored fit {score} {scores} != computed {fit.score} {fit.scores}")
    return problems
