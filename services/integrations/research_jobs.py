"""Contact research jobs: match the person to a lead, compile what Leadvane knows, ask the enrichment provider,
merge its fields through the profile field mappings, finish, and send the signed completion webhook.

The research_requests row is the job. The creating transaction leases it to its own process and, once it commits,
hands the id to this process's worker threads (`research_workers`), so a request completes in milliseconds.
When that process dies mid-job, the lease runs out and the scheduler's `research-requests` job (`sweep`) claims
and works it. One attempt: a read (match), the provider call outside any transaction, then one write transaction
that re-checks the lease, merges, stores the result and enqueues the webhook (the outbox: signed with the unit's
webhook secret, retried by the dispatcher). An attempt that fails leaves the row pending for the sweep;
after MAX_ATTEMPTS it is `failed` (and the webhook says so).

The enrichment provider (settings `enrichment_url`, `enrichment_token`; docs/enrichment-provider.md) gets
{first_name, last_name, company_name, company_domain, profile_url, sales_navigator_url, job_title, email} and
answers 200 {found, fields} or 404. Its fields reach the lead's profile only through the unit's profile field
mappings (a PROFILE_UPDATE event of the log, like ingest's mappings), never directly.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session

from core import identity
from core import profile as core_profile
from core import research as core
from db import models
from db.engine import Database
from services.context import Tenant
from services.integrations import outbound
from services.integrations.research import (
    COMPLETED,
    FAILED,
    LEASE,
    NOT_FOUND,
    PENDING,
    leads_by_profile_url,
    recent_signals,
    request_view,
)
from services.people.leads import get_lead
from services.people.profiles import set_lead_profile
from services.scoring.model import live_model, lock_config, published_model
from services.targeting.segments import lead_segments
from services.tenancy import audit
from services.triggers import deliveries
from services.triggers.destinations import unit_webhook_secret
from settings import get_settings

log = logging.getLogger("leadvane.research")

MAX_ATTEMPTS = 5
ENRICHMENT_TIMEOUT = (3.0, 5.0)  # (connect, read) seconds; a slower provider is noted as "timeout"
MAX_PROVIDER_BYTES = 256 * 1024
MAX_PROVIDER_FIELDS = 200
RECENT_SIGNALS = 10
WEBHOOK_TYPE = "contact_research.completed"
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- matching ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    lead_id: str
    matched_by: str  # profile_url | name_and_company | email


def _candidates(session: Session, tenant: Tenant, lead_ids: set[str] | None, where: list[Any]) -> list[core.Candidate]:
    lead, account, alias = models.Lead, models.Account, models.LeadAlias
    primary = live_model(session, tenant).primary_ruleset_id or ""
    query = (
        select(lead.id, lead.first_name, lead.last_name, lead.email, lead.metadata_, account.domain, account.name,
               models.LeadScore.score)
        .outerjoin(account, account.id == lead.account_id)
        .outerjoin(models.LeadScore, and_(models.LeadScore.lead_id == lead.id, models.LeadScore.ruleset_id == primary))
        .where(lead.unit_id == tenant.unit_id, lead.merged_into.is_(None), *where)
    )
    if lead_ids is not None:
        query = query.where(lead.id.in_(sorted(lead_ids)))
    rows = session.execute(query.limit(500)).all()
    social: dict[str, list[str]] = {}
    for lead_id, value in session.execute(
        select(alias.lead_id, alias.value).where(alias.unit_id == tenant.unit_id, alias.kind == "social",
                                                 alias.lead_id.in_([r.id for r in rows]))
    ):
        social.setdefault(lead_id, []).append(value)
    out = []
    for r in rows:
        email_domain = identity.company_domain_from_email(r.email) if r.email and "@" in r.email else None
        out.append(core.Candidate(
            r.id, social=tuple(social.get(r.id, ())), profile=r.metadata_ or {}, first_name=r.first_name,
            last_name=r.last_name, domains=tuple(d for d in (r.domain, email_domain) if d),
            companies=(r.name,) if r.name else (), score=int(r.score or 0),
        ))
    return out


def match_lead(session: Session, tenant: Tenant, request: Mapping[str, str]) -> Match | None:
    """The lead the request names: by profile URL (social aliases, profile URL properties), then by first and
    last name with the company (core.research.best_match)."""
    urls = [request[k] for k in ("profile_url", "sales_navigator_url") if request.get(k)]
    keys = {key for url in urls if (key := core.normalize_profile_url(url)) is not None}
    by_url: set[str] = set()
    for url in urls:
        by_url.update(leads_by_profile_url(session, tenant, url))
    pool = _candidates(session, tenant, by_url, []) if by_url else []
    first, last = request.get("first_name"), request.get("last_name")
    if first and last:
        lead = models.Lead
        pool += _candidates(session, tenant, None, [
            func.lower(lead.first_name) == first.strip().lower(), func.lower(lead.last_name) == last.strip().lower(),
        ])
    found = core.best_match(pool, profile_keys_wanted=keys, first_name=first, last_name=last,
                            domain=request.get("company_domain"), company_name=request.get("company_name"))
    return None if found is None else Match(found[0].lead_id, found[1])


def match_email(session: Session, tenant: Tenant, email: Any) -> Match | None:
    """The lead with this email alias (an email the provider found)."""
    if not isinstance(email, str):
        return None
    try:
        value = identity.normalize_email(email)
    except identity.InvalidIdentifier:
        return None
    alias, lead = models.LeadAlias, models.Lead
    lead_id = session.scalar(
        select(alias.lead_id).join(lead, lead.id == alias.lead_id)
        .where(alias.unit_id == tenant.unit_id, alias.kind == "email", alias.value == value,
               lead.merged_into.is_(None))
    )
    return None if lead_id is None else Match(lead_id, "email")


# --- the enrichment provider ---------------------------------------------------------------------------------------


def _scalar_fields(raw: Any) -> dict[str, Any]:
    """The provider's fields that can go into a profile: string keys, JSON scalars or lists/objects of them."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in list(raw.items())[:MAX_PROVIDER_FIELDS]:
        if isinstance(key, str) and key.strip() and len(key) <= 200 and value is not None:
            out[key] = value
    return out


