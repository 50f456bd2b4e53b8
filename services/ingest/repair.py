"""Repair text a unit should never have stored: lone surrogates become U+FFFD, NUL characters are removed.

Before the input guard (api/guards.py) a lone surrogate could be committed in an event's metadata, after which
every read of the unit (lists, exports, rescores, rule changes) failed. SQLite stored what it was given;
PostgreSQL refuses both, so there this finds nothing. Every text and JSON column of every tenant row is read
raw (as bytes on SQLite: a Python str cannot even be decoded from such a row) and rewritten only if it changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, Table, Text, and_, cast, select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant

_SURROGATES = re.compile("[\ud800-\udfff]")
# Text columns that hold a JSON document (a stored response), repaired as JSON.
_JSON_IN_TEXT = {("idempotency_keys", "response_body")}
_SCAN_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Fix:
    table: str
    column: str
    row: str  # the row's primary key, e.g. "ev_1a2b" or "unit_x/key"
    unit_id: str
    surrogates: int
    nuls: int
    unreadable: bool = False  # a JSON document that would not parse even leniently: left as it is

    def describe(self) -> str:
        if self.unreadable:
            return f"{self.table}.{self.column} {self.row}: not readable as JSON; left unchanged"
        parts = []
        if self.surrogates:
            parts.append(f"{self.surrogates} lone surrogate(s) replaced with U+FFFD")
        if self.nuls:
            parts.append(f"{self.nuls} NUL character(s) removed")
        return f"{self.table}.{self.column} {self.row}: " + ", ".join(parts)


@dataclass(slots=True)
class RepairReport:
    at: datetime
    fixes: list[Fix] = field(default_factory=list)

    @property
    def units(self) -> set[str]:
        return {fix.unit_id for fix in self.fixes if not fix.unreadable}

    @property
    def rows_fixed(self) -> int:
        return sum(1 for fix in self.fixes if not fix.unreadable)


@dataclass(slots=True)
class _Counter:
    surrogates: int = 0
    nuls: int = 0

    def clean(self, text: str) -> str:
        if "\x00" in text:
            self.nuls += text.count("\x00")
            text = text.replace("\x00", "")
        cleaned, replaced = _SURROGATES.subn("\ufffd", text)
        self.surrogates += replaced
        return cleaned

    def clean_json(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.clean(node)
        if isinstance(node, dict):
            return {self.clean(key): self.clean_json(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.clean_json(value) for value in node]
        return node


def tenant_tables() -> Iterator[Table]:
    """Every table holding tenant rows (those with a unit_id column)."""
    for table in models.Base.metadata.sorted_tables:
        if "unit_id" in table.c:
            yield table


def _decode(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        # A lone surrogate written as UTF-8 bytes (ED A0 80) comes back as the one code point it was.
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def repair_text(session: Session, now: datetime, tenant: Tenant | None = None) -> RepairReport:
    """Find and rewrite poisoned text in tenant rows (one unit, or every unit); the caller commits."""
    report = RepairReport(at=now)
    sqlite = session.get_bind().dialect.name == "sqlite"
    for table in tenant_tables():
        key_columns = list(table.primary_key.columns)
        for column in table.c:
            is_json = isinstance(column.type, JSON) or (table.name, column.name) in _JSON_IN_TEXT
            if column.primary_key or not (is_json or isinstance(column.type, String | Text)):
                continue
            # Raw bytes on SQLite (decoding such a value as str fails); text on PostgreSQL (jsonb as its text).
            raw_value = cast(column, LargeBinary) if sqlite else cast(column, Text)
            query = select(*key_columns, table.c.unit_id, raw_value).where(column.is_not(None))
            if tenant is not None:
                query = query.where(table.c.unit_id == tenant.unit_id)
            updates: list[tuple[tuple[Any, ...], Any]] = []
            for rows in session.execute(query.execution_options(yield_per=_SCAN_CHUNK)).partitions():
                for row in rows:
                    keys, unit_id, raw = tuple(row[: len(key_columns)]), row[-2], row[-1]
                    fixed = _repair_value(_decode(raw), is_json and isinstance(column.type, JSON), is_json)
                    if fixed is None:
                        continue
                    counter, value = fixed
                    where = "/".join(str(k) for k in keys)
                    if counter is None:
                        report.fixes.append(Fix(table.name, column.name, where, unit_id, 0, 0, unreadable=True))
                        continue
                    report.fixes.append(Fix(table.name, column.name, where, unit_id, counter.surrogates, counter.nuls))
                    updates.append((keys, value))
            for keys, value in updates:
                condition = and_(*(c == k for c, k in zip(key_columns, keys, strict=True)))
                session.execute(table.update().where(condition).values({column.name: value}))
    session.flush()
    return report


def _repair_value(text: str, json_column: bool, json_document: bool) -> tuple[_Counter | None, Any] | None:
    """None when the value is clean; else (counter, the value to store), or (None, None) if unreadable JSON."""
    if "\x00" not in text and not _SURROGATES.search(text) and "\\u0000" not in text and "\\ud" not in text.lower():
        return None
    counter = _Counter()
    if not json_document:
        cleaned = counter.clean(text)
        return (counter, cleaned) if cleaned != text else None
    try:
        document = json.loads(text, strict=False)  # keeps lone surrogate escapes, which orjson refuses
    except ValueError:
        return None, None
    cleaned_document = counter.clean_json(document)
    if not counter.surrogates and not counter.nuls:
        return None  # e.g. a valid surrogate pair escape
    # A JSON column takes the document (the engine serializes it); a JSON-in-text column takes the text.
    return counter, (cleaned_document if json_column else json.dumps(cleaned_document, separators=(",", ":")))
