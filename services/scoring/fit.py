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
from typing import Any

import orjson
from sqlalchemy import select, text
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
    table = owner.__tablename__
    book = model.fit_book(kind)
    # One read of the unit's rows (a page per id range would make SQLite sort the unit's rows once per page), JSON
    # as text decoded with orjson, and plain UPDATEs: the ORM's per-row JSON processing cost more than the scoring.
    rows = session.execute(
        text(f"SELECT id, CAST(metadata AS TEXT), fit_score, CAST(fit_scores AS TEXT) FROM {table} "
             "WHERE unit_id = :unit"),
        {"unit": tenant.unit_id},
    ).all()
    updates: list[dict[str, Any]] = []
    for row_id, profile_text, score, scores_text in rows:
        fit = book.fit(orjson.loads(profile_text) if profile_text else {})
        if fit.score != score or dict(fit.scores) != (orjson.loads(scores_text) if scores_text else {}):
            updates.append({"id": row_id, "score": fit.score, "scores": orjson.dumps(dict(fit.scores)).decode()})
    scores_param = "CAST(:scores AS JSONB)" if session.get_bind().dialect.name == "postgresql" else ":scores"
    change = text(f"UPDATE {table} SET fit_score = :score, fit_scores = {scores_param} WHERE id = :id")
    for start in range(0, len(updates), _CHUNK):
        session.execute(change, updates[start : start + _CHUNK])
    if updates:
        # Rows this session already holds must not keep their old fit.
        for held in list(session.identity_map.values()):
            if isinstance(held, owner):
                session.expire(held, ["fit_score", "fit_scores"])
    return FitRescore(kind, len(rows), len(updates))


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
