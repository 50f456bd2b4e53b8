"""Response and request models of analytics, lead activity, event types and event deletion (reference:
scoring-platform-openapi "Analytics", "Unified activity stream", "List visible event types", "List event types with
OU visibility and counts", "Dry-run delete", "Batch delete events")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field

from api.schemas import InModel, OutModel
from api.types import Timestamp

# --- analytics -----------------------------------------------------------------------------------------------------


class AnalyticsTotalsOut(OutModel):
    events: int = Field(description="events in the log, profile changes aside")
    event_types: int = Field(description="distinct event types among them")
    channels: int = Field(description="distinct channels among them")
    leads: int = Field(description="the unit's leads (merged leads aside)")
    accounts: int = Field(description="the unit's accounts")
    first_day: dt.date | None = Field(description="UTC day of the oldest event")
    last_day: dt.date | None = Field(description="UTC day of the newest event")


class AnalyticsOut(OutModel):
    totals: AnalyticsTotalsOut
    by_type: dict[str, int] = Field(description="events per event type, most frequent first")


class Last24hOut(OutModel):
    events: int = Field(description="events that occurred in the last 24 hours")
    active_leads: int = Field(description="distinct leads among them")
    points: int = Field(description="the sum of their primary-ruleset score deltas")


class EventTypeCountOut(OutModel):
    event_type: str
    events: int


class AnalyticsStatsOut(OutModel):
    last_24h: Last24hOut
    top_events: list[EventTypeCountOut] = Field(description="the most frequent event types of the last `days` days")


class TopLeadOut(OutModel):
    id: str
    email: str | None
    name: str | None = Field(description="first and last name")
    score: int = Field(description="primary ruleset score")
    level: str | None = Field(description="engagement level name (None outside every level)")


class RecentGainOut(OutModel):
    id: str = Field(description="lead id")
    email: str | None
    name: str | None
    gained: int = Field(description="net points gained in the window (sum of the events' primary score deltas)")
    events: int = Field(description="the lead's events in the window")


# --- lead activity -------------------------------------------------------------------------------------------------


class ActivityEventOut(OutModel):
    id: str
    event_type: str
    channel: str
    occurred_at: Timestamp
    received_at: Timestamp
    latency_ms: int = Field(description="milliseconds from occurred_at to received_at")
    score_delta: int = Field(description="points in the primary ruleset")
    metadata: dict[str, Any]
    quarantined: bool
    quarantine_filter_id: str | None
    quarantine_reason: str | None


class ActivityTimelineOut(ActivityEventOut):
    type: Literal["event"] = Field(description="always `event`: Leadvane has no orders")


class ActivityOut(OutModel):
    events: list[ActivityEventOut]
    orders: list[dict[str, Any]] = Field(description="always empty: Leadvane keeps no orders")
    timeline: list[ActivityTimelineOut] = Field(description="the events, newest first")


# --- event types ---------------------------------------------------------------------------------------------------


class EventTypePropertiesOut(OutModel):
    event_type: str
    properties: list[str] = Field(description="metadata keys seen on the type's most recent events")


class EventTypeSettingOut(OutModel):
    event_type: str
    hidden: bool
    max_processing_scope: str = Field(description="observe, decide or activate (the default)")
    events_count: int


class DeleteDryRunOut(OutModel):
    events_count: int
    event_scores_count: int = Field(
        description="per-ruleset score entries the events carry: rulesets with a non-zero delta, summed over events"
    )


class EventsDeletedOut(OutModel):
    events_deleted: int
    event_scores_deleted: int


class BatchDeleteIn(InModel):
    ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=1000, description="event ids of this unit (others are ignored)"
    )
