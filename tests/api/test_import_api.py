"""POST /v1/events/import (CSV import as a job), GET /v1/events/import/{id}, GET /v1/events/export."""

from __future__ import annotations

import csv
import http.client
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from sqlalchemy import func, select, update

from api.app import create_api
from db import models
from services.scoring.model import lock_config
from services.tenancy.api_keys import create_api_key
from tests.conftest import ApiHarness

GOOD_AND_BAD = (
    "event_type,lead_id,timestamp,metadata,email,external_id\n"
    'page_visit,,2025-08-15T12:00:00Z,"{""page"": ""/pricing""}",ann@acme.com,\n'
    "email_open,,2025-08-15T12:05:00+02:00,,,crm-42\n"
    ",,2025-08-15T12:00:00Z,,bob@acme.com,\n"
    "page_visit,,yesterday,,bob@acme.com,\n"
    'page_visit,,,"{not json",bob@acme.com,\n'
    "page_visit,,,,,\n"
    "page_visit,,,,not-an-email,\n"
)


def upload(api: ApiHarness, text: str | bytes, name: str = "events.csv", **params: Any):  # type: ignore[no-untyped-def]
    content = text.encode() if isinstance(text, str) else text
    return api.post("/v1/events/import", files={"file": (name, content, "text/csv")}, params=params)


def unique_csv(rows: int = 2) -> str:
    """A file no other test uploads (the unit refuses a file it has imported before)."""
    tag = uuid.uuid4().hex[:8]
    return "event_type,email\n" + "".join(f"page_visit,p{i}-{tag}@example.com\n" for i in range(rows))


def event_count(api: ApiHarness) -> int:
    with api.db.read() as session:
        return session.scalar(
            select(func.count()).select_from(models.Event).where(models.Event.unit_id == api.tenant.unit_id)
        ) or 0


def test_import_answers_with_the_finished_job_naming_row_and_column_of_each_rejection(api: ApiHarness) -> None:
    response = upload(api, GOOD_AND_BAD)
    assert response.status_code == 200, response.text
    body = response.json()
    # The fields the synchronous import always answered with...
    assert (body["total"], body["ingested"], body["rejected"]) == (7, 2, 5)
    assert body["message"] == "imported 2 of 7 rows"
    # ...and the job.
    assert body["status"] == "done" and body["id"].startswith("imp_")
    assert (body["total_rows"], body["processed_rows"], body["accepted"]) == (7, 7, 2)
    assert body["filename"] == "events.csv" and len(body["file_sha256"]) == 64 and body["finished_at"]
    by_row = {e["row"]: e for e in body["errors"]}
    assert [e["row"] for e in body["errors"]] == [3, 4, 5, 6, 7]
    assert by_row[3]["column"] == "event_type"
    assert by_row[4]["column"] == "timestamp" and "RFC3339" in by_row[4]["message"]
    assert by_row[5]["column"] == "metadata" and "JSON" in by_row[5]["message"]
    assert by_row[6]["column"] == "lead_id"
    assert by_row[7]["column"] == "email" and "not-an-email" in by_row[7]["message"]
    assert event_count(api) == 2
    assert api.get(f"/v1/events/import/{body['id']}").json() == body


def test_an_invalid_alias_is_reported_in_its_own_column_whichever_position_it_has(api: ApiHarness) -> None:
    text = "event_type,external_id,email,cookie\npage_visit,crm-1,nope,\npage_visit,,,c1\npage_visit,crm-2,a@b.co,\n"
    body = upload(api, text).json()
    assert body["accepted"] == 2
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(1, "email")]


def test_a_huge_cell_a_bare_cr_and_poison_cells_are_per_row_errors(api: ApiHarness) -> None:
    tag = uuid.uuid4().hex[:6]
    big = "x" * (csv.field_size_limit() + 10)
    deep = "[" * 40 + "]" * 40
    lines = [
        "event_type,email,metadata,timestamp",
        f"page_visit,a-{tag}@example.com,,",  # 1 ok
        f'page_visit,b-{tag}@example.com,"{big}",',  # 2 cell over the csv module's limit
        f"page_visit,c-{tag}@exa\rmple.com,,",  # 3 a bare CR
        f"page\x00visit,d-{tag}@example.com,,",  # 4 NUL
        f'page_visit,e-{tag}@example.com,"{{""k"": ""\\ud800""}}",',  # 5 lone surrogate
        f'page_visit,f-{tag}@example.com,"{{""k"": {deep}}}",',  # 6 nesting deeper than 32
        f'page_visit,g-{tag}@example.com,"{{""k"": NaN}}",',  # 7 not a JSON number
        f'page_visit,h-{tag}@example.com,"{{""k"": {2**70}}}",',  # 8 beyond 64 bits
        f"page_visit,i-{tag}@example.com,,0001-01-01T00:00:00+01:00",  # 9 before year 1 in UTC
        f"page_visit,j-{tag}@example.com,,",  # 10 ok
    ]
    response = upload(api, "\n".join(lines) + "\n")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total_rows"], body["accepted"], body["rejected"]) == (10, 2, 8)
    by_row = {e["row"]: e for e in body["errors"]}
    assert sorted(by_row) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "longer than" in by_row[2]["message"]
    assert "carriage return" in by_row[3]["message"]
    assert by_row[4]["column"] == "event_type" and "NUL" in by_row[4]["message"]
    assert [by_row[n]["column"] for n in (5, 6, 7, 8)] == ["metadata"] * 4
    assert by_row[9]["column"] == "timestamp"
    exported = list(csv.DictReader(io.StringIO(api.get("/v1/events/export").text)))
    assert len(exported) == 2


