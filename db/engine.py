"""Engine and session setup for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from settings import get_settings


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def dump_json(value: Any) -> str:
    """JSON columns: orjson (several times faster on the ingest path), json for what orjson refuses (huge ints)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    settings = get_settings()
    url = url or settings.database_url
    kwargs.setdefault("json_serializer", dump_json)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if is_sqlite(url):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, issue BEGIN so writers can ask for IMMEDIATE.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: no deadlock-prone lock upgrade mid-transaction.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


_DATABASE = "leadvane_database"


class _Checkpointer:
    """Copies SQLite's write-ahead log back into the database file on a thread of its own, so no write
    transaction's commit pays for it.

    With SQLite's automatic checkpoint, the commit that finds the log over 1,000 pages does the copy. While a long
    read is open (a rescore aside reads the whole log for seconds while ingest goes on), nothing written meanwhile
    can be copied; the first commit after the read then copied all of it: ~0.9 s inside one ingest's commit on a
    1,000,000-event unit. Databases (`Database`) turn the automatic checkpoint off and tell this thread after each
    write; it checkpoints each file at most every `EVERY_S` (PASSIVE: it never blocks readers or the writer).
    """

    EVERY_S = 0.25

    def __init__(self) -> None:
        self._due: dict[str, float] = {}  # file -> when to checkpoint it
        self._running: str | None = None  # the file being checkpointed now
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def wrote(self, path: str) -> None:
        with self._changed:
            if path not in self._due:
                self._due[path] = time.monotonic() + self.EVERY_S
                self._changed.notify_all()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="leadvane-sqlite-checkpoint", daemon=True)
                self._thread.start()

    def forget(self, path: str) -> None:
        """No more checkpoints of `path` (its Database is disposed): the file may be moved or deleted next."""
        with self._changed:
            self._due.pop(path, None)
            while self._running == path:
                self._changed.wait()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due:
                    self._changed.wait()
                path, when = min(self._due.items(), key=lambda item: item[1])
                wait = when - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                del self._due[path]
                self._running = path
            try:
                checkpoint(path)
            finally:
                with self._changed:
                    self._running = None
                    self._changed.notify_all()


def checkpoint(path: str) -> None:
    """One PASSIVE checkpoint of the SQLite file at `path` (a file that is gone, or busy, is left alone)."""
    try:
        # mode=rw: a file deleted meanwhile is not created again.
        connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=1.0, check_same_thread=False)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        pass  # the next write asks again


_checkpointer = _Checkpointer()


def _sqlite_file(engine: Engine) -> str | None:
    database = engine.url.database
    return None if not database or database == ":memory:" else str(Path(database).resolve())


def _no_automatic_checkpoint(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


class Database:
    """An engine plus the two session factories the app uses: readers and writers."""

    def __init__(self, url: str | None = None, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.url = str(self.engine.url)
        # Every session knows its Database (`Database.of`): work a commit starts later (an aside rescore) needs
        # its own sessions, on the same database.
        self._read = sessionmaker(self.engine, expire_on_commit=False, info={_DATABASE: self})
        writer_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        )
        self._write = sessionmaker(writer_engine, expire_on_commit=False, info={_DATABASE: self})
        # SQLite has one writer. Threads of this process queue on a lock instead of in SQLite's busy handler,
        # which sleeps in growing steps (up to 100 ms) and turned contention into long stalls.
        self._write_lock: threading.RLock | None = threading.RLock() if self.is_sqlite else None
        # A file database is checkpointed by the process's checkpoint thread, not by whichever commit comes along.
        self._sqlite_file = _sqlite_file(self.engine) if self.is_sqlite else None
        if self._sqlite_file is not None:
            event.listen(self.engine, "connect", _no_automatic_checkpoint)

    @staticmethod
    def of(session: Session) -> Database | None:
        """The Database `session` came from (None for a session made elsewhere)."""
        found = session.info.get(_DATABASE)
        return found if isinstance(found, Database) else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One short write transaction: commits on success, rolls back on error."""
        with self._write_lock or nullcontext(), self._write() as session, session.begin():
            yield session
        if self._sqlite_file is not None:
            _checkpointer.wrote(self._sqlite_file)

    def dispose(self) -> None:
        if self._sqlite_file is not None:
            _checkpointer.forget(self._sqlite_file)
        self.engine.dispose()
