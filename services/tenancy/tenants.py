"""Organizations and units: the tenants every other row belongs to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from db import models
from db.ids import new_id
from services.context import Tenant

DEFAULT_TENANT = Tenant(org_id="org_default", unit_id="unit_default")


def create_unit(session: Session, *, org_name: str, unit_name: str, now: datetime) -> Tenant:
    """A new organization with one unit, a primary ruleset and default scoring settings."""
    org = models.Organization(id=new_id("org"), name=org_name, created_at=now)
    unit = models.Unit(id=new_id("unit"), org_id=org.id, name=unit_name, created_at=now)
    session.add_all([org, unit])
    session.flush()
    session.add_all(
        [
            models.Ruleset(
                id=new_id("rs"), org_id=org.id, unit_id=unit.id, name="Engagement", score_column="total_score",
                is_primary=True, created_at=now, updated_at=now,
            ),
            models.ScoringSettings(
                unit_id=unit.id, org_id=org.id, allow_negative_scores=False, abm_enabled=False,
                session_timeout_minutes=30, updated_at=now,
            ),
        ]
    )
    session.flush()
    return Tenant(org_id=org.id, unit_id=unit.id)
