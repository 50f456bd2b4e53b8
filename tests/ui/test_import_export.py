"""The Import & export page: an upload becomes an import job whose progress and result the page shows,
a file imported before asks before importing it again, the export neutralises formula cells.
(The API's import and export: tests/api/test_import_api.py.)"""

from __future__ import annotations

import csv
import io
import time
import uuid

from streamlit.testing.v1 import AppTest

from services.ingest import imports
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts


def _finish(at: AppTest, unit: DemoUnit) -> AppTest:
    """Wait for the page's import job to finish (it runs on a background thread), then show the page again."""
    job_id = at.session_state["import_job_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with unit.db.read() as session:
            if imports.get_import(session, unit.tenant, job_id).status != "running":
                break
        time.sleep(0.05)
    return at.run()


def _csv() -> bytes:
    tag = uuid.uuid4().hex[:6]
    return (
        "event_type,external_id,email\n"
        f"page_visit,,ann-{tag}@example.com\n"
        f"page_visit,crm-{tag},not-an-address\n"
        f",,bob-{tag}@example.com\n"
    ).encode()


def _upload(at: AppTest, content: bytes) -> AppTest:
    at.file_uploader(key="import_file").set_value(("events.csv", content, "text/csv")).run()
    return at.button(key="import_run").click().run()


def test_an_upload_is_imported_and_the_result_names_row_and_column_of_each_rejection(unit: DemoUnit) -> None:
    at = _upload(open_page("import_export", unit.owner), _csv())
    assert not at.exception
    at = _finish(at, unit)
    assert not at.exception
    screen = texts(at)
    assert "Imported 1 of 3 rows from events.csv; 2 rejected." in screen
    errors = frame_with(at, "Column")
    assert list(zip(errors["Row"], errors["Column"], strict=True)) == [(2, "email"), (3, "event_type")]
    # The bar and the result agree: both come from the job.
    assert at.get("progress")[0].proto.value == 100
    assert "Read 3 of 3 rows" in at.get("progress")[0].proto.text


def test_the_same_file_again_asks_first_and_can_be_imported_anyway(unit: DemoUnit) -> None:
    content = _csv()
    at = _finish(_upload(open_page("import_export", unit.owner), content), unit)
    first_job = at.session_state["import_job_id"]
    at = _upload(at, content)
    assert not at.exception
    assert "events.csv was imported before" in texts(at) and first_job in texts(at)
    assert at.session_state["import_job_id"] == first_job  # nothing started
    at = at.button(key="import_anyway").click().run()
    assert not at.exception
    assert at.session_state["import_job_id"] != first_job
    at = _finish(at, unit)
    assert "Imported 1 of 3 rows" in texts(at) and "was imported before" not in texts(at)


def test_a_viewer_cannot_upload(unit: DemoUnit) -> None:
    at = open_page("import_export", unit.viewer)
    assert not at.exception
    assert at.file_uploader(key="import_file").disabled


def test_export_downloads_every_event_with_formula_cells_neutralised(unit: DemoUnit) -> None:
    tag = uuid.uuid4().hex[:6]
    at = _upload(open_page("import_export", unit.owner), f"event_type,email\n=1+1,x-{tag}@example.com\n".encode())
    at = _finish(at, unit)
    at = at.button(key="export_prepare").click().run()
    assert not at.exception
    rows = list(csv.DictReader(io.StringIO(at.session_state["export_csv"])))
    assert rows and rows[-1]["event_type"] == "'=1+1"
    # Numbers (a negative score_delta) stay numbers; no text cell starts a formula.
    text_cells = [cell for row in rows for column, cell in row.items() if column != "score_delta"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in text_cells)
