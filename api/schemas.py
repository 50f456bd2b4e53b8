"""Request and response models shared by the routers. Inputs forbid unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.responses import ErrorBody
from api.types import UtcDatetime

AliasKind = Literal["email", "phone", "external_id", "cookie", "social"]
PropertyValue = str | int | float | bool | None


class InModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- signals -------------------------------------------------------------------------------------------------------


class AttributesIn(BaseModel):
    """Unknown fields are kept as attributes (lead or account metadata) instead of being refused."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    def attributes(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SignalAccountIn(AttributesIn):
    id: str | None = None
    domain: str | None = Field(default=None, max_length=2048)
    name: str | None = Field(default=None, max_length=300)


class SignalContactIn(AttributesIn):
    id: str | None = None
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=512)


class SignalIn(InModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "demo_request",
                    "contact": {"email": "ann@acme.com", "first_name": "Ann", "title": "CTO"},
                    "account": {"domain": "acme.com", "name": "Acme"},
                    "source": "website",
                    "properties": {"page": "/pricing"},
                    "occurred_at": "2026-10-01T09:00:00Z",
                }
            ]
        },
    )
    type: str = Field(min_length=1, max_length=200)
    account: SignalAccountIn | None = None
    contact: SignalContactIn | None = None
    source: str | None = Field(default=None, max_length=200)
    properties: dict[str, PropertyValue] = Field(default_factory=dict)
    occurred_at: UtcDatetime | None = None


# --- events --------------------------------------------------------------------------------------------------------


class AliasIn(InModel):
    alias_kind: AliasKind
    raw_value: str = Field(min_length=1, max_length=512)


class EventIn(InModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "aliases": [{"alias_kind": "email", "raw_value": "ann@acme.com"}],
                    "event_type": "page_view",
                    "timestamp": "2026-10-01T09:00:00Z",
                    "metadata": {"utm_campaign": "fall2026"},
                }
            ]
        },
    )
    lead_id: str | None = None
    aliases: list[AliasIn] = Field(default_factory=list, max_length=20)
    alias_kind: AliasKind | None = Field(
        default=None, description="Deprecated. Use aliases.", json_schema_extra={"deprecated": True}
    )
    alias: str | None = Field(
        default=None, description="Deprecated. Use aliases.", json_schema_extra={"deprecated": True}
    )
    event_type: str = Field(min_length=1, max_length=200)
    timestamp: UtcDatetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class BatchIn(InModel):
    # Items are validated one by one so a bad item is reported with its index and the rest still land.
    events: list[dict[str, Any]] = Field(min_length=1)


# --- CRM events ----------------------------------------------------------------------------------------------------


class ContactPoint(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    value: str = Field(min_length=1, max_length=320)
    isPrimary: bool = False


class CrmPersonIn(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    firstName: str | None = Field(default=None, max_length=200)
    lastName: str | None = Field(default=None, max_length=200)
    emails: list[str | ContactPoint] = Field(default_factory=list, max_length=20)
    phones: list[str | ContactPoint] = Field(default_factory=list, max_length=20)


class CrmCompanyIn(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    id: str | None = None
    name: str | None = Field(default=None, max_length=300)
    website: str | None = Field(default=None, max_length=2048)
    domain: str | None = Field(default=None, max_length=2048)


class CrmEventIn(BaseModel):
    """Top-level fields beyond these (pageUrl, property, propertySearch, ...) become event metadata."""

    model_config = ConfigDict(
        extra="allow",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "meeting_booked",
                    "person": {"firstName": "Ann", "emails": [{"value": "ann@acme.com", "isPrimary": True}]},
                    "company": {"name": "Acme", "website": "https://acme.com"},
                    "occurredAt": "2026-10-01T09:00:00Z",
                }
            ]
        },
    )
    type: str = Field(min_length=1, max_length=200)
    personId: str | None = None
    person: CrmPersonIn | None = None
    company: CrmCompanyIn | None = None
    message: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    occurredAt: UtcDatetime | None = None

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_object(cls, value: Any) -> Any:
        return {} if value is None else value


# --- responses -----------------------------------------------------------------------------------------------------
# Output models document every field a client gets; FastAPI filters a route's result through them.


