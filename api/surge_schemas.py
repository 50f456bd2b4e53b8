"""Schemas of the surge routes: the unit's surge (session) policy, surge triggers and their firings, surge metrics."""

from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field, StrictFloat, StrictInt

from api.destination_schemas import IntegrationTargetsIn, IntegrationTargetsOut
from api.schemas import InModel, OutModel
from api.types import Timestamp
from services.insight.surge import MAX_BUCKETS
from services.scoring.surge_policy import MAX_BANDS, MAX_IDLE_RESET_SECONDS, MAX_MIN_EVENTS
from services.triggers.surge import MAX_EMAILS, MAX_THRESHOLD, MAX_WINDOW_SECONDS

SurgeMode = Literal["off", "standard", "gentle", "custom"]
WindowUnit = Literal["seconds", "minutes", "hours", "days"]


# --- policy --------------------------------------------------------------------------------------------------------


class SurgeBandIn(InModel):
    min_events: StrictInt = Field(ge=1, le=MAX_MIN_EVENTS, description="from this event of a session on")
    multiplier: StrictFloat | StrictInt = Field(ge=1, le=3, description="positive deltas are multiplied by this")


class SurgePolicyIn(InModel):
    mode: SurgeMode = Field(description="off: no boost; standard and gentle: the presets' bands; custom: `bands`")
    bands: list[SurgeBandIn] | None = Field(
        default=None, max_length=MAX_BANDS, description="required (at least one) for custom; ignored for presets"
    )
    idle_reset_seconds: StrictInt | None = Field(
        default=None, ge=1, le=MAX_IDLE_RESET_SECONDS,
        description="a gap this long (or the scoring setting session_timeout_minutes, whichever is shorter) starts "
        "a new session; default 1800",
    )
    multiplier_cap: StrictFloat | StrictInt | None = Field(
        default=None, ge=1, le=3, description="no multiplier goes above this; default 2.0"
    )


class SurgeBandOut(OutModel):
    min_events: int
    multiplier: float


class SurgePolicyOut(OutModel):
    org_id: str
    unit_id: str
    mode: SurgeMode = Field(description='"off" while the unit has never set a policy')
    bands: list[SurgeBandOut] = Field(description="the bands in effect: the preset's for standard and gentle")
    idle_reset_seconds: int
    multiplier_cap: float


# --- triggers ------------------------------------------------------------------------------------------------------


class SurgeTriggerIn(IntegrationTargetsIn):
    event_type: str | None = Field(default=None, max_length=200, description="count only this type; empty: any")
    window_seconds: StrictInt = Field(ge=1, le=MAX_WINDOW_SECONDS,
                                      description="the window's length in `window_unit`s (at most 366 days)")
    window_unit: WindowUnit = "seconds"
    threshold_count: StrictInt = Field(ge=1, le=MAX_THRESHOLD,
                                       description="fires when a lead's count in the window reaches this")
    webhook_url: str | None = Field(default=None, max_length=2048,
                                    description="exactly one destination: webhook_url or emails")
    emails: list[EmailStr] | None = Field(default=None, max_length=MAX_EMAILS)


class SurgeTriggerOut(OutModel, IntegrationTargetsOut):
    trigger_id: str
    event_type: str | None = Field(description="null: any event type")
    window_seconds: int
    window_unit: WindowUnit
    threshold_count: int
    webhook_url: str | None
    emails: list[str]
    created_at: Timestamp
    updated_at: Timestamp


class SurgeTriggerCreatedOut(SurgeTriggerOut):
    signing_secret: str = Field(description="whsec_...: verifies webhook signatures; shown only in this response")


class SurgeEventOut(OutModel):
    id: str = Field(description="the firing's id")
    trigger_id: str
    lead_id: str | None
    account_id: str | None
    event_type: str | None = Field(description="the type of the event that reached the count")
    channel: str | None = Field(description="that event's channel")
    count: int = Field(description="the lead's events counted in the window when it fired")
    window_seconds: int = Field(description="the trigger's window, in seconds")
    fired_at: Timestamp
    occurred_at: Timestamp = Field(description="when the event that reached the count happened")


# --- metrics -------------------------------------------------------------------------------------------------------


class SurgeTotalsOut(OutModel):
    surge_events: int = Field(description="surge trigger firings with start <= fired_at < end")
    leads: int = Field(description="distinct leads with a boosted event in the range")
    boosted_events: int = Field(description="events with a surge multiplier above 1.0 in the range")
    boost_points: int = Field(description="points surge added to primary scores through those events")


class SurgePeakOut(OutModel):
    at: Timestamp | None = Field(description="start of the first bucket with the most boosted events; null: none")
    count: int


class SurgeChannelOut(OutModel):
    channel: str
    count: int


class SurgePointOut(OutModel):
    at: Timestamp = Field(description="the bucket's start (UTC, aligned to the interval)")
    count: int = Field(description="boosted events in the bucket")


class SurgeMetricsOut(OutModel):
    ou_id: str
    start: Timestamp
    end: Timestamp
    interval: Literal["15m", "1h", "1d"]
    totals: SurgeTotalsOut
    peak: SurgePeakOut
    channels: list[SurgeChannelOut] = Field(description="boosted events per channel, most first")
    series: list[SurgePointOut] = Field(description=f"every bucket of the range, zeros included (at most "
                                                    f"{MAX_BUCKETS})")
