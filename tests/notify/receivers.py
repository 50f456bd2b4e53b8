"""Real receivers on loopback for delivery tests: an HTTP server that records (and fails on demand), an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from db.engine import Database
from services.context import Tenant
from services.ingest.contract import AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import rules
from settings import get_settings

# The receivers below listen on loopback, which the outbound guard refuses unless allowed.
LOOPBACK_ALLOW = "127.0.0.1/32,::1/128"


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets outbound requests reach this machine's loopback receivers (import it into a test module)."""
    monkeypatch.setattr(get_settings(), "outbound_allow", LOOPBACK_ALLOW)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks' latency)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every POST; answers `fail_status` to the next `failures` requests, then 200."""

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    failures: int = 0
    fail_status: int = 503
    response_body: str = '{"ok": true}'
    fail_body: str = '{"error": "down"}'
    redirect_to: str | None = None  # answer with `redirect_status` and this Location
    redirect_status: int = 307
    redirect_all: bool = False  # also redirect requests for the Location's own path (a redirect loop)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_http_receiver(port: int = 0) -> HttpReceiver:
    holder: dict[str, HttpReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = holder["r"]
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode()
            with rec.lock:
                rec.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                failing = rec.failures > 0
                if failing:
                    rec.failures -= 1
            status = rec.fail_status if failing else 200
            payload = rec.fail_body.encode() if failing else rec.response_body.encode()
            # Redirect everything but the redirect's own path, so a redirect to ourselves ends there.
            redirecting = bool(rec.redirect_to) and not failing and (
                rec.redirect_all or urlsplit(rec.redirect_to or "").path != self.path)
            if redirecting:
                status, payload = rec.redirect_status, b""
            self.send_response(status)
            if redirecting:
                self.send_header("location", rec.redirect_to)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver = HttpReceiver(server)
    holder["r"] = receiver
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_rule(db: Database, tenant: Tenant, event_type: str, weight: int, now: datetime) -> None:
    """A scoring rule on the unit's primary ruleset."""
    with db.write() as session:
        rules.create_rule(session, tenant, {"event_type": event_type, "weight": weight}, now=now)


def send_event(
    db: Database, tenant: Tenant, email: str, event_type: str, at: datetime, *, domain: str | None = None,
) -> Ingested:
    """Ingest one event for the person with `email`, occurring (and received) at `at`."""
    with db.write() as session:
        (result,) = ingest(
            session, tenant,
            [NewEvent(event_type=event_type, occurred_at=at, person=PersonRef(aliases=[AliasInput("email", email)]))],
            at,
        )
    assert isinstance(result, Ingested), result
    return result
