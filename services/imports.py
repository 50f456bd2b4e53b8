"""CSV import and export of engagement events.

Import: `parse_csv` turns the file into events (or a per-row error naming row and column), then the caller
feeds `ingest_rows` one chunk per transaction, so a large file shows progress and never holds the writer
lock for long. Every row goes through `services.ingest.ingest`, the single ingest path.
Export: `export_rows` yields the unit's events in log order, a page at a time.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from services.context import ScoringContext, Tenant
from services.errors import Forbidden, InvalidInput, ServiceError
from services.ingest import AliasInput, NewEvent, PersonRef, ingest
from services.users import EDITOR_ROLES

ALIAS_COLUMNS: tuple[str, ...] = ("external_id", "email", "phone", "cookie", "social")
KNOWN_COLUMNS: frozenset[str] = frozenset({"event_type", "lead_id", "timestamp", "metadata", "source", *ALIAS_COLUMNS})
EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "lead_id", "event_type", "timestamp", "account_id", "channel", "source", "score_delta", "metadata",
)
CHUNK_ROWS = 500
MAX_ROWS = 1_000_000


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based data row (the header is not counted); the file line is row + 1
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(slots=True)
class ParsedCsv:
    rows: list[tuple[int, NewEvent]]
    errors: list[RowError]
    total: int

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[list[tuple[int, NewEvent]]]:
        for start in range(0, len(self.rows), size):
            yield self.rows[start : start + size]


@dataclass(slots=True)
class ImportReport:
    total: int = 0
    ingested: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": f"imported {self.ingested} of {self.total} rows",
            "total": self.total,
            "ingested": self.ingested,
            "rejected": self.rejected,
            "errors": [e.as_dict() for e in sorted(self.errors, key=lambda e: e.row)],
        }


def require_import_rights(role: str | None) -> None:
    """A dashboard user must be an editor; API callers (role None) are scoped by their key."""
    if role is not None and role not in EDITOR_ROLES:
        raise Forbidden(f"{role} users cannot import events")


def _parse_timestamp(raw: str) -> datetime:
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("needs a UTC offset (RFC3339), e.g. 2025-08-15T12:00:00Z")
    return value


def _row_event(row: dict[str, str]) -> NewEvent:
    """One CSV row as an event; raises InvalidInput naming the column."""
    event_type = (row.get("event_type") or "").strip()
    if not event_type:
        raise InvalidInput("event_type", "is required")
    occurred_at = None
    if (row.get("timestamp") or "").strip():
        try:
            occurred_at = _parse_timestamp(row["timestamp"])
        except ValueError as exc:
            raise InvalidInput("timestamp", f"not an RFC3339 timestamp ({exc})") from None
    properties: dict[str, Any] = {}
    if (row.get("metadata") or "").strip():
        try:
            properties = json.loads(row["metadata"])
        except json.JSONDecodeError as exc:
            raise InvalidInput("metadata", f"not valid JSON ({exc.msg})") from None
        if not isinstance(properties, dict):
            raise InvalidInput("metadata", "must be a JSON object")
    aliases = [AliasInput(kind, row[kind].strip()) for kind in ALIAS_COLUMNS if (row.get(kind) or "").strip()]
    lead_id = (row.get("lead_id") or "").strip() or None
    if lead_id is None and not aliases:
        raise InvalidInput("lead_id", f"give lead_id or one of the alias columns {', '.join(ALIAS_COLUMNS)}")
    return NewEvent(
        event_type=event_type,
        occurred_at=occurred_at,
        properties=properties,
        source=(row.get("source") or "").strip() or "csv_import",
        person=PersonRef(lead_id=lead_id, aliases=aliases, field_name="lead_id" if lead_id else "aliases"),
    )


def parse_csv(data: bytes | str) -> ParsedCsv:
    """Read a CSV with a header row; every bad row becomes a RowError, the good ones events to ingest."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "event_type" not in header:
        raise InvalidInput("file", "the header row must name an event_type column")
    unknown = [h for h in header if h and h not in KNOWN_COLUMNS]
    if unknown:
        raise InvalidInput("file", f"unknown column(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_COLUMNS))}")
    reader.fieldnames = header
    parsed = ParsedCsv(rows=[], errors=[], total=0)
    for number, row in enumerate(reader, start=1):
        if number > MAX_ROWS:
            raise InvalidInput("file", f"at most {MAX_ROWS} rows per import")
        parsed.total += 1
        if None in row:
            extra = len(row[None])  # type: ignore[index]
            message = f"has {len(header) + extra} cells; the header has {len(header)}"
            parsed.errors.append(RowError(number, None, message))
            continue
        try:
            parsed.rows.append((number, _row_event(row)))
        except InvalidInput as exc:
            parsed.errors.append(RowError(number, exc.field, exc.message.removeprefix(f"{exc.field}: ")))
    return parsed


def _column_of(exc: ServiceError) -> str | None:
    if exc.field is None:
        return None
    head = exc.field.split(".")[0].split("[")[0]
    if head in KNOWN_COLUMNS:
        return head
    return "lead_id" if head in ("aliases", "lead", "person") else exc.field


def ingest_rows(
    session: Session,
    tenant: Tenant,
    rows: Sequence[tuple[int, NewEvent]],
    now: datetime,
    *,
    role: str | None = None,
    context: ScoringContext | None = None,
) -> ImportReport:
    """Ingest one chunk of parsed rows (the caller commits); rows the engine refuses become RowErrors."""
    require_import_rights(role)
    report = ImportReport(total=len(rows))
    results = ingest(session, tenant, [event for _, event in rows], now, context=context)
    for (number, _event), result in zip(rows, results, strict=True):
        if isinstance(result, ServiceError):
            message = result.message.removeprefix(f"{result.field}: ") if result.field else result.message
            report.errors.append(RowError(number, _column_of(result), message))
        else:
            report.ingested += 1
    return report


def merge_reports(parsed: ParsedCsv, chunks: Sequence[ImportReport]) -> ImportReport:
    return ImportReport(
        total=parsed.total,
        ingested=sum(c.ingested for c in chunks),
        errors=[*parsed.errors, *(e for c in chunks for e in c.errors)],
    )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def export_rows(session: Session, tenant: Tenant, *, page_size: int = 5000) -> Iterator[dict[str, Any]]:
    """Every event of the unit in log order, as flat CSV-ready dicts; keyset-paged so memory stays flat."""
    ev = models.Event
    last_seq = 0
    while True:
        page = session.execute(
            select(
                ev.seq, ev.id, ev.lead_id, ev.event_type, ev.occurred_at, ev.account_id, ev.channel, ev.source,
                ev.score_delta, ev.metadata_,
            )
            .where(ev.unit_id == tenant.unit_id, ev.seq > last_seq)
            .order_by(ev.seq)
            .limit(page_size)
        ).all()
        if not page:
            return
        for r in page:
            yield {
                "id": r.id, "lead_id": r.lead_id or "", "event_type": r.event_type, "timestamp": _iso(r.occurred_at),
                "account_id": r.account_id or "", "channel": r.channel, "source": r.source or "",
                "score_delta": r.score_delta, "metadata": json.dumps(r.metadata_ or {}, separators=(",", ":")),
            }
        last_seq = page[-1].seq


def csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The header, then one CSV line per row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue()
