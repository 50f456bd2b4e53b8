"""Who is asking (tenant) and the unit's scoring configuration, loaded once per use case."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import scoring
from db import models


@dataclass(frozen=True, slots=True)
class Tenant:
    org_id: str
    unit_id: str


@dataclass(frozen=True, slots=True)
class ScoringContext:
    book: scoring.RuleBook
    policy: scoring.ScoringPolicy
    primary_ruleset_id: str | None
    ruleset_ids: tuple[str, ...]


def rule_from_row(row: models.Rule) -> scoring.Rule:
    return scoring.Rule(
        id=row.id,
        ruleset_id=row.ruleset_id,
        event_type=row.event_type,
        weight=row.weight,
        active=row.active,
        start_at=row.start_at,
        end_at=row.end_at,
        conditions=tuple(
            scoring.Condition(c["property"], c["operator"], c.get("value")) for c in (row.conditions or [])
        ),
    )


def load_scoring_context(session: Session, tenant: Tenant) -> ScoringContext:
    rulesets = session.execute(
        select(models.Ruleset.id, models.Ruleset.is_primary)
        .where(models.Ruleset.unit_id == tenant.unit_id)
        .order_by(models.Ruleset.created_at, models.Ruleset.id)
    ).all()
    rules = session.scalars(select(models.Rule).where(models.Rule.unit_id == tenant.unit_id)).all()
    settings_row = session.get(models.ScoringSettings, tenant.unit_id)
    allow_negative = bool(settings_row.allow_negative_scores) if settings_row else False
    ruleset_ids = tuple(r.id for r in rulesets)
    primary = next((r.id for r in rulesets if r.is_primary), ruleset_ids[0] if ruleset_ids else None)
    return ScoringContext(
        book=scoring.RuleBook(ruleset_ids, (rule_from_row(r) for r in rules)),
        policy=scoring.ScoringPolicy(allow_negative_scores=allow_negative),
        primary_ruleset_id=primary,
        ruleset_ids=ruleset_ids,
    )
