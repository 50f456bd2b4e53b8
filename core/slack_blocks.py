"""A trigger's Slack message as Block Kit, on plain data: header, the facts (lead, account, score, level), a button to
the lead in the dashboard, and the plain `text` fallback Slack shows in notifications and where blocks cannot render.

The same message goes to the unit's Slack app (chat.postMessage) and to incoming webhooks. Names come from ingested
data: Slack's mrkdwn control characters (&, <, >) are escaped so a name cannot forge a link or a mention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from core.messages import render, summary_lines, who

HEADER_MAX = 150  # Slack: a header's plain_text is at most 150 characters
SECTION_MAX = 3000  # a section's text is at most 3000 characters


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only &, < and > are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lead_url(dashboard_url: str, lead_id: str) -> str:
    """The lead's page in the dashboard (pages/lead_detail.py reads `?lead=`)."""
    return f"{dashboard_url.rstrip('/')}/lead?lead={quote(lead_id, safe='')}"


def title_of(trigger_name: str | None, kind: str | None, test: bool = False) -> str:
    title = trigger_name or f"{(kind or 'lead').capitalize()} trigger"
    return title + (" (test)" if test else "")


def slack_message(
    payload: Mapping[str, Any], *, trigger_name: str | None, trigger_kind: str | None, dashboard_url: str,
    message_template: str | None = None,
) -> dict[str, Any]:
    """{"text": fallback, "blocks": [...]} for a trigger's notification payload (services.triggers.triggers)."""
    test = bool(payload.get("test"))
    title = title_of(trigger_name, trigger_kind, test)
    facts = summary_lines(payload)[:-1] if isinstance(payload.get("trigger"), Mapping) else summary_lines(payload)
    detail = render(message_template or "", payload)
    marker = " (test)" if test else ""
    first = f"*{escape(title_of(trigger_name, trigger_kind))}*{marker} fired for {escape(who(payload))}"
    text = "\n".join([first, *(escape(f) for f in facts[1:]),
                      *([escape(detail)] if detail else [])])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_MAX), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            "\n".join(f"*{escape(k)}:*{escape(v)}" for k, _, v in (f.partition(":") for f in facts)), SECTION_MAX)}},
    ]
    if detail:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(escape(detail), SECTION_MAX)}})
    lead = payload.get("lead")
    lead_id = (lead.get("id") if isinstance(lead, Mapping) else None) or payload.get("lead_id")
    if lead_id and not test:
        url = lead_url(dashboard_url, str(lead_id))
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open lead"}, "url": url,
             "action_id": "open_lead"},
        ]})
        text += f"\n<{url}|Open lead>"
    return {"text": _cut(text, 40_000), "blocks": blocks}


def hello_message(text: str | None) -> dict[str, Any]:
    """The Integrations page's "Send test" message."""
    body = text.strip() if text and text.strip() else "Leadvane is connected: trigger notifications will arrive here."
    return {"text": body, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(body, SECTION_MAX)}}]}