class OutModel(BaseModel):
    pass


class LevelRef(OutModel):
    id: str
    name: str


FIT_SCORE_DESCRIPTION = "fit score in the primary enabled fit ruleset (0 without one): its matching rules' weights"
FIT_SCORES_DESCRIPTION = "fit score per enabled fit ruleset id"
FIT_LEVEL_DESCRIPTION = "name of the fit level the fit score falls in; null without fit levels (or outside them)"


class FitFields(OutModel):
    fit_score: int = Field(description=FIT_SCORE_DESCRIPTION)
    fit_scores: dict[str, int] = Field(description=FIT_SCORES_DESCRIPTION)
    fit_level: str | None = Field(description=FIT_LEVEL_DESCRIPTION)


class FitReasonOut(OutModel):
    """A profile fit rule the lead's profile matches."""

    rule_id: str
    ruleset_id: str
    profile_property: str
    condition: str
    comparison_value: str
    weight: int


class AccountFitReasonOut(OutModel):
    """An account fit rule the account's profile matches."""

    rule_id: str
    ruleset_id: str
    account_property: str
    condition: str
    comparison_value: str
    weight: int


class LeadAccountRef(OutModel):
    id: str
    name: str | None
    domain: str | None


class LeadListItem(FitFields):
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    account: LeadAccountRef | None
    score: int = Field(description="score in the unit's primary ruleset (0 without a score yet)")
    scores: dict[str, int] = Field(description="score per ruleset id")
    level: LevelRef | None
    last_activity_at: datetime | None
    created_at: datetime


class LeadPageOut(OutModel):
    leads: list[LeadListItem]
    total: int
    page: int
    limit: int


class AliasOut(OutModel):
    alias_kind: str
    value: str
    raw_value: str | None
    is_primary: bool


class LeadOut(FitFields):
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    account_id: str | None
    score: int
    scores: dict[str, int]
    level: LevelRef | None
    aliases: list[AliasOut]
    metadata: dict[str, Any]
    last_activity_at: datetime | None
    created_at: datetime
    updated_at: datetime | None
    merged_into: str | None
    fit_reasons: list[FitReasonOut] = Field(description="the primary profile fit ruleset's rules the profile matches")


class LeadAccountOut(OutModel):
    id: str
    name: str | None
    domain: str | None
    metadata: dict[str, Any]
    last_activity_at: datetime | None
    created_at: datetime
    score: int | None = Field(
        description="the account's engagement score in the primary ruleset (as GET /v1/accounts/{id}); null while "
        "abm_enabled is off"
    )
    level: LevelRef | None = Field(
        description="the engagement level of that score; null outside the levels or while abm_enabled is off"
    )
    fit_score: int | None = Field(description="the account's fit score (primary account fit ruleset); null while "
                                  "abm_enabled is off")
    fit_level: str | None = Field(
        description="the name of the account's fit level; null outside the fit levels or while abm_enabled is off"
    )


class LeadDetailOut(OutModel):
    lead: LeadOut
    account: LeadAccountOut | None = Field(description="the lead's account; null when it has none")


class LeadAliasOut(AliasOut):
    created_at: datetime


class LeadAccountLinkOut(OutModel):
    lead_id: str
    account: LeadAccountOut | None = Field(description="the lead's account; null when it has none")


class MatchedAliasOut(OutModel):
    alias_kind: str
    raw_value: str


class LeadSearchHitOut(OutModel):
    lead_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    account_id: str | None
    score: int = Field(description="the primary ruleset's score")
    matched: MatchedAliasOut | None = Field(description="the alias that matched; null when the id did")


class LeadBatchScoreOut(OutModel):
    lead_id: str
    score: int


class LeadScoreOut(FitFields):
    lead_id: str
    score: int = Field(description="the given ruleset's score; without ruleset_id, the highest across rulesets")
    ruleset_id: str | None = Field(description="the ruleset the score is from; null when the lead has no score")
    scores: dict[str, int] = Field(description="score per ruleset id")
    level: LevelRef | None = Field(description="engagement level of the score")


class DriverOut(OutModel):
    rule_id: str
    event_type: str
    points: int = Field(description="the rule's weight summed over the lead's events in the window it matched")
    count: int = Field(description="how many of those events it matched")


