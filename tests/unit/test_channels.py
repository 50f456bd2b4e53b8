"""Channel inference on plain data."""

from __future__ import annotations

import pytest

from core.channels import CHANNELS, infer_channel
from core.scoring import DECAY_EVENT_TYPE


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("page_view", "web"),
        ("Pricing_Page_View", "web"),
        ("form_submit", "web"),
        ("demo_request", "web"),
        ("email_open", "email"),
        ("newsletter_signup", "email"),
        ("slack_message", "slack"),
        ("webinar_attended", "webinar"),
        ("meeting_booked", "crm"),
        ("deal_created", "crm"),
        ("product_login", "other"),
    ],
)
def test_channel_from_event_type_prefix(event_type: str, expected: str) -> None:
    assert infer_channel(event_type, {}) == expected
    assert expected in CHANNELS


def test_explicit_metadata_channel_wins() -> None:
    assert infer_channel("page_view", {"channel": "  Partner "}) == "partner"
    assert infer_channel("page_view", {"channel": "email"}, default="crm") == "email"


def test_blank_or_non_string_metadata_channel_is_ignored() -> None:
    assert infer_channel("page_view", {"channel": "  "}) == "web"
    assert infer_channel("page_view", {"channel": 3}) == "web"


def test_the_ingest_paths_default_beats_the_prefix() -> None:
    assert infer_channel("page_view", {}, default="crm") == "crm"
    assert infer_channel("anything", {}, default=None) == "other"


def test_decay_is_always_system() -> None:
    assert infer_channel(DECAY_EVENT_TYPE, {"channel": "web"}, default="crm") == "system"
