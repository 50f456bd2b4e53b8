"""CSV import and export of engagement events."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, UploadFile
from fastapi.responses import StreamingResponse

from api.deps import DatabaseDep, Now, TenantDep, run_write
from services import imports
from services.context import load_scoring_context
from services.errors import InvalidInput

router = APIRouter(tags=["events"])


@router.post("/v1/events/import", summary="Import events from CSV")
async def import_events(file: UploadFile, tenant: TenantDep, db: DatabaseDep, now: Now) -> dict[str, object]:
    """Columns: event_type (required), lead_id, timestamp (RFC3339), metadata (JSON object), source and the
    alias columns external_id, email, phone, cookie, social. Answers with counts and one error per rejected row."""
    data = await file.read()
    if not data.strip():
        raise InvalidInput("file", "is empty")
    try:
        parsed = imports.parse_csv(data)
    except UnicodeDecodeError:
        raise InvalidInput("file", "must be UTF-8 text") from None
    with db.read() as session:
        context = load_scoring_context(session, tenant)
    chunks = [
        run_write(db, lambda session, chunk=chunk: imports.ingest_rows(session, tenant, chunk, now, context=context))
        for chunk in parsed.chunks()
    ]
    return imports.merge_reports(parsed, chunks).as_dict()


@router.get(
    "/v1/events/export",
    summary="Export events (OU-scoped)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_events(tenant: TenantDep, db: DatabaseDep) -> StreamingResponse:
    def lines() -> Iterator[str]:
        with db.read() as session:
            yield from imports.csv_lines(imports.export_rows(session, tenant))

    return StreamingResponse(
        lines(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="events.csv"'}
    )
