"""Alembic environment: the URL comes from the caller (db.migrate) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from db.engine import make_engine
from db.models import Base

config = context.config
target_metadata = Base.metadata


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # On the raw connection (autocommit): SQLite ignores this pragma inside a transaction.
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")  # type: ignore[union-attr]


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite and not connection.in_transaction():
        # A batch migration rebuilds a table (copy, drop, rename). With foreign keys on, dropping a table that
        # others reference ON DELETE CASCADE (units, users) would delete their rows: keep them off meanwhile,
        # and check every reference once the migrations are done.
        _sqlite_foreign_keys(connection, False)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            connection.commit()
            if broken:
                raise RuntimeError(f"migrations left rows pointing at missing rows: {broken[:5]}")
    finally:
        if sqlite and not connection.in_transaction():
            _sqlite_foreign_keys(connection, True)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


run_migrations_online()
