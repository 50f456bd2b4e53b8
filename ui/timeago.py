"""Times as people say them: "just now", "3 minutes ago", "2 days ago", "never"."""

from __future__ import annotations

from datetime import datetime

_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60))


def ago(value: datetime | None, now: datetime, *, never: str = "never") -> str:
    """How long before `now` `value` was, in the largest whole unit; `never` for None."""
    if value is None:
        return never
    seconds = int((now - value).total_seconds())
    if seconds < 60:
        return "just now"  # also a clock a few seconds ahead of ours
    for name, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {name}{'' if count == 1 else 's'} ago"
    raise AssertionError("unreachable")