class RuleWeightOut(OutModel):
    rule_id: str
    event_type: str
    weight: int
    conditions: list[dict[str, Any]] | None = Field(description="the rule's conditions; null when it has none")
    active: bool = Field(description="switched on and inside its start_at/end_at window now")


class SurgeBoostOut(OutModel):
    event_id: str
    event_type: str
    occurred_at: datetime
    multiplier: float = Field(description="the surge multiplier the event was scored with")
    boost: int = Field(description="the points the surge added to the primary score through this event")


class ScoreExplanationOut(OutModel):
    top_drivers: list[DriverOut] = Field(
        description="the primary ruleset's rules that gave the lead the most points in the window, at most 10"
    )
    snapshot: list[RuleWeightOut] = Field(description="the primary ruleset's rule weights in force now")
    surge_boost: list[SurgeBoostOut] = Field(
        description="the lead's events in the window scored inside a surge (multiplier above 1.0), oldest first"
    )
    surge_total: int = Field(description="the points surge added to the primary score in the window")
    surge_event_count: int = Field(description="how many of the lead's events in the window were boosted")
    decay_applied: int = Field(description="points decay took off the primary score in the window: 0 or negative")
    range_hours: int


class EventOut(OutModel):
    id: str
    lead_id: str | None
    account_id: str | None
    event_type: str
    channel: str | None
    source: str | None
    timestamp: datetime
    received_at: datetime
    metadata: dict[str, Any]
    score_delta: int = Field(description="points in the primary ruleset")
    quarantined: bool = Field(description="held back by an inorganic filter: scores nothing, fires nothing")
    quarantine_filter_id: str | None = Field(description="the filter holding it back (or `bot_user_agent`)")
    quarantine_reason: str | None


class ExplainedRule(OutModel):
    rule_id: str | None
    event_type: str | None
    weight: int | None


class RulesetExplanation(OutModel):
    ruleset_id: str
    name: str | None
    is_primary: bool
    delta: int
    before: int | None
    after: int | None
    rules: list[ExplainedRule]


class ExplanationOut(OutModel):
    event_id: str
    lead_id: str | None
    event_type: str
    occurred_at: datetime
    rulesets: list[RulesetExplanation]


class IngestedEventOut(OutModel):
    id: str
    lead_id: str | None
    account_id: str | None
    event_type: str
    channel: str | None
    timestamp: datetime
    received_at: datetime
    metadata: dict[str, Any]
    score_delta: int
    lead_created: bool


class EventIngestOut(OutModel):
    message: str
    event: IngestedEventOut
    metadata: dict[str, Any]
    lead_id: str | None
    score: int = Field(description="the lead's score in the primary ruleset after the event")
    scores: dict[str, int]
    primary_ruleset_id: str | None


class BatchItemOut(OutModel):
    """One item of a batch: `status` ingested with the fields of a single ingest, or rejected with `error`."""

    index: int
    status: Literal["ingested", "rejected"]
    error: ErrorBody | None = None
    message: str | None = None
    event: IngestedEventOut | None = None
    metadata: dict[str, Any] | None = None
    lead_id: str | None = None
    score: int | None = None
    scores: dict[str, int] | None = None
    primary_ruleset_id: str | None = None


class BatchOut(OutModel):
    ingested: int
    rejected: int
    results: list[BatchItemOut]


class SignalAccountOut(OutModel):
    id: str
    domain: str | None
    name: str | None
    score: int


class SignalContactOut(OutModel):
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    score: int


class SignalOut(OutModel):
    id: str
    type: str
    account: SignalAccountOut | None
    contact: SignalContactOut | None
    score: int
    source: str | None
    properties: dict[str, Any]
    occurred_at: datetime
    created_at: datetime


class SignalMeta(OutModel):
    request_id: str
    timestamp: datetime


class SignalCreatedOut(OutModel):
    data: SignalOut
    meta: SignalMeta


class SignalListMeta(SignalMeta):
    next_cursor: str | None
    total: int


class SignalListOut(OutModel):
    data: list[SignalOut]
    meta: SignalListMeta


class CrmContactPointOut(OutModel):
    value: str
    isPrimary: bool


