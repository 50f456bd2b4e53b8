"""Signed webhooks, the Standard Webhooks way: webhook-id, webhook-timestamp, webhook-signature (v1,<base64>)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

import requests
from standardwebhooks.webhooks import Webhook

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status_code: int | None = None
    error: str | None = None


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, timestamp, body)
    return {
        "content-type": "application/json",
        "user-agent": "Leadvane-Webhooks/1.0",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def send_webhook(
    url: str, secret: str, msg_id: str, body: str, timestamp: datetime, http: requests.Session | None = None
) -> SendResult:
    try:
        response = (http or requests).post(
            url, data=body.encode(), headers=signed_headers(secret, msg_id, timestamp, body),
            timeout=TIMEOUT_SECONDS, allow_redirects=False,
        )
    except requests.RequestException as exc:
        return SendResult(False, None, f"{type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return SendResult(True, response.status_code)
    return SendResult(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")
