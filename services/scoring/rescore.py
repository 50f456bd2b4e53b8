"""Rebuild stored scores and explanations from the event log (after rules or settings change).

The log is read in one pass, in 100,000-row chunks, through the driver's cursor on the session's own connection
(no per-row type processing or row objects: SQLite's timestamps are parsed by numpy, metadata texts are decoded
once per distinct text) and replayed by the vectorised engine (core.replay), which equals the per-event engine
(core.scoring.replay). Only rows whose stored value differs are written back, with the driver's executemany
(SQLite `?`, psycopg `%s`). bench/rescore.py measures it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core import replay as vector
from core import scoring
from core.model import ScoringModel
from core.profile import PROFILE_EVENT_TYPES
from db import models
from db.bulk import driver_sql
from db.types import sqlite_time
from services.context import Tenant
from services.gc_pause import paused_gc
from services.scoring.model import live_model
from services.tenancy import policy
from services.tenancy.policy import Action

_FETCH = 100_000
_IN_IDS = 5000  # owner ids per IN list (SQLite allows 32,766 bound values, PostgreSQL 65,535)


@dataclass(frozen=True, slots=True)
class RescoreSummary:
    events: int
    leads: int
    accounts: int
    changed_events: int


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def load_event_columns(session: Session, tenant: Tenant, *, since: datetime | None = None) -> vector.EventColumns:
    """The unit's event log as columns, in seq order; only events with occurred_at >= `since` when given."""
    return read_log(session, tenant, with_stored=False, since=since)[0]


@dataclass(frozen=True, slots=True)
class StoredRows:
    """What the events table holds now, aligned with the columns: primary delta and explanation (JSON text on
    SQLite, decoded on PostgreSQL), quarantine (filter id, reason) and surge multiplier (thousandths or None)."""

    deltas: list[int]
    explanations: list[Any]
    filter_ids: list[str | None] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)
    surge_millis: list[int | None] = field(default_factory=list)

    def adjustments(self, cols: vector.EventColumns, model: ScoringModel) -> vector.Adjustments:
        """The stored adjustments as the replay takes them (observed-only types held by the model's scopes)."""
        observed = {sc.id for sc in model.event_type_scopes if sc.scope == "observe"}
        held_types = np.array([t in observed for t in cols.types] or [False], dtype=bool)[cols.event_type]
        return vector.Adjustments.stored(
            [None if f is None else (f, r or "") for f, r in zip(self.filter_ids, self.reasons, strict=True)],
            self.surge_millis, held_types if len(cols) else np.zeros(0, dtype=bool),
        )


# The columns an event's replay writes besides its primary delta and explanation (core.quarantine, core.surge).
ADJUSTED_COLUMNS = "quarantine_filter_id, quarantine_reason, surge_milli"
EventUpdate = tuple[Any, str, Any, Any, Any, int]  # delta, explanation text, filter id, reason, surge milli, seq
ScoredUpdate = tuple[Any, str, int]  # delta, explanation text, seq


@dataclass(slots=True)
class EventUpdates:
    """Event rows to rewrite: `full` rows (delta, explanation and the adjusted columns) and `scored` rows, whose
    quarantine and surge are as stored, so only their delta and explanation are written. Leaving the quarantine
    column out of the UPDATE spares SQLite the partial quarantine index's upkeep: measured on 1,000,000 rows,
    2.2 s instead of 3.0 s."""

    full: list[EventUpdate] = field(default_factory=list)
    scored: list[ScoredUpdate] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.full) + len(self.scored)


def read_log(
    session: Session,
    tenant: Tenant,
    *,
    with_stored: bool,
    max_seq: int | None = None,
    since: datetime | None = None,
) -> tuple[vector.EventColumns, StoredRows]:
    """The unit's log (events with seq <= `max_seq`, occurred_at >= `since`, when given) as columns, with the stored
    primary deltas and explanations when `with_stored`."""
    # Profile changes are events of the log too (core.profile), but they move no engagement score.
    where = "unit_id = ? AND event_type NOT IN (?, ?)"
    params = [cast(Any, tenant.unit_id), *sorted(PROFILE_EVENT_TYPES)]
    table = "events"
    if max_seq is not None:
        where, params = where + " AND seq <= ?", [*params, max_seq]
    if since is not None:  # SQLite compares its stored text: the bound must be written the same way (naive UTC)
        sqlite = _is_sqlite(session)
        where, params = where + " AND occurred_at >= ?", [*params, sqlite_time(since) if sqlite else since]
        # A scan in rowid (seq) order beats the occurred_at index, whose order costs a reorder of every column.
        table = "events NOT INDEXED" if sqlite else table
    with paused_gc():  # millions of row tuples, no cycles among them
        return _to_columns(
            session, _fetch_events(session, table, where, params, with_stored), with_stored=with_stored
        )


