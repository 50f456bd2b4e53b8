"""Publish a change of a unit's scoring model: record it as a new version, then make stored scores match it.

Every service that changes the configuration (rules, rulesets, levels, decay rules, scoring settings, a rollback)
calls `begin_change` first (services.scoring.model: the lock and the baseline version) and `publish` last, in
the same transaction. A change that cannot move a score (a level, a decay rule, a name) only records the version;
one that can rescores the unit from its event log: inside the change's transaction on a small unit, aside on a
large one (more than `inline_rescore_max_events` events, or a rescore already pending): then the version is
published but not yet live, and services.scoring.publisher swaps the new scores in once they are computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.model import summarize
from core.profile import PROFILE_KINDS
from services.context import Tenant
from services.scoring import publisher
from services.scoring.fit import rescore_fit
from services.scoring.model import heads, load_from_tables, model_at, record_version, set_live
from services.scoring.rescore import rescore_unit
from services.tenancy import audit


@dataclass(frozen=True, slots=True)
class Published:
    version: int
    summary: str
    rescored: bool  # stored scores were rebuilt in this transaction
    pending: bool = False  # scores are being rebuilt aside: the version goes live when they are swapped in


def publish(session: Session, tenant: Tenant, *, now: datetime, summary: str | None = None) -> Published | None:
    """Record the editing tables' configuration as the unit's next version (None when nothing changed) and make
    the stored scores those of the new version. Call after `begin_change` and the change, in one transaction."""
    session.flush()
    current = heads(session, tenant)
    previous = model_at(session, tenant, current.published) if current.published else load_from_tables(session, tenant)
    new = load_from_tables(session, tenant)
    if current.published and new == previous:
        return None
    text = summary or summarize(previous, new)
    version = record_version(session, tenant, new, now=now, summary=text, published_by=tenant.actor, live=False)
    audit.record(session, tenant, action="publish", entity_type="scoring_version", entity_id=str(version),
                 before=None, after={"version": version, "summary": text}, now=now)
    # Fit reads profiles only, never the log: it follows the published model at once, in this transaction.
    for kind in PROFILE_KINDS:
        if not new.fit_same_as(previous, kind):
            rescore_fit(session, tenant, new, kind)
    live = model_at(session, tenant, current.live) if current.live else previous
    moves_scores = not new.scores_same_as(live)
    # While an aside rescore runs, rows may already hold a newer model than the live one: always go aside then.
    pending = current.live < current.published
    if (moves_scores or pending) and publisher.goes_aside(session, tenant, pending=pending):
        publisher.request(session, tenant)
        return Published(version, text, rescored=False, pending=True)
    if moves_scores or pending:
        rescore_unit(session, tenant, new)
    set_live(session, tenant, version)
    return Published(version, text, moves_scores or pending)
