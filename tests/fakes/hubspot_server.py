"""A fake HubSpot CRM v3 on loopback: the contact calls the score sync uses, with Bearer token checks.

Implements PATCH /crm/v3/objects/contacts/{email}?idProperty=email (404 when unknown), POST /crm/v3/objects/contacts
(create; 409 when the email exists), POST /crm/v3/objects/contacts/batch/upsert (idProperty email) and
GET /crm/v3/objects/contacts?limit=N. Contacts are kept by lower-cased email; every request is recorded.
`rate_limited` answers that many next requests with 429 and Retry-After.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CONTACTS = "/crm/v3/objects/contacts"


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeHubSpot:
    server: ThreadingHTTPServer
    token: str
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # email -> properties
    calls: list[Call] = field(default_factory=list)
    rate_limited: int = 0
    retry_after: str = "120"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_contact(self, email: str, **properties: Any) -> None:
        with self.lock:
            self.contacts[email.lower()] = {"email": email.lower(), **properties}

    def contact(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.contacts.get(email.lower())
            return dict(found) if found is not None else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the API ---------------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any,
               auth: str) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.calls.append(Call(method, path, query, body))
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return 429, {"retry-after": self.retry_after}, {"status": "error", "category": "RATE_LIMITS"}
            if auth != f"Bearer {self.token}":
                return 401, {}, {"status": "error", "message": "Authentication credentials not found. secret-ish"}
            if method == "GET" and path == CONTACTS:
                limit = int((query.get("limit") or ["10"])[0])
                results = [{"id": str(i), "properties": p} for i, p in enumerate(list(self.contacts.values())[:limit])]
                return 200, {}, {"results": results}
            if method == "POST" and path == CONTACTS:
                props = dict(body["properties"])
                email = str(props.get("email", "")).lower()
                if not email:
                    return 400, {}, {"status": "error", "message": "email required"}
                if email in self.contacts:
                    return 409, {}, {"status": "error", "message": "Contact already exists"}
                self.contacts[email] = {**props, "email": email}
                return 201, {}, {"id": email, "properties": self.contacts[email]}
            if method == "POST" and path == CONTACTS + "/batch/upsert":
                results = []
                for item in body["inputs"]:
                    if item.get("idProperty") != "email" or "@" not in str(item.get("id", "")):
                        return 400, {}, {"status": "error", "message": "bad input"}
                    email = str(item["id"]).lower()
                    self.contacts[email] = {**self.contacts.get(email, {}), **item["properties"], "email": email}
                    results.append({"id": email, "properties": self.contacts[email]})
                return 200, {}, {"status": "COMPLETE", "results": results}
            if method == "PATCH" and path.startswith(CONTACTS + "/"):
                if query.get("idProperty") != ["email"]:
                    return 400, {}, {"status": "error", "message": "idProperty=email expected"}
                email = unquote(path[len(CONTACTS) + 1:]).lower()
                if email not in self.contacts:
                    return 404, {}, {"status": "error", "message": "resource not found"}
                self.contacts[email].update(body["properties"])
                return 200, {}, {"id": email, "properties": self.contacts[email]}
            return 404, {}, {"status": "error", "message": "no such endpoint"}


def start_fake_hubspot(token: str = "pat-na1-test-token") -> FakeHubSpot:
    holder: dict[str, FakeHubSpot] = {}

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, headers, answer = holder["h"].handle(
                self.command, parts.path, parse_qs(parts.query), body, self.headers.get("authorization", ""))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake = FakeHubSpot(server, token)
    holder["h"] = fake
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake


def running(token: str = "pat-na1-test-token") -> Iterator[FakeHubSpot]:
    """For a fixture: `yield from running()`."""
    fake = start_fake_hubspot(token)
    try:
        yield fake
    finally:
        fake.close()