def _fetch_events(
    session: Session, table: str, where: str, params: Sequence[Any], with_stored: bool
) -> list[list[Any]]:
    """The matching events' columns (seq, lead, account, type, occurred_at, metadata text[, delta, explanation,
    quarantine filter, reason, surge milli])."""
    # SQLite keeps UTC timestamps as ISO text (numpy parses a million of them in a fraction of a second) and JSON
    # as the very text orjson wrote; PostgreSQL's metadata is decoded from its text, its explanations by psycopg.
    # No ORDER BY: sorting a million wide rows costs the database more than numpy's argsort of their seqs.
    columns = "seq, lead_id, account_id, event_type, occurred_at, CAST(metadata AS TEXT)"
    if with_stored:
        columns += f", score_delta, explanation, {ADJUSTED_COLUMNS}"
    sql = driver_sql(session, f"SELECT {columns} FROM {table} WHERE {where}")
    lists: list[list[Any]] = [[] for _ in range(11 if with_stored else 6)]
    # The driver's own cursor, on the session's connection and transaction: SQLAlchemy's row objects cost more
    # than SQLite's reading for a million rows (measured: ~3 s of CPU per million events).
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        while chunk := cursor.fetchmany(_FETCH):
            for target, values in zip(lists, zip(*chunk, strict=True), strict=True):
                target += values
    finally:
        cursor.close()
    return lists


def _to_columns(
    session: Session, lists: list[list[Any]], *, with_stored: bool
) -> tuple[vector.EventColumns, StoredRows]:
    seq_arr = np.array(lists[0], dtype=np.int64)
    order = np.argsort(seq_arr, kind="stable")
    if len(order) and not bool((order == np.arange(len(order))).all()):
        seq_arr = seq_arr[order]
        lists = [np.array(values, dtype=object)[order].tolist() for values in lists]
    _seqs, leads, accounts, types, stamps, texts = lists[:6]
    if _is_sqlite(session):
        occurred_us = np.array(stamps, dtype="datetime64[us]").astype(np.int64)
    else:
        occurred_us = np.array([vector.to_micros(cast(datetime, t)) for t in stamps], dtype=np.int64)
    lead_codes, lead_ids = pd.factorize(np.array(leads, dtype=object))
    account_codes, account_ids = pd.factorize(np.array(accounts, dtype=object))
    type_codes, type_names = pd.factorize(np.array(types, dtype=object))
    text_codes, distinct_texts = pd.factorize(np.array(texts, dtype=object), use_na_sentinel=False)
    # Decoded as the JSON column decodes them (orjson), and `metadata or {}` as the per-event replay reads them.
    properties = [(orjson.loads(t) if isinstance(t, str) else None) or {} for t in distinct_texts.tolist()]
    cols = vector.EventColumns(
        seq=seq_arr,
        lead=lead_codes.astype(np.int64),
        account=account_codes.astype(np.int64),
        event_type=type_codes.astype(np.int64),
        occurred_us=occurred_us,
        props=text_codes.astype(np.int64),
        lead_ids=lead_ids.tolist(),
        account_ids=account_ids.tolist(),
        types=type_names.tolist(),
        properties=properties,
    )
    return cols, StoredRows(*lists[6:11]) if with_stored else StoredRows([], [])


def replay_unit(session: Session, tenant: Tenant, model: ScoringModel | None = None) -> vector.VectorReplay:
    """Replay the unit's log under `model` (default: the live model) with the vectorised engine."""
    model = model or live_model(session, tenant)
    return vector.replay(model, load_event_columns(session, tenant))


def rescore_unit(session: Session, tenant: Tenant, model: ScoringModel | None = None) -> RescoreSummary:
    """Make stored scores equal to the replay of the event log under `model` (default: the live model)."""
    policy.require(tenant, Action.EDIT_SCORING)
    model = model or live_model(session, tenant)
    with paused_gc():
        cols, stored = read_log(session, tenant, with_stored=True)
        result = vector.replay(model, cols)
        changed = _write_events(session, result, stored, model.primary_ruleset_id)
        leads, accounts = result.columns.lead_ids, result.columns.account_ids
        _write_scores(
            session, tenant, models.LeadScore, leads, [(r.ruleset_id, r.lead_scores) for r in result.rulesets]
        )
        _write_scores(
            session, tenant, models.AccountScore, accounts, [(r.ruleset_id, r.account_scores) for r in result.rulesets]
        )
    return RescoreSummary(len(result.columns), len(leads), len(accounts), changed)


