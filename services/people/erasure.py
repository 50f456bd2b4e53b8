"""Erasing a person (DELETE /v1/leads/{id}): every trace of a lead that an API read or export could find.

`request_erasure` records the request (table lead_erasures, status `pending`) and is committed at once; the
erasure itself (`erase_lead`) runs after the response in its own transaction (the API's background task) and, for
requests left pending by a crash or a busy unit, in the scheduler's `lead-erasures` job (`pending_erasures`). It
is idempotent: erasing what is already gone finds nothing and marks the request completed.

What goes: the lead and every lead merged into it (the same person), their events, aliases and scores, the trigger
firings that name them with their deliveries not yet sent; deliveries already sent keep their row and status but
lose the person's data. CSV import jobs' row errors lose mentions of them, the live stream's buffer
(stream_batches) loses the messages that name them, stored Idempotency-Key responses that name them are deleted,
CRM writes for them (HubSpot deliveries: one lead's, or their contact in a scheduled sync's batch) go when unsent
and lose the person when sent, the record of what the CRM was last sent for them goes, contact research requests
that found or name them (and their completion webhooks) are redacted, and audit entries about them keep that
something happened (action, time, actor) but lose their details. Accounts stay (a company is not the person) and
are replayed without the erased events
(services.scoring.rescore.rescore_accounts). The audit log gets one `erase` entry naming only the lead id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import String, cast, delete, func, null, or_, select, update
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import NotFound
from services.insight import daily_counts
from services.people.merge import merged_into_chain
from services.scoring.model import heads, lock_config
from services.scoring.rescore import rescore_accounts
from services.tenancy import audit, policy
from services.tenancy.policy import Action

PENDING, COMPLETED = "pending", "completed"
ERASED = "[erased]"
_MIN_NEEDLE = 5  # alias values shorter than this are not searched for in free text (too many false hits)
_SENT = "delivered"


@dataclass(frozen=True, slots=True)
class ErasureStatus:
    lead_id: str
    status: str


@dataclass(frozen=True, slots=True)
class ErasureCounts:
    leads: int
    events: int
    aliases: int
    firings: int
    deliveries_deleted: int
    deliveries_redacted: int
    stream_messages: int
    idempotency_keys: int
    audit_entries: int
    accounts_rescored: int


def request_erasure(session: Session, tenant: Tenant, lead_id: str, now: datetime) -> ErasureStatus:
    """Record a request to erase lead `lead_id` (pending) and return its status; asking again answers the
    existing request. The caller commits, then runs `erase_lead` (or leaves it to the scheduler)."""
    policy.require(tenant, Action.ERASE_LEADS)
    existing = session.get(models.LeadErasure, lead_id)
    if existing is not None:
        if existing.unit_id != tenant.unit_id:
            raise NotFound(f"leadID: lead {lead_id!r} does not exist in this unit", field="leadID")
        return ErasureStatus(existing.lead_id, existing.status)
    lead = session.get(models.Lead, lead_id)
    if lead is None or lead.unit_id != tenant.unit_id:
        raise NotFound(f"leadID: lead {lead_id!r} does not exist in this unit", field="leadID")
    session.add(models.LeadErasure(
        org_id=tenant.org_id, unit_id=tenant.unit_id, lead_id=lead_id, status=PENDING, requested_at=now,
        requested_by=tenant.actor, completed_at=None,
    ))
    audit.record(session, tenant, action="erase_requested", entity_type="lead", entity_id=lead_id, before=None,
                 after=None, now=now)
    session.flush()
    return ErasureStatus(lead_id, PENDING)


def erasure_status(session: Session, tenant: Tenant, lead_id: str) -> ErasureStatus:
    """The status of the erasure asked for lead `lead_id`; NotFound when none was asked in this unit."""
    policy.require(tenant, Action.ERASE_LEADS)
    row = session.get(models.LeadErasure, lead_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"leadID: no erasure was requested for lead {lead_id!r} in this unit", field="leadID")
    return ErasureStatus(row.lead_id, row.status)


def pending_erasures(session: Session) -> list[tuple[Tenant, str]]:
    """Every unit's requests still pending (oldest first), with a system tenant of the request's unit."""
    e = models.LeadErasure
    rows = session.execute(
        select(e.org_id, e.unit_id, e.lead_id).where(e.status == PENDING).order_by(e.requested_at, e.lead_id)
    )
    return [(Tenant(org_id, unit_id, actor="scheduler"), lead_id) for org_id, unit_id, lead_id in rows]


def erase_lead(session: Session, tenant: Tenant, lead_id: str, now: datetime) -> ErasureCounts | None:
    """Carry out the pending erasure of `lead_id` in the caller's transaction; None when there is nothing to do
    now (no pending request, or a scoring change is still being applied: the scheduler comes back to it)."""
    policy.require(tenant, Action.ERASE_LEADS)
    request = session.get(models.LeadErasure, lead_id, with_for_update=True)
    if request is None or request.unit_id != tenant.unit_id or request.status != PENDING:
        return None
    lock_config(session, tenant, exclusive=False)  # like ingest: no configuration change scores meanwhile
    current = heads(session, tenant)
    if current.live < current.published:
        return None  # an aside rescore is running; account scores are replayed once it has finished
    unit = tenant.unit_id
    lead = session.get(models.Lead, lead_id)
    root = _root(session, tenant, lead) if lead is not None and lead.unit_id == unit else None
    ids = sorted(merged_into_chain(session, tenant, [lead_id] + ([root] if root else [])))
    needles = _needles(session, tenant, ids)

    ev = models.Event
    first_seq = session.scalar(select(func.min(ev.seq)).where(ev.unit_id == unit, ev.lead_id.in_(ids)))
    accounts = sorted({a for a in session.scalars(
        select(ev.account_id).where(ev.unit_id == unit, ev.lead_id.in_(ids), ev.account_id.is_not(None)).distinct()
    ) if a is not None})
    firings, deleted_deliveries, redacted = _erase_firings(session, tenant, ids, needles)
    crm_deleted, crm_redacted = _erase_crm_writes(session, tenant, ids, needles)
    deleted_deliveries, redacted = deleted_deliveries + crm_deleted, redacted + crm_redacted
    session.execute(delete(models.CrmSyncedLead).where(models.CrmSyncedLead.unit_id == unit,
                                                       models.CrmSyncedLead.lead_id.in_(ids)))
    _scrub_research(session, tenant, ids, needles)  # before the leads go: their research rows still name them
    daily_counts.uncount_matching(session, tenant, ev.lead_id.in_(ids))  # analytics' counters follow the log
    events = _count(session.execute(delete(ev).where(ev.unit_id == unit, ev.lead_id.in_(ids))))
    aliases = _count(session.execute(
        delete(models.LeadAlias).where(models.LeadAlias.unit_id == unit, models.LeadAlias.lead_id.in_(ids))
    ))
    session.execute(delete(models.LeadScore).where(models.LeadScore.unit_id == unit, models.LeadScore.lead_id.in_(ids)))
    leads = _count(session.execute(
        delete(models.Lead).where(models.Lead.unit_id == unit, models.Lead.id.in_(ids))
        .execution_options(synchronize_session=False)
    ))
    rescored = rescore_accounts(session, tenant, accounts, from_seq=first_seq)
    stream_messages = _scrub_stream(session, tenant, needles)
    keys = _scrub_idempotency(session, tenant, needles)
    entries = _scrub_audit(session, tenant, ids, needles)
    _scrub_imports(session, tenant, needles)

    request.status, request.completed_at = COMPLETED, now
    for other in ids:  # the merged leads erased with it answer "completed" too
        if other != lead_id and session.get(models.LeadErasure, other) is None:
            session.add(models.LeadErasure(org_id=tenant.org_id, unit_id=unit, lead_id=other, status=COMPLETED,
                                           requested_at=now, requested_by=tenant.actor, completed_at=now))
    audit.record(session, tenant, action="erase", entity_type="lead", entity_id=lead_id, before=None, after=None,
                 now=now)
    session.flush()
    return ErasureCounts(leads, events, aliases, firings, deleted_deliveries, redacted, stream_messages, keys,
                         entries, rescored.owners)


def _root(session: Session, tenant: Tenant, lead: models.Lead) -> str:
    """The lead a merged lead was merged into (chains followed): the same person, erased with it."""
    seen = {lead.id}
    row = lead
    while row.merged_into is not None and row.merged_into not in seen:
        target = session.get(models.Lead, row.merged_into)
        if target is None or target.unit_id != tenant.unit_id:
            break
        seen.add(target.id)
        row = target
    return row.id


def _needles(session: Session, tenant: Tenant, ids: Sequence[str]) -> list[str]:
    """What names the person in free text (lower case): the lead ids, emails, full names, alias values."""
    found: set[str] = set(ids)
    for email, first, last in session.execute(
        select(models.Lead.email, models.Lead.first_name, models.Lead.last_name).where(
            models.Lead.unit_id == tenant.unit_id, models.Lead.id.in_(ids)
        )
    ):
        found.update(v for v in (email, " ".join(p for p in (first, last) if p)) if v)
    a = models.LeadAlias
    for value, raw in session.execute(
        select(a.value, a.raw_value).where(a.unit_id == tenant.unit_id, a.lead_id.in_(ids))
    ):
        found.update(v for v in (value, raw) if v)
    return sorted({v.strip().lower() for v in found if len(v.strip()) >= _MIN_NEEDLE or v in ids})


def _like_any(column: Any, needles: Iterable[str]) -> Any:
    text = func.lower(cast(column, String))
    return or_(*(text.like("%" + _escape(n) + "%", escape="\\") for n in needles))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _names(value: Any, needles: Sequence[str]) -> bool:
    text = (value if isinstance(value, str) else orjson.dumps(value).decode()).lower()
    return any(n in text for n in needles)


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    """`value` (decoded JSON) with every mention of the person replaced, and lead objects emptied."""
    if isinstance(value, dict):
        return {k: ({"id": ERASED} if k == "lead" and isinstance(v, dict) else _redact(v, pattern))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, pattern) for v in value]
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    return value


def _pattern(needles: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)), re.IGNORECASE)


def _erase_firings(
    session: Session, tenant: Tenant, ids: Sequence[str], needles: Sequence[str]
) -> tuple[int, int, int]:
    """Firings naming the person go with their unsent deliveries; a firing with a sent delivery stays as an
    anonymous record (no lead, no payload) so the sent delivery keeps its row and status, its body redacted."""
    f, d = models.TriggerFiring, models.Delivery
    firing_ids = list(session.scalars(
        select(f.id).where(f.unit_id == tenant.unit_id, or_(f.lead_id.in_(ids), f.subject.in_(ids)))
    ))
    if not firing_ids:
        return 0, 0, 0
    pattern = _pattern(needles)
    deleted = _count(session.execute(
        delete(d).where(d.unit_id == tenant.unit_id, d.firing_id.in_(firing_ids), d.status != _SENT)
    ))
    sent = session.execute(
        select(d.id, d.firing_id, d.body).where(d.unit_id == tenant.unit_id, d.firing_id.in_(firing_ids))
    ).all()
    for delivery_id, _firing, body in sent:
        try:
            redacted = orjson.dumps(_redact(orjson.loads(body), pattern)).decode()
        except orjson.JSONDecodeError:
            redacted = pattern.sub(ERASED, body)
        session.execute(update(d).where(d.id == delivery_id).values(body=redacted))
    kept = sorted({firing for _id, firing, _body in sent if firing})
    if kept:
        for firing_id in kept:
            session.execute(update(f).where(f.id == firing_id).values(
                subject=ERASED, lead_id=None, event_id=None, payload={}, dedupe_key=f"erased:{firing_id}"
            ))
    session.execute(delete(f).where(f.unit_id == tenant.unit_id, f.id.in_(firing_ids), f.id.not_in(kept or [""])))
    return len(firing_ids), deleted, len(sent)


def _erase_crm_writes(
    session: Session, tenant: Tenant, ids: Sequence[str], needles: Sequence[str]
) -> tuple[int, int]:
    """CRM writes (channel hubspot) for the person: one lead's write (its target is the email) goes when unsent and
    loses the email and its details when sent; a batch of the scheduled sync loses the person's contact (unsent: the
    entry is removed, the batch deleted when it was the only one; sent: the entry is redacted)."""
    d = models.Delivery
    emails = {e.strip().lower() for e in session.scalars(
        select(models.Lead.email).where(models.Lead.unit_id == tenant.unit_id, models.Lead.id.in_(ids))) if e}
    named = [n for n in needles if n in emails or n in ids]
    if not named:
        return 0, 0
    pattern = _pattern(named)
    rows = session.execute(
        select(d.id, d.status, d.target, d.body).where(
            d.unit_id == tenant.unit_id, d.channel == "hubspot",
            or_(func.lower(d.target).in_(sorted(emails) or [""]), _like_any(d.body, named)),
        )
    ).all()
    deleted = redacted = 0
    for delivery_id, status, target, body in rows:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        contacts = data.get("contacts") if isinstance(data, dict) else None
        if isinstance(contacts, list):
            theirs = [c for c in contacts if isinstance(c, dict) and (
                c.get("lead_id") in ids or str(c.get("email") or "").strip().lower() in emails)]
            if not theirs:
                continue
            if status == _SENT:
                values: dict[str, Any] = {"body": orjson.dumps(_redact(data, pattern)).decode()}
            else:
                kept = [c for c in contacts if c not in theirs]
                if not kept:
                    session.execute(delete(d).where(d.id == delivery_id))
                    deleted += 1
                    continue
                values = {"body": orjson.dumps({**data, "contacts": kept}).decode(),
                          "target": f"batch:{len(kept)} contacts"}
        else:
            lead_id = data.get("lead_id") if isinstance(data, dict) else None
            if target.strip().lower() not in emails and lead_id not in ids:
                continue
            if status != _SENT:
                session.execute(delete(d).where(d.id == delivery_id))
                deleted += 1
                continue
            text = orjson.dumps(_redact(data, pattern)).decode() if data is not None else pattern.sub(ERASED, body)
            values = {"body": text, "target": ERASED}
        session.execute(update(d).where(d.id == delivery_id).values(**values))
        redacted += 1
    return deleted, redacted


def _scrub_stream(session: Session, tenant: Tenant, needles: Sequence[str]) -> int:
    """Drop the stream messages that name the person. Batch rows stay (possibly empty) so ids never restart."""
    sb = models.StreamBatch
    removed = 0
    for batch_id, messages in session.execute(
        select(sb.id, sb.messages).where(sb.unit_id == tenant.unit_id, _like_any(sb.messages, needles))
    ).all():
        kept = [m for m in (messages or []) if not _names(m, needles)]
        if len(kept) != len(messages or []):
            removed += len(messages or []) - len(kept)
            session.execute(update(sb).where(sb.id == batch_id).values(messages=kept))
    return removed


def _scrub_idempotency(session: Session, tenant: Tenant, needles: Sequence[str]) -> int:
    record = models.IdempotencyRecord
    return _count(session.execute(
        delete(record).where(record.unit_id == tenant.unit_id, _like_any(record.response_body, needles))
    ))


def _scrub_imports(session: Session, tenant: Tenant, needles: Sequence[str]) -> int:
    """CSV import jobs keep their first per-row errors, which may quote a value of the person's row."""
    job = models.ImportJob
    pattern = _pattern(needles)
    rows = session.execute(
        select(job.id, job.errors).where(job.unit_id == tenant.unit_id, _like_any(job.errors, needles))
    ).all()
    for job_id, errors in rows:
        session.execute(update(job).where(job.id == job_id).values(errors=_redact(errors or [], pattern)))
    return len(rows)


