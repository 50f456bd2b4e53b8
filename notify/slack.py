"""Slack: an incoming-webhook URL, or chat.postMessage with the bot token (API base URL from settings)."""

from __future__ import annotations

import json

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from notify.webhook import SendResult
from settings import Settings

TIMEOUT_SECONDS = 10


def send_slack(settings: Settings, target: str, body: str) -> SendResult:
    text = json.loads(body).get("text", "")
    if target.startswith("channel:"):
        if not settings.slack_bot_token:
            return SendResult(False, None, "Slack bot token is not configured (LEADVANE_SLACK_BOT_TOKEN)")
        client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_base_url,
                           timeout=TIMEOUT_SECONDS)
        try:
            client.chat_postMessage(channel=target.removeprefix("channel:"), text=text)
        except SlackApiError as exc:
            return SendResult(False, exc.response.status_code, f"Slack API error: {exc.response.get('error')}")
        except OSError as exc:
            return SendResult(False, None, f"{type(exc).__name__}: {exc}")
        return SendResult(True, 200)
    try:
        response = WebhookClient(target, timeout=TIMEOUT_SECONDS).send(text=text)
    except OSError as exc:
        return SendResult(False, None, f"{type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return SendResult(True, response.status_code)
    return SendResult(False, response.status_code, f"HTTP {response.status_code}: {response.body[:200]}")
