"""CSV import and export of engagement events.

Import is a job (the import_jobs row): `scan_csv` hashes the file, counts its rows and checks its header;
`start_import` refuses a file already imported in the unit and records the job; `import_chunk` ingests the next
few hundred rows and advances the job's counters in the same transaction, so progress read from the job is
exactly what is committed. `run_import` drives the chunks, one short transaction each, so a large file never
holds the writer lock for long; the API and the dashboard run it in a worker process (`import_processes`), so
the server's event loop, GIL and garbage collector are never the import's.
Every row goes through `services.ingest.ingest.ingest`, the single ingest path. A bad row (bad cell, a cell longer
than the csv module's limit, a bare CR, a refused alias) is a per-row error naming its column, never a failure.
Export: `export_rows` yields the unit's events in log order, a page at a time; `csv_lines` writes them with
formula-looking cells neutralised (core.csv_cells).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import logging
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import types
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.csv_cells import safe_row
from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound, ServiceError
from services.ingest import import_worker
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.tenancy import audit
from services.tenancy.policy import Action, require

log = logging.getLogger("leadvane.imports")
ROOT = Path(__file__).resolve().parents[1]

ALIAS_COLUMNS: tuple[str, ...] = ("external_id", "email", "phone", "cookie", "social")
KNOWN_COLUMNS: frozenset[str] = frozenset({"event_type", "lead_id", "timestamp", "metadata", "source", *ALIAS_COLUMNS})
EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "lead_id", "event_type", "timestamp", "account_id", "channel", "source", "score_delta", "metadata",
)
CHUNK_ROWS = 500
MAX_ROWS = 1_000_000
MAX_STORED_ERRORS = 1000  # the job keeps the first errors; `rejected` counts them all
MAX_JSON_DEPTH = 32
_INT64 = 2**63
# Column widths of the tables the rows land in (db.models): longer values are per-row errors, not a failed insert.
_MAX_LENGTH = {"event_type": 200, "source": 200, "lead_id": 64, **{c: 512 for c in ALIAS_COLUMNS}}
_RETRYABLE = DBAPIError  # a chunk that loses a race (unique key, deadlock) or hits a bad value is retried

Write = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based data row (the header is not counted)
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True, slots=True)
class CsvFile:
    """What scan_csv learned about an upload before anything is stored."""

    header: tuple[str, ...]
    sha256: str
    total_rows: int


@dataclass(frozen=True, slots=True)
class ImportJobView:
    id: str
    filename: str
    file_sha256: str
    status: str  # running | done | failed
    total_rows: int | None
    processed_rows: int
    accepted: int
    rejected: int
    errors: list[dict[str, Any]]
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status != "running"

    @property
    def message(self) -> str:
        total = self.total_rows if self.total_rows is not None else self.processed_rows
        if self.status == "running":
            return f"importing: {self.processed_rows} of {total} rows read"
        verb = "imported" if self.status == "done" else "import failed after importing"
        return f"{verb} {self.accepted} of {total} rows"

    def as_dict(self) -> dict[str, Any]:
        """The job, plus the fields the synchronous import answered with before jobs existed (total, ingested)."""
        return {
            "id": self.id, "status": self.status, "message": self.message, "filename": self.filename,
            "file_sha256": self.file_sha256, "total_rows": self.total_rows, "processed_rows": self.processed_rows,
            "accepted": self.accepted, "rejected": self.rejected, "errors": self.errors,
            "created_by": self.created_by, "created_at": self.created_at, "finished_at": self.finished_at,
            "total": self.total_rows or 0, "ingested": self.accepted,
        }


# --- reading the file ------------------------------------------------------------------------------------------------


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a cell is longer than {csv.field_size_limit():,} characters"
    if "new-line character seen in unquoted field" in text:
        return "a bare carriage return (CR) outside quotes; quote the cell or end lines with LF or CRLF"
    return f"not valid CSV ({text})"


def _records(stream: IO[bytes]) -> Generator[list[str] | str, None, None]:
    """The file's CSV records from its start: a list of cells, or the message of a record csv could not read.

    Lines end at LF only (CRLF works: csv drops the CR before the LF), so a bare CR inside an unquoted cell is
    a per-row error instead of silently splitting the row in two.
    """
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="\n")
    reader = csv.reader(text)
    try:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield _csv_problem(exc)
                continue
            if cells:  # csv yields [] for a blank line; blank lines are not rows
                yield cells
    finally:
        text.detach()  # the stream belongs to the caller: do not close it with the wrapper


def _check_header(first: list[str] | str | None) -> tuple[str, ...]:
    if first is None:
        raise InvalidInput("file", "is empty")
    if isinstance(first, str):
        raise InvalidInput("file", f"header row: {first}")
    header = tuple(h.strip() for h in first)
    if "event_type" not in header:
        raise InvalidInput("file", "the header row must name an event_type column")
    unknown = [h for h in header if h and h not in KNOWN_COLUMNS]
    if unknown:
        raise InvalidInput("file", f"unknown column(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_COLUMNS))}")
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise InvalidInput("file", f"column(s) named twice in the header: {', '.join(duplicated)}")
    return header


def scan_csv(stream: IO[bytes]) -> CsvFile:
    """Hash the file, check it is UTF-8 with a usable header and count its rows; nothing is stored.

    Refusals that concern the whole file (not UTF-8, no event_type column, unknown columns, too many rows) are
    InvalidInput on the `file` field. Leaves the stream at its start.
    """
    stream.seek(0)
    digest = hashlib.sha256()
    while block := stream.read(1 << 20):
        digest.update(block)
    records = _records(stream)
    try:
        header = _check_header(next(records, None))
        total = 0
        for _ in records:
            total += 1
            if total > MAX_ROWS:
                raise InvalidInput("file", f"at most {MAX_ROWS:,} rows per import")
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"must be UTF-8 text (byte {exc.start} of a block is not)") from None
    finally:
        records.close()
    if total == 0:
        raise InvalidInput("file", "has a header row but no data rows")
    stream.seek(0)
    return CsvFile(header=header, sha256=digest.hexdigest(), total_rows=total)


def _parse_timestamp(raw: str) -> datetime:
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:  # read as UTC, as the API reads a timestamp without an offset
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("its UTC time falls outside the years 1 to 9999") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_problem(value: Any, depth: int = 0) -> str | None:
    """Why a metadata value cannot be stored (on SQLite and PostgreSQL alike), or None."""
    if depth > MAX_JSON_DEPTH:
        return f"nests deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (an invalid \\u escape)"
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -_INT64 <= value < _INT64 else "has an integer outside the 64-bit range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "has a number that is not finite"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _json_problem(key, depth + 1) or _json_problem(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _json_problem(item, depth + 1)
            if problem:
                return problem
    return None


def _row_event(cells: dict[str, str]) -> NewEvent:
    """One CSV row as an event; raises InvalidInput naming the column."""
    for column, value in cells.items():
        if "\x00" in value:
            raise InvalidInput(column, "contains a NUL character")
        limit = _MAX_LENGTH.get(column)
        if limit is not None and len(value.strip()) > limit:
            raise InvalidInput(column, f"is longer than {limit} characters")
    event_type = cells.get("event_type", "").strip()
    if not event_type:
        raise InvalidInput("event_type", "is required")
    occurred_at = None
    if cells.get("timestamp", "").strip():
        try:
            occurred_at = _parse_timestamp(cells["timestamp"])
        except ValueError as exc:
            raise InvalidInput("timestamp", f"not an RFC3339 timestamp ({exc})") from None
    properties: dict[str, Any] = {}
    if cells.get("metadata", "").strip():
        try:
            properties = json.loads(cells["metadata"], parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise InvalidInput("metadata", f"not valid JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:
            raise InvalidInput("metadata", f"not valid JSON ({exc})") from None
        if not isinstance(properties, dict):
            raise InvalidInput("metadata", "must be a JSON object")
        problem = _json_problem(properties)
        if problem:
            raise InvalidInput("metadata", problem)
    aliases = [AliasInput(kind, cells[kind].strip()) for kind in ALIAS_COLUMNS if cells.get(kind, "").strip()]
    lead_id = cells.get("lead_id", "").strip() or None
    if lead_id is None and not aliases:
        raise InvalidInput("lead_id", f"give lead_id or one of the alias columns {', '.join(ALIAS_COLUMNS)}")
    return NewEvent(
        event_type=event_type,
        occurred_at=occurred_at,
        properties=properties,
        source=cells.get("source", "").strip() or "csv_import",
        person=PersonRef(lead_id=lead_id, aliases=aliases, field_name="lead_id" if lead_id else "aliases"),
    )


Item = tuple[int, NewEvent] | RowError


def _item(number: int, record: list[str] | str, header: tuple[str, ...]) -> Item:
    if isinstance(record, str):
        return RowError(number, None, record)
    if len(record) > len(header):
        return RowError(number, None, f"has {len(record)} cells; the header has {len(header)}")
    # A short row leaves its last columns empty, as csv.DictReader does.
    cells = {name: value for name, value in zip(header, record, strict=False) if name}
    try:
        return (number, _row_event(cells))
    except InvalidInput as exc:
        return RowError(number, exc.field, exc.message.removeprefix(f"{exc.field}: "))


def read_chunks(stream: IO[bytes], size: int = CHUNK_ROWS) -> Iterator[list[Item]]:
    """The file's rows in order, `size` at a time: each an event to ingest (with its row number) or a RowError."""
    records = _records(stream)
    try:
        header = _check_header(next(records, None))
        chunk: list[Item] = []
        for number, record in enumerate(records, start=1):
            chunk.append(_item(number, record, header))
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        records.close()


