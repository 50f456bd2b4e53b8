"""Reading the event log: events with filters, one event's score explanation, and signals with cursor paging.

Signals, events and CRM events are one log (the events table), so every reader here sees every event
however it came in.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from core import identity
from core.profile import PROFILE_EVENT_TYPES
from db import models
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.scoring.model import live_model

MetadataLogic = Literal["and", "or"]
_INT64_MAX = 2**63 - 1

EVENT_COLUMNS = (  # what event_view reads (also services.people.accounts)
    models.Event.id,
    models.Event.lead_id,
    models.Event.account_id,
    models.Event.event_type,
    models.Event.channel,
    models.Event.source,
    models.Event.occurred_at,
    models.Event.received_at,
    models.Event.metadata_,
    models.Event.score_delta,
    models.Event.quarantine_filter_id,
    models.Event.quarantine_reason,
)


def event_view(row: Any) -> dict[str, Any]:
    """An event in the /v1/events shape (datetimes left as values; the API renders them)."""
    return {
        "id": row.id,
        "lead_id": row.lead_id,
        "account_id": row.account_id,
        "event_type": row.event_type,
        "channel": row.channel,
        "source": row.source,
        "timestamp": row.occurred_at,
        "received_at": row.received_at,
        "metadata": row.metadata_ or {},
        "score_delta": row.score_delta,
        "quarantined": row.quarantine_filter_id is not None,
        "quarantine_filter_id": row.quarantine_filter_id,
        "quarantine_reason": row.quarantine_reason,
    }


def page_offset(page: int, limit: int) -> int | None:
    """Rows to skip for a page; None when that is beyond what a database can address (the page is empty)."""
    offset = (page - 1) * limit
    return offset if offset <= _INT64_MAX else None


def parse_metadata_filters(raw: Sequence[str]) -> list[tuple[str, str]]:
    """'utm_campaign:fall2025' -> ('utm_campaign', 'fall2025'); the value may itself contain ':'.

    A key is a JSON path step: '"' would break out of it and NUL is refused by PostgreSQL, so both are invalid.
    """
    pairs: list[tuple[str, str]] = []
    for item in raw:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise InvalidInput("metadata", f"expected key:value, got {item!r}")
        if '"' in key or "\x00" in key or "\\" in key:
            raise InvalidInput("metadata", f"a filter key must not contain a double quote, backslash or NUL: {key!r}")
        if "\x00" in value:
            raise InvalidInput("metadata", "a filter value must not contain NUL")
        pairs.append((key.strip(), value))
    return pairs


def _metadata_condition(key: str, value: str) -> Any:
    # Compare as text on both backends: SQLite's json_extract yields numbers for numeric values.
    return cast(models.Event.metadata_[key].as_string(), String) == value


def list_events(
    session: Session,
    tenant: Tenant,
    *,
    page: int = 1,
    limit: int = 50,
    metadata: Sequence[tuple[str, str]] = (),
    logic: MetadataLogic = "and",
    lead_id: str | None = None,
    event_type: str | None = None,
    quarantined: bool | None = None,
) -> list[dict[str, Any]]:
    """Events newest first (occurred_at, then ingestion order), filtered by metadata key/value pairs.

    `quarantined`: True lists only events an inorganic filter holds back (over the partial index
    ix_events_unit_quarantined), False only the others."""
    ev = models.Event
    stmt = select(*EVENT_COLUMNS).where(ev.unit_id == tenant.unit_id)
    if quarantined is not None:
        held = ev.quarantine_filter_id.is_not(None)
        stmt = stmt.where(held if quarantined else ~held)
    if lead_id is not None:
        stmt = stmt.where(ev.lead_id == lead_id)
    if event_type is not None:
        stmt = stmt.where(ev.event_type == event_type)
    if metadata:
        conditions = [_metadata_condition(k, v) for k, v in metadata]
        stmt = stmt.where(and_(*conditions) if logic == "and" else or_(*conditions))
    offset = page_offset(page, limit)
    if offset is None:
        return []
    stmt = stmt.order_by(ev.occurred_at.desc(), ev.seq.desc()).limit(limit).offset(offset)
    return [event_view(row) for row in session.execute(stmt)]


def explanation(session: Session, tenant: Tenant, event_id: str) -> dict[str, Any]:
    """Per-ruleset delta, before/after and matched rules of one event, primary ruleset first."""
    row = session.execute(
        select(models.Event.id, models.Event.lead_id, models.Event.event_type, models.Event.occurred_at,
               models.Event.explanation)
        .where(models.Event.unit_id == tenant.unit_id, models.Event.id == event_id)
    ).first()
    if row is None:
        raise NotFound(f"event {event_id!r} does not exist in this unit", field="id")
    ctx = live_model(session, tenant)
    names = dict(
        session.execute(
            select(models.Ruleset.id, models.Ruleset.name).where(models.Ruleset.unit_id == tenant.unit_id)
        ).all()
    )
    stored: dict[str, Any] = row.explanation or {}
    rulesets = []
    for rs_id, info in stored.items():
        rulesets.append(
            {
                "ruleset_id": rs_id,
                "name": names.get(rs_id),
                "is_primary": rs_id == ctx.primary_ruleset_id,
                "delta": info.get("delta", 0),
                "before": info.get("before"),
                "after": info.get("after"),
                "rules": [
                    {"rule_id": r.get("rule_id"), "event_type": r.get("event_type"), "weight": r.get("weight")}
                    for r in info.get("rules", [])
                ],
            }
        )
    rulesets.sort(key=lambda r: (not r["is_primary"], r["name"] or "", r["ruleset_id"]))
    return {
        "event_id": row.id,
        "lead_id": row.lead_id,
        "event_type": row.event_type,
        "occurred_at": row.occurred_at,
        "rulesets": rulesets,
    }


# --- signals -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalPage:
    data: list[dict[str, Any]]
    next_cursor: str | None
    total: int


def encode_cursor(occurred_at: datetime, seq: int) -> str:
    raw = json.dumps([occurred_at.astimezone(UTC).isoformat(), seq], separators=(",", ":")).encode()
    return "cur_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (occurred_at, seq) position after which the next page starts; InvalidInput('cursor') if malformed."""
    try:
        if not cursor.startswith("cur_"):
            raise ValueError("missing prefix")
        body = cursor[4:]
        occurred, seq = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        at = datetime.fromisoformat(occurred)
        if at.tzinfo is None or not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= _INT64_MAX:
            raise ValueError("bad position")
        at = at.astimezone(UTC)  # OverflowError for a position outside years 1..9999 in UTC
        return at, seq
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "malformed pagination cursor; pass meta.next_cursor unchanged") from None


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def list_signals(
    session: Session,
    tenant: Tenant,
    *,
    account_domain: str | None = None,
    contact_email: str | None = None,
    type: str | None = None,
    source: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> SignalPage:
    """Signals newest first by occurred_at then ingestion order, keyset-paged so pages never skip or repeat."""
    ev = models.Event
    unit = tenant.unit_id
    # Profile changes are the log's record of profile edits, not signals a tool sent.
    conditions: list[Any] = [ev.unit_id == unit, ev.event_type.not_in(PROFILE_EVENT_TYPES)]
    if account_domain is not None:
        try:
            domain = identity.normalize_domain(account_domain)
        except identity.InvalidIdentifier as exc:
            raise InvalidInput("account_domain", str(exc)) from None
        conditions.append(
            ev.account_id.in_(
                select(models.Account.id).where(models.Account.unit_id == unit, models.Account.domain == domain)
            )
        )
    if contact_email is not None:
        try:
            email = identity.normalize_email(contact_email)
        except identity.InvalidIdentifier as exc:
            raise InvalidInput("contact_email", str(exc)) from None
        conditions.append(
            ev.lead_id.in_(
                select(models.LeadAlias.lead_id).where(
                    models.LeadAlias.unit_id == unit, models.LeadAlias.kind == "email", models.LeadAlias.value == email
                )
            )
        )
    if type is not None:
        conditions.append(ev.event_type == type)
    if source is not None:
        conditions.append(ev.source == source)
    start, end = _as_utc(from_), _as_utc(to)
    if start is not None and end is not None and start > end:
        raise InvalidInput("from", "must not be after to")
    if start is not None:
        conditions.append(ev.occurred_at >= start)
    if end is not None:
        conditions.append(ev.occurred_at <= end)

    total = session.scalar(select(func.count()).select_from(ev).where(*conditions)) or 0

    page_conditions = list(conditions)
    if cursor is not None:
        at, seq = decode_cursor(cursor)
        page_conditions.append(or_(ev.occurred_at < at, and_(ev.occurred_at == at, ev.seq < seq)))

    stmt = signal_select(session, tenant).where(*page_conditions).order_by(ev.occurred_at.desc(), ev.seq.desc())
    rows = session.execute(stmt.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    data = [signal_view(r) for r in rows]
    next_cursor = encode_cursor(rows[-1].occurred_at, rows[-1].seq) if more and rows else None
    return SignalPage(data, next_cursor, total)


def signal_select(session: Session, tenant: Tenant) -> Any:
    """The columns `signal_view` reads: the event, its lead and account, and their primary-ruleset scores (add the
    conditions, order and limit)."""
    ev = models.Event
    primary = live_model(session, tenant).primary_ruleset_id or ""
    lead_score = aliased(models.LeadScore)
    account_score = aliased(models.AccountScore)
    return (
        select(
            ev.seq, ev.id, ev.event_type, ev.source, ev.metadata_, ev.occurred_at, ev.received_at, ev.score_delta,
            ev.quarantine_filter_id,
            models.Lead.id.label("lead_id"), models.Lead.email, models.Lead.first_name, models.Lead.last_name,
            lead_score.score.label("lead_score"),
            models.Account.id.label("account_id"), models.Account.domain, models.Account.name,
            account_score.score.label("account_score"),
        )
        .select_from(ev)
        .outerjoin(models.Lead, models.Lead.id == ev.lead_id)
        .outerjoin(lead_score, and_(lead_score.lead_id == ev.lead_id, lead_score.ruleset_id == primary))
        .outerjoin(models.Account, models.Account.id == ev.account_id)
        .outerjoin(account_score, and_(account_score.account_id == ev.account_id, account_score.ruleset_id == primary))
    )


def signal_view(r: Any) -> dict[str, Any]:
    """A row of `signal_select` as a signal (reference: signals-list-api)."""
    return {
        "id": r.id,
        "type": r.event_type,
        "account": None
        if r.account_id is None
        else {"id": r.account_id, "domain": r.domain, "name": r.name, "score": r.account_score or 0},
        "contact": None
        if r.lead_id is None
        else {
            "id": r.lead_id, "email": r.email, "first_name": r.first_name, "last_name": r.last_name,
            "score": r.lead_score or 0,
        },
        "score": r.score_delta,
        "source": r.source,
        "properties": r.metadata_ or {},
        "occurred_at": r.occurred_at,
        "created_at": r.received_at,
    }
