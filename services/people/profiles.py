"""Lead and account profiles: every change is an event of the log, and the stored profile is its fold.

A profile is the `metadata` of a lead (kind "profile") or of an account (kind "account"). Whoever changes one (the
lead API, CRM and signal contact fields, field mappings at ingest) goes through here: the change is written as a
PROFILE_UPDATE / ACCOUNT_PROFILE_UPDATE system event (core.profile), the row's metadata becomes the new profile,
and its fit is recomputed under the published model (services.scoring.fit). `rebuild_*` fold the log again,
`verify_profiles` checks stored profiles against that fold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core import profile as core_profile
from core.model import ScoringModel
from core.profile import ACCOUNT_PROFILE_EVENT, LEAD_PROFILE_EVENT, ProfileChange
from db import models
from db.ids import new_id
from services.context import Tenant
from services.scoring.fit import fit_columns, rescore_fit
from services.scoring.model import published_model

SYSTEM_CHANNEL = "system"


def profile_event_row(
    tenant: Tenant,
    change: ProfileChange,
    *,
    lead_id: str | None = None,
    account_id: str | None = None,
    occurred_at: datetime,
    now: datetime,
    source: str | None = "profile",
) -> dict[str, Any]:
    """The events row recording one profile change of a lead (lead_id) or of an account (account_id)."""
    return {
        "id": new_id("ev"),
        "org_id": tenant.org_id,
        "unit_id": tenant.unit_id,
        "lead_id": lead_id,
        "account_id": account_id,
        "event_type": LEAD_PROFILE_EVENT if lead_id is not None else ACCOUNT_PROFILE_EVENT,
        "source": source,
        "channel": SYSTEM_CHANNEL,
        "occurred_at": occurred_at,
        "received_at": now,
        "metadata": change.to_metadata(),
        "score_delta": 0,
        "explanation": {},
        # Not activity: never quarantined nor boosted (core.quarantine, core.surge).
        "quarantine_filter_id": None,
        "quarantine_reason": None,
        "surge_milli": None,
    }


def set_lead_profile(
    session: Session,
    tenant: Tenant,
    lead: models.Lead,
    profile: Mapping[str, Any],
    *,
    via: str,
    now: datetime,
    model: ScoringModel | None = None,
) -> ProfileChange | None:
    """Make `profile` the lead's profile: record the change (None when nothing changed) and recompute its fit."""
    return _set_profile(session, tenant, lead, profile, via=via, now=now, model=model, kind="profile")


def set_account_profile(
    session: Session,
    tenant: Tenant,
    account: models.Account,
    profile: Mapping[str, Any],
    *,
    via: str,
    now: datetime,
    model: ScoringModel | None = None,
) -> ProfileChange | None:
    return _set_profile(session, tenant, account, profile, via=via, now=now, model=model, kind="account")


def _set_profile(
    session: Session,
    tenant: Tenant,
    row: models.Lead | models.Account,
    profile: Mapping[str, Any],
    *,
    via: str,
    now: datetime,
    model: ScoringModel | None,
    kind: str,
) -> ProfileChange | None:
    change = core_profile.change_between(row.metadata_ or {}, profile, via)
    if change is None:
        return None
    owner = {"lead_id": row.id} if kind == "profile" else {"account_id": row.id}
    # The events table itself (column names, as ingest writes rows), not the ORM entity (attribute names).
    events = cast(Table, models.Event.__table__)
    session.execute(events.insert(), [profile_event_row(tenant, change, occurred_at=now, now=now, **owner)])
    fit = fit_columns(model or published_model(session, tenant), kind, profile)
    row.metadata_ = dict(profile)
    row.fit_score, row.fit_scores = fit["fit_score"], fit["fit_scores"]
    row.updated_at = now
    return change