class Explainer:
    """Each event's explanation as the JSON text the events table stores (what orjson makes of
    `{ruleset: RulesetOutcome.as_explanation()}`), built from the replay's columns."""

    def __init__(self, result: vector.VectorReplay) -> None:
        self.result = result
        self.rules = [
            [
                orjson.dumps(
                    [{"rule_id": r.id, "event_type": r.event_type, "weight": r.weight} for r in matched]
                ).decode()
                for matched in rs.matched
            ]
            for rs in result.rulesets
        ]
        self.keys = [orjson.dumps(rs.ruleset_id).decode() for rs in result.rulesets]

    def texts(self, idx: np.ndarray[Any, Any]) -> list[str]:
        cols, result = self.result.columns, self.result
        has_lead, has_account = cols.lead[idx] >= 0, cols.account[idx] >= 0
        combo = result.combo[idx].tolist()
        adjusted = result.adjustments
        held = adjusted.held.held[idx].tolist() if adjusted is not None else [False] * len(combo)
        milli = adjusted.surge_milli[idx].tolist() if adjusted is not None else None

        def shown(values: np.ndarray[Any, Any], present: np.ndarray[Any, Any]) -> list[str]:
            return np.where(present, values[idx].astype(str), "null").tolist()

        parts: list[list[str]] = []
        for key, rules, rs in zip(self.keys, self.rules, result.rulesets, strict=True):
            # What RulesetOutcome.as_explanation adds for a boosted event: the multiplier and the boost.
            boosts = rs.surge_boost[idx].tolist() if rs.surge_boost is not None and milli is not None else None
            surge = (
                [f',"surge_multiplier":{_multiplier_text(m)},"surge_boost":{b}' if b else ""
                 for m, b in zip(milli, boosts, strict=True)]  # type: ignore[arg-type]
                if boosts is not None
                else [""] * len(combo)
            )
            parts.append([
                f'{key}:{{"delta":{d},"before":{lb},"after":{la},"account_before":{ab},"account_after":{aa},'
                f'"rules":{"[]" if h else rules[c]}{extra}}}'
                for d, lb, la, ab, aa, c, h, extra in zip(
                    rs.delta[idx].tolist(),
                    shown(rs.lead_before, has_lead),
                    shown(rs.lead_after, has_lead),
                    shown(rs.account_before, has_account),
                    shown(rs.account_after, has_account),
                    combo,
                    held,
                    surge,
                    strict=True,
                )
            ])
        if not parts:
            return ["{}"] * len(combo)
        if len(parts) == 1:
            return ["{" + p + "}" for p in parts[0]]
        return ["{" + ",".join(ps) + "}" for ps in zip(*parts, strict=True)]


def _multiplier_text(milli: int) -> str:
    return orjson.dumps(milli / 1000).decode()


def adjusted_columns(result: vector.VectorReplay, idx: np.ndarray[Any, Any]) -> list[tuple[Any, Any, Any]]:
    """(quarantine filter id, reason, surge milli or None) of the events at positions `idx`, as stored."""
    adjusted = result.adjustments
    if adjusted is None:
        return [(None, None, None)] * len(idx)
    codes = adjusted.held.code[idx].tolist()
    reasons = adjusted.held.reasons
    return [
        (*(reasons[c] if c >= 0 else (None, None)), None if m == scoring.NO_SURGE else m)
        for c, m in zip(codes, adjusted.surge_milli[idx].tolist(), strict=True)
    ]


def _write_events(session: Session, result: vector.VectorReplay, stored: StoredRows, primary: str | None) -> int:
    """Store each event's new primary delta and explanation where they differ; returns how many rows changed."""
    explainer = Explainer(result)
    primary_delta = primary_deltas(result, primary)
    sqlite = _is_sqlite(session)
    changed = 0
    # The database writes one chunk while the next chunk's texts are built: the driver lets the GIL go while the
    # database works, so the two overlap (the second core). The connection is used by one thread at a time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rescore-writer") as writer:
        writing: Future[None] | None = None
        for start in range(0, len(result.columns), _FETCH):
            idx = np.arange(start, min(start + _FETCH, len(result.columns)))
            updates = event_updates(explainer, primary_delta, idx, stored=stored, decoded=not sqlite)
            if writing is not None:
                writing.result()
            writing = writer.submit(write_event_updates, session, updates) if updates else None
            changed += len(updates)
        if writing is not None:
            writing.result()
    return changed


