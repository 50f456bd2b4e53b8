"""Contact search (POST /v1/research/contacts/search): the unit's leads that fit every criterion given, ranked by
engagement score (the primary ruleset's), highest first.

Criteria (each optional; all given must hold):
- `company_linkedin_url`: the lead's account is that company: its domain's first label or its name is the URL's
  company slug (`linkedin.com/company/acme-corp` -> `acme-corp.*`, name "acme corp"), or its profile holds that
  LinkedIn company URL. A URL that is not a LinkedIn company page is refused (422).
- `first_name`, `last_name`: equal, case-insensitive.
- `job_titles`: the profile's title (`title` or `job_title`) contains one of them, case-insensitive.
- `keywords`: one of them appears in the lead's profile or in the metadata of its events of the last
  KEYWORD_DAYS days (case-insensitive).
- `countries`: ISO 3166-1 alpha-2 codes; the profile's `country`/`country_code`, else the account's.

One pass over the unit's leads (scores joined on their primary key) gives the page's ids and the count (a window);
a second statement reads the page's details. Recent events are read through ix_events_unit_occurred.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from core import research as core
from db import models
from services.context import Tenant
from services.errors import InvalidInput, ServiceError
from services.integrations.research import SYSTEM_EVENT_TYPES
from services.scoring import levels as level_service
from services.scoring.fit import fit_level
from services.scoring.model import live_model, published_model
from services.tenancy.policy import Action, require

KEYWORD_DAYS = 90
MAX_LIMIT = 100
MAX_TERMS = 20


class UnparsableUrl(ServiceError):
    """422: the LinkedIn company URL cannot be read (the reference's 'Could not process LinkedIn URL')."""

    status = 422
    code = "unprocessable_entity"


def _contains(sqlite: bool, text: Any, term: str) -> Any:
    """`text` contains the lower-case `term`, case-insensitively. SQLite's LIKE already ignores (ASCII) case,
    as far as its lower() would; PostgreSQL's LIKE needs lower()."""
    return (text if sqlite else func.lower(text)).contains(term, autoescape=True)


def _lower_text(column: Any) -> Any:
    return func.lower(cast(column, String))


def _terms(values: Sequence[str] | None, field: str) -> list[str]:
    out = [v.strip().lower() for v in values or () if v and v.strip()]
    if len(out) > MAX_TERMS:
        raise InvalidInput(field, f"at most {MAX_TERMS} values")
    return out


def _company_accounts(session: Session, tenant: Tenant, url: str) -> list[str]:
    slug = core.linkedin_company_slug(url)
    if slug is None:
        raise UnparsableUrl("company_linkedin_url: could not process the LinkedIn URL; expected "
                            "https://linkedin.com/company/<name>", field="company_linkedin_url")
    a = models.Account
    name_key = core.slug_name_key(slug)
    rows = session.execute(
        select(a.id, a.domain, a.name_key, a.metadata_).where(
            a.unit_id == tenant.unit_id,
            or_(a.domain.startswith(slug + ".", autoescape=True), a.name_key == name_key,
                _lower_text(a.metadata_).contains(f"/company/{slug}", autoescape=True)),
        )
    ).all()
    return [r.id for r in rows if core.domain_label(r.domain) == slug or r.name_key == name_key
            or slug in {core.company_slug_of((r.metadata_ or {}).get(k)) for k in core.COMPANY_URL_PROPERTIES}]


def search_contacts(
    session: Session, tenant: Tenant, *, company_linkedin_url: str | None = None, first_name: str | None = None,
    last_name: str | None = None, job_titles: Sequence[str] | None = None, keywords: Sequence[str] | None = None,
    countries: Sequence[str] | None = None, limit: int = 25, offset: int = 0, now: datetime,
) -> dict[str, Any]:
    """{data: [contact], meta: {total, limit, offset}}: the unit's leads matching every criterion, by score."""
    require(tenant, Action.READ)
    lead, account = models.Lead, models.Account
    primary = live_model(session, tenant).primary_ruleset_id or ""
    sqlite = session.get_bind().dialect.name == "sqlite"
    where: list[Any] = [lead.unit_id == tenant.unit_id, lead.merged_into.is_(None)]
    if company_linkedin_url:
        where.append(lead.account_id.in_(_company_accounts(session, tenant, company_linkedin_url)))
    if first_name and first_name.strip():
        where.append(func.lower(lead.first_name) == first_name.strip().lower())
    if last_name and last_name.strip():
        where.append(func.lower(lead.last_name) == last_name.strip().lower())
    titles = _terms(job_titles, "job_titles")
    if titles:
        title_text = func.coalesce(*(lead.metadata_[k].as_string() for k in core.TITLE_PROPERTIES))
        where.append(or_(*(_contains(sqlite, title_text, t) for t in titles)))
    words = _terms(keywords, "keywords")
    if words:
        ev = models.Event
        in_events = (
            select(ev.lead_id).where(
                ev.unit_id == tenant.unit_id, ev.occurred_at >= now - timedelta(days=KEYWORD_DAYS),
                ev.event_type.not_in(SYSTEM_EVENT_TYPES), ev.lead_id.is_not(None),
                or_(*(_contains(sqlite, cast(ev.metadata_, String), w) for w in words)),
            )
        )
        profile_text = cast(lead.metadata_, String)
        where.append(or_(*(_contains(sqlite, profile_text, w) for w in words), lead.id.in_(in_events)))
    codes = sorted({c.strip().upper() for c in countries or () if c.strip()})
    if codes:
        problem = core.country_problem(codes)
        if problem:
            raise InvalidInput("countries", problem)
        lead_country = func.upper(func.coalesce(*(lead.metadata_[k].as_string() for k in core.COUNTRY_PROPERTIES)))
        account_country = func.upper(func.coalesce(*(account.metadata_[k].as_string()
                                                      for k in core.COUNTRY_PROPERTIES)))
        in_countries = select(account.id).where(account.unit_id == tenant.unit_id, account_country.in_(codes))
        where.append(or_(lead_country.in_(codes), and_(lead_country.is_(None), lead.account_id.in_(in_countries))))

    # First the page's ids and the count, in one pass over narrow rows; then the page's details.
    score = func.coalesce(models.LeadScore.score, 0)
    ranked = (
        select(lead.id, score.label("score"), func.count().over().label("total"))
        .select_from(lead)
        .outerjoin(models.LeadScore, and_(models.LeadScore.lead_id == lead.id, models.LeadScore.ruleset_id == primary))
    )
    ranked = ranked.where(*where)
    page = session.execute(ranked.order_by(score.desc(), lead.id).limit(limit).offset(offset)).all()
    if page:
        total = int(page[0].total)
    else:  # past the last page: count alone
        total = session.scalar(select(func.count()).select_from(ranked.with_only_columns(lead.id).subquery())) or 0
    details = {r.id: r for r in session.execute(
        select(lead.id, lead.first_name, lead.last_name, lead.email, lead.metadata_, lead.fit_score,
               account.id.label("account_id"), account.name, account.domain,
               account.metadata_.label("account_profile"))
        .outerjoin(account, and_(account.id == lead.account_id, account.unit_id == tenant.unit_id))
        .where(lead.unit_id == tenant.unit_id, lead.id.in_([p.id for p in page]))
    )}
    rows = [(details[p.id], int(p.score)) for p in page if p.id in details]
    bands = level_service.load_levels(session, tenant)
    model = published_model(session, tenant) if rows else None
    data = []
    for r, points in rows:
        profile = r.metadata_ or {}
        level = level_service.level_for_score(points, bands)
        data.append({
            "id": r.id, "first_name": r.first_name, "last_name": r.last_name, "email": r.email,
            "title": core.first_text(profile, core.TITLE_PROPERTIES),
            "country": core.country_of(profile) or core.country_of(r.account_profile),
            "profile_url": core.first_text(profile, core.PROFILE_URL_PROPERTIES),
            "score": points, "level": level["name"] if level else None,
            "fit_score": int(r.fit_score or 0),
            "fit_level": fit_level(model, "profile", r.fit_score) if model is not None else None,
            "account": None if r.account_id is None else {"id": r.account_id, "name": r.name, "domain": r.domain},
        })
    return {"data": data, "meta": {"total": total, "limit": limit, "offset": offset}}
