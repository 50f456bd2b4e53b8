"""How many leads a change moved between levels: snapshot every lead's level before, again after, compare.

A snapshot is one set-based read (every lead's primary score, leads without a score row at 0) mapped to the
unit's levels in memory; callers take one before and one after a change inside the same transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import levels as core_levels
from db import models
from services.context import Tenant
from services.people.leads import primary_score_column
from services.scoring.levels import load_levels
from services.scoring.model import live_model

NO_LEVEL = "no level"


def lead_levels(session: Session, tenant: Tenant) -> dict[str, str]:
    """Every (unmerged) lead's current level name, by lead id."""
    levels = load_levels(session, tenant)
    join_on, score = primary_score_column(live_model(session, tenant).primary_ruleset_id)
    rows = session.execute(
        select(models.Lead.id, score)
        .select_from(models.Lead)
        .outerjoin(models.LeadScore, join_on)
        .where(models.Lead.unit_id == tenant.unit_id, models.Lead.merged_into.is_(None))
    )
    out: dict[str, str] = {}
    for lead_id, value in rows:
        band = core_levels.level_for(int(value), levels)
        out[lead_id] = band.name if band else NO_LEVEL
    return out


@dataclass(frozen=True, slots=True)
class LevelChanges:
    changed: int
    moves: dict[tuple[str, str], int] = field(default_factory=dict)  # (from, to) -> leads

    def summary(self) -> str:
        """'3 leads changed level: 2 Cold → Warm, 1 Warm → Hot.' or 'No lead changed level.'"""
        if not self.changed:
            return "No lead changed level."
        moves = ", ".join(f"{n} {a} → {b}" for (a, b), n in sorted(self.moves.items(), key=lambda kv: (-kv[1], kv[0])))
        noun = "lead" if self.changed == 1 else "leads"
        return f"{self.changed} {noun} changed level: {moves}."


def compare(before: Mapping[str, str], after: Mapping[str, str]) -> LevelChanges:
    """Leads whose level differs between two snapshots (a lead new in `after` is not a change)."""
    moves = Counter((before[lead], level) for lead, level in after.items() if lead in before and before[lead] != level)
    return LevelChanges(sum(moves.values()), dict(moves))