# --- the job ---------------------------------------------------------------------------------------------------------


def _view(job: models.ImportJob) -> ImportJobView:
    return ImportJobView(
        id=job.id, filename=job.filename, file_sha256=job.file_sha256, status=job.status, total_rows=job.total_rows,
        processed_rows=job.processed_rows, accepted=job.accepted, rejected=job.rejected, errors=list(job.errors or []),
        created_by=job.created_by, created_at=job.created_at, finished_at=job.finished_at,
    )


def _job(session: Session, tenant: Tenant, job_id: str, *, lock: bool = False) -> models.ImportJob:
    statement = select(models.ImportJob).where(
        models.ImportJob.id == job_id, models.ImportJob.unit_id == tenant.unit_id
    )
    job = session.scalars(statement.with_for_update() if lock else statement).first()
    if job is None:
        raise NotFound(f"import {job_id!r} does not exist in this unit", field="job_id")
    return job


def start_import(
    session: Session,
    tenant: Tenant,
    *,
    filename: str,
    csv_file: CsvFile,
    now: datetime,
    allow_duplicate: bool = False,
) -> ImportJobView:
    """Record a running import of a scanned file; the same file (by SHA-256) imported before is a Conflict."""
    require(tenant, Action.IMPORT)
    if not allow_duplicate:
        job = models.ImportJob
        earlier = session.scalars(
            select(job)
            .where(
                job.unit_id == tenant.unit_id, job.file_sha256 == csv_file.sha256,
                or_(job.status != "failed", job.accepted > 0),  # a failed job that stored nothing does not count
            )
            .order_by(job.created_at.desc())
            .limit(1)
        ).first()
        if earlier is not None:
            when = earlier.created_at.strftime("%Y-%m-%d %H:%M UTC")
            rows = f"{earlier.accepted:,} row{'' if earlier.accepted == 1 else 's'}"
            state = "is still running" if earlier.status == "running" else f"accepted {rows}"
            raise Conflict(
                f"this file was already imported into this unit on {when} as {earlier.filename!r} (import "
                f"{earlier.id}, which {state}); importing it again would store its events twice. "
                "Send allow_duplicate=true to import it anyway.",
                field="file",
            )
    row = models.ImportJob(
        id=new_id("imp"), org_id=tenant.org_id, unit_id=tenant.unit_id, filename=filename[:300] or "upload.csv",
        file_sha256=csv_file.sha256, status="running", total_rows=csv_file.total_rows, processed_rows=0, accepted=0,
        rejected=0, errors=[], created_by=tenant.actor, created_at=now, finished_at=None,
    )
    session.add(row)
    session.flush()
    audit.created(session, tenant, "import", row, now)
    return _view(row)


