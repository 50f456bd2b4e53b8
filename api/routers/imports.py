"""CSV import and export of engagement events.

An import is a job (services.ingest.imports): the upload is copied to a file, which an import process scans (hash, rows,
header); the job is recorded, then the import process ingests its rows in short transactions. The server only
waits, so it keeps answering other requests (/healthz included) however large the file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Importer, Reader
from api.responses import error_responses
from db.engine import Database
from services.context import Tenant
from services.ingest import imports
from services.tenancy.policy import Action, require

router = APIRouter(tags=["events"])


class ImportRowError(BaseModel):
    row: int | None = Field(description="1-based data row (the header row is not counted); null for the whole file")
    column: str | None = Field(description="the CSV column the problem is in, when it is in one")
    message: str


class ImportJobOut(BaseModel):
    """A CSV import: its progress while running, its counts and first per-row errors once finished."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: Literal["running", "done", "failed"]
    message: str
    filename: str
    file_sha256: str
    total_rows: int | None = Field(description="data rows in the file (the header is not counted)")
    processed_rows: int = Field(description="rows read so far; equals total_rows once done")
    accepted: int
    rejected: int
    errors: list[ImportRowError] = Field(
        description=f"per-row errors in row order, the first {imports.MAX_STORED_ERRORS} (rejected counts all)"
    )
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None
    total: int = Field(description="same as total_rows (kept for clients of the synchronous import)")
    ingested: int = Field(description="same as accepted (kept for clients of the synchronous import)")


def _out(view: imports.ImportJobView) -> ImportJobOut:
    return ImportJobOut.model_validate(view.as_dict())


def _job(db: Database, tenant: Tenant, job_id: str) -> imports.ImportJobView:
    with db.read() as session:
        return imports.get_import(session, tenant, job_id)


@router.post(
    "/v1/events/import",
    summary="Import events from CSV",
    response_model=ImportJobOut,
    responses={202: {"model": ImportJobOut, "description": "wait=false: the import runs on; poll its job"},
               **error_responses(401, 403, 409, 413, 422)},
)
async def import_events(
    file: UploadFile,
    tenant: Importer,
    db: DatabaseDep,
    now: Now,
    response: Response,
    allow_duplicate: Annotated[
        bool, Query(description="import a file already imported into this unit (same SHA-256) again")
    ] = False,
    wait: Annotated[
        bool, Query(description="true: answer when the import is finished; false: answer 202 at once with the job")
    ] = True,
) -> ImportJobOut:
    """Columns: event_type (required), lead_id, timestamp (RFC3339), metadata (JSON object), source and the
    alias columns external_id, email, phone, cookie, social. Up to 1,000,000 rows. Answers with the import job:
    counts and one error per rejected row (row and column). With wait=false it answers 202 at once and
    `GET /v1/events/import/{job_id}` shows the progress. A file already imported into the unit is refused
    with 409 unless allow_duplicate=true."""
    require(tenant, Action.IMPORT)  # before reading a large file for nothing
    workers = imports.import_processes()
    path = await run_in_threadpool(imports.spool, file.file)
    try:
        csv_file = imports.scanned(await asyncio.wrap_future(workers.scan(path)))

        def start(session: Any) -> imports.ImportJobView:
            return imports.start_import(
                session, tenant, filename=file.filename or "upload.csv", csv_file=csv_file, now=now,
                allow_duplicate=allow_duplicate,
            )

        job = await run_in_threadpool(run_write, db, start)
    except BaseException:
        imports.discard(path)
        raise
    url = db.engine.url.render_as_string(hide_password=False)
    done = workers.submit(db.write, url, tenant, job.id, path)
    if not wait:
        response.status_code = 202
        response.headers["Location"] = f"/v1/events/import/{job.id}"
        return _out(job)
    await asyncio.wrap_future(done)  # a failure was recorded on the job; it answers as a 500 here
    return _out(await run_in_threadpool(_job, db, tenant, job.id))


@router.get(
    "/v1/events/import/{job_id}",
    summary="An import's progress and outcome",
    response_model=ImportJobOut,
    responses=error_responses(401, 404),
)
def get_import(job_id: str, tenant: Reader, session: ReadSession) -> ImportJobOut:
    return _out(imports.get_import(session, tenant, job_id))


@router.get(
    "/v1/events/export",
    summary="Export events (OU-scoped)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "every event of the unit, in log order"},
               **error_responses(401)},
)
def export_events(tenant: Reader, db: DatabaseDep) -> StreamingResponse:
    """Cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) get a leading '."""

    def lines() -> Iterator[str]:
        with db.read() as session:
            yield from imports.csv_lines(imports.export_rows(session, tenant))

    return StreamingResponse(
        lines(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="events.csv"'}
    )
