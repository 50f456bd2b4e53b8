"""Creating and editing leads: a new lead, its profile replaced or patched, its account link set or cleared.

A lead's profile is its `metadata`. Every change of it goes through services.people.profiles.set_lead_profile
(`via="api"`): it is recorded as a PROFILE_UPDATE event of the log and the lead's fit is recomputed under the
published model. A new account link is recorded in the log too (a PROFILE_UPDATE event that changes no property
and names the account), so the account-profile backfill re-derives the same link from the log. Every change is
audited with its before and after; the caller must be allowed `leads.edit` (Owner, Operator).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from core.model import ScoringModel
from core.profile import ProfileChange, merge_patch
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound
from services.people.leads import fit_reasons, require_lead
from services.people.owner_scores import fit_view
from services.people.profiles import profile_event_row, set_lead_profile
from services.scoring.fit import fit_columns
from services.scoring.model import published_model
from services.tenancy import audit, policy
from services.tenancy.policy import Action

VIA = "api"
LEAD_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
MAX_PROPERTY_NAME = 200


def lead_record(model: ScoringModel, row: models.Lead) -> dict[str, Any]:
    """A lead in the reference's lead shape, with its fit: {id, org_id, unit_id, account_id, owner_id, owner_name,
    created_at, updated_at, merged_into, metadata, fit_score, fit_scores, fit_level}."""
    profile = row.metadata_ or {}
    owner_id, owner_name = profile.get("owner_id"), profile.get("owner_name")
    return {
        "id": row.id, "org_id": row.org_id, "unit_id": row.unit_id, "account_id": row.account_id,
        "owner_id": None if owner_id is None else str(owner_id),
        "owner_name": None if owner_name is None else str(owner_name),
        "created_at": row.created_at, "updated_at": row.updated_at, "merged_into": row.merged_into,
        "metadata": dict(profile), **fit_view(model, "profile", row.fit_score, row.fit_scores),
    }


def _audited(row: models.Lead) -> dict[str, Any]:
    """What an audit entry of a lead edit compares: the profile, the account link and the fit."""
    return {"metadata": dict(row.metadata_ or {}), "account_id": row.account_id, "fit_score": row.fit_score,
            "fit_scores": dict(row.fit_scores or {})}


def _check_profile(metadata: Mapping[str, Any], field: str) -> dict[str, Any]:
    for key in metadata:
        if not isinstance(key, str) or not key.strip():
            raise InvalidInput(field, "property names may not be empty")
        if len(key) > MAX_PROPERTY_NAME:
            raise InvalidInput(field, f"property name {key[:40]!r}... is longer than {MAX_PROPERTY_NAME} characters")
    return dict(metadata)


def _editable_lead(session: Session, tenant: Tenant, lead_id: str) -> models.Lead:
    row = require_lead(session, tenant, lead_id)
    if row.merged_into is not None:
        raise Conflict(f"lead {lead_id!r} was merged into {row.merged_into!r}: edit that lead", field="id")
    return row


def _require_account(session: Session, tenant: Tenant, account_id: str) -> models.Account:
    account = session.get(models.Account, account_id)
    if account is None or account.unit_id != tenant.unit_id:
        raise NotFound(f"account_id: account {account_id!r} does not exist in this unit", field="account_id")
    return account


def _link_account(session: Session, tenant: Tenant, lead: models.Lead, account_id: str | None, now: datetime) -> None:
    """Set (or clear, with None) the lead's account; a new link is recorded as a log event naming the account."""
    if lead.account_id == account_id:
        return
    lead.account_id = account_id
    lead.updated_at = now
    if account_id is not None:
        events = cast(Table, models.Event.__table__)
        session.execute(
            events.insert(),
            [profile_event_row(tenant, ProfileChange(via=VIA), lead_id=lead.id, account_id=account_id,
                               occurred_at=now, now=now)],
        )