def _scrub_research(session: Session, tenant: Tenant, ids: Sequence[str], needles: Sequence[str]) -> int:
    """Contact research requests that found or name the person keep their id, status and times; what they were
    asked and what they found is redacted (all of it when it found them), and so are their completion webhooks (sent
    or not)."""
    r, d = models.ResearchRequest, models.Delivery
    pattern = _pattern(needles)
    rows = session.execute(
        select(r.id, r.request, r.result, r.lead_id).where(
            r.unit_id == tenant.unit_id,
            or_(r.lead_id.in_(ids), _like_any(r.request, needles), _like_any(r.result, needles)),
        )
    ).all()
    for request_id, request, result, found in rows:
        whole = found in ids  # it found the person: everything it was asked and found is about them
        if whole:
            request, result = {key: ERASED for key in request or {}}, None
        session.execute(update(r).where(r.id == request_id).values(
            request=_redact(request or {}, pattern), result=None if result is None else _redact(result, pattern),
            lead_id=None,
        ))
        for delivery_id, body in session.execute(select(d.id, d.body).where(
            d.unit_id == tenant.unit_id, d.firing_id.is_(None), d.channel == "webhook",
            d.body.contains(f'"id":"{request_id}"'),
        )).all():
            try:
                message = orjson.loads(body)
                data = message.get("data") if isinstance(message, dict) else None
                if whole and isinstance(data, dict):
                    message["data"] = {"id": request_id, "status": data.get("status"), "request": request,
                                       "erased": True}
                redacted = orjson.dumps(_redact(message, pattern)).decode()
            except orjson.JSONDecodeError:
                redacted = pattern.sub(ERASED, body)
            session.execute(update(d).where(d.id == delivery_id).values(body=redacted))
    return len(rows)


def _scrub_audit(session: Session, tenant: Tenant, ids: Sequence[str], needles: Sequence[str]) -> int:
    """Entries about the person keep action, time and actor; their details go."""
    log = models.AuditLog
    return _count(session.execute(
        update(log)
        .where(
            log.unit_id == tenant.unit_id,
            log.changes.is_not(None),
            or_(log.entity_id.in_(ids), _like_any(log.changes, needles)),
        )
        .values(changes=null())
        .execution_options(synchronize_session=False)
    ))


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