def primary_deltas(result: vector.VectorReplay, primary: str | None) -> np.ndarray[Any, Any]:
    """Each event's delta in the primary ruleset (the events.score_delta column); 0 without one."""
    primary_rs = result.ruleset(primary) if primary is not None else None
    return primary_rs.delta if primary_rs is not None else np.zeros(len(result.columns), dtype=np.int64)


def event_updates(
    explainer: Explainer,
    primary_delta: np.ndarray[Any, Any],
    idx: np.ndarray[Any, Any],
    *,
    stored: StoredRows | None = None,
    decoded: bool = False,
) -> EventUpdates:
    """The rows of the events at positions `idx`; with `stored` (aligned with the columns), only those that differ
    from it (`decoded`: stored explanations are objects, not JSON text)."""
    texts = explainer.texts(idx)
    new_deltas = primary_delta[idx].tolist()
    adjusted = adjusted_columns(explainer.result, idx)
    seqs = explainer.result.columns.seq[idx].tolist()
    if stored is None:
        return EventUpdates(full=[(d, t, *a, q) for d, t, a, q in zip(new_deltas, texts, adjusted, seqs, strict=True)])
    positions = idx.tolist()
    old_deltas = [stored.deltas[i] for i in positions]
    old_texts = [stored.explanations[i] for i in positions]
    old_adjusted = [(stored.filter_ids[i], stored.reasons[i], stored.surge_millis[i]) for i in positions]
    out = EventUpdates()
    for d, t, a, q, od, ot, oa in zip(new_deltas, texts, adjusted, seqs, old_deltas, old_texts, old_adjusted,
                                      strict=True):
        if a != oa:
            out.full.append((d, t, *a, q))
        elif d != od or (orjson.loads(t) != ot if decoded else t != ot):
            out.scored.append((d, t, q))
    return out



def write_event_updates(session: Session, updates: EventUpdates | Sequence[EventUpdate]) -> None:
    """Store the rows with the driver's executemany (a plain sequence holds full rows: (score_delta, explanation
    text, quarantine filter id, reason, surge milli, seq))."""
    full, scored = (updates.full, updates.scored) if isinstance(updates, EventUpdates) else (list(updates), [])
    explanation = "?" if _is_sqlite(session) else "CAST(? AS jsonb)"
    if full:
        sql = driver_sql(
            session,
            f"UPDATE events SET score_delta = ?, explanation = {explanation}, quarantine_filter_id = ?, "
            "quarantine_reason = ?, surge_milli = ? WHERE seq = ?",
        )
        session.connection().exec_driver_sql(sql, full)
    if scored:
        sql = driver_sql(session, f"UPDATE events SET score_delta = ?, explanation = {explanation} WHERE seq = ?")
        session.connection().exec_driver_sql(sql, scored)


ScoreKey = tuple[str, str]  # (owner id, ruleset id)
OwnerTable = type[models.LeadScore] | type[models.AccountScore]


@dataclass(frozen=True, slots=True)
class ScoreChanges:
    """What makes one score table equal to the wanted scores: rows to delete, update and insert."""

    gone: list[ScoreKey]
    moved: list[tuple[ScoreKey, int]]
    added: list[tuple[ScoreKey, int]]

    def __len__(self) -> int:
        return len(self.gone) + len(self.moved) + len(self.added)


def wanted_scores(owners: Sequence[str], per_ruleset: list[tuple[str, np.ndarray[Any, Any]]]) -> dict[ScoreKey, int]:
    wanted: dict[ScoreKey, int] = {}
    for rs, values in per_ruleset:
        wanted.update(zip([(o, rs) for o in owners], values.tolist(), strict=True))
    return wanted


