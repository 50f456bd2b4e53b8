"""The research API over Leadvane's own data (reference: signals-research-api).

Signals: the unit's events as signals (system events aside: profile changes and DECAY adjustments are the log's
bookkeeping, not signals a tool sent), newest first, by company (domain or account id) or by contact (a profile
URL matched against `social` aliases and profile URL properties, LinkedIn's forms normalised: core.research). A
signal's id is the UUID form of its event id (`ev_<32 hex>` -> the hex as a UUID); quarantined events are
included and flagged (`quarantined`).

Contact research: `create_request` records a job (research_requests, status `pending`, leased to the creating
process, which works it right after the commit: services.integrations.research_jobs); `get_request` and
`find_request` read it back. Contact search lives in services.integrations.research_search.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.orm import Session

from core import identity
from core import research as core
from core.profile import PROFILE_EVENT_TYPES
from core.scoring import DECAY_EVENT_TYPE
from db import models
from db.ids import new_id
from services.after_commit import on_commit
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.insight.event_log import signal_select, signal_view
from services.integrations import outbound
from services.tenancy import audit
from services.tenancy.policy import Action, require
from services.triggers.destinations import unit_webhook_secret

SYSTEM_EVENT_TYPES = frozenset({*PROFILE_EVENT_TYPES, DECAY_EVENT_TYPE})
MAX_LIMIT = 100
PENDING, COMPLETED, NOT_FOUND, FAILED = "pending", "completed", "not_found", "failed"
STATUSES = (PENDING, COMPLETED, NOT_FOUND, FAILED)
LEASE = timedelta(seconds=60)  # longer than one attempt may take (provider timeouts included)
REQUEST_FIELDS = (
    "first_name", "last_name", "company_name", "company_domain", "profile_url", "sales_navigator_url", "job_title",
)
NOT_FOUND_MESSAGE = "signal not found or access denied"


# --- signals -------------------------------------------------------------------------------------------------------


def _signal(row: Any) -> dict[str, Any]:
    return {**signal_view(row), "id": core.signal_uuid(row.id), "quarantined": row.quarantine_filter_id is not None}


def _page(session: Session, tenant: Tenant, conditions: Sequence[Any], limit: int, offset: int) -> dict[str, Any]:
    ev = models.Event
    where = [ev.unit_id == tenant.unit_id, ev.event_type.not_in(SYSTEM_EVENT_TYPES), *conditions]
    total = session.scalar(select(func.count()).select_from(ev).where(*where)) or 0
    rows = session.execute(
        signal_select(session, tenant).where(*where).order_by(ev.occurred_at.desc(), ev.seq.desc())
        .limit(limit).offset(offset)
    ).all()
    return {"data": [_signal(r) for r in rows], "meta": {"total": total, "limit": limit, "offset": offset}}


def _window(from_: datetime | None, to: datetime | None) -> list[Any]:
    if from_ is not None and to is not None and from_ > to:
        raise InvalidInput("from", "must not be after to")
    ev = models.Event
    return [c for c in (None if from_ is None else ev.occurred_at >= from_,
                        None if to is None else ev.occurred_at <= to) if c is not None]


def company_signals(
    session: Session, tenant: Tenant, *, domain: str | None, company_id: str | None, limit: int = 25,
    offset: int = 0, from_: datetime | None = None, to: datetime | None = None,
) -> dict[str, Any]:
    """Signals of one company (its domain, or its Leadvane account id), occurred in [from, to], newest first."""
    require(tenant, Action.READ)
    if (domain is None) == (company_id is None):
        raise InvalidInput("domain", "give exactly one of domain and company_id")
    account = models.Account
    if domain is not None:
        try:
            wanted = identity.normalize_domain(domain)
        except identity.InvalidIdentifier as exc:
            raise InvalidInput("domain", str(exc)) from None
        accounts = select(account.id).where(account.unit_id == tenant.unit_id, account.domain == wanted)
    else:
        accounts = select(account.id).where(account.unit_id == tenant.unit_id, account.id == company_id)
    return _page(session, tenant, [models.Event.account_id.in_(accounts), *_window(from_, to)], limit, offset)


def leads_by_profile_url(session: Session, tenant: Tenant, url: str, *, field: str = "profile_url") -> list[str]:
    """The unit's (unmerged) leads whose `social` alias or profile URL property is the profile `url` names."""
    key = core.normalize_profile_url(url)
    if key is None:
        raise InvalidInput(field, "must be an http(s) profile URL, e.g. https://linkedin.com/in/johndoe")
    needle = core.profile_needle(key)
    alias, lead = models.LeadAlias, models.Lead
    found: set[str] = set()
    for lead_id, value in session.execute(
        select(alias.lead_id, alias.value)
        .join(lead, lead.id == alias.lead_id)
        .where(alias.unit_id == tenant.unit_id, alias.kind == "social", lead.merged_into.is_(None),
               func.lower(alias.value).contains(needle, autoescape=True))
    ):
        if core.normalize_profile_url(value) == key:
            found.add(lead_id)
    for lead_id, profile in session.execute(
        select(lead.id, lead.metadata_).where(
            lead.unit_id == tenant.unit_id, lead.merged_into.is_(None),
            func.lower(cast(lead.metadata_, String)).contains(needle, autoescape=True),
        )
    ):
        if key in core.profile_keys(core.Candidate(lead_id, profile=profile or {})):
            found.add(lead_id)
    return sorted(found)