class CrmEventOut(OutModel):
    id: str
    eventType: str
    personId: str | None
    companyId: str | None
    occurredAt: datetime
    createdAt: datetime
    metadata: dict[str, Any]
    score: int


class CrmPersonOut(OutModel):
    id: str | None
    firstName: str | None
    lastName: str | None
    emails: list[CrmContactPointOut]
    phones: list[CrmContactPointOut]
    companyId: str | None
    score: int


class CrmCompanyOut(OutModel):
    id: str
    name: str | None
    domain: str | None
    score: int


class CrmEventCreatedOut(OutModel):
    event: CrmEventOut
    person: CrmPersonOut
    wasPersonCreated: bool
    company: CrmCompanyOut | None = Field(default=None, description="present when the request named a company")
    wasCompanyCreated: bool | None = Field(default=None, description="present when the request named a company")


class AccountListItem(FitFields):
    id: str
    domain: str | None
    name: str | None
    score: int = Field(description="the account's engagement score in the primary ruleset")
    scores: dict[str, int]
    level: LevelRef | None = Field(description="the engagement level of the account's score")
    top_score: int = Field(description="the highest primary score among the account's leads")
    leads_count: int
    owner_name: str | None = Field(
        description="`owner_name` of the top-scoring lead's profile (ties: the lowest lead id); null without one"
    )
    surging: bool = Field(
        description="a lead of the account had a boosted event (surge multiplier above 1.0) or a surge trigger "
        "firing in the last 24 hours"
    )
    last_activity_at: datetime | None
    created_at: datetime


class AccountPageOut(OutModel):
    accounts: list[AccountListItem]
    total: int
    page: int
    limit: int


class AccountLeadOut(OutModel):
    lead_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    score: int = Field(description="the lead's primary engagement score")
    level: LevelRef | None = Field(description="the lead's engagement level")
    fit_score: int = Field(description=FIT_SCORE_DESCRIPTION)
    fit_level: str | None = Field(description=FIT_LEVEL_DESCRIPTION)
    last_activity_at: datetime | None


class AccountDetailOut(FitFields):
    account_id: str
    org_id: str
    domain: str | None
    name: str | None
    metadata: dict[str, Any] = Field(description="the account's profile")
    score: int = Field(description="the account's engagement score in the primary ruleset")
    scores: dict[str, int]
    level: LevelRef | None = Field(description="the engagement level of the account's score")
    top_score: int = Field(description="the highest primary score among the account's leads")
    leads_count: int
    fit_reasons: list[AccountFitReasonOut] = Field(
        description="the primary account fit ruleset's rules the account's profile matches"
    )
    leads: list[AccountLeadOut] = Field(description="the account's leads, highest score first")
    recent_events: list[EventOut] = Field(description="the account's latest events, newest first (20 by default)")
    last_activity_at: datetime | None
    created_at: datetime


class AccountBatchDeleteOut(OutModel):
    unlinked_leads: int = Field(description="leads of this unit that were linked to one of the accounts")
    deleted_accounts: int = Field(description="accounts deleted (no lead referenced them any more)")


# --- lead create and edit (services.people.lead_profiles) -----------------------------------------------------------


class LeadRecordOut(FitFields):
    id: str
    org_id: str
    unit_id: str
    account_id: str | None
    owner_id: str | None = Field(description="`owner_id` of the lead's profile; null without one")
    owner_name: str | None = Field(description="`owner_name` of the lead's profile; null without one")
    created_at: datetime
    updated_at: datetime | None
    merged_into: str | None
    metadata: dict[str, Any] = Field(description="the lead's profile")


class LeadMetadataOut(OutModel):
    id: str
    org_id: str
    unit_id: str
    metadata: dict[str, Any] = Field(description="the lead's profile after the change")


class LeadProfileOut(FitFields):
    lead_id: str
    metadata: dict[str, Any] = Field(description="the lead's profile")
    fit_reasons: list[FitReasonOut] = Field(description="the primary profile fit ruleset's rules the profile matches")


class RulesetOut(OutModel):
    id: str
    ruleset_id: str
    name: str
    score_column: str
    is_primary: bool
    rule_count: int
    created_at: datetime
    updated_at: datetime


