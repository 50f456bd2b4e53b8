"""What the CRM is sent for a lead: its primary score, engagement level and fit level under the unit's property
names, computed when the write is queued; and what was last sent per lead (crm_synced_leads), so the scheduled
sync sends only what changed.

The values come from services.targeting.segments.lead_facts, the one place that reads a lead's primary score
(live model), its level (services.scoring.levels) and its profile fit level (published model) together. A lead
without an email has no CRM contact to match: nothing is written for it. Services never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from db import models, upsert
from services.context import Tenant
from services.integrations.hubspot import PropertyValue
from services.targeting.segments import lead_facts

_SYNCED = cast(Table, models.CrmSyncedLead.__table__)


@dataclass(frozen=True, slots=True)
class LeadValues:
    lead_id: str
    email: str
    score: int
    level: str | None
    fit_level: str | None

    @property
    def key(self) -> tuple[int | None, str | None, str | None]:
        return self.score, self.level, self.fit_level


@dataclass(frozen=True, slots=True)
class PropertyNames:
    score: str
    level: str | None
    fit_level: str | None

    @classmethod
    def of(cls, row: models.CrmSettings) -> PropertyNames:
        return cls(row.score_property, row.level_property or None, row.fit_level_property or None)


def properties(names: PropertyNames, values: LeadValues) -> dict[str, PropertyValue]:
    """The CRM properties for a lead; a level it has none of is written empty (HubSpot clears the property)."""
    out: dict[str, PropertyValue] = {names.score: values.score}
    if names.level:
        out[names.level] = values.level or ""
    if names.fit_level:
        out[names.fit_level] = values.fit_level or ""
    return out


def write_body(names: PropertyNames, values: LeadValues) -> dict[str, Any]:
    """One lead's write as the outbox keeps it (its delivery's target is the email)."""
    return {"lead_id": values.lead_id, "properties": properties(names, values)}


def lead_values(session: Session, tenant: Tenant, lead_ids: Sequence[str], now: datetime) -> list[LeadValues]:
    """The current values of the given leads of the unit that have an email, in the order given."""
    facts = lead_facts(session, tenant, list(lead_ids), None, now)
    out: list[LeadValues] = []
    for lead_id in lead_ids:
        found = facts.get(lead_id)
        if found is None:
            continue
        attrs = found.attributes
        email = (attrs.get("email") or "").strip()
        if not email:
            continue
        out.append(LeadValues(lead_id, email, int(attrs.get("score") or 0), attrs.get("level"),
                              attrs.get("fit_level")))
    return out


def settings_row(session: Session, tenant: Tenant) -> models.CrmSettings | None:
    row = session.get(models.CrmSettings, tenant.unit_id)
    return row if row is not None and row.org_id == tenant.org_id else None


def firing_write(
    session: Session, tenant: Tenant, lead_id: str | None, now: datetime
) -> tuple[str, dict[str, Any]] | None:
    """(email, body) of the CRM write a trigger with hubspot_sync queues for a firing, recorded as sent; None when
    the unit has no CRM token or the firing has no lead with an email."""
    if not lead_id:
        return None
    row = settings_row(session, tenant)
    if row is None or not row.token_enc:
        return None
    found = lead_values(session, tenant, [lead_id], now)
    if not found:
        return None
    record_sent(session, tenant, found, now)
    return found[0].email, write_body(PropertyNames.of(row), found[0])


Synced = tuple[int | None, str | None, str | None]


def synced(session: Session, tenant: Tenant, lead_ids: Sequence[str]) -> dict[str, Synced]:
    """What was last sent per lead id (leads never sent are absent)."""
    s = models.CrmSyncedLead
    rows = session.execute(
        select(s.lead_id, s.score, s.level, s.fit_level).where(s.unit_id == tenant.unit_id, s.lead_id.in_(lead_ids))
    )
    return {lid: (None if score is None else int(score), level, fit) for lid, score, level, fit in rows}


def changed(session: Session, tenant: Tenant, values: Sequence[LeadValues]) -> list[LeadValues]:
    """The leads whose values differ from what the CRM was last sent."""
    last = synced(session, tenant, [v.lead_id for v in values])
    return [v for v in values if last.get(v.lead_id) != v.key]


def record_sent(session: Session, tenant: Tenant, values: Sequence[LeadValues], now: datetime) -> None:
    """Remember what was queued for each lead (upsert). Recorded when queued: the outbox retries a failed write
    until it is delivered or dead, so what is queued is what the CRM gets."""
    if not values:
        return
    rows = [{"unit_id": tenant.unit_id, "org_id": tenant.org_id, "lead_id": v.lead_id, "score": v.score,
             "level": v.level, "fit_level": v.fit_level, "synced_at": now} for v in values]
    stmt = upsert.insert(session, _SYNCED)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["unit_id", "lead_id"],
        set_={"score": stmt.excluded.score, "level": stmt.excluded.level, "fit_level": stmt.excluded.fit_level,
              "synced_at": stmt.excluded.synced_at},
    ), rows)