def contact_signals(
    session: Session, tenant: Tenant, *, profile_url: str, limit: int = 25, offset: int = 0
) -> dict[str, Any]:
    """Signals of the lead(s) whose social alias or profile URL is `profile_url`, newest first."""
    require(tenant, Action.READ)
    lead_ids = leads_by_profile_url(session, tenant, profile_url)
    return _page(session, tenant, [models.Event.lead_id.in_(lead_ids)], limit, offset)


def get_signal(session: Session, tenant: Tenant, signal_id: str, *, contact: bool = False) -> dict[str, Any]:
    """One signal by the UUID form of its id; 404 for another unit's, a system event's, or (with `contact`) one
    that belongs to no contact."""
    require(tenant, Action.READ)
    event_id = core.event_id_of(signal_id)
    if event_id is None:
        raise NotFound(NOT_FOUND_MESSAGE, field="signal_id")
    ev = models.Event
    where = [ev.unit_id == tenant.unit_id, ev.id == event_id, ev.event_type.not_in(SYSTEM_EVENT_TYPES)]
    if contact:
        where.append(ev.lead_id.is_not(None))
    row = session.execute(signal_select(session, tenant).where(*where)).first()
    if row is None:
        raise NotFound(NOT_FOUND_MESSAGE, field="signal_id")
    return _signal(row)


def recent_signals(session: Session, tenant: Tenant, lead_id: str, limit: int = 10) -> list[dict[str, Any]]:
    return list(_page(session, tenant, [models.Event.lead_id == lead_id], limit, 0)["data"])


# --- contact research requests -------------------------------------------------------------------------------------


def check_webhook_url(url: str | None) -> None:
    """The completion webhook's URL through the outbound guard (before the write transaction: DNS)."""
    if url:
        try:
            outbound.check_url(url)
        except outbound.Refused as exc:
            raise InvalidInput("webhook_url", str(exc)) from None