def read_scores(
    session: Session, tenant: Tenant, table_model: OwnerTable, owners: Sequence[str] | None = None
) -> dict[ScoreKey, int]:
    """Stored scores of the unit (of `owners` only, when given) in one score table."""
    table = cast(Table, table_model.__table__)
    key = owner_column(table_model)
    found: dict[ScoreKey, int] = {}
    cursor = session.connection().connection.cursor()
    try:
        if owners is None:
            cursor.execute(
                driver_sql(session, f"SELECT {key}, ruleset_id, score FROM {table.name} WHERE unit_id = ?"),
                (tenant.unit_id,),
            )
            found.update(((o, rs), s) for o, rs, s in cursor.fetchall())
        else:
            ids = sorted(owners)
            for start in range(0, len(ids), _IN_IDS):
                chunk = ids[start : start + _IN_IDS]
                sql = (f"SELECT {key}, ruleset_id, score FROM {table.name} "
                       f"WHERE unit_id = ? AND {key} IN ({', '.join('?' * len(chunk))})")
                cursor.execute(driver_sql(session, sql), (tenant.unit_id, *chunk))
                found.update(((o, rs), s) for o, rs, s in cursor.fetchall())
    finally:
        cursor.close()
    return found


def score_changes(stored: dict[ScoreKey, int], wanted: dict[ScoreKey, int]) -> ScoreChanges:
    """Only differences: one row per owner with events and ruleset; rows of owners without events go."""
    return ScoreChanges(
        gone=list(stored.keys() - wanted.keys()),
        moved=[(k, s) for k, s in wanted.items() if k in stored and stored[k] != s],
        added=[(k, s) for k, s in wanted.items() if k not in stored],
    )


def write_score_changes(session: Session, tenant: Tenant, table_model: OwnerTable, changes: ScoreChanges) -> None:
    table = cast(Table, table_model.__table__)
    key = owner_column(table_model)
    unit = tenant.unit_id
    # Plain executemany: SQLAlchemy's per-row parameter processing cost more than SQLite's own work here.
    connection = session.connection()
    name, where = table.name, f"unit_id = ? AND {key} = ? AND ruleset_id = ?"
    if changes.gone:
        connection.exec_driver_sql(
            driver_sql(session, f"DELETE FROM {name} WHERE {where}"), [(unit, o, rs) for o, rs in changes.gone]
        )
    if changes.moved:
        _update_scores(session, name, key, unit, changes.moved)
    if changes.added:
        connection.exec_driver_sql(
            driver_sql(
                session, f"INSERT INTO {name} ({key}, ruleset_id, score, org_id, unit_id) VALUES (?, ?, ?, ?, ?)"
            ),
            [(o, rs, s, tenant.org_id, unit) for (o, rs), s in changes.added],
        )


def _update_scores(session: Session, name: str, key: str, unit: str, moved: list[tuple[ScoreKey, int]]) -> None:
    run_score_update(session, render_score_update(_is_sqlite(session), name, key, unit, moved))


@dataclass(frozen=True, slots=True)
class ScoreUpdate:
    """Statements that set many scores, rendered ahead of the (short) transaction that runs them."""

    statements: list[tuple[str, Any]]  # (driver SQL, parameters or a list of them)


def render_score_update(
    sqlite: bool, name: str, key: str, unit: str, moved: list[tuple[ScoreKey, int]]
) -> ScoreUpdate:
    """Many scores set by one statement, the rows joined by primary key: several times faster than an UPDATE per
    row (100,000 lead scores in ~0.5 s on SQLite instead of ~1.7 s). Sorted by key for locality."""
    moved = sorted(moved)
    if not moved:
        return ScoreUpdate([])
    if any(not -_INT64 <= s < _INT64 for _k, s in moved):  # beyond JSON's and the column's integers: one by one
        sql = f"UPDATE {name} SET score = ? WHERE unit_id = ? AND {key} = ? AND ruleset_id = ?"
        return ScoreUpdate([(sql if sqlite else sql.replace("?", "%s"), [(s, unit, o, rs) for (o, rs), s in moved])])
    if sqlite:
        # json_each drives the join and each row is found through the primary key; `+t.unit_id` keeps the unit
        # filter from steering SQLite onto the unit's score index (a scan per row).
        return ScoreUpdate([(
            f"UPDATE {name} AS t SET score = n.score FROM (SELECT json_extract(value, '$[0]') AS owner, "
            "json_extract(value, '$[1]') AS ruleset_id, json_extract(value, '$[2]') AS score FROM json_each(?)) AS n "
            f"WHERE t.{key} = n.owner AND t.ruleset_id = n.ruleset_id AND +t.unit_id = ?",
            (orjson.dumps([(o, rs, s) for (o, rs), s in moved]).decode(), unit),
        )])
    return ScoreUpdate([(
        f"UPDATE {name} AS t SET score = n.score FROM unnest(%s::text[], %s::text[], %s::bigint[]) "
        f"AS n(owner, ruleset_id, score) WHERE t.{key} = n.owner AND t.ruleset_id = n.ruleset_id AND t.unit_id = %s",
        ([o for (o, _rs), _s in moved], [rs for (_o, rs), _s in moved], [s for _k, s in moved], unit),
    )])


