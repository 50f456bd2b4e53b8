"""INSERT ... ON CONFLICT for the session's database: SQLite's and PostgreSQL's dialects spell it the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert(session: Session, table: Any) -> Any:
    """An insert of `table` (model or Table) offering on_conflict_do_nothing/on_conflict_do_update."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