def _clean(fields: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in REQUEST_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    for name in ("profile_url", "sales_navigator_url"):
        if name in out and core.normalize_profile_url(out[name]) is None:
            raise InvalidInput(name, "must be an http(s) profile URL")
    if "company_domain" in out:
        try:
            out["company_domain"] = identity.normalize_domain(out["company_domain"])
        except identity.InvalidIdentifier as exc:
            raise InvalidInput("company_domain", str(exc)) from None
    named = "first_name" in out and "last_name" in out and ("company_domain" in out or "company_name" in out)
    if not ("profile_url" in out or "sales_navigator_url" in out or named):
        raise InvalidInput("profile_url", "give profile_url or sales_navigator_url, or first_name and last_name "
                                          "with company_domain or company_name")
    return out


def create_request(
    session: Session, tenant: Tenant, fields: Mapping[str, Any], now: datetime,
    start: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Record a contact research job (pending, leased to this process); `start(id)` runs once the transaction
    commits (the caller's hand-off to its worker). Call `check_webhook_url` first, outside the transaction."""
    require(tenant, Action.RESEARCH)
    request = _clean(fields)
    row = models.ResearchRequest(
        id=new_id("cr"), org_id=tenant.org_id, unit_id=tenant.unit_id, status=PENDING,
        external_id=fields.get("external_id") or None, source=fields.get("source") or None,
        webhook_url=fields.get("webhook_url") or None, request=request, result=None, lead_id=None, error=None,
        attempts=1, lease_until=now + LEASE, created_at=now, updated_at=now, completed_at=None,
        created_by=tenant.actor,
    )
    session.add(row)
    session.flush()
    # The webhook URL may carry a token in its query: the audit notes only that there is one.
    audit.record(session, tenant, action="create", entity_type="research_request", entity_id=row.id, before=None,
                 after={"status": PENDING, "external_id": row.external_id, "source": row.source,
                        "webhook": row.webhook_url is not None, **request}, now=now)
    if start is not None:
        request_id = row.id
        on_commit(session, lambda: start(request_id))
    return request_view(row)


def request_view(row: models.ResearchRequest) -> dict[str, Any]:
    """A research request as the API shows it: the request, and the result's fields once it finished."""
    result = row.result or {}
    return {
        "id": row.id,
        "status": row.status,
        "external_id": row.external_id,
        "source": row.source,
        "webhook_url": row.webhook_url,
        "request": dict(row.request or {}),
        "created_at": row.created_at,
        "completed_at": row.completed_at,
        "lead_id": row.lead_id,
        "matched_by": result.get("matched_by"),
        "contact": result.get("contact"),
        "account": result.get("account"),
        "scores": result.get("scores"),
        "recent_signals": result.get("recent_signals", []),
        "segments": result.get("segments", []),
        "enrichment": result.get("enrichment"),
        "error": row.error,
    }


def get_request(session: Session, tenant: Tenant, request_id: str) -> dict[str, Any]:
    require(tenant, Action.READ)
    row = session.get(models.ResearchRequest, request_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound("contact research not found or access denied", field="id")
    return request_view(row)


def find_request(session: Session, tenant: Tenant, *, external_id: str, source: str) -> dict[str, Any]:
    """The newest research request of the unit with this external id from this source."""
    require(tenant, Action.READ)
    r = models.ResearchRequest
    row = session.scalars(
        select(r).where(and_(r.unit_id == tenant.unit_id, r.source == source, r.external_id == external_id))
        .order_by(r.created_at.desc(), r.id.desc()).limit(1)
    ).first()
    if row is None:
        raise NotFound("contact research not found or access denied", field="external_id")
    return request_view(row)


def webhook_secret(session: Session, tenant: Tenant, now: datetime) -> str:
    """The unit's secret that signs research completion webhooks (created on first use; audited, never logged)."""
    require(tenant, Action.MANAGE_INTEGRATIONS)
    table = models.UnitWebhookSecret
    existed = session.scalar(select(table.unit_id).where(table.unit_id == tenant.unit_id)) is not None
    secret = unit_webhook_secret(session, tenant, now)
    if not existed:
        audit.record(session, tenant, action="create", entity_type="unit_webhook_secret", entity_id=tenant.unit_id,
                     before=None, after={"purpose": "research completion webhooks"}, now=now)
    return secret
