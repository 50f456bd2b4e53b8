"""Rebuild stored scores and explanations from the event log (after rules or settings change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from core import scoring
from db import models
from services.context import Tenant, load_scoring_context
from services.tenancy import policy
from services.tenancy.policy import Action

_FETCH = 20_000


@dataclass(frozen=True, slots=True)
class RescoreSummary:
    events: int
    leads: int
    accounts: int
    changed_events: int


def replay_unit(session: Session, tenant: Tenant) -> tuple[scoring.Replay, dict[int, tuple[int, dict[str, Any]]]]:
    """Replay the unit's log; also returns each event's stored (score_delta, explanation) for comparison."""
    ctx = load_scoring_context(session, tenant)
    board = scoring.Scoreboard(ctx.book, ctx.policy)
    outcomes: dict[int, dict[str, scoring.RulesetOutcome]] = {}
    stored: dict[int, tuple[int, dict[str, Any]]] = {}
    ev = models.Event
    rows = session.execute(
        select(
            ev.seq,
            ev.lead_id,
            ev.account_id,
            ev.event_type,
            ev.occurred_at,
            ev.metadata_,
            ev.score_delta,
            ev.explanation,
        )
        .where(ev.unit_id == tenant.unit_id)
        .order_by(ev.seq)
        .execution_options(yield_per=_FETCH)
    )
    for seq, lead_id, account_id, event_type, occurred_at, metadata, delta, explanation in rows:
        facts = scoring.EventFacts(event_type, occurred_at, metadata or {})
        outcomes[seq] = board.apply(facts, lead_id, account_id)
        stored[seq] = (delta, explanation)
    return scoring.Replay(outcomes, board.leads, board.accounts), stored


def rescore_unit(session: Session, tenant: Tenant) -> RescoreSummary:
    """Make stored scores equal to the replay of the event log under the current rules."""
    policy.require(tenant, Action.EDIT_SCORING)
    ctx = load_scoring_context(session, tenant)
    result, stored = replay_unit(session, tenant)
    primary = ctx.primary_ruleset_id
    event_updates: list[dict[str, Any]] = []
    for seq, outcomes in result.outcomes.items():
        explanation = {rs: o.as_explanation() for rs, o in outcomes.items()}
        delta = outcomes[primary].delta if primary in outcomes else 0
        if stored[seq] != (delta, explanation):
            event_updates.append({"b_seq": seq, "b_delta": delta, "b_explanation": explanation})
    table = cast(Table, models.Event.__table__)
    if event_updates:
        session.execute(
            update(table)
            .where(table.c.seq == bindparam("b_seq"))
            .values(
                score_delta=bindparam("b_delta"), explanation=bindparam("b_explanation", type_=table.c.explanation.type)
            ),
            event_updates,
        )
    _replace_scores(session, tenant, models.LeadScore, "lead_id", result.lead_scores, ctx.ruleset_ids)
    _replace_scores(session, tenant, models.AccountScore, "account_id", result.account_scores, ctx.ruleset_ids)
    return RescoreSummary(len(result.outcomes), len(result.lead_scores), len(result.account_scores), len(event_updates))


def _replace_scores(
    session: Session,
    tenant: Tenant,
    model: type[models.LeadScore] | type[models.AccountScore],
    key: str,
    scores: dict[str, dict[str, int]],
    ruleset_ids: tuple[str, ...],
) -> None:
    session.execute(delete(model).where(model.unit_id == tenant.unit_id))
    rows = [
        {key: owner, "ruleset_id": rs, "score": per.get(rs, 0), "org_id": tenant.org_id, "unit_id": tenant.unit_id}
        for owner, per in scores.items()
        for rs in ruleset_ids
    ]
    if rows:
        session.execute(cast(Table, model.__table__).insert(), rows)


def verify_unit(session: Session, tenant: Tenant) -> list[str]:
    """Differences between stored scores and a replay of the log; empty when they agree."""
    result, _stored = replay_unit(session, tenant)
    problems: list[str] = []
    for owner_model, key, replayed in (
        (models.LeadScore, "lead_id", result.lead_scores),
        (models.AccountScore, "account_id", result.account_scores),
    ):
        rows = session.execute(
            select(getattr(owner_model, key), owner_model.ruleset_id, owner_model.score).where(
                owner_model.unit_id == tenant.unit_id
            )
        )
        found: dict[tuple[str, str], int] = {(o, rs): s for o, rs, s in rows}
        expected = {(o, rs): s for o, per in replayed.items() for rs, s in per.items()}
        for k in sorted(set(found) | set(expected)):
            if found.get(k, 0) != expected.get(k, 0):
                problems.append(f"{key} {k[0]} ruleset {k[1]}: stored {found.get(k)} != replayed {expected.get(k)}")
    return problems