def logged_profile(session: Session, tenant: Tenant, *, lead_id: str | None = None,
                   account_id: str | None = None) -> dict[str, Any]:
    """A lead's (or an account's) profile as the fold of its profile events in log order."""
    event = models.Event
    if lead_id is not None:
        where = (event.lead_id == lead_id, event.event_type == LEAD_PROFILE_EVENT)
    else:
        where = (event.account_id == account_id, event.event_type == ACCOUNT_PROFILE_EVENT)
    changes = session.scalars(
        select(event.metadata_).where(event.unit_id == tenant.unit_id, *where).order_by(event.seq)
    )
    return core_profile.fold(ProfileChange.from_metadata(m or {}) for m in changes)


def rebuild_profile(session: Session, tenant: Tenant, lead_id: str, now: datetime) -> dict[str, Any]:
    """Set a lead's stored profile (and fit) to the fold of its profile events, e.g. after a merge moved some."""
    lead = session.get(models.Lead, lead_id)
    if lead is None or lead.unit_id != tenant.unit_id:
        return {}
    profile = logged_profile(session, tenant, lead_id=lead_id)
    fit = fit_columns(published_model(session, tenant), "profile", profile)
    if lead.metadata_ != profile or (lead.fit_score, lead.fit_scores) != (fit["fit_score"], fit["fit_scores"]):
        lead.metadata_, lead.fit_score, lead.fit_scores = profile, fit["fit_score"], fit["fit_scores"]
        lead.updated_at = now
    return profile


def rebuild_profiles(session: Session, tenant: Tenant, now: datetime) -> int:
    """Set every stored profile of the unit to the fold of its profile events, then every fit to the published
    model's (the profile half of a full replay). Returns how many profiles changed."""
    changed = 0
    event = models.Event
    owners: tuple[tuple[type[models.Lead] | type[models.Account], Any, str, str], ...] = (
        (models.Lead, event.lead_id, LEAD_PROFILE_EVENT, "profile"),
        (models.Account, event.account_id, ACCOUNT_PROFILE_EVENT, "account"),
    )
    for owner, column, event_type, kind in owners:
        folded = _fold_all(session, tenant, column, event_type)
        rows = cast(Sequence[models.Lead | models.Account], session.scalars(
            select(owner).where(owner.unit_id == tenant.unit_id)
        ).all())
        for row in rows:
            profile = folded.get(row.id, {})
            if (row.metadata_ or {}) != profile:
                row.metadata_, row.updated_at = profile, now
                changed += 1
        session.flush()
        rescore_fit(session, tenant, published_model(session, tenant), kind)
    return changed


def _fold_all(session: Session, tenant: Tenant, column: Any, event_type: str) -> dict[str, dict[str, Any]]:
    """Every owner's profile as the fold of its profile events (owners without any are absent)."""
    event = models.Event
    folded: dict[str, dict[str, Any]] = {}
    for owner_id, metadata in session.execute(
        select(column, event.metadata_)
        .where(event.unit_id == tenant.unit_id, event.event_type == event_type)
        .order_by(event.seq)
    ):
        if owner_id is not None:
            folded[owner_id] = core_profile.apply_change(
                folded.get(owner_id, {}), ProfileChange.from_metadata(metadata or {})
            )
    return folded


def verify_profiles(session: Session, tenant: Tenant) -> list[str]:
    """Stored profiles that differ from the fold of their profile events; empty when they agree."""
    problems: list[str] = []
    event = models.Event
    for kind, owner, column, event_type in (
        ("lead", models.Lead, event.lead_id, LEAD_PROFILE_EVENT),
        ("account", models.Account, event.account_id, ACCOUNT_PROFILE_EVENT),
    ):
        folded = _fold_all(session, tenant, column, event_type)
        stored_rows = session.execute(select(owner.id, owner.metadata_).where(owner.unit_id == tenant.unit_id))
        for owner_id, stored in stored_rows:
            if (stored or {}) != folded.get(owner_id, {}):
                problems.append(f"{kind} {owner_id}: stored profile differs from the replay of its profile events")
    return problems
