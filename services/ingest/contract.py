"""What goes into ingest and what comes out: the contract every ingest path (API, CSV, CRM, decay) and the
trigger evaluation share, kept apart from the pipeline so readers of a result need not import the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core import scoring


@dataclass(slots=True)
class AliasInput:
    kind: str
    raw_value: str
    is_primary: bool = False


@dataclass(slots=True)
class PersonRef:
    """How an event names its person: an existing lead id and/or aliases, plus profile fields."""

    lead_id: str | None = None
    aliases: list[AliasInput] = field(default_factory=list)
    first_name: str | None = None
    last_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # Which request field names this person, so errors point at it ("contact", "person", "aliases").
    field_name: str = "lead"


@dataclass(slots=True)
class AccountRef:
    account_id: str | None = None
    domain: str | None = None
    name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    field_name: str = "account"


@dataclass(slots=True)
class NewEvent:
    event_type: str
    occurred_at: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    person: PersonRef | None = None
    account: AccountRef | None = None
    default_channel: str | None = None
    properties_field: str = "metadata"
    # Only the system (e.g. decay) may write reserved event types.
    system: bool = False


@dataclass(slots=True)
class Ingested:
    event_id: str
    event_type: str
    source: str | None
    channel: str
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any]
    lead_id: str | None
    account_id: str | None
    lead_created: bool
    account_created: bool
    outcomes: dict[str, scoring.RulesetOutcome]
    primary_ruleset_id: str | None
    lead: dict[str, Any] | None = None
    account: dict[str, Any] | None = None
    # False for an event held back (quarantined, or of a type only observed) or of a type scored without triggers.
    fires_triggers: bool = True
    quarantine_reason: str | None = None

    @property
    def primary(self) -> scoring.RulesetOutcome | None:
        return self.outcomes.get(self.primary_ruleset_id) if self.primary_ruleset_id else None

    def lead_scores(self) -> dict[str, int]:
        return {rs: o.lead_after for rs, o in self.outcomes.items() if o.lead_after is not None}

    def account_scores(self) -> dict[str, int]:
        return {rs: o.account_after for rs, o in self.outcomes.items() if o.account_after is not None}