def _column_of(error: ServiceError, event: NewEvent) -> str | None:
    """The CSV column an ingest error is about: `aliases[1]` is the row's second non-empty alias column."""
    if error.field is None:
        return None
    head = error.field.split(".")[-1]
    if head.startswith("aliases[") and event.person is not None:
        position = int(head[len("aliases[") : -1])
        return event.person.aliases[position].kind  # an AliasInput's kind is its column's name
    head = head.split("[")[0]
    if head in KNOWN_COLUMNS:
        return head
    return "lead_id" if head in ("aliases", "lead", "person", "contact") else error.field


def _message_of(error: ServiceError) -> str:
    return error.message.removeprefix(f"{error.field}: ") if error.field else error.message


def import_chunk(session: Session, tenant: Tenant, job_id: str, chunk: Sequence[Item], now: datetime) -> ImportJobView:
    """Ingest one chunk of rows and advance the job by it, in the caller's transaction."""
    require(tenant, Action.IMPORT)
    job = _job(session, tenant, job_id, lock=True)
    errors = [item for item in chunk if isinstance(item, RowError)]
    rows = [item for item in chunk if not isinstance(item, RowError)]
    accepted = 0
    if rows:
        for (number, event), result in zip(rows, ingest(session, tenant, [e for _, e in rows], now), strict=True):
            if isinstance(result, ServiceError):
                errors.append(RowError(number, _column_of(result, event), _message_of(result)))
            else:
                accepted += 1
    job.processed_rows += len(chunk)
    job.accepted += accepted
    job.rejected += len(errors)
    room = MAX_STORED_ERRORS - len(job.errors or [])
    if errors and room > 0:
        errors.sort(key=lambda e: e.row)
        job.errors = [*(job.errors or []), *(e.as_dict() for e in errors[:room])]  # a new list: JSON change seen
    session.flush()
    return _view(job)


