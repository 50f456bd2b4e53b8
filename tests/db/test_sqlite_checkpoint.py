"""SQLite's write-ahead log is copied back by the process's checkpoint thread, never inside a write's commit."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from db.engine import Database


def test_commits_leave_the_log_to_the_checkpoint_thread_which_copies_it_back(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.read() as session:
            # No commit checkpoints on its own (SQLite's default would at 1,000 pages).
            assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
        with db.write() as session:
            session.execute(text("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body TEXT)"))
        with db.write() as session:
            session.execute(text("INSERT INTO blobs (body) VALUES (:body)"), [{"body": "x" * 4000}] * 1000)
        deadline = time.monotonic() + 10
        while path.stat().st_size < 4_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= 4_000_000  # the 4 MB written are in the database file, not only in the log
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM blobs")).scalar() == 1000
    finally:
        db.dispose()


def test_a_database_in_memory_is_left_alone() -> None:
    db = Database("sqlite:///:memory:")
    try:
        with db.write() as session:
            session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        with db.read() as session:
            assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    finally:
        db.dispose()


def test_a_disposed_database_file_can_be_deleted_and_is_not_created_again(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    db = Database(f"sqlite:///{path}")
    with db.write() as session:  # asks for a checkpoint a moment later
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    db.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    time.sleep(0.5)
    assert list(tmp_path.iterdir()) == []
