"""The research API (reference: signals-research-api) over Leadvane's own data, with an optional enrichment provider.

- GET /v1/research/signals, /v1/research/signals/{signal_id}: a company's signals (domain or Leadvane account id).
- GET /v1/research/contact-signals, /v1/research/contact-signals/{signal_id}: a contact's (by profile URL).
- POST /v1/research/contacts: an asynchronous contact research job (services.integrations.research_jobs); GET it
  by id, or by external_id and source.
- POST /v1/research/contacts/search: the unit's leads by company, name, titles, keywords, countries, by score.
- GET /v1/research/webhook-secret: the secret that signs research completion webhooks.

As the reference says, invalid parameters and bodies are 400 here (not 422) with the error envelope naming the
field; 422 is kept for a LinkedIn company URL that cannot be read. The two POSTs count against the unit's
research rate limit (429 with Retry-After).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from api.deps import DatabaseDep, Now, ReadSession, get_limited_tenant, run_write
from api.errors import describe_validation_errors, error_response
from api.permissions import IntegrationManager, Reader, Researcher
from api.ratelimit import apply_research_limit
from api.research_schemas import (
    ContactResearchIn,
    ContactResearchOut,
    ContactSearchIn,
    ContactSearchOut,
    ResearchSignalListOut,
    ResearchSignalOut,
    WebhookSecretOut,
)
from api.responses import error_responses as errors
from api.types import UtcDatetime
from core.research import DOMAIN_PATTERN, UUID_PATTERN
from services.context import Tenant
from services.errors import InvalidInput
from services.integrations import research, research_jobs, research_search


class ResearchRoute(APIRoute):
    """Invalid parameters and bodies answer 400 `bad_request` (the reference's status), naming the field."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                _status, code, message = describe_validation_errors(list(exc.errors()))
                return error_response(request, 400, "bad_request" if code == "validation_error" else code, message)
            except InvalidInput as exc:
                return error_response(request, 400, "bad_request", exc.message)

        return handle


router = APIRouter(tags=["research"], route_class=ResearchRoute)


async def research_limit(request: Request, tenant: Annotated[Tenant, Depends(get_limited_tenant)]) -> None:
    """Counts the request against the unit's research limit (the route's own typed tenant decides permission)."""
    await apply_research_limit(request, tenant)


Limited = [Depends(research_limit)]
SignalId = Annotated[str, Path(pattern=UUID_PATTERN, max_length=36, description="the signal's id (UUID)",
                               examples=["e45c1dc4-d422-4b51-956b-cb6d3ddaf250"])]
Limit = Annotated[int, Query(ge=1, le=research.MAX_LIMIT, description="results per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="results to skip")]


@router.get("/v1/research/signals", response_model=ResearchSignalListOut, summary="List a company's signals",
            responses=errors(400, 401, 403))
def list_signals(
    tenant: Reader,
    session: ReadSession,
    domain: Annotated[str | None, Query(max_length=253, pattern=DOMAIN_PATTERN,
                                        description="the company's domain, e.g. acme.com")] = None,
    company_id: Annotated[str | None, Query(max_length=64, description="the Leadvane account id")] = None,
    limit: Limit = 25,
    offset: Offset = 0,
    from_: Annotated[UtcDatetime | None, Query(alias="from", description="occurred on or after (RFC 3339)")] = None,
    to: Annotated[UtcDatetime | None, Query(description="occurred on or before (RFC 3339)")] = None,
) -> dict[str, Any]:
    """Signals of one company (exactly one of `domain` and `company_id`), newest first. System events (profile
    changes, decay) are not signals; quarantined events are included with `quarantined: true`."""
    return research.company_signals(session, tenant, domain=domain, company_id=company_id, limit=limit,
                                    offset=offset, from_=from_, to=to)


@router.get("/v1/research/signals/{signal_id}", response_model=ResearchSignalOut, summary="Get a signal",
            responses=errors(400, 401, 403, 404))
def get_signal(signal_id: SignalId, tenant: Reader, session: ReadSession) -> dict[str, Any]:
    """One signal by its UUID; 404 "signal not found or access denied" for another unit's."""
    return research.get_signal(session, tenant, signal_id)


@router.get("/v1/research/contact-signals", response_model=ResearchSignalListOut,
            summary="List a contact's signals", responses=errors(400, 401, 403))
def list_contact_signals(
    tenant: Reader,
    session: ReadSession,
    profile_url: Annotated[str, Query(min_length=1, max_length=2048,
                                      description="the contact's profile URL (LinkedIn or other)")],
    limit: Limit = 25,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Signals of the lead whose `social` alias or profile URL property is `profile_url` (LinkedIn forms
    normalised: scheme, www./country subdomains, trailing slash, query, case of /in/<slug>), newest first."""
    return research.contact_signals(session, tenant, profile_url=profile_url, limit=limit, offset=offset)


@router.get("/v1/research/contact-signals/{signal_id}", response_model=ResearchSignalOut,
            summary="Get a contact signal", responses=errors(400, 401, 403, 404))
def get_contact_signal(signal_id: SignalId, tenant: Reader, session: ReadSession) -> dict[str, Any]:
    return research.get_signal(session, tenant, signal_id, contact=True)


@router.post("/v1/research/contacts", status_code=201, response_model=ContactResearchOut,
             summary="Start contact research", dependencies=Limited, responses=errors(400, 401, 403, 429))
def create_contact_research(body: ContactResearchIn, tenant: Researcher, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """An asynchronous job: matches the person to a lead (profile URL, then name and company; an email the
    enrichment provider finds), compiles what Leadvane knows, asks the enrichment provider when one is configured,
    and ends `completed` or `not_found`; then POSTs a signed webhook to `webhook_url`."""
    fields = body.model_dump()
    research.check_webhook_url(body.webhook_url)  # DNS before the write transaction
    start = research_jobs.starter(db)
    return run_write(db, lambda s: research.create_request(s, tenant, fields, now, start))


@router.get("/v1/research/contacts", response_model=ContactResearchOut,
            summary="Get contact research by external id", responses=errors(400, 401, 403, 404))
def find_contact_research(
    tenant: Reader,
    session: ReadSession,
    external_id: Annotated[str | None, Query(max_length=200, description="e.g. hubspot_12345")] = None,
    source: Annotated[str | None, Query(max_length=100, description="e.g. hubspot")] = None,
) -> dict[str, Any]:
    """The newest research request with this external id from this source (both required)."""
    if not external_id:
        raise InvalidInput("query parameter external_id", "required")
    if not source:
        raise InvalidInput("query parameter source", "required")
    return research.find_request(session, tenant, external_id=external_id, source=source)


@router.get("/v1/research/contacts/{id}", response_model=ContactResearchOut, summary="Get contact research",
            responses=errors(400, 401, 403, 404))
def get_contact_research(
    id: Annotated[str, Path(max_length=64, description="cr_...")], tenant: Reader, session: ReadSession,
) -> dict[str, Any]:
    return research.get_request(session, tenant, id)


@router.post("/v1/research/contacts/search", response_model=ContactSearchOut, summary="Search contacts",
             dependencies=Limited, responses=errors(400, 401, 403, 422, 429))
def search_contacts(body: ContactSearchIn, tenant: Reader, session: ReadSession, now: Now) -> dict[str, Any]:
    """The unit's leads matching every criterion given, highest engagement score first. 422 when
    `company_linkedin_url` is not a LinkedIn company URL."""
    keywords = body.keywords.split(",") if isinstance(body.keywords, str) else body.keywords
    return research_search.search_contacts(
        session, tenant, company_linkedin_url=body.company_linkedin_url, first_name=body.first_name,
        last_name=body.last_name, job_titles=body.job_titles, keywords=keywords, countries=body.countries,
        limit=body.limit, offset=body.offset, now=now,
    )


@router.get("/v1/research/webhook-secret", response_model=WebhookSecretOut,
            summary="Get the research webhook signing secret", responses=errors(401, 403))
def get_webhook_secret(tenant: IntegrationManager, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """The unit's secret (created on first use) that signs research completion webhooks: verify them the
    Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature)."""
    return {"secret": run_write(db, lambda s: research.webhook_secret(s, tenant, now))}
