"""Slack: an incoming-webhook URL, chat.postMessage with the server's bot token (API base URL from settings), or
the unit's Slack app (targets `app:channel:C..`, `app:user:U..`, `app:default`: services.integrations.slack).

All go through the outbound guard (services.integrations.outbound) and never follow redirects: a Slack endpoint that
redirects is a failed delivery. Plain HTTP rather than slack_sdk, whose urllib client resolves and redirects
on its own.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from db.engine import Database
from notify.webhook import SendResult, result_of
from services.integrations import outbound, secret_box, slack_api
from services.integrations import slack as slack_app
from services.triggers.deliveries import APP_TARGET_PREFIX
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


def send_slack_app(db: Database | None, unit_id: str, target: str, body: str,
                   http: requests.Session | None = None) -> SendResult:
    """Send through the unit's Slack app: its bot token and default target are read now, so a disconnect (or a new
    default) applies to every message not yet sent. A Slack 429 is retried no sooner than its Retry-After."""
    if db is None:
        return SendResult(False, None, "Slack app deliveries need the database (dispatcher misconfigured)")
    try:
        with db.read() as session:
            connection = slack_app.connection_of(session, unit_id)
    except secret_box.UnreadableSecret:
        return SendResult(False, None, "the Slack bot token cannot be decrypted (secrets key changed): reconnect Slack")
    if connection is None:
        return SendResult(False, None, "this unit is not connected to Slack (connect it on the Integrations page)")
    spec = target.removeprefix(APP_TARGET_PREFIX)
    if spec == "default":
        kind, target_id = connection.default_target_kind, connection.default_target_id
        if not kind or not target_id:
            return SendResult(False, None, "this unit has no default Slack target (set one on the Integrations page)")
    else:
        kind, _, target_id = spec.partition(":")
    try:
        slack_app.post(slack_api.client(connection.bot_token, http), kind, target_id, slack_message(body))
    except slack_api.SlackApiError as exc:
        status = exc.response.status_code if exc.response is not None else None
        return SendResult(False, status, f"Slack API error: {slack_api.error_code(exc)}",
                          retry_after=slack_api.retry_after_of(exc))
    except slack_app.SlackFailed as exc:
        return SendResult(False, None, exc.message)
    except Exception as exc:  # Refused, requests errors: a short reason of ours
        return SendResult(False, None, outbound.describe_error(exc))
    return SendResult(True, 200)