def test_rows_of_a_large_file_are_all_accounted_for_across_chunks(api: ApiHarness) -> None:
    tag = uuid.uuid4().hex[:6]
    rows = [f"page_visit,u{i % 50}-{tag}@example.com" if i % 100 else "page_visit,broken" for i in range(1, 1201)]
    body = upload(api, "event_type,email\n" + "\n".join(rows) + "\n").json()
    assert (body["total_rows"], body["processed_rows"]) == (1200, 1200)
    assert (body["accepted"], body["rejected"]) == (1188, 12)
    assert [e["row"] for e in body["errors"]] == list(range(100, 1201, 100))
    assert event_count(api) == 1188


def test_the_same_file_again_is_refused_with_409_unless_allowed(api: ApiHarness) -> None:
    text = unique_csv()
    first = upload(api, text)
    assert first.status_code == 200
    again = upload(api, text, name="renamed.csv")
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "conflict" and first.json()["id"] in error["message"]
    assert "allow_duplicate=true" in error["message"]
    assert event_count(api) == 2
    forced = upload(api, text, allow_duplicate="true")
    assert forced.status_code == 200 and forced.json()["accepted"] == 2
    assert event_count(api) == 4


def test_the_same_file_in_another_unit_is_not_a_duplicate(api: ApiHarness, other_api: ApiHarness) -> None:
    text = unique_csv()
    assert upload(api, text).status_code == 200
    assert upload(other_api, text).status_code == 200


def test_wait_false_answers_202_at_once_and_the_job_shows_progress_to_the_end(api: ApiHarness) -> None:
    response = upload(api, unique_csv(1200), wait="false")
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "running" and job["total_rows"] == 1200
    assert response.headers["location"] == f"/v1/events/import/{job['id']}"
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = api.get(response.headers["location"]).json()
        seen.append(job["processed_rows"])
    assert job["status"] == "done" and job["accepted"] == 1200 and job["processed_rows"] == 1200
    assert seen == sorted(seen)  # progress never goes back


def test_an_import_of_another_unit_is_not_found(api: ApiHarness, other_api: ApiHarness) -> None:
    job_id = upload(api, unique_csv()).json()["id"]
    response = other_api.get(f"/v1/events/import/{job_id}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_a_viewer_key_cannot_import(api: ApiHarness) -> None:
    now = datetime.now(UTC)
    with api.db.write() as session:
        created = create_api_key(session, api.tenant, name="viewer", now=now)
        session.execute(update(models.ApiKey).where(models.ApiKey.id == created.id).values(role="Viewer"))
    response = api.client.post(
        "/v1/events/import", headers={"Authorization": f"Bearer {created.secret}"},
        files={"file": ("e.csv", unique_csv().encode(), "text/csv")},
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert event_count(api) == 0


def test_imported_events_are_scored_and_exported(api: ApiHarness) -> None:
    upload(api, GOOD_AND_BAD)
    response = api.get("/v1/events/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0])[:4] == ["id", "lead_id", "event_type", "timestamp"]
    assert [(r["event_type"], r["timestamp"]) for r in rows] == [
        ("page_visit", "2025-08-15T12:00:00Z"), ("email_open", "2025-08-15T10:05:00Z"),
    ]
    assert all(r["lead_id"].startswith("ld_") for r in rows)
    assert '"page":"/pricing"' in rows[0]["metadata"]


def test_export_neutralises_cells_a_spreadsheet_would_run(api: ApiHarness) -> None:
    tag = uuid.uuid4().hex[:6]
    text = (
        "event_type,email,source\n"
        f'"=HYPERLINK(""http://evil.example"")",a-{tag}@example.com,+cmd\n'
        f"@SUM(A1),b-{tag}@example.com,-x\n"
        f"page_visit,c-{tag}@example.com,web\n"
    )
    assert upload(api, text).json()["accepted"] == 3
    rows = list(csv.DictReader(io.StringIO(api.get("/v1/events/export").text)))
    assert [(r["event_type"], r["source"]) for r in rows] == [
        ("'=HYPERLINK(\"http://evil.example\")", "'+cmd"), ("'@SUM(A1)", "'-x"), ("page_visit", "web"),
    ]


def test_export_is_scoped_to_the_tenant(api: ApiHarness, other_api: ApiHarness) -> None:
    upload(api, GOOD_AND_BAD)
    rows = list(csv.DictReader(io.StringIO(other_api.get("/v1/events/export").text)))
    assert rows == []


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"lead_id,email\nx,a@b.com\n", "event_type"),
        (b"event_type,colour\nx,red\n", "colour"),
        (b"", "empty"),
        (b"event_type,email\n", "no data rows"),
        (b"event_type,email\npage_visit,\xff@x.com\n", "UTF-8"),
        (b"event_type,email,email\npage_visit,a@b.co,c@d.co\n", "named twice"),
    ],
)
def test_a_file_without_the_right_header_is_refused_with_the_envelope(
    api: ApiHarness, content: bytes, needle: str
) -> None:
    response = upload(api, content)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and needle in error["message"] and error["request_id"]
    with api.db.read() as session:
        jobs = session.scalar(select(func.count()).select_from(models.ImportJob).where(
            models.ImportJob.unit_id == api.tenant.unit_id))
    assert jobs == 0