def run_score_update(session: Session, update: ScoreUpdate) -> None:
    connection = session.connection()
    for sql, params in update.statements:
        connection.exec_driver_sql(sql, params)


_INT64 = 2**63


def owner_column(table_model: OwnerTable) -> str:
    return "lead_id" if table_model is models.LeadScore else "account_id"


def _write_scores(
    session: Session,
    tenant: Tenant,
    table_model: OwnerTable,
    owners: Sequence[str],
    per_ruleset: list[tuple[str, np.ndarray[Any, Any]]],
) -> None:
    """Make the stored scores exactly the replay's (only differences are written)."""
    changes = score_changes(read_scores(session, tenant, table_model), wanted_scores(owners, per_ruleset))
    write_score_changes(session, tenant, table_model, changes)


def verify_unit(session: Session, tenant: Tenant) -> list[str]:
    """Differences between stored scores (and each event's quarantine and surge) and a replay of the log; empty
    when they agree."""
    model = live_model(session, tenant)
    with paused_gc():
        cols, stored = read_log(session, tenant, with_stored=True)
        result = vector.replay(model, cols)
    problems: list[str] = []
    replayed_adjustments = adjusted_columns(result, np.arange(len(cols)))
    for i, (seq, now) in enumerate(zip(cols.seq.tolist(), replayed_adjustments, strict=True)):
        before = (stored.filter_ids[i], stored.reasons[i], stored.surge_millis[i])
        if before != now:
            problems.append(f"event seq {seq}: stored quarantine/surge {before} != replayed {now}")
    for owner_model, key, replayed in (
        (models.LeadScore, "lead_id", result.lead_scores()),
        (models.AccountScore, "account_id", result.account_scores()),
    ):
        rows = session.execute(
            select(getattr(owner_model, key), owner_model.ruleset_id, owner_model.score).where(
                owner_model.unit_id == tenant.unit_id
            )
        )
        found: dict[tuple[str, str], int] = {(o, rs): s for o, rs, s in rows}
        expected = {(o, rs): s for o, per in replayed.items() for rs, s in per.items()}
        for k in sorted(set(found) | set(expected)):
            if found.get(k, 0) != expected.get(k, 0):
                problems.append(f"{key} {k[0]} ruleset {k[1]}: stored {found.get(k)} != replayed {expected.get(k)}")
    return problems


# --- rescoring some owners: a merge (services.people.merge) or an erasure (services.people.erasure) ----------------


@dataclass(frozen=True, slots=True)
class OwnersRescore:
    """What `rescore_leads` / `rescore_accounts` did: owners asked for, their events replayed, event rows
    rewritten, and each owner's scores per ruleset after it (owners without events are absent: score 0)."""

    owners: int
    events: int
    changed_events: int
    scores: dict[str, dict[str, int]]


def rescore_leads(
    session: Session,
    tenant: Tenant,
    lead_ids: Sequence[str],
    model: ScoringModel | None = None,
    *,
    from_seq: int | None = None,
) -> OwnersRescore:
    """Make the stored scores of `lead_ids` and the lead half (`before`/`after`) of their events' explanations
    equal to the replay (core.replay, the one fold) of each lead's own events in the log's order. A lead's score
    depends only on its own events, so this is exact for these leads without replaying the unit; the account half
    of each explanation is kept (an event's account and the order of the account's events are unchanged).

    `from_seq`: the caller knows the leads' events before this seq are unchanged (e.g. the first event a merge
    moved): a fold depends only on earlier events, so those rows are replayed but not compared or rewritten."""
    return _rescore_owners(session, tenant, "lead_id", lead_ids, model, from_seq)


def rescore_accounts(
    session: Session,
    tenant: Tenant,
    account_ids: Sequence[str],
    model: ScoringModel | None = None,
    *,
    from_seq: int | None = None,
) -> OwnersRescore:
    """The account twin of `rescore_leads`: the accounts' scores and the account half (`account_before`/
    `account_after`) of their events' explanations, from a replay of each account's events (e.g. once some of them
    are gone, `from_seq` the first of them). Lead halves are kept."""
    return _rescore_owners(session, tenant, "account_id", account_ids, model, from_seq)


