"""Request and response models of inorganic filters and event-type settings (reference: scoring-platform-openapi
"Filters" and "Set OU visibility for an event type")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt

from api.schemas import InModel, OutModel
from api.types import Timestamp
from services.scoring.filters import (
    COUNT_THRESHOLD_MAX,
    COUNT_THRESHOLD_MIN,
    TIME_WINDOW_MS_MAX,
    TIME_WINDOW_MS_MIN,
)

ProcessingScope = Literal["observe", "decide", "activate"]
_EVENT_TYPE = Field(min_length=1, max_length=200, description="the event type whose bursts are held back")
_COUNT = Field(ge=COUNT_THRESHOLD_MIN, le=COUNT_THRESHOLD_MAX,
               description="events of one lead within the window that make a burst")
_WINDOW = Field(ge=TIME_WINDOW_MS_MIN, le=TIME_WINDOW_MS_MAX, description="the burst window in milliseconds")
_GROUP = "count a burst as its first event (it scores, the rest are quarantined) instead of quarantining all of it"


class InorganicFilterIn(InModel):
    event_type: str = _EVENT_TYPE
    count_threshold: StrictInt = _COUNT
    time_window_ms: StrictInt = _WINDOW
    group_events: StrictBool | None = Field(default=None, description=_GROUP + " (default false)")


class InorganicFilterUpdateIn(InModel):
    """Partial: a field left out keeps its value."""

    event_type: str | None = Field(default=None, min_length=1, max_length=200)
    count_threshold: StrictInt | None = Field(default=None, ge=COUNT_THRESHOLD_MIN, le=COUNT_THRESHOLD_MAX)
    time_window_ms: StrictInt | None = Field(default=None, ge=TIME_WINDOW_MS_MIN, le=TIME_WINDOW_MS_MAX)
    group_events: StrictBool | None = None


class InorganicFilterOut(OutModel):
    filter_id: str
    event_type: str
    count_threshold: int
    time_window_ms: int
    group_events: bool
    org_id: str
    created_by: str | None
    updated_by: str | None
    created_at: Timestamp
    updated_at: Timestamp
    quarantined_count: int = Field(description="events this filter holds back now")


class EventTypeSettingIn(InModel):
    hidden: StrictBool | None = Field(default=None, description="hide the type from event type lists")
    max_processing_scope: ProcessingScope | None = Field(
        default=None,
        description="ceiling for processing its events: observe (stored and shown, never scored nor triggered), "
                    "decide (scored, no triggers), activate (everything)",
    )


class EventTypeSettingOut(OutModel):
    event_type: str
    hidden: bool
    max_processing_scope: ProcessingScope


# --- what-if: the data-quality parts of a draft --------------------------------------------------------------------


class FilterDraftChangeIn(InorganicFilterUpdateIn):
    filter_id: str = Field(max_length=200)


class FiltersChangesIn(InModel):
    add: list[InorganicFilterIn] = Field(default_factory=list, description="new filters, bodies as for POST")
    update: list[FilterDraftChangeIn] = Field(default_factory=list, description="filter_id and the fields to change")
    remove: list[str] = Field(default_factory=list, description="ids of filters to remove")

    def as_draft(self) -> dict[str, Any]:
        return {
            "add": [body.model_dump(exclude_none=True) for body in self.add],
            "update": [change.model_dump(exclude_unset=True) for change in self.update],
            "remove": list(self.remove),
        }


class EventTypeScopeDraftIn(InModel):
    event_type: str = Field(min_length=1, max_length=200)
    max_processing_scope: ProcessingScope