def test_import_needs_a_file_and_a_key(api: ApiHarness) -> None:
    assert api.post("/v1/events/import").status_code == 422
    anonymous = api.client.post("/v1/events/import", files={"file": ("e.csv", b"event_type\nx\n", "text/csv")})
    assert anonymous.status_code == 401
    assert api.client.get("/v1/events/import/imp_x").status_code == 401


def test_openapi_describes_the_import_job_and_its_errors(api: ApiHarness) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    post = paths["/v1/events/import"]["post"]["responses"]
    assert post["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ImportJobOut")
    assert {"202", "401", "403", "409", "422"} <= set(post)
    assert paths["/v1/events/import/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"].endswith("/ImportJobOut")
    assert "text/csv" in paths["/v1/events/export"]["get"]["responses"]["200"]["content"]


# --- the import runs off the event loop ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(api: ApiHarness) -> Iterator[int]:
    """The API on a real uvicorn server (one event loop, as in production) over the test database."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(api.db), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(timeout=30)


def _multipart(text: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
        f"Content-Type: text/csv\r\n\r\n{text}\r\n--{boundary}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _job_of(api: ApiHarness) -> models.ImportJob | None:
    with api.db.read() as session:
        return session.scalars(select(models.ImportJob).where(models.ImportJob.unit_id == api.tenant.unit_id)).first()


def test_healthz_answers_while_an_import_is_in_progress(api: ApiHarness, live_server: int) -> None:
    """Once the import has committed its first rows, the test holds the lock an import's next chunk needs (the
    SQLite writer lock; the unit's scoring lock on PostgreSQL), so the import is certainly in progress, and asks
    /healthz. An import running on the event loop would hold it up until the import ends: this test would fail,
    not merely be slow."""
    rows = 20_000  # seconds of work: the lock below is taken while most of the file is still to come
    body, content_type = _multipart(unique_csv(rows))
    result: dict[str, Any] = {}

    def post() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=300)
        conn.request("POST", "/v1/events/import", body, {**api.headers, "Content-Type": content_type})
        response = conn.getresponse()
        result["status"], result["body"] = response.status, json.loads(response.read())

    poster = threading.Thread(target=post)
    poster.start()
    try:
        deadline = time.monotonic() + 120
        while (job := _job_of(api)) is None or not 0 < job.processed_rows < rows // 2:
            assert time.monotonic() < deadline and poster.is_alive(), f"the import never started: {result}"
            time.sleep(0.005)
        with api.db.write() as session:
            session.connection()  # BEGIN IMMEDIATE now: on SQLite this transaction is the writer until it ends
            lock_config(session, api.tenant, exclusive=True)
            held = _job_of(api)
            assert held is not None and held.status == "running" and held.processed_rows < rows
            conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=30)
            conn.request("GET", "/healthz")
            health = conn.getresponse()
            assert (health.status, json.loads(health.read())) == (200, {"status": "ok"})
            still = _job_of(api)
            assert still is not None and still.status == "running"
    finally:
        poster.join(timeout=300)
    assert result["status"] == 200 and result["body"]["accepted"] == rows
