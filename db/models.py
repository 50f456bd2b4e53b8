"""Typed SQLAlchemy models. Every tenant-owned row carries org_id and unit_id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.types import BigInt, BigIntPK, JSONType, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TenantMixin:
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"))


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("org_id", "slug"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))  # unique in the organization; derived from the name
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The unit's scoring model (services.scoring.model): the newest published version, and the version whose
    # scores are stored (and under which ingest scores). They differ while a publish rescores aside; 0 = the unit
    # predates versioning and nothing has been published yet (the model is read from the editing tables).
    scoring_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    scoring_live_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiKey(TenantMixin, Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    display_prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # What the key may do, decided by services.tenancy.policy (Owner | Operator | Viewer).
    role: Mapped[str] = mapped_column(String(20), default="Owner", server_default="Owner")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # "api_key" (a bearer sk_live_ secret) or "credential" (HTTP Basic client_id:client_secret, /v1/secrets);
    # for a credential key_hash is the hash of the client secret.
    kind: Mapped[str] = mapped_column(String(20), default="api_key", server_default="api_key")
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)


class User(Base):
    """A member of the organization (the reference's org member). What they may do in a unit comes from their
    UnitMembership there; `role` is their organization role (an organization Owner manages members and units)."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))  # display name: first and last name
    first_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # organization role: Owner | Operator | Viewer
    verified: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class UnitMembership(TenantMixin, Base):
    """A member's role in one unit (Owner | Operator | Viewer): the units a person may open and what they may do."""

    __tablename__ = "unit_memberships"
    __table_args__ = (UniqueConstraint("unit_id", "user_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Account(TenantMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("unit_id", "domain"),
        Index("ix_accounts_unit_name_key", "unit_id", "name_key"),
        Index("ix_accounts_unit_last_activity", "unit_id", "last_activity_at"),
        Index("ix_accounts_unit_fit_score", "unit_id", "fit_score"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    domain: Mapped[str | None] = mapped_column(String(253), nullable=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Fit (core.fit) over `metadata`, the account's profile: the primary account ruleset's score, and per ruleset.
    fit_score: Mapped[int] = mapped_column(BigInt, default=0, server_default="0")
    fit_scores: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)


class Lead(TenantMixin, Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_unit_last_activity", "unit_id", "last_activity_at"),
        Index("ix_leads_unit_account", "unit_id", "account_id"),
        Index("ix_leads_unit_email", "unit_id", "email"),
        Index("ix_leads_unit_fit_score", "unit_id", "fit_score"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ID, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    merged_into: Mapped[str | None] = mapped_column(ID, nullable=True)
    # Fit (core.fit) over `metadata`, the lead's profile: the primary profile ruleset's score, and per ruleset.
    fit_score: Mapped[int] = mapped_column(BigInt, default=0, server_default="0")
    fit_scores: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)


class LeadAlias(TenantMixin, Base):
    __tablename__ = "lead_aliases"
    __table_args__ = (UniqueConstraint("unit_id", "kind", "value"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ID, ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(512))
    raw_value: Mapped[str] = mapped_column(String(512))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Ruleset(TenantMixin, Base):
    __tablename__ = "rulesets"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    score_column: Mapped[str] = mapped_column(String(64), default="total_score")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Rule(TenantMixin, Base):
    __tablename__ = "rules"
    __table_args__ = (Index("ix_rules_unit_ruleset", "unit_id", "ruleset_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    ruleset_id: Mapped[str] = mapped_column(ID, ForeignKey("rulesets.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(200))
    weight: Mapped[int] = mapped_column(BigInt)
    icon: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ScoringSettings(Base):
    __tablename__ = "scoring_settings"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    allow_negative_scores: Mapped[bool] = mapped_column(Boolean, default=False)
    abm_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_timeout_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # The built-in bot filter: events whose metadata.user_agent is a known crawler are quarantined.
    bot_filter_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScoringVersion(TenantMixin, Base):
    """One published scoring model of a unit (core.model.ScoringModel as a document); kept forever."""

    __tablename__ = "scoring_versions"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[dict[str, Any]] = mapped_column(JSONType)


class LeadScore(TenantMixin, Base):
    __tablename__ = "lead_scores"
    __table_args__ = (Index("ix_lead_scores_unit_ruleset_score", "unit_id", "ruleset_id", "score"),)
    lead_id: Mapped[str] = mapped_column(ID, ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    ruleset_id: Mapped[str] = mapped_column(ID, ForeignKey("rulesets.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[int] = mapped_column(BigInt, default=0)


class AccountScore(TenantMixin, Base):
    __tablename__ = "account_scores"
    __table_args__ = (Index("ix_account_scores_unit_ruleset_score", "unit_id", "ruleset_id", "score"),)
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    ruleset_id: Mapped[str] = mapped_column(ID, ForeignKey("rulesets.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[int] = mapped_column(BigInt, default=0)


class Event(TenantMixin, Base):
    """The event log. `seq` is the ingestion order that replay follows; `id` is the public id."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_unit_occurred", "unit_id", "occurred_at", "seq"),
        Index("ix_events_unit_lead", "unit_id", "lead_id", "seq"),
        Index("ix_events_unit_account", "unit_id", "account_id", "occurred_at"),
        Index("ix_events_unit_type", "unit_id", "event_type", "occurred_at"),
        Index("ix_events_unit_received", "unit_id", "received_at"),  # usage: events received per day
        Index("ix_events_unit_lead_occurred", "unit_id", "lead_id", "occurred_at"),  # ingest's quarantine/surge
        Index("ix_events_unit_quarantined", "unit_id", "seq", sqlite_where=text("quarantine_filter_id IS NOT NULL"),
              postgresql_where=text("quarantine_filter_id IS NOT NULL")),
    )
    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(ID, unique=True)
    lead_id: Mapped[str | None] = mapped_column(ID, ForeignKey("leads.id", ondelete="CASCADE"), nullable=True)
    account_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    event_type: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    # Delta in the primary ruleset, kept as a column so analytics can sum it in SQL.
    score_delta: Mapped[int] = mapped_column(BigInt, default=0)
    # Per ruleset id: {"delta", "before", "after", "rules": [{"rule_id", "event_type", "weight"}]}.
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Derived by scoring (core.quarantine, core.surge) and rewritten by every replay: the inorganic filter (or
    # "bot_user_agent") that holds the event back and why (it then scores nothing and fires nothing), and the surge
    # multiplier in thousandths (NULL: 1.0).
    quarantine_filter_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    quarantine_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    surge_milli: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EngagementLevel(TenantMixin, Base):
    __tablename__ = "engagement_levels"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    min_score: Mapped[int] = mapped_column(BigInt)
    max_score: Mapped[int] = mapped_column(BigInt)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- fit: profiles and accounts (core.fit); part of the scoring model ----------------------------------------------


class FieldMapping(TenantMixin, Base):
    """Copies an event's field into a lead's profile (`kind` profile) or its account's (`kind` account)."""

    __tablename__ = "field_mappings"
    __table_args__ = (Index("ix_field_mappings_unit_kind", "unit_id", "kind"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # profile | account
    source_field: Mapped[str] = mapped_column(String(200))
    property: Mapped[str] = mapped_column(String(200))
    update_behavior: Mapped[str] = mapped_column(String(20))  # always_latest | set_once | append
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FitRuleset(TenantMixin, Base):
    __tablename__ = "fit_rulesets"
    __table_args__ = (UniqueConstraint("unit_id", "kind", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # profile | account
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FitRule(TenantMixin, Base):
    __tablename__ = "fit_rules"
    __table_args__ = (Index("ix_fit_rules_unit_ruleset", "unit_id", "ruleset_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    ruleset_id: Mapped[str] = mapped_column(ID, ForeignKey("fit_rulesets.id", ondelete="CASCADE"))
    property: Mapped[str] = mapped_column(String(200))
    condition: Mapped[str] = mapped_column(String(20))
    comparison_value: Mapped[str] = mapped_column(String(1000), default="")
    weight: Mapped[int] = mapped_column(BigInt)
    ui_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FitLevel(TenantMixin, Base):
    """A fit band (e.g. A/B/C) of lead profiles (`kind` profile) or accounts (`kind` account)."""

    __tablename__ = "fit_levels"
    __table_args__ = (UniqueConstraint("unit_id", "kind", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    min_score: Mapped[int] = mapped_column(BigInt)
    max_score: Mapped[int] = mapped_column(BigInt)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the Tenant's actor
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class LeadErasure(TenantMixin, Base):
    """A request to erase a person (DELETE /v1/leads/{id}): pending until every trace is gone, then completed.

    Holds no personal data: only the lead's id, which names nobody once the lead is gone."""

    __tablename__ = "lead_erasures"
    __table_args__ = (Index("ix_lead_erasures_status", "status"),)
    lead_id: Mapped[str] = mapped_column(ID, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # pending | completed
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyRecord(Base):
    """The first response to an ingest POST carrying an Idempotency-Key, replayed on retries."""

    __tablename__ = "idempotency_keys"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- time-aware scoring and actions (decay, triggers, outbox) -----------------------------------------------------


class DecayRule(TenantMixin, Base):
    """Drop a lead's score by `decrease` after `inactive_for` `unit` of inactivity, and every period after."""

    __tablename__ = "decay_rules"
    __table_args__ = (Index("ix_decay_rules_unit", "unit_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    inactive_for: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(10))  # hours | days | weeks
    decrease: Mapped[int] = mapped_column(BigInt)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Trigger(TenantMixin, Base):
    """A milestone, sequence or pattern trigger; kind-specific settings live in `config`."""

    __tablename__ = "triggers"
    __table_args__ = (Index("ix_triggers_unit_active", "unit_id", "active"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # milestone | sequence | pattern
    name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    emails: Mapped[list[str]] = mapped_column(JSONType, default=list)
    email_subject: Mapped[str | None] = mapped_column(String(500), nullable=True)
    email_preheader: Mapped[str | None] = mapped_column(String(500), nullable=True)
    email_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    slack_webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    slack_channel: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The unit's Slack app (services.integrations.slack): a channel or a user (a DM); no id: the unit's default.
    slack_target_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    slack_target_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Each firing writes the lead's score, level and fit level to the CRM (services.integrations.crm).
    hubspot_sync: Mapped[bool] = mapped_column(Boolean, default=False)
    # The sender needs the secret itself to sign; it is shown to the user only once, at creation.
    signing_secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class TriggerFiring(TenantMixin, Base):
    """One time a trigger fired; `dedupe_key` makes evaluating the same facts twice fire once."""

    __tablename__ = "trigger_firings"
    __table_args__ = (
        UniqueConstraint("trigger_id", "dedupe_key"),
        Index("ix_trigger_firings_unit_kind_fired", "unit_id", "kind", "fired_at"),
        Index("ix_trigger_firings_trigger_subject", "trigger_id", "subject", "occurred_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    trigger_id: Mapped[str] = mapped_column(ID, ForeignKey("triggers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(100))  # the lead or account id it fired for
    lead_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    account_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    event_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    # When the event that fired it happened (pattern cool-down, simulations); fired_at is when we noticed.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Delivery(TenantMixin, Base):
    """The outbox: one message to one channel, written with the firing, sent by the dispatcher.

    `id` is the webhook-id every attempt carries. Status: pending -> sending (leased) -> delivered | pending | dead.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_deliveries_unit_created", "unit_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # None for messages no trigger sent: the scheduled CRM sync, research completion webhooks.
    firing_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("trigger_firings.id", ondelete="CASCADE"), index=True, nullable=True
    )
    trigger_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email | slack | hubspot
    target: Mapped[str] = mapped_column(String(2048))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_holder: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SchedulerLease(Base):
    """Who may run a scheduler job until when: two processes never run the same job at once."""

    __tablename__ = "scheduler_leases"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImportJob(TenantMixin, Base):
    """One CSV import: its file's hash (a re-import is refused unless asked for), progress and per-row errors."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("ix_import_jobs_unit_sha256", "unit_id", "file_sha256"),
        Index("ix_import_jobs_unit_created", "unit_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    total_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # The first per-row errors: [{"row", "column", "message"}].
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginAttempt(Base):
    """Sign-in attempts by email, shared by every process: throttling must hold across workers."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_attempted", "email", "attempted_at"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RateLimitSettings(Base):
    """A unit's API rate limit (services.tenancy.rate_limits). No row means the defaults: disabled."""

    __tablename__ = "rate_limit_settings"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    mode: Mapped[str] = mapped_column(String(16))  # observe | enforce
    key_by: Mapped[str] = mapped_column(String(16))  # credential | ip | unit
    rps: Mapped[int] = mapped_column(Integer)
    burst: Mapped[int] = mapped_column(Integer)
    # The research API's own limit (services.integrations.research): requests per minute per unit, always on.
    research_per_minute: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class AuditLog(TenantMixin, Base):
    """One audit entry (services.tenancy.audit): a configuration change (action, entity, before/after diff)
    written in the change's own transaction, or a mutating API request (method, path, status) written after its
    response."""

    __tablename__ = "audit_logs"
    __table_args__ = (Index("ix_audit_logs_unit_created", "unit_id", "created_at"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_email: Mapped[str | None] = mapped_column(String(320), nullable=True)  # the actor: email or key name
    action: Mapped[str] = mapped_column(String(40))  # create | update | delete | ... | request
    entity_type: Mapped[str | None] = mapped_column(String(60), nullable=True)
    entity_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)  # {field: {before, after}}
    request_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    path: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)


class UsageDay(TenantMixin, Base):
    """Counts per unit and UTC day that no other table keeps (API requests); flushed in batches by each process."""

    __tablename__ = "usage_days"
    __table_args__ = (UniqueConstraint("unit_id", "day"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    api_requests: Mapped[int] = mapped_column(BigInt, default=0)


class StreamBatch(TenantMixin, Base):
    """What one committed write told the live stream (GET /v1/stream): its messages, in order, written in the same
    transaction. The id orders batches; a client resumes after (batch id, message index). Pruned after a day."""

    __tablename__ = "stream_batches"
    __table_args__ = (Index("ix_stream_batches_unit_id", "unit_id", "id"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)


class Segment(TenantMixin, Base):
    """A saved, live list of leads: membership is a query over its rules (services.targeting.segments)."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class SegmentRule(TenantMixin, Base):
    __tablename__ = "segment_rules"
    __table_args__ = (Index("ix_segment_rules_segment", "segment_id", "order_index"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    segment_id: Mapped[str] = mapped_column(ID, ForeignKey("segments.id", ondelete="CASCADE"))
    rule_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rule_type: Mapped[str] = mapped_column(String(20))  # lead_metadata|event_metadata|score|level|fit_level|account
    field_name: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    event_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    within_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # event_metadata: the optional window
    logic_group: Mapped[int] = mapped_column(Integer, default=0)
    logic_op: Mapped[str] = mapped_column(String(3), default="AND")
    order_index: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class InorganicFilter(TenantMixin, Base):
    """A burst filter: `count_threshold` events of `event_type` by one lead within `time_window_ms` are quarantined
    (with `group_events`, the burst counts as its first event). Part of the scoring model."""

    __tablename__ = "inorganic_filters"
    __table_args__ = (Index("ix_inorganic_filters_unit", "unit_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200))
    count_threshold: Mapped[int] = mapped_column(Integer)
    time_window_ms: Mapped[int] = mapped_column(BigInt)
    group_events: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class SurgePolicy(Base):
    """A unit's session-based surge multipliers (no row: surge off). Part of the scoring model."""

    __tablename__ = "surge_policies"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(10))  # off | standard | gentle | custom
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # [{min_events, multiplier}]
    idle_reset_seconds: Mapped[int] = mapped_column(Integer)
    multiplier_cap: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class EventTypeSetting(Base):
    """A unit's view of one event type: hidden from lists, and how far its events go (observe: stored only;
    decide: scored, no triggers; activate: everything). No row: visible, activate."""

    __tablename__ = "event_type_settings"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    max_processing_scope: Mapped[str] = mapped_column(String(10), default="activate")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class EventCountDaily(Base):
    """Events per UTC day (of occurred_at), type and channel: what analytics reads instead of the log."""

    __tablename__ = "event_counts_daily"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    events: Mapped[int] = mapped_column(BigInt, default=0)


# --- integrations (services.integrations) -------------------------------------------------------------------------


class SlackApp(Base):
    """The organization's Slack app: its client id, and its secrets encrypted (services.integrations.secret_box)."""

    __tablename__ = "slack_apps"
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    signing_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class SlackConnection(Base):
    """A unit's Slack workspace, installed through OAuth: the bot token (encrypted) and the default target."""

    __tablename__ = "slack_connections"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(String(64))
    team_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    bot_user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bot_token_enc: Mapped[str] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    default_target_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)  # channel | user
    default_target_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OAuthState(Base):
    """A short-lived, single-use OAuth `state`; only its SHA-256 is kept."""

    __tablename__ = "oauth_states"
    __table_args__ = (Index("ix_oauth_states_expires", "expires_at"),)
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))  # slack
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"))
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CrmSettings(Base):
    """A unit's CRM score sync: provider, token (encrypted), the CRM properties written, and the scheduled sync."""

    __tablename__ = "crm_settings"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))  # hubspot
    token_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    score_property: Mapped[str] = mapped_column(String(200))
    level_property: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fit_level_property: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sync_segment_id: Mapped[str | None] = mapped_column(ID, ForeignKey("segments.id", ondelete="SET NULL"),
                                                        nullable=True)
    sync_interval_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: no scheduled sync
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class CrmSyncedLead(Base):
    """What the CRM was last sent for a lead, so the scheduled sync sends only what changed."""

    __tablename__ = "crm_synced_leads"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ID, ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    score: Mapped[int | None] = mapped_column(BigInt, nullable=True)
    level: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fit_level: Mapped[str | None] = mapped_column(String(200), nullable=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UnitWebhookSecret(Base):
    """Signs the unit's webhooks that no trigger sends (research completions); triggers keep their own."""

    __tablename__ = "unit_webhook_secrets"
    unit_id: Mapped[str] = mapped_column(ID, ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organizations.id", ondelete="CASCADE"))
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ResearchRequest(TenantMixin, Base):
    """A contact research job (POST /v1/research/contacts): pending -> completed | not_found (| failed)."""

    __tablename__ = "research_requests"
    __table_args__ = (
        Index("ix_research_requests_unit_external", "unit_id", "source", "external_id"),
        Index("ix_research_requests_status_created", "status", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)  # cr_...
    status: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str | None] = mapped_column(String(100), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    lead_id: Mapped[str | None] = mapped_column(ID, ForeignKey("leads.id", ondelete="SET NULL"), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