class RuleOut(OutModel):
    id: str
    rule_id: str
    ruleset_id: str
    event_type: str
    weight: int
    icon: str | None
    active: bool
    start_at: datetime | None
    end_at: datetime | None
    conditions: list[Any]
    created_at: datetime | None
    updated_at: datetime | None
    created_by: str | None
    updated_by: str | None


class LevelOut(OutModel):
    id: str
    stage_id: str = Field(description="the reference document's name for id")
    name: str
    min_score: int
    max_score: int


class DecayOut(OutModel):
    decay_id: str
    inactive_for: int
    unit: str
    decrease: int
    created_at: datetime
    updated_at: datetime


class ScoringSettingsOut(OutModel):
    allow_negative_scores: bool
    abm_enabled: bool
    session_timeout_minutes: int
    bot_filter_enabled: bool = Field(description="events whose metadata.user_agent is a known crawler are quarantined")
    updated_at: datetime | None


# --- scoring versions ----------------------------------------------------------------------------------------------
# The published model document (core.model.ScoringModel.to_document) and the diff of two versions.


class RulesetDocument(OutModel):
    id: str
    name: str
    score_column: str
    is_primary: bool


class RuleDocument(OutModel):
    id: str
    ruleset_id: str
    event_type: str
    weight: int
    icon: str | None
    active: bool
    start_at: datetime | None
    end_at: datetime | None
    conditions: list[dict[str, Any]]


class LevelDocument(OutModel):
    id: str
    name: str
    min_score: int
    max_score: int


class DecayDocument(OutModel):
    id: str
    inactive_for: int
    unit: str
    decrease: int


class SettingsDocument(OutModel):
    allow_negative_scores: bool
    abm_enabled: bool
    session_timeout_minutes: int
    bot_filter_enabled: bool


class MappingDocument(OutModel):
    id: str
    kind: Literal["profile", "account"]
    source_field: str
    property: str
    update_behavior: str


class FitRulesetDocument(OutModel):
    id: str
    kind: Literal["profile", "account"]
    name: str
    enabled: bool
    is_primary: bool


class FitRuleDocument(OutModel):
    id: str
    ruleset_id: str
    property: str
    condition: str
    comparison_value: str
    weight: int
    ui_order: int


class FitLevelDocument(OutModel):
    id: str
    kind: Literal["profile", "account"]
    name: str
    min_score: int
    max_score: int


class FilterDocument(OutModel):
    id: str
    event_type: str
    count_threshold: int
    time_window_ms: int
    group_events: bool


class EventTypeScopeDocument(OutModel):
    id: str = Field(description="the event type")
    scope: Literal["observe", "decide", "activate"] = Field(
        description="its processing scope (types at the default, activate, are not listed)"
    )


class SurgeBandDocument(OutModel):
    min_events: int
    multiplier: float


class SurgeDocument(OutModel):
    mode: Literal["off", "standard", "gentle", "custom"]
    bands: list[SurgeBandDocument] = Field(description="the bands in effect: the preset's for standard and gentle")
    idle_reset_seconds: int
    multiplier_cap: float


class ScoringModelDocument(OutModel):
    """Every part of core.model.ScoringModel.to_document (tests/api/test_scoring_versions.py checks the keys)."""

    model_config = ConfigDict(populate_by_name=True)
    document_schema: int = Field(alias="schema", description="the document format's version")
    rulesets: list[RulesetDocument]
    rules: list[RuleDocument]
    levels: list[LevelDocument]
    decay_rules: list[DecayDocument]
    settings: SettingsDocument
    mappings: list[MappingDocument] = Field(description="field mappings (kind profile or account)")
    fit_rulesets: list[FitRulesetDocument]
    fit_rules: list[FitRuleDocument]
    fit_levels: list[FitLevelDocument]
    filters: list[FilterDocument] = Field(description="inorganic (burst) filters")
    event_type_scopes: list[EventTypeScopeDocument] = Field(
        description="event types whose processing scope is not the default (activate)"
    )
    surge: SurgeDocument = Field(description="the surge (session) policy")


class ScoringVersionOut(OutModel):
    version: int
    published_at: datetime
    published_by: str | None = Field(description="who published it; null for versions the system recorded")
    summary: str
    live: bool = Field(description="the version whose scores are stored")


