"""CSV import and export: POST /v1/events/import, GET /v1/events/export, and the service the Import page uses."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from db.engine import Database
from services import imports
from services.context import Tenant
from services.errors import Forbidden
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


def _upload(api: ApiHarness, text: str):  # type: ignore[no-untyped-def]
    return api.post("/v1/events/import", files={"file": ("events.csv", text.encode(), "text/csv")})


def test_import_reports_counts_and_names_row_and_column_of_each_rejection(api: ApiHarness) -> None:
    response = _upload(api, GOOD_AND_BAD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["ingested"], body["rejected"]) == (7, 2, 5)
    by_row = {e["row"]: e for e in body["errors"]}
    assert by_row[3]["column"] == "event_type"
    assert by_row[4]["column"] == "timestamp" and "RFC3339" in by_row[4]["message"]
    assert by_row[5]["column"] == "metadata" and "JSON" in by_row[5]["message"]
    assert by_row[6]["column"] == "lead_id"
    assert 7 in by_row and by_row[7]["column"] is not None


def test_imported_events_are_scored_and_exported(api: ApiHarness) -> None:
    _upload(api, GOOD_AND_BAD)
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


def test_export_is_scoped_to_the_tenant(api: ApiHarness, other_api: ApiHarness) -> None:
    _upload(api, GOOD_AND_BAD)
    rows = list(csv.DictReader(io.StringIO(other_api.get("/v1/events/export").text)))
    assert rows == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [("lead_id,email\nx,a@b.com\n", "event_type"), ("event_type,colour\nx,red\n", "colour"), ("", "empty")],
)
def test_a_file_without_the_right_header_is_refused_with_the_envelope(api: ApiHarness, text: str, needle: str) -> None:
    response = _upload(api, text)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and needle in error["message"] and error["request_id"]


def test_import_needs_a_file_and_a_key(api: ApiHarness) -> None:
    assert api.post("/v1/events/import").status_code == 422
    anonymous = api.client.post("/v1/events/import", files={"file": ("e.csv", b"event_type\nx\n", "text/csv")})
    assert anonymous.status_code == 401


def test_a_viewer_cannot_import(db: Database, tenant: Tenant, now: datetime) -> None:
    parsed = imports.parse_csv("event_type,email\npage_visit,a@example.com\n")
    with db.write() as session, pytest.raises(Forbidden):
        imports.ingest_rows(session, tenant, parsed.rows, now, role="Viewer")
    with db.write() as session:
        report = imports.ingest_rows(session, tenant, parsed.rows, now, role="Operator")
    assert report.ingested == 1
