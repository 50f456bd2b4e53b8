"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


def naive_utc(value: datetime) -> datetime:
    """What SQLite's UTC columns hold: the moment in UTC, without its offset."""
    return aware_utc(value).replace(tzinfo=None)


def sqlite_time(moment: datetime) -> str:
    """A moment as SQLite's UTCDateTime column stores it: naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff' (what
    SQLAlchemy's SQLite DateTime writes), for raw SQL that compares with or writes the column."""
    return naive_utc(moment).isoformat(sep=" ", timespec="microseconds")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns timezone-aware UTC datetimes on every backend (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return naive_utc(value) if dialect.name == "sqlite" else aware_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements an INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
# Scores and weights: 64-bit everywhere (SQLite's INTEGER already is; PostgreSQL's INTEGER is 32-bit).
BigInt = BigInteger().with_variant(Integer(), "sqlite")