class ScoringVersionDetailOut(ScoringVersionOut):
    model: ScoringModelDocument = Field(description="the whole scoring configuration as it was published")


class FieldChange(OutModel):
    before: Any
    after: Any


class RulesetChange(OutModel):
    ruleset_id: str
    name: str
    changes: dict[str, FieldChange]


class RuleChange(OutModel):
    rule_id: str
    name: str = Field(description="the rule's event type")
    changes: dict[str, FieldChange]


class LevelChange(OutModel):
    level_id: str
    name: str
    changes: dict[str, FieldChange]


class DecayChange(OutModel):
    decay_id: str
    name: str = Field(description="the decay rule's terms, e.g. \"-5 after 7 days\"")
    changes: dict[str, FieldChange]


class RulesetsDiff(OutModel):
    added: list[RulesetDocument]
    removed: list[RulesetDocument]
    changed: list[RulesetChange]


class RulesDiff(OutModel):
    added: list[RuleDocument]
    removed: list[RuleDocument]
    changed: list[RuleChange]


class LevelsDiff(OutModel):
    added: list[LevelDocument]
    removed: list[LevelDocument]
    changed: list[LevelChange]


class DecayRulesDiff(OutModel):
    added: list[DecayDocument]
    removed: list[DecayDocument]
    changed: list[DecayChange]


class MappingChange(OutModel):
    mapping_id: str
    name: str = Field(description="source field → property")
    changes: dict[str, FieldChange]


class MappingsDiff(OutModel):
    added: list[MappingDocument]
    removed: list[MappingDocument]
    changed: list[MappingChange]


class FitRulesetsDiff(OutModel):
    added: list[FitRulesetDocument]
    removed: list[FitRulesetDocument]
    changed: list[RulesetChange]


class FitRuleChange(OutModel):
    rule_id: str
    name: str = Field(description="the rule's test, e.g. \"title contains vp\"")
    changes: dict[str, FieldChange]


class FitRulesDiff(OutModel):
    added: list[FitRuleDocument]
    removed: list[FitRuleDocument]
    changed: list[FitRuleChange]


class FitLevelsDiff(OutModel):
    added: list[FitLevelDocument]
    removed: list[FitLevelDocument]
    changed: list[LevelChange]


class FilterChange(OutModel):
    filter_id: str
    name: str = Field(description="the filter's terms, e.g. \"5x page_view in 60000 ms\"")
    changes: dict[str, FieldChange]


class FiltersDiff(OutModel):
    added: list[FilterDocument]
    removed: list[FilterDocument]
    changed: list[FilterChange]


class EventTypeScopeChange(OutModel):
    event_type: str
    name: str = Field(description="the event type")
    changes: dict[str, FieldChange]


class EventTypeScopesDiff(OutModel):
    added: list[EventTypeScopeDocument] = Field(description="types given a scope other than activate")
    removed: list[EventTypeScopeDocument] = Field(description="types set back to activate")
    changed: list[EventTypeScopeChange]


class ScoringVersionDiffOut(OutModel):
    """Every part of core.model.diff (tests/api/test_scoring_versions.py checks the keys)."""

    version: int
    against: int = Field(description="the version compared with; 0: nothing (version 1 against an empty model)")
    rules: RulesDiff
    rulesets: RulesetsDiff
    levels: LevelsDiff
    decay_rules: DecayRulesDiff
    mappings: MappingsDiff
    fit_rulesets: FitRulesetsDiff
    fit_rules: FitRulesDiff
    fit_levels: FitLevelsDiff
    filters: FiltersDiff
    event_type_scopes: EventTypeScopesDiff
    settings: dict[str, FieldChange]
    surge: dict[str, FieldChange] = Field(description="changed fields of the surge policy, e.g. mode or bands")


# --- what-if (POST /v1/scoring/simulate): shared by the engagement and the fit parts of its answer ---------------


class LevelChangeOut(OutModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from", description="level now (null: no level)")
    to: str | None = Field(description="level under the draft (null: no level)")
    count: int


class BinOut(OutModel):
    min: int
    max: int
    count: int


class DistributionOut(OutModel):
    bins: list[BinOut]


class HealthOut(OutModel):
    status: Literal["ok"]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
