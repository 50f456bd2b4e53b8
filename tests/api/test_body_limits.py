"""Body size caps: enforced before the body is parsed and before the caller is authenticated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import Mount

from core.profile import ACCOUNT_PROFILE_EVENT, LEAD_PROFILE_EVENT
from db import models
from settings import get_settings
from tests.conftest import ApiHarness

MB = 1024 * 1024


def count_events(api: ApiHarness) -> int:
    with api.db.read() as session:
        query = select(func.count()).select_from(models.Event).where(models.Event.unit_id == api.tenant.unit_id)
        return session.scalar(query) or 0


def envelope(resp: Any) -> dict[str, Any]:
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}, body
    assert body["error"]["request_id"] == resp.headers["x-request-id"]
    return dict(body["error"])


def padded_event(size: int) -> bytes:
    """A valid /v1/events body of exactly `size` bytes (padding in metadata)."""
    skeleton = {"event_type": "page_visit", "aliases": [{"alias_kind": "email", "raw_value": "pad@acme.com"}],
                "metadata": {"pad": ""}}
    base = len(orjson.dumps(skeleton))
    skeleton["metadata"] = {"pad": "x" * (size - base)}
    body = orjson.dumps(skeleton)
    assert len(body) == size
    return body


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_oversize_body_is_413_before_authentication(api: ApiHarness) -> None:
    body = b'{"event_type": "a", "metadata": {"pad": "' + b"x" * MB + b'"}}'
    resp = api.client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413, resp.text  # not 401: no key was sent
    error = envelope(resp)
    assert error["code"] == "payload_too_large" and str(MB) in error["message"]
    # With a valid key it is refused the same way, and nothing is stored.
    resp = api.client.post("/v1/events", content=body, headers={**api.headers, "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert count_events(api) == 0


def test_chunked_oversize_body_is_counted_while_streaming(api: ApiHarness) -> None:
    body = b'{"event_type": "a", "metadata": {"pad": "' + b"x" * (MB + 10) + b'"}}'
    # A generator is sent chunked: no Content-Length to refuse up front.
    resp = api.client.post("/v1/events", content=chunks(body), headers={"Content-Type": "application/json"})
    assert resp.status_code == 413, resp.text
    assert envelope(resp)["code"] == "payload_too_large"


def test_just_under_the_cap_passes_and_just_over_does_not(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    # A small cap (the metadata limit of 100 KB would answer first for a body near the real 1 MB).
    monkeypatch.setattr(get_settings(), "max_body_bytes", 4000)
    headers = {**api.headers, "Content-Type": "application/json"}
    resp = api.client.post("/v1/events", content=padded_event(4000), headers=headers)
    assert resp.status_code == 201, resp.text
    resp = api.client.post("/v1/events", content=chunks(padded_event(4000), 1000), headers=headers)
    assert resp.status_code == 201, resp.text
    resp = api.client.post("/v1/events", content=padded_event(4001), headers=headers)
    assert resp.status_code == 413
    resp = api.client.post("/v1/events", content=chunks(padded_event(4001), 1000), headers=headers)
    assert resp.status_code == 413
    assert count_events(api) == 2


def test_bulk_paths_get_the_bulk_cap(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_bulk_body_bytes", 3 * MB)
    events = [
        {"event_type": "page_visit", "aliases": [{"alias_kind": "email", "raw_value": f"u{i}@acme.com"}],
         "metadata": {"pad": "x" * 20_000}}
        for i in range(60)
    ]
    body = orjson.dumps({"events": events})
    assert MB < len(body) < 3 * MB
    json_headers = {**api.headers, "Content-Type": "application/json"}
    resp = api.client.post("/v1/events/batch", content=body, headers=json_headers)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["ingested"] == 60
    # Beyond the bulk cap: 413, before authentication, for the batch and the CSV import alike.
    big = b"x" * (3 * MB + 1)
    for path in ("/v1/events/batch", "/v1/events/import"):
        resp = api.client.post(path, content=big, headers={"Content-Type": "application/json"})
        assert resp.status_code == 413, (path, resp.text)
    # A single-event path keeps the single cap.
    resp = api.client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413


def test_caps_follow_the_route_path_under_a_mount(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the Streamlit server the API lives under /api: /api/v1/events/batch is still a bulk path."""
    monkeypatch.setattr(get_settings(), "max_body_bytes", 2000)
    mounted = TestClient(Starlette(routes=[Mount("/api", app=api.client.app)]), raise_server_exceptions=False)
    body = b'{"events": [], "pad": "' + b"x" * 3000 + b'"}'
    resp = mounted.post("/api/v1/events/batch", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 401  # under the bulk cap: it goes on to authentication
    resp = mounted.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert "the limit for /v1/events is 2000 bytes" in envelope(resp)["message"]


def test_crm_person_and_company_fields_count_against_the_metadata_limit(api: ApiHarness) -> None:
    limit = get_settings().max_properties_bytes
    half = "x" * (limit // 2 + 10)
    # Each part alone is under the limit; together they are over it.
    resp = api.post("/v1/crm/events", {
        "type": "a", "person": {"emails": ["p@acme.com"], "bio": half}, "metadata": {"note": half},
    })
    assert resp.status_code == 413, resp.text
    error = envelope(resp)
    assert error["code"] == "payload_too_large" and "person" in error["message"]
    resp = api.post("/v1/crm/events", {
        "type": "a", "person": {"emails": ["p@acme.com"]}, "company": {"name": "Acme", "notes": "x" * (limit + 1)},
    })
    assert resp.status_code == 413 and "company" in envelope(resp)["message"]
    assert count_events(api) == 0
    # Under the limit all together: stored, with the fields on the person and the company.
    resp = api.post("/v1/crm/events", {
        "type": "a", "person": {"emails": ["p@acme.com"], "bio": "b" * 1000},
        "company": {"name": "Acme", "notes": "n" * 1000}, "metadata": {"note": "m" * 1000},
    })
    assert resp.status_code in (200, 201), resp.text
    with api.db.read() as session:
        stored = session.execute(
            select(models.Event.event_type, models.Event.metadata_).where(models.Event.unit_id == api.tenant.unit_id)
            .order_by(models.Event.seq)
        ).all()
    # The event, then the person's and the company's new fields as profile changes of the log.
    assert [t for t, _ in stored] == ["a", LEAD_PROFILE_EVENT, ACCOUNT_PROFILE_EVENT]
    assert stored[1][1]["set"]["bio"] == "b" * 1000 and stored[2][1]["set"]["notes"] == "n" * 1000


def multipart(csv: bytes) -> tuple[bytes, str]:
    boundary = "leadvane-test-boundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="events.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode() + csv + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_csv_upload_streams_through_and_is_capped_on_the_way(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "max_bulk_body_bytes", 50_000)
    rows = b"".join(b"page_visit,u%d@acme.com\n" % i for i in range(100))
    body, content_type = multipart(b"event_type,email\n" + rows)
    assert len(body) < 50_000
    resp = api.client.post(
        "/v1/events/import", content=chunks(body, 700), headers={**api.headers, "Content-Type": content_type}
    )
    assert resp.status_code == 200, resp.text
    assert count_events(api) == 100
    big, content_type = multipart(b"event_type,email\n" + rows * 30)
    assert len(big) > 50_000
    # Chunked (no Content-Length): refused once the count passes the cap, before authentication.
    resp = api.client.post("/v1/events/import", content=chunks(big, 4096), headers={"Content-Type": content_type})
    assert resp.status_code == 413, resp.text
    assert envelope(resp)["code"] == "payload_too_large"
    resp = api.client.post(
        "/v1/events/import", content=chunks(big, 4096), headers={**api.headers, "Content-Type": content_type}
    )
    assert resp.status_code == 413
    assert count_events(api) == 100