def rescore_leads_and_accounts(
    session: Session, tenant: Tenant, lead_ids: Sequence[str], model: ScoringModel | None = None
) -> OwnersRescore:
    """Rescore leads whose events' quarantine or surge changed after the fact (services.scoring.adjust, a merge),
    then the accounts of their events (which take those events' adjustments as now stored)."""
    if not lead_ids:
        return OwnersRescore(0, 0, 0, {})
    leads = rescore_leads(session, tenant, lead_ids, model)
    ids = sorted(set(lead_ids))
    accounts: set[str] = set()
    for start in range(0, len(ids), _IN_IDS):
        chunk = ids[start : start + _IN_IDS]
        accounts.update(
            str(a) for (a,) in session.execute(
                select(models.Event.account_id).where(
                    models.Event.unit_id == tenant.unit_id, models.Event.lead_id.in_(chunk),
                    models.Event.account_id.is_not(None),
                ).distinct()
            )
        )
    rescore_accounts(session, tenant, sorted(accounts), model)
    return leads


def _rescore_owners(
    session: Session,
    tenant: Tenant,
    key: str,
    owner_ids: Sequence[str],
    model: ScoringModel | None,
    from_seq: int | None = None,
) -> OwnersRescore:
    ids = sorted(set(owner_ids))
    if not ids:
        return OwnersRescore(0, 0, 0, {})
    model = model or live_model(session, tenant)
    lead_side = key == "lead_id"
    # An account's events keep the quarantine and surge their leads' logs gave them (read as stored); a lead's own
    # log decides its events' (replayed).
    with_stored = not lead_side and model.adjusts_events
    lists: list[list[Any]] = [[] for _ in range(11 if with_stored else 6)]
    # Profile changes are events of the log too (core.profile), but they move no engagement score.
    where_types = "event_type NOT IN (?, ?)"
    for start in range(0, len(ids), _IN_IDS):
        chunk = ids[start : start + _IN_IDS]
        where = f"unit_id = ? AND {key} IN ({', '.join('?' * len(chunk))}) AND {where_types}"
        params = [tenant.unit_id, *chunk, *sorted(PROFILE_EVENT_TYPES)]
        for target, values in zip(lists, _fetch_events(session, "events", where, params, with_stored), strict=True):
            target += values
    cols, as_stored = _to_columns(session, lists, with_stored=with_stored)
    first = 0 if from_seq is None else int(np.searchsorted(cols.seq, from_seq, side="left"))
    stored = _stored_rows(session, tenant, key, ids, cols.seq, first)
    none = np.full(len(cols), -1, dtype=np.int64)
    # Only the owners asked for are folded: the other side's codes are dropped, so its half is left as stored.
    adjustments = vector.Adjustments.of(model, cols) if lead_side and model.adjusts_events else None
    if with_stored:
        adjustments = as_stored.adjustments(cols, model)
    cols = (
        vector.EventColumns(cols.seq, cols.lead, none, cols.event_type, cols.occurred_us, cols.props, cols.lead_ids,
                            [], cols.types, cols.properties)
        if lead_side
        else vector.EventColumns(cols.seq, none, cols.account, cols.event_type, cols.occurred_us, cols.props, [],
                                 cols.account_ids, cols.types, cols.properties)
    )
    result = vector.replay_columns(model.book, model.policy, cols, adjustments)
    updates = _owner_event_updates(session, result, stored, model.primary_ruleset_id, lead_side=lead_side,
                                   first=first)
    write_event_updates(session, updates)
    owners = cols.lead_ids if lead_side else cols.account_ids
    per_ruleset = [(r.ruleset_id, r.lead_scores if lead_side else r.account_scores) for r in result.rulesets]
    table_model: OwnerTable = models.LeadScore if lead_side else models.AccountScore
    wanted = wanted_scores(owners, per_ruleset)
    write_score_changes(
        session, tenant, table_model, score_changes(read_scores(session, tenant, table_model, ids), wanted)
    )
    scores = result.lead_scores() if lead_side else result.account_scores()
    return OwnersRescore(len(ids), len(cols), len(updates), scores)