def ask_provider(request: Mapping[str, str], email: str | None) -> dict[str, Any] | None:
    """The enrichment provider's answer: {status: found | not_found | timeout | error, fields, reason?}; None when
    no provider is configured."""
    settings = get_settings()
    url = settings.enrichment_url
    if not url:
        return None
    body = {name: request.get(name) for name in (
        "first_name", "last_name", "company_name", "company_domain", "profile_url", "sales_navigator_url",
        "job_title")}
    body["email"] = email
    headers = {"content-type": "application/json", "accept": "application/json"}
    if settings.enrichment_token:
        headers["authorization"] = f"Bearer {settings.enrichment_token}"
    http = outbound.new_session()
    try:
        response = outbound.post(http, url, data=json.dumps(body).encode(), headers=headers,
                                 timeout=ENRICHMENT_TIMEOUT)
        status = response.status_code
        payload = outbound.read_limited(response, MAX_PROVIDER_BYTES)
    except Exception as exc:  # Refused, timeouts, connection errors: the job completes without enrichment
        reason = outbound.describe_error(exc)
        return {"status": "timeout" if reason == "timed out" else "error", "fields": {}, "reason": reason}
    finally:
        http.close()
    if status == 404:
        return {"status": "not_found", "fields": {}}
    if status != 200:
        return {"status": "error", "fields": {}, "reason": f"HTTP {status} from provider"}
    try:
        answer = json.loads(payload)
    except ValueError:
        return {"status": "error", "fields": {}, "reason": "provider answered with invalid JSON"}
    if not isinstance(answer, dict) or not answer.get("found"):
        return {"status": "not_found", "fields": {}}
    return {"status": "found", "fields": _scalar_fields(answer.get("fields"))}