def finish_import(
    session: Session, tenant: Tenant, job_id: str, now: datetime, *, failure: str | None = None
) -> ImportJobView:
    """Mark the job done, or failed with `failure` as its last error entry."""
    require(tenant, Action.IMPORT)
    job = _job(session, tenant, job_id, lock=True)
    job.status = "failed" if failure else "done"
    job.finished_at = now
    if failure:
        job.errors = [*(job.errors or []), {"row": None, "column": None, "message": failure}]
    session.flush()
    return _view(job)


def get_import(session: Session, tenant: Tenant, job_id: str) -> ImportJobView:
    return _view(_job(session, tenant, job_id))


def _store_chunk(write: Write, tenant: Tenant, job_id: str, chunk: list[Item], now: datetime) -> ImportJobView:
    """One chunk in one transaction; a chunk the database refuses as a whole is retried, then row by row, so one
    unstorable row is a per-row error instead of stopping the import."""
    for _attempt in range(2):
        try:
            with write() as session:
                return import_chunk(session, tenant, job_id, chunk, now)
        except _RETRYABLE:
            continue
    if len(chunk) == 1:
        item = chunk[0]
        number = item.row if isinstance(item, RowError) else item[0]
        log.warning("import %s: the database refused row %s twice; recorded as a per-row error", job_id, number)
        with write() as session:
            return import_chunk(session, tenant, job_id, [RowError(number, None, "could not be stored")], now)
    view: ImportJobView | None = None
    for item in chunk:
        view = _store_chunk(write, tenant, job_id, [item], now)
    assert view is not None
    return view


