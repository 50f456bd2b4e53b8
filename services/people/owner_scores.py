"""Scores as reads show them, for leads and accounts: the fit fields of a read, an account's engagement and fit
scores, and the unit's ABM switch that account reads obey (`require_abm`: 403 `abm_disabled` while it is off).

Shared by services.people.leads (a lead's account) and services.people.accounts, which builds on leads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import levels as core_levels
from core.model import ScoringModel
from db import models
from services.context import Tenant
from services.errors import AbmDisabled
from services.scoring import levels as level_service
from services.scoring.fit import fit_level as fit_level_of
from services.scoring.model import live_model, published_model
from services.scoring.scoring_settings import get_settings


def fit_view(model: ScoringModel, kind: str, score: int | None, scores: Mapping[str, int] | None) -> dict[str, Any]:
    """The fit fields of a read: {fit_score (primary ruleset), fit_scores (per ruleset id), fit_level (name)}.

    `model` is the published one (fit follows it: services.scoring.fit); `kind` "profile" (leads) or "account".
    """
    fit_score = int(score or 0)
    return {
        "fit_score": fit_score,
        "fit_scores": {str(k): int(v) for k, v in (scores or {}).items()},
        "fit_level": fit_level_of(model, kind, fit_score),
    }


def abm_enabled(session: Session, tenant: Tenant) -> bool:
    return get_settings(session, tenant).abm_enabled


def require_abm(session: Session, tenant: Tenant) -> None:
    """Every account read and write asks this first: 403 `abm_disabled` while the unit's ABM switch is off."""
    if not abm_enabled(session, tenant):
        raise AbmDisabled()


def scores_by_account(session: Session, tenant: Tenant, account_ids: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {aid: {} for aid in account_ids}
    if account_ids:
        for acc_id, rs, score in session.execute(
            select(models.AccountScore.account_id, models.AccountScore.ruleset_id, models.AccountScore.score).where(
                models.AccountScore.unit_id == tenant.unit_id, models.AccountScore.account_id.in_(account_ids)
            )
        ):
            out.setdefault(acc_id, {})[rs] = score
    return out


def account_scores(
    session: Session, tenant: Tenant, row: models.Account, *, levels: list[core_levels.Level] | None = None
) -> dict[str, Any]:
    """An account's scores as account reads show them: {score (engagement, primary ruleset), scores (per ruleset),
    level (of that score), fit_score, fit_scores, fit_level}. Engagement follows the live model, fit the published
    one. The caller has asked `require_abm` (or checked `abm_enabled`)."""
    primary = live_model(session, tenant).primary_ruleset_id
    scores = scores_by_account(session, tenant, [row.id])[row.id]
    score = scores.get(primary, 0) if primary else 0
    if levels is None:
        levels = level_service.load_levels(session, tenant)
    return {
        "score": score,
        "scores": scores,
        "level": level_service.level_for_score(score, levels),
        **fit_view(published_model(session, tenant), "account", row.fit_score, row.fit_scores),
    }
