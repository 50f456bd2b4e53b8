"""A segment's members as CSV (GET /v1/segments/{id}/leads/export and the Segments page's download): the members
read through the leads list (services.people.leads), best score first."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.csv_cells import safe_cells
from db import models
from services.context import Tenant
from services.people.leads import list_leads, primary_score_column
from services.scoring.model import live_model
from services.targeting.segments import member_ids_select

_CHUNK = 500

EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "email", "first_name", "last_name", "company", "account_id", "account_domain", "score", "level",
    "fit_score", "fit_level", "last_activity_at", "created_at",
)


def export_rows(session: Session, tenant: Tenant, segment_id: str, now: datetime) -> Iterator[list[Any]]:
    """The members as CSV rows (header first), best score first, read 500 at a time: membership is computed once,
    then each chunk of ids is one indexed read."""
    members = member_ids_select(session, tenant, segment_id, now)
    join_on, score = primary_score_column(live_model(session, tenant).primary_ruleset_id)
    lead = models.Lead
    ordered = list(session.scalars(
        select(lead.id).select_from(lead).outerjoin(models.LeadScore, join_on)
        .where(lead.unit_id == tenant.unit_id, lead.id.in_(members)).order_by(score.desc(), lead.id.desc())
    ))
    yield list(EXPORT_COLUMNS)
    for start in range(0, len(ordered), _CHUNK):
        found = list_leads(session, tenant, members=ordered[start:start + _CHUNK], now=now, limit=_CHUNK)
        for r in found.rows:
            account = r.get("account") or {}
            level = r.get("level") or {}
            yield [
                r["id"], r["email"], r["first_name"], r["last_name"], account.get("name"), account.get("id"),
                account.get("domain"), r["score"], level.get("name"), r["fit_score"], r["fit_level"],
                r["last_activity_at"].isoformat() if r["last_activity_at"] else None, r["created_at"].isoformat(),
            ]


def export_csv(rows: Iterable[list[Any]]) -> Iterator[str]:
    """CSV text, a chunk per row, cells made safe for spreadsheets."""
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(safe_cells(row))
        yield buffer.getvalue()