def merge_fields(session: Session, tenant: Tenant, lead_id: str, fields: Mapping[str, Any], now: datetime) -> list[str]:
    """Copy the provider's fields into the lead's profile through the unit's profile field mappings (recorded as a
    PROFILE_UPDATE event, fit recomputed); the properties that changed."""
    model = published_model(session, tenant)
    mappings = model.mappings_for("profile")
    if not mappings or not fields:
        return []
    lock_config(session, tenant, exclusive=False)  # like ingest: no configuration change meanwhile
    lead = session.get(models.Lead, lead_id, with_for_update=True)
    if lead is None or lead.unit_id != tenant.unit_id:
        return []
    before = dict(lead.metadata_ or {})
    profile = core_profile.apply_mappings(before, mappings, fields)
    change = set_lead_profile(session, tenant, lead, profile, via="research", now=now, model=model)
    if change is None:
        return []
    session.flush()
    audit.record(session, tenant, action="update", entity_type="lead", entity_id=lead.id,
                 before={"metadata": before}, after={"metadata": dict(lead.metadata_ or {})}, now=now)
    return sorted({*change.set, *change.unset})


# --- the result ----------------------------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    return json.loads(deliveries.dumps(value))


def compile_result(session: Session, tenant: Tenant, match: Match | None, enrichment: dict[str, Any] | None,
                   now: datetime) -> dict[str, Any]:
    """What Leadvane knows about the matched lead: contact (aliases, name, title, email, country, profile URL),
    account, scores (engagement score and level, fit score and level), recent signals, segments; and the
    provider's answer."""
    result: dict[str, Any] = {"matched_by": None, "contact": None, "account": None, "scores": None,
                              "recent_signals": [], "segments": [], "enrichment": enrichment}
    if match is None:
        return _json(result)
    known = get_lead(session, tenant, match.lead_id)
    lead, account = known["lead"], known["account"] or None
    profile = lead["metadata"]
    social = [a["value"] for a in lead["aliases"] if a["alias_kind"] == "social"]
    result.update(
        matched_by=match.matched_by,
        contact={
            "id": lead["id"], "first_name": lead["first_name"], "last_name": lead["last_name"],
            "email": lead["email"], "title": core.first_text(profile, core.TITLE_PROPERTIES),
            "country": core.country_of(profile),
            "profile_url": core.first_text(profile, core.PROFILE_URL_PROPERTIES) or (social[0] if social else None),
            "aliases": [{"kind": a["alias_kind"], "value": a["value"], "is_primary": a["is_primary"]}
                        for a in lead["aliases"]],
            "profile": profile,
        },
        account=None if account is None else {
            "id": account["id"], "name": account["name"], "domain": account["domain"],
            "profile": account["metadata"],
        },
        scores={"score": lead["score"], "level": (lead["level"] or {}).get("name"),
                "fit_score": lead["fit_score"], "fit_level": lead["fit_level"]},
        recent_signals=recent_signals(session, tenant, match.lead_id, RECENT_SIGNALS),
        segments=lead_segments(session, tenant, match.lead_id, now),
    )
    return _json(result)


def _enqueue_webhook(session: Session, tenant: Tenant, row: models.ResearchRequest, now: datetime) -> None:
    if not row.webhook_url:
        return
    unit_webhook_secret(session, tenant, now)  # the dispatcher signs with it: it must exist
    body = deliveries.dumps({"type": WEBHOOK_TYPE, "data": request_view(row)})
    deliveries.enqueue(session, tenant, [deliveries.Message("webhook", row.webhook_url, body)], now)


# --- running a job -------------------------------------------------------------------------------------------------


def _tenant(row: models.ResearchRequest) -> Tenant:
    return Tenant(row.org_id, row.unit_id, actor="research")


