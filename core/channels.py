"""Which channel an event came through, for filtering and analytics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.scoring import DECAY_EVENT_TYPE

CHANNELS: tuple[str, ...] = ("web", "email", "slack", "webinar", "crm", "system", "other")

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("page", "web"), ("form", "web"), ("site", "web"), ("click", "web"), ("search", "web"),
    ("demo", "web"), ("pricing", "web"), ("signup", "web"), ("trial", "web"), ("download", "web"),
    ("email", "email"), ("newsletter", "email"), ("slack", "slack"), ("webinar", "webinar"),
    ("meeting", "crm"), ("call", "crm"), ("deal", "crm"), ("opportunity", "crm"), ("crm", "crm"),
)


def infer_channel(event_type: str, metadata: Mapping[str, Any], default: str | None = None) -> str:
    """An explicit metadata.channel wins; then the ingest path's default; then the event type's prefix."""
    if event_type == DECAY_EVENT_TYPE:
        return "system"
    explicit = metadata.get("channel")
    if isinstance(explicit, str) and explicit.strip():
        return explicit.strip().lower()
    if default:
        return default
    lowered = event_type.lower()
    for prefix, channel in _PREFIXES:
        if lowered.startswith(prefix):
            return channel
    return "other"
