from datetime import UTC, datetime, timedelta

import pytest

from ui.timeago import ago

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "text"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(seconds=-3), "just now"),
        (timedelta(seconds=60), "1 minute ago"),
        (timedelta(minutes=3, seconds=59), "3 minutes ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=47), "1 day ago"),
        (timedelta(days=2), "2 days ago"),
        (timedelta(days=45), "1 month ago"),
        (timedelta(days=800), "2 years ago"),
    ],
)
def test_ago_says_the_largest_whole_unit(before: timedelta, text: str) -> None:
    assert ago(NOW - before, NOW) == text


def test_a_time_never_reached_says_never() -> None:
    assert ago(None, NOW) == "never"
