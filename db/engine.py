"""Engine and session setup for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

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

    def dispose(self) -> None:
        self.engine.dispose()
