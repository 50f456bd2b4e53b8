"""Database leases: at most one holder runs a named scheduler job at a time, across processes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import models


def acquire(session: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take (or renew) lease `name` for `holder` until now + ttl; False when someone else holds it.

    An atomic UPDATE takes an expired lease or renews our own; if no row exists yet, an INSERT
    creates it, and a concurrent INSERT loses on the primary key. The caller commits.
    """
    table = cast(Table, models.SchedulerLease.__table__)
    result = session.execute(
        update(table)
        .where(table.c.name == name, or_(table.c.expires_at <= now, table.c.holder == holder))
        .values(holder=holder, expires_at=now + ttl)
    )
    taken = cast(CursorResult[Any], result).rowcount
    if taken:
        return True
    try:
        with session.begin_nested():
            session.execute(insert(table).values(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False
    return True


def release(session: Session, name: str, holder: str) -> None:
    table = cast(Table, models.SchedulerLease.__table__)
    session.execute(delete(table).where(table.c.name == name, table.c.holder == holder))
