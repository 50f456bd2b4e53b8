"""Organizations and units: the tenants every other row belongs to."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from db.ids import new_id
from services.context import Tenant
from services.scoring.model import load_from_tables, record_version

DEFAULT_TENANT = Tenant(org_id="org_default", unit_id="unit_default")

_SLUG_MAX = 80


def slugify(name: str) -> str:
    """`Sales EMEA` -> `sales-emea`: lower case ASCII letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:_SLUG_MAX].strip("-") or "unit"


def unique_slug(session: Session, org_id: str, name: str, *, except_unit: str | None = None) -> str:
    """A slug for `name` not yet used in the organization (`sales`, then `sales-2`, `sales-3`, ...)."""
    query = select(models.Unit.slug).where(models.Unit.org_id == org_id)
    if except_unit is not None:
        query = query.where(models.Unit.id != except_unit)
    taken = set(session.scalars(query))
    base = slug = slugify(name)
    n = 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def add_unit(session: Session, *, org_id: str, name: str, now: datetime) -> models.Unit:
    """A new unit in an organization with a primary ruleset and default scoring settings, nothing else."""
    unit = models.Unit(
        id=new_id("unit"), org_id=org_id, name=name, slug=unique_slug(session, org_id, name), created_at=now
    )
    session.add(unit)
    session.flush()
    session.add_all(
        [
            models.Ruleset(
                id=new_id("rs"), org_id=org_id, unit_id=unit.id, name="Engagement", score_column="total_score",
                is_primary=True, created_at=now, updated_at=now,
            ),
            models.ScoringSettings(
                unit_id=unit.id, org_id=org_id, allow_negative_scores=False, abm_enabled=False,
                session_timeout_minutes=30, updated_at=now,
            ),
        ]
    )
    session.flush()
    tenant = Tenant(org_id=org_id, unit_id=unit.id)
    record_version(session, tenant, load_from_tables(session, tenant), now=now, summary="unit created",
                   published_by=None, live=True)
    return unit


def create_unit(session: Session, *, org_name: str, unit_name: str, now: datetime) -> Tenant:
    """A new organization with one unit (see add_unit)."""
    org = models.Organization(id=new_id("org"), name=org_name, created_at=now)
    session.add(org)
    session.flush()
    unit = add_unit(session, org_id=org.id, name=unit_name, now=now)
    return Tenant(org_id=org.id, unit_id=unit.id)
