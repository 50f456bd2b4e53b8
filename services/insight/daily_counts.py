"""Daily event counters: events per (UTC day of occurred_at, event type, channel) of a unit, kept equal to the log.

Analytics reads these (table event_counts_daily, backfilled by migration 0010) instead of scanning the event log.
Every write to the log keeps them right in the same transaction: ingest adds what it stored (`count_events`, from
services.ingest.ingest), deletions, merges and lead erasure subtract what they remove (`uncount_matching` before
the DELETE). Profile events (core.profile.PROFILE_EVENT_TYPES) are not
activity and are never counted. Counters that reach zero are removed, so the table always equals
`SELECT day, event_type, channel, COUNT(*) FROM events ... GROUP BY` (see `recount` and the tests).

Each write is one upsert per distinct key (`INSERT ... ON CONFLICT DO UPDATE SET events = events + n`, SQLite and
PostgreSQL alike), keys sorted so concurrent writers on PostgreSQL take row locks in the same order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from core.profile import PROFILE_EVENT_TYPES
from db import models, upsert
from services.context import Tenant

Key = tuple[date, str, str]  # (UTC day, event type, channel)


class CountedEvent(Protocol):
    """What a counter needs of an event (services.ingest.contract.Ingested has it)."""

    @property
    def event_type(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...


def utc_day(session: Session, column: Any) -> ColumnElement[str]:
    """The UTC calendar day of a timestamp column as 'YYYY-MM-DD' on both backends."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(column, 1, 10)  # stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def _key(event: CountedEvent) -> Key:
    return event.occurred_at.astimezone(UTC).date(), event.event_type, event.channel


def _tally(events: Iterable[CountedEvent]) -> Counter[Key]:
    return Counter(_key(e) for e in events if e.event_type not in PROFILE_EVENT_TYPES)


def count_events(session: Session, tenant: Tenant, rows: Iterable[CountedEvent]) -> None:
    """Add the events one ingest stored to their day/type/channel counters (profile events are skipped)."""
    _add(session, tenant, _tally(rows))


def uncount_matching(session: Session, tenant: Tenant, *conditions: ColumnElement[bool]) -> int:
    """Subtract the unit's events matching `conditions` (call it just before deleting them); returns how many.

    One grouped read of those events (by day, type, channel), then one update per distinct key."""
    change = Counter({key: -n for key, n in _grouped(session, tenant, *conditions).items()})
    _add(session, tenant, change)
    return -sum(change.values())


def _grouped(session: Session, tenant: Tenant, *conditions: ColumnElement[bool]) -> Counter[Key]:
    """The unit's events matching `conditions` counted per (UTC day, type, channel), profile events left out."""
    ev = models.Event
    day = utc_day(session, ev.occurred_at).label("day")
    rows = session.execute(
        select(day, ev.event_type, ev.channel, func.count().label("n"))
        .where(ev.unit_id == tenant.unit_id, ev.event_type.not_in(PROFILE_EVENT_TYPES), *conditions)
        .group_by(day, ev.event_type, ev.channel)
    )
    return Counter({(date.fromisoformat(r.day), r.event_type, r.channel): int(r.n) for r in rows})


_UPSERTS: dict[str, Any] = {}


def _upsert(session: Session) -> Any:
    """The counters' upsert, built once per dialect: building `excluded` proxies every column of the table, which
    cost ~8% of a single-event ingest when done per call."""
    dialect = session.get_bind().dialect.name
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        table = models.EventCountDaily
        insert = upsert.insert(session, table)
        stmt = _UPSERTS[dialect] = insert.on_conflict_do_update(
            index_elements=["unit_id", "day", "event_type", "channel"],
            set_={"events": table.events + insert.excluded.events},
        )
    return stmt


def _add(session: Session, tenant: Tenant, change: Counter[Key]) -> None:
    keys = sorted(k for k, n in change.items() if n)
    if not keys:
        return
    table = models.EventCountDaily
    rows = [
        {"unit_id": tenant.unit_id, "org_id": tenant.org_id, "day": day, "event_type": kind, "channel": channel,
         "events": change[(day, kind, channel)]}
        for day, kind, channel in keys
    ]
    session.execute(_upsert(session), rows)
    if any(change[k] < 0 for k in keys):
        # A counter at zero (all its events deleted) goes, so the table equals a GROUP BY of the log.
        gone = [k for k in keys if change[k] < 0]
        session.execute(
            delete(table).where(
                table.unit_id == tenant.unit_id,
                table.events <= 0,
                tuple_(table.day, table.event_type, table.channel).in_(gone),
            )
        )


def recount(session: Session, tenant: Tenant) -> int:
    """Rebuild the unit's counters from its log (what migration 0010 did for every unit); returns the rows written.

    For tools and benchmarks that fill the events table by hand; the product keeps the counters incrementally."""
    table = models.EventCountDaily
    session.execute(delete(table).where(table.unit_id == tenant.unit_id))
    counted = _grouped(session, tenant)
    if counted:
        session.execute(insert(table), [
            {"unit_id": tenant.unit_id, "org_id": tenant.org_id, "day": day, "event_type": kind, "channel": channel,
             "events": n}
            for (day, kind, channel), n in counted.items()
        ])
    return len(counted)
