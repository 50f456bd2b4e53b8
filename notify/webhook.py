"""Signed webhooks, the Standard Webhooks way: webhook-id, webhook-timestamp, webhook-signature (v1,<base64>)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import requests
from standardwebhooks.webhooks import Webhook

from services.integrations import outbound


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait (429 Retry-After)


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
    """POST through the outbound guard (address checked at connect time, 307/308 followed and checked again).
    A failure's reason is ours (status code, 'connection refused', 'refused: ...'), never the receiver's text."""
    session = http or outbound.new_session()
    try:
        response = outbound.post(session, url, data=body.encode(),
                                 headers=signed_headers(secret, msg_id, timestamp, body), follow_redirects=True)
        outbound.read_limited(response)  # read (and drop) a small answer so the connection is reused
    except Exception as exc:  # Refused, requests errors: each becomes a short reason
        return SendResult(False, None, outbound.describe_error(exc))
    finally:
        if http is None:
            session.close()
    return result_of(response.status_code, "receiver")


def result_of(status: int, who: str) -> SendResult:
    if 200 <= status < 300:
        return SendResult(True, status)
    if 300 <= status < 400:
        return SendResult(False, status, f"HTTP {status} from {who} (redirect not followed)")
    return SendResult(False, status, f"HTTP {status} from {who}")
