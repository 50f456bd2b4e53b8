"""Who is asking (tenant) and the unit's scoring configuration, loaded once per use case."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, case, func, select, true
from sqlalchemy.orm import Session

from core import scoring
from db import models


@dataclass(frozen=True, slots=True)
class Tenant:
    """Who is asking: the unit every read and write is scoped to, and the caller's role
    there (services.tenancy.policy)."""

    org_id: str
    unit_id: str
    role: str = "Owner"
    actor: str | None = None  # the user's email or the API key's name, for audit fields
    credential_id: str | None = None  # the API key's id when a key authenticated (rate limits keyed by credential)
    member_id: str | None = None  # the organization member (users.id) when a person is asking
    org_role: str | None = None  # that person's organization role; None for keys and credentials


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


class _ContextCache:
    """The last ScoringContext built per (database, unit) in this process, with the version it was built from.

    Every use still asks the database, in one small statement, for the configuration's version (counts,
    sums and latest updated_at of the unit's rules and rulesets, plus its scoring settings); a changed
    version rebuilds the context. So a rule or settings change is seen by the next ingest in every process,
    without a TTL. Services that change rules, rulesets or settings bump updated_at (a rule's conditions
    are only covered by that). Anything added to the context must be added to the version too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, str], tuple[tuple[Any, ...], ScoringContext]] = {}

    def get(self, session: Session, tenant: Tenant) -> ScoringContext:
        if session.new or session.dirty or session.deleted:
            session.flush()  # the version must see this transaction's own changes
        key = (session.get_bind().engine.url, tenant.unit_id)
        version = _config_version(session, tenant)
        cached = self._entries.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        context = _load_scoring_context(session, tenant)
        with self._lock:
            self._entries[key] = (version, context)
        return context


def _config_version(session: Session, tenant: Tenant) -> tuple[Any, ...]:
    return tuple(session.execute(_version_statement(), {"unit": tenant.unit_id}).one())


@lru_cache(maxsize=1)
def _version_statement() -> Select[Any]:
    """Built once: constructing this statement cost more than running it."""
    rule, ruleset, cfg = models.Rule, models.Ruleset, models.ScoringSettings
    unit: BindParameter[Any] = bindparam("unit")
    rules = select(
        func.count(), func.max(rule.updated_at), func.sum(rule.weight), func.sum(case((rule.active, 1), else_=0)),
        func.min(rule.start_at), func.max(rule.start_at), func.min(rule.end_at), func.max(rule.end_at),
    ).where(rule.unit_id == unit)
    rulesets = select(
        func.count(), func.max(ruleset.updated_at), func.max(case((ruleset.is_primary, ruleset.id), else_=None))
    ).where(ruleset.unit_id == unit)
    settings = select(
        func.count(), func.max(cfg.updated_at), func.max(case((cfg.allow_negative_scores, 1), else_=0))
    ).where(cfg.unit_id == unit)
    # Aggregates always yield one row, so the cross join of the three is exactly one row.
    r, rs, st = rules.subquery(), rulesets.subquery(), settings.subquery()
    return select(r, rs, st).select_from(r.join(rs, true()).join(st, true()))


_CACHE = _ContextCache()


def load_scoring_context(session: Session, tenant: Tenant) -> ScoringContext:
    """The unit's rules, rulesets and scoring policy (built once per configuration version and process)."""
    return _CACHE.get(session, tenant)


def _load_scoring_context(session: Session, tenant: Tenant) -> ScoringContext:
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
