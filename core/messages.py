"""What a notification says, on plain data: RFC 3339 timestamps, the trigger's message with placeholders, and
the short summary every email and Slack message carries (who, which account, score before and after, level)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

PLACEHOLDERS = ("lead.email", "lead.name", "account.name", "score", "level", "trigger.name")
_PLACEHOLDER = re.compile(r"\{([a-z_.]+)\}")


def rfc3339(at: datetime) -> str:
    """'2026-11-23T12:00:00Z' (microseconds kept when present); naive datetimes are taken as UTC."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _get(payload: Mapping[str, Any], section: str, key: str) -> Any:
    part = payload.get(section)
    return part.get(key) if isinstance(part, Mapping) else None


def placeholder_values(payload: Mapping[str, Any]) -> dict[str, str]:
    """Placeholder -> text for a notification payload; a missing value renders as an empty string."""
    values: dict[str, Any] = {
        "lead.email": _get(payload, "lead", "email"),
        "lead.name": _get(payload, "lead", "name"),
        "account.name": _get(payload, "account", "name"),
        "score": payload.get("score_after"),
        "level": payload.get("level"),
        "trigger.name": _get(payload, "trigger", "name") or payload.get("trigger_name"),
    }
    return {k: "" if v is None else str(v) for k, v in values.items()}


def render(template: str, payload: Mapping[str, Any]) -> str:
    """Replace known placeholders ({lead.email}, {score}, ...); anything else in braces stays as typed."""
    if not template:
        return ""
    values = placeholder_values(payload)
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def one_line(text: str) -> str:
    """For email headers (subject): line breaks and other control characters become spaces."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def who(payload: Mapping[str, Any]) -> str:
    """'Ann Lee <ann@acme.io>', or the email, or the lead id, or the account for account-wide firings."""
    name, email = _get(payload, "lead", "name"), _get(payload, "lead", "email")
    if name and email:
        return f"{name} <{email}>"
    lead = name or email or _get(payload, "lead", "id") or payload.get("lead_id")
    if lead:
        return str(lead)
    return str(_get(payload, "account", "name") or payload.get("account_id") or "someone")


def summary_lines(payload: Mapping[str, Any]) -> list[str]:
    """The facts every email and Slack message shows, one per line."""
    lines = [f"Lead: {who(payload)}"]
    account = payload.get("account")
    if isinstance(account, Mapping) and (account.get("name") or account.get("domain")):
        domain = f" ({account['domain']})" if account.get("domain") and account.get("name") else ""
        lines.append(f"Account: {account.get('name') or account.get('domain')}{domain}")
    before, after = payload.get("score_before"), payload.get("score_after")
    if after is not None:
        score = f"Score: {before} → {after}" if before is not None and before != after else f"Score: {after}"
        lines.append(score + (f" ({payload['level']})" if payload.get("level") else ""))
    trigger = payload.get("trigger")
    if isinstance(trigger, Mapping):
        lines.append(f"Trigger: {trigger.get('name') or trigger.get('kind', '') + ' trigger'}")
    return lines
