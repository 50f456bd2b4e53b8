"""Slack: an incoming-webhook URL, or chat.postMessage with the bot token (API base URL from settings).

Both go through the outbound guard (services.integrations.outbound) and never follow redirects: a Slack endpoint that
redirects is a failed delivery. Plain HTTP rather than slack_sdk, whose urllib client resolves and redirects
on its own.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from notify.webhook import SendResult, result_of
from services.integrations import outbound
from settings import Settings

_SLACK_ERROR = re.compile(r"^[a-z0-9_]{1,64}$")


def slack_message(body: str) -> dict[str, Any]:
    data = json.loads(body)
    message: dict[str, Any] = {"text": data.get("text", "")}
    if data.get("blocks"):
        message["blocks"] = data["blocks"]
    return message


def send_slack(settings: Settings, target: str, body: str, http: requests.Session | None = None) -> SendResult:
    message = slack_message(body)
    session = http or outbound.new_session()
    try:
        if target.startswith("channel:"):
            return _post_message(settings, session, target.removeprefix("channel:"), message)
        return _incoming_webhook(session, target, message)
    except Exception as exc:  # Refused, requests errors: a short reason of ours
        return SendResult(False, None, outbound.describe_error(exc))
    finally:
        if http is None:
            session.close()


def _incoming_webhook(session: requests.Session, url: str, message: dict[str, Any]) -> SendResult:
    response = outbound.post(session, url, data=json.dumps(message).encode(),
                             headers={"content-type": "application/json"})
    outbound.read_limited(response)  # read (and drop) a small answer so the connection is reused
    return result_of(response.status_code, "Slack")


def _post_message(settings: Settings, session: requests.Session, channel: str, message: dict[str, Any]) -> SendResult:
    if not settings.slack_bot_token:
        return SendResult(False, None, "Slack bot token is not configured (LEADVANE_SLACK_BOT_TOKEN)")
    url = settings.slack_api_base_url.rstrip("/") + "/chat.postMessage"
    response = outbound.post(
        session, url, data=json.dumps({"channel": channel, **message}).encode(),
        headers={"content-type": "application/json; charset=utf-8",
                 "authorization": f"Bearer {settings.slack_bot_token}"},
    )
    if not 200 <= response.status_code < 300:
        response.close()
        return result_of(response.status_code, "Slack")
    try:
        answer = json.loads(outbound.read_limited(response))
    except ValueError:
        return SendResult(False, response.status_code, "Slack API answered something that is not JSON")
    if isinstance(answer, dict) and answer.get("ok") is True:
        return SendResult(True, response.status_code)
    code = answer.get("error") if isinstance(answer, dict) else None
    # Slack's error is a short code such as channel_not_found; anything else is not repeated.
    reason = code if isinstance(code, str) and _SLACK_ERROR.match(code) else "unknown error"
    return SendResult(False, response.status_code, f"Slack API error: {reason}")
