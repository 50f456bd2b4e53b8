"""Request and response models shared by the routers. Inputs forbid unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

AliasKind = Literal["email", "phone", "external_id", "cookie", "social"]
PropertyValue = str | int | float | bool | None


class InModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- signals -------------------------------------------------------------------------------------------------------


class SignalAccountIn(InModel):
    id: str | None = None
    domain: str | None = Field(default=None, max_length=2048)
    name: str | None = Field(default=None, max_length=300)


class SignalContactIn(InModel):
    id: str | None = None
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=512)


class SignalIn(InModel):
    type: str = Field(min_length=1, max_length=200)
    account: SignalAccountIn | None = None
    contact: SignalContactIn | None = None
    source: str | None = Field(default=None, max_length=200)
    properties: dict[str, PropertyValue] = Field(default_factory=dict)
    occurred_at: AwareDatetime | None = None


# --- events --------------------------------------------------------------------------------------------------------


class AliasIn(InModel):
    alias_kind: AliasKind
    raw_value: str = Field(min_length=1, max_length=512)


class EventIn(InModel):
    lead_id: str | None = None
    aliases: list[AliasIn] = Field(default_factory=list, max_length=20)
    alias_kind: AliasKind | None = Field(
        default=None, description="Deprecated. Use aliases.", json_schema_extra={"deprecated": True}
    )
    alias: str | None = Field(
        default=None, description="Deprecated. Use aliases.", json_schema_extra={"deprecated": True}
    )
    event_type: str = Field(min_length=1, max_length=200)
    timestamp: AwareDatetime | None = None
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

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    type: str = Field(min_length=1, max_length=200)
    personId: str | None = None
    person: CrmPersonIn | None = None
    company: CrmCompanyIn | None = None
    message: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    occurredAt: AwareDatetime | None = None

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_object(cls, value: Any) -> Any:
        return {} if value is None else value


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