def _stored_rows(
    session: Session, tenant: Tenant, key: str, ids: list[str], seqs: np.ndarray[Any, Any], first: int
) -> StoredRows:
    """The stored primary delta and explanation of the events at positions `first`.. of `seqs` (those before are
    not compared, so not read: explanation texts are most of an event row's bytes)."""
    n = len(seqs)
    nothing: list[Any] = [None] * n
    stored = StoredRows(list(nothing), list(nothing), list(nothing), list(nothing), list(nothing))
    if first >= n:
        return stored
    position = {q: i for i, q in enumerate(seqs[first:].tolist(), start=first)}
    cursor = session.connection().connection.cursor()
    try:
        for start in range(0, len(ids), _IN_IDS):
            chunk = ids[start : start + _IN_IDS]
            sql = (f"SELECT seq, score_delta, explanation, {ADJUSTED_COLUMNS} FROM events WHERE unit_id = ? "
                   f"AND seq >= ? AND {key} IN ({', '.join('?' * len(chunk))})")
            cursor.execute(driver_sql(session, sql), (tenant.unit_id, int(seqs[first]), *chunk))
            while rows := cursor.fetchmany(_FETCH):
                for seq, delta, explanation, filter_id, reason, milli in rows:
                    i = position.get(seq)
                    if i is not None:
                        stored.deltas[i], stored.explanations[i] = delta, explanation
                        stored.filter_ids[i], stored.reasons[i], stored.surge_millis[i] = filter_id, reason, milli
    finally:
        cursor.close()
    return stored


def _owner_event_updates(
    session: Session,
    result: vector.VectorReplay,
    stored: StoredRows,
    primary: str | None,
    *,
    lead_side: bool,
    first: int = 0,
) -> list[EventUpdate]:
    """(score_delta, explanation text, quarantine filter id, reason, surge milli, seq) of the events (from position
    `first` on) whose row changes: one owner side replayed, the other taken from the stored explanation. The text is
    what `Explainer` writes (same keys, order and spacing)."""
    sqlite = _is_sqlite(session)
    primary_delta = primary_deltas(result, primary).tolist()
    rules = [
        [[{"rule_id": r.id, "event_type": r.event_type, "weight": r.weight} for r in matched] for matched in rs.matched]
        for rs in result.rulesets
    ]
    adjusted = result.adjustments
    held = adjusted.held.held.tolist() if adjusted is not None else None
    milli = adjusted.surge_milli.tolist() if adjusted is not None else None
    new_adjusted = adjusted_columns(result, np.arange(len(result.columns)))
    mine = ("before", "after") if lead_side else ("account_before", "account_after")
    theirs = ("account_before", "account_after") if lead_side else ("before", "after")
    columns = [
        (
            rs.ruleset_id,
            rs.delta.tolist(),
            (rs.lead_before if lead_side else rs.account_before).tolist(),
            (rs.lead_after if lead_side else rs.account_after).tolist(),
            rules[k],
            rs.surge_boost.tolist() if rs.surge_boost is not None else None,
        )
        for k, rs in enumerate(result.rulesets)
    ]
    combo = result.combo.tolist()
    seqs = result.columns.seq.tolist()
    out: list[EventUpdate] = []
    for i in range(first, len(seqs)):
        seq = seqs[i]
        raw = stored.explanations[i]
        old = (orjson.loads(raw) if isinstance(raw, str | bytes) else raw) or {}
        new: dict[str, Any] = {}
        for rs_id, delta, before, after, rs_rules, boosts in columns:
            kept = old.get(rs_id) or {}
            part = {"delta": delta[i], mine[0]: before[i], mine[1]: after[i],
                    theirs[0]: kept.get(theirs[0]), theirs[1]: kept.get(theirs[1]),
                    "rules": [] if held is not None and held[i] else rs_rules[combo[i]]}
            new[rs_id] = {k: part[k] for k in ("delta", "before", "after", "account_before", "account_after", "rules")}
            if boosts is not None and boosts[i] and milli is not None:  # as RulesetOutcome.as_explanation
                new[rs_id]["surge_multiplier"] = milli[i] / 1000
                new[rs_id]["surge_boost"] = boosts[i]
        adjusted_now = new_adjusted[i]
        same_adjusted = adjusted_now == (stored.filter_ids[i], stored.reasons[i], stored.surge_millis[i])
        if primary_delta[i] == stored.deltas[i] and same_adjusted and new == old:
            continue
        text = orjson.dumps(new).decode()
        if sqlite and primary_delta[i] == stored.deltas[i] and same_adjusted and text == raw:
            continue
        out.append((primary_delta[i], text, *adjusted_now, seq))
    return out