def run_import(
    write: Write,
    tenant: Tenant,
    job_id: str,
    stream: IO[bytes],
    clock: Callable[[], datetime],
    *,
    on_progress: Callable[[ImportJobView], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ImportJobView:
    """Import the scanned file into a started job, one short transaction per chunk, and finish the job.

    The only service that runs several transactions: the caller lends it `write` (a factory of committing
    sessions, e.g. Database.write) because a million rows cannot be one transaction without holding SQLite's
    writer lock for minutes. Blocking: call it from a worker thread, never on an event loop.
    """
    try:
        for chunk in read_chunks(stream, chunk_rows):
            view = _store_chunk(write, tenant, job_id, chunk, clock())
            if on_progress is not None:
                on_progress(view)
        with write() as session:
            return finish_import(session, tenant, job_id, clock())
    except Exception:
        log.exception("import %s failed", job_id)
        with write() as session:
            finish_import(session, tenant, job_id, clock(), failure="the import stopped on an internal error")
        raise


def import_file(database_url: str, tenant: Tenant, job_id: str, path: str) -> None:
    """Entry point of an import process: run_import over the file at `path` (deleted afterwards)."""
    from db.engine import Database  # the worker process opens its own engine

    db = Database(database_url)
    try:
        with open(path, "rb") as stream:
            run_import(db.write, tenant, job_id, stream, lambda: datetime.now(UTC))
    finally:
        db.dispose()
        discard(path)


@contextlib.contextmanager
def _main_without_script() -> Iterator[None]:
    """multiprocessing starts a spawned worker by re-running the parent's __main__ script in it. Under Streamlit,
    __main__ is the page being run (the Import page itself): a worker must not run a page. While a worker starts,
    __main__ is an empty module, so the worker imports only what its tasks need."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class ImportProcesses:
    """Imports run in worker processes of their own, not threads of the server.

    A thread would share the server's GIL and garbage collector: every request, /healthz included, would wait
    for its turn behind the import's Python code, and a full collection of the import's garbage stops the
    whole process. A process shares nothing but the database, where the job's progress already lives.
    Workers are started on the first import (spawned: never forked from a threaded server) and kept.
    """

    def __init__(self, max_workers: int = 2) -> None:
        self.max_workers = max_workers
        self._lock = threading.Lock()
        self._spawning = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(
                    max_workers=self.max_workers, mp_context=context, initializer=import_worker.init,
                    initargs=(str(ROOT),),
                )
            return self._pool

    def shutdown(self) -> None:
        """Stop the workers (waiting for running imports); for a server's shutdown hook."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, work: Callable[..., Any], *args: Any) -> Future[Any]:
        for attempt in range(2):
            pool = self._executor()
            try:
                # A submit may start a worker: one at a time, each without the parent's __main__ script.
                with self._spawning, _main_without_script():
                    return pool.submit(work, *args)
            except BrokenProcessPool:
                if attempt:
                    raise
                with self._lock:
                    if self._pool is pool:
                        self._pool = None  # a worker died (killed, out of memory): start afresh
        raise AssertionError("unreachable")

    def scan(self, path: str) -> Future[CsvFile | tuple[str, str]]:
        """scan_file in a worker: reading a large CSV is CPU work the server's GIL should not carry."""
        return self._submit(scan_file, path)

    def submit(self, write: Write, database_url: str, tenant: Tenant, job_id: str, path: str) -> Future[None]:
        """Start importing the file at `path` (the worker deletes it) into the started job `job_id`."""
        future = self._submit(import_file, database_url, tenant, job_id, path)

        def check(done: Future[None]) -> None:
            # A worker that died could not record it: do it here, so the job does not stay `running`.
            if isinstance(done.exception(), BrokenProcessPool):
                with self._lock:
                    self._pool = None
                discard(path)
                with write() as session:
                    finish_import(session, tenant, job_id, datetime.now(UTC),
                                  failure="the import process stopped unexpectedly")

        future.add_done_callback(check)
        return future


@functools.cache
def import_processes() -> ImportProcesses:
    """The process's import workers (one pool, started on first use: a thread-safe singleton)."""
    return ImportProcesses()


def scan_file(path: str) -> CsvFile | tuple[str, str]:
    """scan_csv of the file at `path`; a refusal is returned as (field, message): it crosses a process boundary,
    and a ServiceError does not survive pickling."""
    try:
        with open(path, "rb") as stream:
            return scan_csv(stream)
    except InvalidInput as exc:
        field = exc.field or "file"
        return (field, exc.message.removeprefix(f"{field}: "))


def scanned(result: CsvFile | tuple[str, str]) -> CsvFile:
    """The CsvFile of a scan_file result, or its refusal raised as InvalidInput."""
    if isinstance(result, CsvFile):
        return result
    raise InvalidInput(*result)


def discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def spool(source: IO[bytes]) -> str:
    """A copy of an upload in a named temporary file, for an import process to read; returns its path."""
    source.seek(0)
    with tempfile.NamedTemporaryFile(prefix="leadvane-import-", suffix=".csv", delete=False) as copy:
        shutil.copyfileobj(source, copy, 1 << 20)
    return copy.name


# --- export ----------------------------------------------------------------------------------------------------------


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
    """The header, then one CSV line per row, every cell safe to open in a spreadsheet (core.csv_cells)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(safe_row(row))
        yield buffer.getvalue()
