"""Schemas of the research routes (reference: signals-research-api): signals, contact research, contact search."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictInt

from api.schemas import InModel, OutModel
from api.types import Timestamp
from core.research import DOMAIN_PATTERN
from services.integrations.research_search import MAX_LIMIT as SEARCH_MAX_LIMIT
from services.integrations.research_search import MAX_TERMS

ResearchStatus = Literal["pending", "completed", "not_found", "failed"]


# --- signals -------------------------------------------------------------------------------------------------------


class ResearchAccountOut(OutModel):
    id: str = Field(description="the Leadvane account id (the company_id filter)")
    domain: str | None
    name: str | None
    score: int


class ResearchContactOut(OutModel):
    id: str = Field(description="the Leadvane lead id")
    email: str | None
    first_name: str | None
    last_name: str | None
    score: int


class ResearchSignalOut(OutModel):
    id: str = Field(description="the signal's id (UUID form of its event id)")
    type: str
    account: ResearchAccountOut | None
    contact: ResearchContactOut | None
    score: int = Field(description="what the signal added to the lead's score (primary ruleset)")
    source: str | None
    properties: dict[str, Any]
    occurred_at: Timestamp
    created_at: Timestamp = Field(description="when Leadvane received it")
    quarantined: bool = Field(description="held back by a bot or burst filter: it scored nothing")


class PageMeta(OutModel):
    total: int
    limit: int
    offset: int


class ResearchSignalListOut(OutModel):
    data: list[ResearchSignalOut]
    meta: PageMeta


# --- contact research ----------------------------------------------------------------------------------------------


class ContactResearchIn(InModel):
    first_name: str | None = Field(default=None, max_length=200, examples=["John"])
    last_name: str | None = Field(default=None, max_length=200, examples=["Doe"])
    company_name: str | None = Field(default=None, max_length=300, examples=["Acme Corp"])
    company_domain: str | None = Field(default=None, max_length=253, pattern=DOMAIN_PATTERN, examples=["acme.com"])
    profile_url: str | None = Field(default=None, max_length=2048, examples=["https://linkedin.com/in/johndoe"])
    sales_navigator_url: str | None = Field(default=None, max_length=2048,
                                            examples=["https://www.linkedin.com/sales/lead/ACwAAABcD,NAME_SEARCH,x1"])
    job_title: str | None = Field(default=None, max_length=300, examples=["VP of Sales"])
    webhook_url: str | None = Field(default=None, max_length=2048,
                                    description="POSTed a signed webhook (Standard Webhooks) when the research ends",
                                    examples=["https://myapp.com/webhooks/contact-research"])
    external_id: str | None = Field(default=None, max_length=200, description="your id of the contact",
                                    examples=["hubspot_12345"])
    source: str | None = Field(default=None, max_length=100, description="the system that owns external_id",
                               examples=["hubspot"])


class AliasOut(OutModel):
    kind: str
    value: str
    is_primary: bool


class ContactOut(OutModel):
    """A lead as the research API shows a person."""

    id: str = Field(description="the Leadvane lead id")
    first_name: str | None
    last_name: str | None
    email: str | None
    title: str | None
    country: str | None
    profile_url: str | None


class ResearchedContactOut(ContactOut):
    aliases: list[AliasOut]
    profile: dict[str, Any]


class SearchAccountOut(OutModel):
    id: str
    name: str | None
    domain: str | None


class ResearchedAccountOut(SearchAccountOut):
    profile: dict[str, Any]


class ResearchScoresOut(OutModel):
    score: int = Field(description="engagement score (primary ruleset)")
    level: str | None
    fit_score: int
    fit_level: str | None


class SegmentRefOut(OutModel):
    id: str
    name: str


class EnrichmentOut(OutModel):
    status: Literal["found", "not_found", "timeout", "error"]
    fields: dict[str, Any] = Field(description="what the provider returned")
    merged: list[str] = Field(default_factory=list,
                              description="profile properties changed through the unit's profile field mappings")
    reason: str | None = None


class ContactResearchOut(OutModel):
    id: str = Field(description="cr_...")
    status: ResearchStatus
    external_id: str | None
    source: str | None
    webhook_url: str | None
    request: dict[str, str] = Field(description="the fields the research was asked with (normalised)")
    created_at: Timestamp
    completed_at: Timestamp | None
    lead_id: str | None
    matched_by: Literal["profile_url", "name_and_company", "email"] | None
    contact: ResearchedContactOut | None
    account: ResearchedAccountOut | None
    scores: ResearchScoresOut | None
    recent_signals: list[ResearchSignalOut]
    segments: list[SegmentRefOut]
    enrichment: EnrichmentOut | None = Field(description="null when no enrichment provider is configured")
    error: str | None


class WebhookSecretOut(OutModel):
    secret: str = Field(description="verifies research completion webhooks (Standard Webhooks, whsec_...)")


# --- contact search ------------------------------------------------------------------------------------------------


class ContactSearchIn(InModel):
    company_linkedin_url: str | None = Field(default=None, max_length=2048,
                                             examples=["https://linkedin.com/company/google"])
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    job_titles: list[str] | None = Field(default=None, max_length=MAX_TERMS,
                                         examples=[["Engineering Manager", "VP Engineering"]])
    keywords: list[str] | str | None = Field(
        default=None, description="a list, or one comma-separated string", examples=["Kubernetes, DevOps"])
    countries: list[str] | None = Field(default=None, max_length=250, description="ISO 3166-1 alpha-2 codes",
                                        examples=[["US", "GB", "DE"]])
    limit: StrictInt = Field(default=25, ge=1, le=SEARCH_MAX_LIMIT)
    offset: StrictInt = Field(default=0, ge=0, le=1_000_000)


class SearchContactOut(ContactOut):
    score: int
    level: str | None
    fit_score: int
    fit_level: str | None
    account: SearchAccountOut | None


class ContactSearchOut(OutModel):
    data: list[SearchContactOut]
    meta: PageMeta
