"""Reads about one person (lead) that several use cases share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant


def lead_aliases(session: Session, tenant: Tenant, lead_id: str) -> list[models.LeadAlias]:
    return list(
        session.scalars(
            select(models.LeadAlias)
            .where(models.LeadAlias.unit_id == tenant.unit_id, models.LeadAlias.lead_id == lead_id)
            .order_by(models.LeadAlias.id)
        )
    )


def person_contact_points(
    session: Session, tenant: Tenant, lead_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Emails and phones of a lead in the CRM shape: [{"value", "isPrimary"}]."""
    emails: list[dict[str, Any]] = []
    phones: list[dict[str, Any]] = []
    for alias in lead_aliases(session, tenant, lead_id):
        target = emails if alias.kind == "email" else phones if alias.kind == "phone" else None
        if target is not None:
            target.append({"value": alias.raw_value, "isPrimary": alias.is_primary})
    return emails, phones
