"""services.ingest.imports on a real database: the job's progress, its error cap, duplicates, roles, and failures."""

from __future__ import annotations

import dataclasses
import io
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import Conflict, Forbidden, InvalidInput
from services.ingest import imports


def _file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def _emails(rows: int) -> str:
    tag = uuid.uuid4().hex[:6]
    return "event_type,email\n" + "".join(f"page_visit,r{i}-{tag}@example.com\n" for i in range(1, rows + 1))


def _start(db: Database, tenant: Tenant, stream: io.BytesIO, now: datetime, **kwargs: Any) -> imports.ImportJobView:
    scanned = imports.scan_csv(stream)
    with db.write() as session:
        return imports.start_import(session, tenant, filename="f.csv", csv_file=scanned, now=now, **kwargs)


def _run(db: Database, tenant: Tenant, text: str, now: datetime, **kwargs: Any) -> imports.ImportJobView:
    stream = _file(text)
    job = _start(db, tenant, stream, now)
    return imports.run_import(db.write, tenant, job.id, stream, lambda: now, **kwargs)


def _events(db: Database, tenant: Tenant) -> int:
    with db.read() as session:
        return session.scalar(
            select(func.count()).select_from(models.Event).where(models.Event.unit_id == tenant.unit_id)
        ) or 0


def test_progress_is_committed_chunk_by_chunk_with_the_rows(db: Database, tenant: Tenant, now: datetime) -> None:
    text = _emails(10).replace("page_visit,r5-", ",r5-")  # row 5 has no event_type
    seen: list[tuple[int, int, int]] = []

    def on_progress(view: imports.ImportJobView) -> None:
        # What the job says after each chunk is what is committed: count the events stored so far.
        seen.append((view.processed_rows, view.accepted, _events(db, tenant)))

    job = _run(db, tenant, text, now, on_progress=on_progress, chunk_rows=4)
    assert seen == [(4, 4, 4), (8, 7, 7), (10, 9, 9)]
    assert (job.status, job.total_rows, job.processed_rows, job.accepted, job.rejected) == ("done", 10, 10, 9, 1)
    assert job.errors == [{"row": 5, "column": "event_type", "message": "is required"}]
    assert job.finished_at == now


def test_the_job_keeps_the_first_errors_and_counts_them_all(db: Database, tenant: Tenant, now: datetime) -> None:
    rows = imports.MAX_STORED_ERRORS + 50
    job = _run(db, tenant, "event_type,email\n" + ",x@example.com\n" * rows, now)
    assert (job.rejected, job.accepted) == (rows, 0)
    assert [e["row"] for e in job.errors] == list(range(1, imports.MAX_STORED_ERRORS + 1))


def test_created_by_is_the_caller(db: Database, tenant: Tenant, now: datetime) -> None:
    who = dataclasses.replace(tenant, role="Operator", actor="olive@example.com")
    job = _start(db, who, _file(_emails(1)), now)
    assert job.created_by == "olive@example.com" and job.status == "running"


def test_a_viewer_can_neither_start_nor_feed_an_import(db: Database, tenant: Tenant, now: datetime) -> None:
    viewer = dataclasses.replace(tenant, role="Viewer")
    stream = _file(_emails(1))
    with pytest.raises(Forbidden):
        _start(db, viewer, stream, now)
    job = _start(db, tenant, stream, now)
    chunk = next(imports.read_chunks(stream))
    with db.write() as session, pytest.raises(Forbidden):
        imports.import_chunk(session, viewer, job.id, chunk, now)
    assert _events(db, tenant) == 0


def test_a_file_is_a_duplicate_unless_its_earlier_import_failed_storing_nothing(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    text = _emails(2)
    failed = _start(db, tenant, _file(text), now)
    with db.write() as session:
        imports.finish_import(session, tenant, failed.id, now, failure="stopped")
    done = _run(db, tenant, text, now)  # the failed attempt stored nothing: not a duplicate
    assert done.accepted == 2
    with pytest.raises(Conflict) as refused:
        _start(db, tenant, _file(text), now)
    assert done.id in refused.value.message
    again = _start(db, tenant, _file(text), now, allow_duplicate=True)
    assert again.id != done.id


def test_a_row_the_database_refuses_is_a_per_row_error_and_the_rest_is_stored(
    db: Database, tenant: Tenant, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ingest = imports.ingest

    def refusing(session: Any, tenant_: Tenant, events: list[Any], now_: datetime) -> Any:
        if any(e.event_type == "refused" for e in events):
            raise IntegrityError("INSERT", {}, Exception("refused by the database"))
        return real_ingest(session, tenant_, events, now_)

    monkeypatch.setattr(imports, "ingest", refusing)
    text = _emails(6).replace("page_visit,r3-", "refused,r3-")
    job = _run(db, tenant, text, now, chunk_rows=4)
    assert (job.accepted, job.rejected, job.processed_rows) == (5, 1, 6)
    assert job.errors == [{"row": 3, "column": None, "message": "could not be stored"}]
    assert _events(db, tenant) == 5


def test_an_unexpected_error_marks_the_job_failed(
    db: Database, tenant: Tenant, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(imports, "import_chunk", broken)
    stream = _file(_emails(2))
    job = _start(db, tenant, stream, now)
    with pytest.raises(RuntimeError):
        imports.run_import(db.write, tenant, job.id, stream, lambda: now)
    with db.read() as session:
        failed = imports.get_import(session, tenant, job.id)
    assert failed.status == "failed" and failed.finished_at == now
    assert "internal error" in failed.errors[-1]["message"]


def test_a_million_rows_are_accepted_and_one_more_is_refused_before_anything_is_stored() -> None:
    line = b"page_visit,a@example.com\n"
    header = b"event_type,email\n"
    scanned = imports.scan_csv(io.BytesIO(header + line * imports.MAX_ROWS))
    assert scanned.total_rows == imports.MAX_ROWS
    with pytest.raises(InvalidInput) as refused:
        imports.scan_csv(io.BytesIO(header + line * (imports.MAX_ROWS + 1)))
    assert refused.value.field == "file" and "1,000,000" in refused.value.message


def test_rows_are_counted_as_csv_records_not_lines() -> None:
    text = 'event_type,email,metadata\npage_visit,a@b.co,"{""a"":\n1}"\n\npage_visit,c@d.co,\n'
    assert imports.scan_csv(_file(text)).total_rows == 2  # a quoted newline and a blank line are not rows
    chunk = next(imports.read_chunks(_file(text)))
    assert [item[0] for item in chunk if not isinstance(item, imports.RowError)] == [1, 2]


def test_import_workers_exit_when_their_server_is_killed(tmp_path: Any) -> None:
    """A server killed without clean-up must not leave its import processes behind."""
    import os
    import subprocess
    import sys
    import time

    script = (
        "import os, sys\n"
        "from services.ingest import imports\n"
        "pid = imports.import_processes()._executor().submit(os.getpid).result()\n"
        "open(sys.argv[1], 'w').write(str(pid))\n"
        "os._exit(0)  # no atexit, no executor shutdown: as after SIGKILL\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pid_file = tmp_path / "worker.pid"
    # No pipes: a surviving worker would hold them open and hang this call instead of failing the test.
    subprocess.run([sys.executable, "-c", script, str(pid_file)], cwd=root, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120, check=True)
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, 9)
    raise AssertionError(f"import worker {worker} outlived its server")
