"""A Slack Web API on loopback, for tests and benchmarks: the methods Leadvane uses, with real token checks.

The browser step too: GET /oauth/v2/authorize (the app's client_id, a redirect_uri and a state) approves at once and
redirects to `redirect_uri?code=...&state=...`, as Slack does after the person clicks Allow (`authorize_url`).

Methods: oauth.v2.access (client credentials in Basic auth or the form; a code from `authorize` or `new_code`,
used once; issues a bot token), chat.postMessage, conversations.open, conversations.list and users.list (cursor
paging over `channels` / `users`), auth.revoke. Calls other than oauth.v2.access need a bot token it issued and
did not revoke (else `{"ok": false, "error": "invalid_auth"}`). `rate_limit(n, retry_after)` answers the next n
calls 429 with Retry-After. Everything received is recorded in `calls`.

    with start_slack_server(client_id="cid", client_secret="secret") as slack:
        settings.slack_api_base_url = slack.api_url
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float


@dataclass
class FakeSlack:
    server: ThreadingHTTPServer
    client_id: str
    client_secret: str
    team_id: str = "T0TEST"
    team_name: str = "Test Workspace"
    bot_user_id: str = "U0BOT"
    channels: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    page_size: int = 2  # the default page when no limit is given: small, so paging is exercised
    limited: int = 0
    retry_after: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def authorize_url(self) -> str:
        """For settings.slack_authorize_url."""
        return self.url + "/oauth/v2/authorize"

    def authorize(self, args: dict[str, Any]) -> tuple[int, str]:
        """The person approves the install: (302, where to) with a fresh code, or (400, why) for a bad request."""
        redirect, state = str(args.get("redirect_uri") or ""), str(args.get("state") or "")
        if args.get("client_id") != self.client_id or not redirect.startswith("http") or not state:
            return 400, "invalid_client_id or missing redirect_uri/state"
        with self.lock:
            self.calls.append(Call("oauth.v2.authorize", dict(args), None, time.monotonic()))
        query = urlencode({"code": self.new_code(), "state": state})
        return 302, f"{redirect}{'&' if '?' in redirect else '?'}{query}"

    @property
    def api_url(self) -> str:
        """For settings.slack_api_base_url."""
        return self.url + "/api/"

    def new_code(self) -> str:
        code = "code-" + secrets.token_hex(8)
        with self.lock:
            self.codes.add(code)
        return code

    def rate_limit(self, calls: int, retry_after: int = 30) -> None:
        with self.lock:
            self.limited, self.retry_after = calls, retry_after

    def calls_to(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int, timeout: float = 15.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        return self.calls_to(method)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the methods ---

    def answer(self, method: str, args: dict[str, Any], token: str | None, basic: tuple[str, str] | None
               ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self.lock:
            self.calls.append(Call(method, args, token, time.monotonic()))
            if self.limited > 0:
                self.limited -= 1
                return 429, {"Retry-After": str(self.retry_after)}, {"ok": False, "error": "ratelimited"}
        if method == "oauth.v2.access":
            return 200, {}, self._oauth(args, basic)
        if token is None or token not in self.tokens or token in self.revoked:
            return 200, {}, {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        if method == "auth.revoke":
            with self.lock:
                self.revoked.add(token)
            return 200, {}, {"ok": True, "revoked": True}
        if method == "chat.postMessage":
            channel = str(args.get("channel") or "")
            known = {c["id"] for c in self.channels} | {f"D{u['id']}" for u in self.users}
            if channel not in known:
                return 200, {}, {"ok": False, "error": "channel_not_found"}
            return 200, {}, {"ok": True, "channel": channel, "ts": f"{time.time():.6f}",
                             "message": {"text": args.get("text"), "blocks": args.get("blocks")}}
        if method == "conversations.open":
            user = str(args.get("users") or "")
            if user not in {u["id"] for u in self.users}:
                return 200, {}, {"ok": False, "error": "user_not_found"}
            return 200, {}, {"ok": True, "channel": {"id": f"D{user}"}}
        if method == "conversations.list":
            wanted = set(str(args.get("types") or "public_channel").split(","))
            items = [c for c in self.channels if ("private_channel" if c.get("is_private") else "public_channel")
                     in wanted]
            return 200, {}, self._paged("channels", items, args)
        if method == "users.list":
            return 200, {}, self._paged("members", self.users, args)
        return 200, {}, {"ok": False, "error": "unknown_method"}

    def _oauth(self, args: dict[str, Any], basic: tuple[str, str] | None) -> dict[str, Any]:
        client_id, client_secret = basic or (str(args.get("client_id") or ""), str(args.get("client_secret") or ""))
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client"}
        code = str(args.get("code") or "")
        with self.lock:
            if code not in self.codes:
                return {"ok": False, "error": "invalid_code"}
            self.codes.discard(code)
            token = "xoxb-" + secrets.token_hex(12)
            self.tokens.add(token)
        return {"ok": True, "access_token": token, "token_type": "bot", "scope": "chat:write,channels:read",
                "bot_user_id": self.bot_user_id, "app_id": "A0TEST",
                "team": {"id": self.team_id, "name": self.team_name}, "enterprise": None}

    def _paged(self, key: str, items: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        start = int(args.get("cursor") or 0) if str(args.get("cursor") or "0").isdigit() else 0
        size = int(args.get("limit") or self.page_size)
        page = items[start:start + size]
        nxt = str(start + size) if start + size < len(items) else ""
        return {"ok": True, key: page, "response_metadata": {"next_cursor": nxt}}


def _start(fake_holder: dict[str, FakeSlack], port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            fake = fake_holder["f"]
            parts = urlsplit(self.path)
            if parts.path == "/oauth/v2/authorize":
                status, where = fake.authorize(dict(parse_qsl(parts.query)))
                self.send_response(status)
                if status == 302:
                    self.send_header("location", where)
                self.send_header("content-length", "0" if status == 302 else str(len(where)))
                self.end_headers()
                if status != 302:
                    self.wfile.write(where.encode())
                return
            method = parts.path.rstrip("/").rsplit("/", 1)[-1]
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            args: dict[str, Any] = dict(parse_qsl(parts.query))
            if "json" in (self.headers.get("content-type") or "") and raw:
                args.update(json.loads(raw))
            elif raw:
                args.update(dict(parse_qsl(raw)))
            auth = self.headers.get("authorization") or ""
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else (args.pop("token", None) or None)
            basic = None
            if auth.lower().startswith("basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                basic = (user, password)
            status, headers, body = fake.answer(method, args, token, basic)
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _handle
        do_GET = _handle

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def start_slack_server(client_id: str = "cid.123", client_secret: str = "client-secret-xyz", port: int = 0,
                       channels: int = 3, users: int = 3) -> FakeSlack:
    holder: dict[str, FakeSlack] = {}
    server = _start(holder, port)
    fake = FakeSlack(
        server, client_id, client_secret,
        channels=[{"id": f"C{i:04d}", "name": f"channel-{i}", "is_channel": True, "is_private": i == channels - 1}
                  for i in range(channels)],
        users=[{"id": f"U{i:04d}", "name": f"user{i}", "real_name": f"User {i}", "is_bot": False}
               for i in range(users)],
    )
    holder["f"] = fake
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake


@contextmanager
def slack_server(**kwargs: Any) -> Iterator[FakeSlack]:
    fake = start_slack_server(**kwargs)
    try:
        yield fake
    finally:
        fake.close()
