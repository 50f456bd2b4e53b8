"""A unit's scoring settings: negative scores allowed, ABM switch, session idle timeout, the bot filter switch.

Settings are part of the unit's scoring model: a change is published as a new version, and changing
allow_negative_scores (how every score folds), session_timeout_minutes (where surge sessions end, with the surge
policy's idle reset) or bot_filter_enabled (events whose `metadata.user_agent` is a known crawler are quarantined:
core.quarantine) rescores the unit from the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import InvalidInput
from services.scoring.model import begin_change
from services.scoring.publish import publish
from services.tenancy import audit, policy
from services.tenancy.policy import Action

DEFAULT_SESSION_TIMEOUT_MINUTES = 30
MIN_SESSION_TIMEOUT_MINUTES = 1
MAX_SESSION_TIMEOUT_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class ScoringSettingsView:
    allow_negative_scores: bool
    abm_enabled: bool
    session_timeout_minutes: int
    updated_at: datetime | None = None
    bot_filter_enabled: bool = False


def get_settings(session: Session, tenant: Tenant) -> ScoringSettingsView:
    row = session.get(models.ScoringSettings, tenant.unit_id)
    if row is None:
        return ScoringSettingsView(False, False, DEFAULT_SESSION_TIMEOUT_MINUTES, None)
    return _view(row)


def update_settings(
    session: Session,
    tenant: Tenant,
    *,
    allow_negative_scores: bool | None = None,
    abm_enabled: bool | None = None,
    session_timeout_minutes: int | None = None,
    bot_filter_enabled: bool | None = None,
    now: datetime,
) -> ScoringSettingsView:
    """Partial update: None leaves a setting as it is."""
    policy.require(tenant, Action.EDIT_SCORING)
    for name, value in (("allow_negative_scores", allow_negative_scores), ("abm_enabled", abm_enabled),
                        ("bot_filter_enabled", bot_filter_enabled)):
        if value is not None and not isinstance(value, bool):
            raise InvalidInput(name, "must be true or false")
    if session_timeout_minutes is not None:
        if isinstance(session_timeout_minutes, bool) or not isinstance(session_timeout_minutes, int):
            raise InvalidInput("session_timeout_minutes", "must be an integer number of minutes")
        if not MIN_SESSION_TIMEOUT_MINUTES <= session_timeout_minutes <= MAX_SESSION_TIMEOUT_MINUTES:
            raise InvalidInput(
                "session_timeout_minutes",
                f"must be between {MIN_SESSION_TIMEOUT_MINUTES} and {MAX_SESSION_TIMEOUT_MINUTES}",
            )
    begin_change(session, tenant, now)
    row = session.get(models.ScoringSettings, tenant.unit_id, with_for_update=True)
    if row is None:
        row = models.ScoringSettings(
            unit_id=tenant.unit_id, org_id=tenant.org_id, allow_negative_scores=False, abm_enabled=False,
            session_timeout_minutes=DEFAULT_SESSION_TIMEOUT_MINUTES, bot_filter_enabled=False, updated_at=now,
        )
        session.add(row)
    before = audit.snapshot(row)  # a unit without a row had the defaults: the diff is against those
    if allow_negative_scores is not None:
        row.allow_negative_scores = allow_negative_scores
    if abm_enabled is not None:
        row.abm_enabled = abm_enabled
    if session_timeout_minutes is not None:
        row.session_timeout_minutes = session_timeout_minutes
    if bot_filter_enabled is not None:
        row.bot_filter_enabled = bot_filter_enabled
    row.updated_at = now
    session.flush()
    audit.record(session, tenant, action="update", entity_type="scoring_settings", entity_id=tenant.unit_id,
                 before=before, after=row, now=now)
    publish(session, tenant, now=now)
    return _view(row)


def _view(row: models.ScoringSettings) -> ScoringSettingsView:
    return ScoringSettingsView(
        bool(row.allow_negative_scores), bool(row.abm_enabled), int(row.session_timeout_minutes), row.updated_at,
        bool(row.bot_filter_enabled),
    )