def process(db: Database, request_id: str, clock: Clock = utcnow) -> str | None:
    """Work one leased request to its end; returns its final status (None: not ours or not pending any more;
    `pending`: this attempt failed and the sweep tries again)."""
    with db.read() as session:
        row = session.get(models.ResearchRequest, request_id)
        if row is None or row.status != PENDING:
            return None
        tenant, lease, request = _tenant(row), row.lease_until, dict(row.request or {})
    try:
        with db.read() as session:
            match = match_lead(session, tenant, request)
            email = session.scalar(select(models.Lead.email).where(models.Lead.id == match.lead_id)) if match else None
        enrichment = ask_provider(request, email)
        with db.write() as session:
            row = session.get(models.ResearchRequest, request_id, with_for_update=True)
            if row is None or row.status != PENDING or row.lease_until != lease:
                return None  # finished, or claimed again by the sweep after our lease ran out
            now = clock()
            if match is None and enrichment and enrichment["status"] == "found":
                match = match_email(session, tenant, enrichment["fields"].get("email"))
            if match is not None and enrichment and enrichment["status"] == "found":
                enrichment["merged"] = merge_fields(session, tenant, match.lead_id, enrichment["fields"], now)
            found = match is not None or bool(enrichment and enrichment["status"] == "found")
            row.result = compile_result(session, tenant, match, enrichment, now)
            row.lead_id = match.lead_id if match else None
            row.status = COMPLETED if found else NOT_FOUND
            row.error, row.lease_until, row.completed_at, row.updated_at = None, None, now, now
            session.flush()
            _enqueue_webhook(session, tenant, row, now)
            return row.status
    except Exception as exc:
        log.exception("research request %s failed", request_id)
        return _failed(db, request_id, lease, f"{type(exc).__name__}", clock)


def _failed(db: Database, request_id: str, lease: datetime | None, error: str, clock: Clock) -> str | None:
    """After a failed attempt: pending again (the sweep retries once the lease runs out), or failed for good."""
    with db.write() as session:
        row = session.get(models.ResearchRequest, request_id, with_for_update=True)
        if row is None or row.status != PENDING or row.lease_until != lease:
            return None
        now = clock()
        row.error, row.updated_at = f"attempt {row.attempts} failed: {error}", now
        if row.attempts < MAX_ATTEMPTS:
            return PENDING
        row.status, row.lease_until, row.completed_at = FAILED, None, now
        session.flush()
        _enqueue_webhook(session, _tenant(row), row, now)
        return FAILED


def claim_due(session: Session, now: datetime, limit: int = 50) -> list[str]:
    """Lease pending requests whose lease ran out (their process died, or an attempt failed) to the caller."""
    r = models.ResearchRequest
    due = and_(r.status == PENDING, or_(r.lease_until.is_(None), r.lease_until <= now))
    claimed = []
    for request_id in session.scalars(select(r.id).where(due).order_by(r.created_at, r.id).limit(limit)).all():
        taken = cast(CursorResult[Any], session.execute(
            update(r).where(r.id == request_id, due)
            .values(lease_until=now + LEASE, attempts=r.attempts + 1)
            .execution_options(synchronize_session=False)
        )).rowcount
        if taken:
            claimed.append(request_id)
    return claimed


def sweep(db: Database, clock: Clock = utcnow) -> int:
    """The scheduler's part: claim and work every pending request whose lease ran out; how many finished."""
    with db.read() as session:
        r = models.ResearchRequest
        now = clock()
        if session.scalar(select(r.id).where(r.status == PENDING, or_(r.lease_until.is_(None), r.lease_until <= now))
                          .limit(1)) is None:
            return 0
    with db.write() as session:
        ids = claim_due(session, clock())
    return sum(process(db, request_id, clock) in (COMPLETED, NOT_FOUND, FAILED) for request_id in ids)


class ResearchWorkers:
    """This process's research worker threads: they work requests right after their creating commit."""

    def __init__(self, workers: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leadvane-research")

    def submit(self, db: Database, request_id: str) -> None:
        self.pool.submit(self._run, db, request_id)

    @staticmethod
    def _run(db: Database, request_id: str) -> None:
        try:
            process(db, request_id)
        except Exception:  # the lease runs out and the sweep works it
            log.exception("research request %s could not be worked", request_id)


@functools.lru_cache(maxsize=1)
def research_workers() -> ResearchWorkers:
    return ResearchWorkers()


def starter(db: Database) -> Callable[[str], None]:
    """What `research.create_request` calls after its commit: hand the request to this process's workers."""
    return lambda request_id: research_workers().submit(db, request_id)