def create_lead(
    session: Session,
    tenant: Tenant,
    *,
    lead_id: str | None,
    metadata: Mapping[str, Any],
    account_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A new lead with this profile (and account): `lead_id` when given (Conflict when it is taken), else a new id."""
    policy.require(tenant, Action.EDIT_LEADS)
    profile = _check_profile(metadata, "metadata")
    if lead_id is not None:
        if not LEAD_ID_PATTERN.fullmatch(lead_id):
            raise InvalidInput("id", "1 to 64 letters, digits or . _ : @ -, starting with a letter or digit")
        if session.get(models.Lead, lead_id) is not None:
            raise Conflict(f"id: lead id {lead_id!r} is already in use", field="id")
    if account_id is not None:
        _require_account(session, tenant, account_id)
    model = published_model(session, tenant)
    lead = models.Lead(
        id=lead_id or new_id("ld"), org_id=tenant.org_id, unit_id=tenant.unit_id, account_id=None, email=None,
        first_name=None, last_name=None, metadata_={}, created_at=now, updated_at=now, last_activity_at=None,
        merged_into=None, **fit_columns(model, "profile", {}),
    )
    session.add(lead)
    session.flush()
    set_lead_profile(session, tenant, lead, profile, via=VIA, now=now, model=model)
    _link_account(session, tenant, lead, account_id, now)
    session.flush()
    audit.record(session, tenant, action="create", entity_type="lead", entity_id=lead.id, before=None,
                 after=_audited(lead), now=now)
    return lead_record(model, lead)


def update_lead(
    session: Session,
    tenant: Tenant,
    lead_id: str,
    *,
    metadata: Mapping[str, Any],
    account_id: str | None,
    set_account: bool,
    now: datetime,
    via: str = VIA,
) -> dict[str, Any]:
    """Replace the lead's profile with `metadata`; with `set_account`, link it to `account_id` (None: unlink).
    `via` names where the edit came from in its profile event ("api", "dashboard")."""
    policy.require(tenant, Action.EDIT_LEADS)
    lead = _editable_lead(session, tenant, lead_id)
    profile = _check_profile(metadata, "metadata")
    if set_account and account_id is not None:
        _require_account(session, tenant, account_id)
    before = _audited(lead)
    model = published_model(session, tenant)
    set_lead_profile(session, tenant, lead, profile, via=via, now=now, model=model)
    if set_account:
        _link_account(session, tenant, lead, account_id, now)
    session.flush()
    audit.record(session, tenant, action="update", entity_type="lead", entity_id=lead.id, before=before,
                 after=_audited(lead), now=now)
    return lead_record(model, lead)


def patch_metadata(
    session: Session, tenant: Tenant, lead_id: str, patch: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    """Merge `patch` into the lead's profile (a None value removes the key): {id, org_id, unit_id, metadata}."""
    policy.require(tenant, Action.EDIT_LEADS)
    lead = _editable_lead(session, tenant, lead_id)
    changes = _check_profile(patch, "metadata")
    before = _audited(lead)
    model = published_model(session, tenant)
    set_lead_profile(session, tenant, lead, merge_patch(lead.metadata_ or {}, changes), via=VIA, now=now, model=model)
    session.flush()
    audit.record(session, tenant, action="update", entity_type="lead", entity_id=lead.id, before=before,
                 after=_audited(lead), now=now)
    return {"id": lead.id, "org_id": lead.org_id, "unit_id": lead.unit_id, "metadata": dict(lead.metadata_ or {})}


def lead_profile(session: Session, tenant: Tenant, lead_id: str) -> dict[str, Any]:
    """{lead_id, metadata, fit_score, fit_scores, fit_level, fit_reasons}: the profile and its fit."""
    lead = require_lead(session, tenant, lead_id)
    model = published_model(session, tenant)
    return {
        "lead_id": lead.id, "metadata": dict(lead.metadata_ or {}),
        **fit_view(model, "profile", lead.fit_score, lead.fit_scores),
        "fit_reasons": fit_reasons(model, "profile", lead.metadata_),
    }
