"""The lead activity stream's time window and latency (services.insight.activity): plain values, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.errors import InvalidInput
from services.insight.activity import latency_ms, time_window

NOW = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)


def test_named_ranges_follow_the_lead_list_ranges() -> None:
    assert time_window("all", NOW, None, None) == (None, None)
    assert time_window("last_7d", NOW, None, None) == (NOW - timedelta(days=7), None)
    midnight = datetime(2026, 11, 2, tzinfo=UTC)
    assert time_window("yesterday", NOW, None, None) == (midnight - timedelta(days=1), midnight)


def test_custom_needs_start_and_end_in_order() -> None:
    start, end = NOW - timedelta(days=3), NOW - timedelta(days=1)
    assert time_window("custom", NOW, start, end) == (start, end)
    for given, field in (((None, None), "start"), ((start, None), "end"), ((None, end), "start"),
                         ((end, start), "start")):
        with pytest.raises(InvalidInput) as caught:
            time_window("custom", NOW, *given)
        assert caught.value.field == field
    with pytest.raises(InvalidInput) as caught:
        time_window("fortnight", NOW, None, None)
    assert caught.value.field == "range"


def test_latency_is_received_minus_occurred_in_ms() -> None:
    assert latency_ms(NOW, NOW + timedelta(seconds=1.5)) == 1500
    assert latency_ms(NOW, NOW - timedelta(milliseconds=20)) == -20
