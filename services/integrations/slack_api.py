"""slack_sdk's WebClient, sending through the outbound guard (services.integrations.outbound).

slack_sdk's own transport is urllib: it resolves names itself, follows redirects and reads environment proxies,
bypassing the guard. `GuardedWebClient` keeps everything slack_sdk does (building requests, parsing answers,
SlackApiError) and replaces only `_perform_urllib_http_request_internal` (slack_sdk 3.47, web/base_client.py):
the prepared urllib Request is sent by a guarded requests session (checked addresses, no redirects, no proxies,
timeouts), its answer read up to a bound, and handed back as the dict slack_sdk expects ({status, headers,
body}). No retries inside a call (retry_handlers=[]): deliveries retry through the outbox.
"""

from __future__ import annotations

from typing import Any
from urllib.request import Request

import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from services.integrations import outbound
from settings import get_settings

MAX_ANSWER_BYTES = 2 * 1024 * 1024  # users.list pages can be large; anything bigger is cut (and fails to parse)

__all__ = ["GuardedWebClient", "SlackApiError", "client", "retry_after_of"]


class GuardedWebClient(WebClient):
    def __init__(self, token: str | None = None, *, http: requests.Session | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", get_settings().slack_api_base_url)
        kwargs.setdefault("retry_handlers", [])
        super().__init__(token=token, **kwargs)
        self.proxy = None  # never the environment's proxy (the guarded session refuses proxies anyway)
        self._http = http

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        outbound.parse_target(url)  # scheme and credentials; the connection checks the address
        own = self._http is None
        session = self._http or outbound.new_session()
        try:
            response = session.request(
                req.get_method(), url, data=req.data, headers=dict(req.header_items()),
                timeout=(outbound.CONNECT_TIMEOUT, outbound.READ_TIMEOUT), allow_redirects=False, stream=True,
            )
            body = outbound.read_limited(response, MAX_ANSWER_BYTES)
            headers = dict(response.headers)
            if response.status_code == 429 and "retry-after" in {k.lower() for k in headers}:
                value = next(v for k, v in headers.items() if k.lower() == "retry-after")
                headers["Retry-After"] = headers["retry-after"] = value
            return {"status": response.status_code, "headers": headers,
                    "body": body.decode(response.encoding or "utf-8", errors="replace")}
        finally:
            if own:
                session.close()


def client(token: str | None = None, http: requests.Session | None = None) -> GuardedWebClient:
    """A client for the Slack Web API at settings.slack_api_base_url (LEADVANE_SLACK_API_BASE_URL)."""
    return GuardedWebClient(token, http=http, base_url=get_settings().slack_api_base_url)


def retry_after_of(exc: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait (a 429's Retry-After), else None."""
    response = exc.response
    if response is None or response.status_code != 429:
        return None
    headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    return outbound.retry_after_seconds(headers.get("retry-after"), 1.0)


def error_code(exc: SlackApiError) -> str:
    """Slack's short error code (invalid_auth, channel_not_found, ...) or a reason of ours; never other text."""
    response = exc.response
    if response is not None and response.status_code == 429:
        return "ratelimited"
    data = response.data if response is not None else None
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 64:
        return code
    if response is not None and response.status_code != 200:
        return f"HTTP {response.status_code} from Slack"
    return "unknown error"
