"""Rebuild stored scores and explanations from the event log (after rules or settings change).

The log is read in one pass, in 100,000-row chunks, through the driver's cursor on the session's own connection
(no per-row type processing or row objects: SQLite's timestamps are parsed by numpy, metadata texts are decoded
once per distinct text) and replayed by the vectorised engine (core.replay), which equals the per-event engine
(core.scoring.replay). Only rows whose stored value differs are written back, with the driver's executemany
(SQLite `?`, psycopg `%s`). bench/rescore.py measures it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core import replay as vector
from core.model import ScoringModel
from db import models
from services.context import Tenant
from services.scoring.model import live_model
from services.tenancy import policy
from services.tenancy.policy import Action

_FETCH = 100_000


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
    return _read_log(session, tenant, with_stored=False, since=since)[0]


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the events table holds now, aligned with the columns: primary delta and explanation (JSON text on
    SQLite, decoded on PostgreSQL)."""

    deltas: list[int]
    explanations: list[Any]


def _read_log(
    session: Session, tenant: Tenant, *, with_stored: bool, since: datetime | None = None
) -> tuple[vector.EventColumns, _Stored]:
    sqlite = _is_sqlite(session)
    # SQLite keeps UTC timestamps as ISO text (numpy parses a million of them in a fraction of a second) and JSON
    # as the very text orjson wrote; PostgreSQL's metadata is decoded from its text, its explanations by psycopg.
    # No ORDER BY: sorting a million wide rows costs the database more than numpy's argsort of their seqs.
    columns = "seq, lead_id, account_id, event_type, occurred_at, CAST(metadata AS TEXT)"
    if with_stored:
        columns += ", score_delta, explanation"
    where = "unit_id = ?"
    params: list[Any] = [tenant.unit_id]
    table = "events"
    if since is not None:  # SQLite compares its stored text: the bound must be written the same way (naive UTC)
        where += " AND occurred_at >= ?"
        params.append(_sqlite_time(since) if sqlite else since)
        # A scan in rowid (seq) order beats the occurred_at index, whose order costs a reorder of every column.
        table = "events NOT INDEXED" if sqlite else table
    sql = _driver_sql(session, f"SELECT {columns} FROM {table} WHERE {where}")
    width = 8 if with_stored else 6
    lists: list[list[Any]] = [[] for _ in range(width)]
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
    seq_arr = np.array(lists[0], dtype=np.int64)
    order = np.argsort(seq_arr, kind="stable")
    if len(order) and not bool((order == np.arange(len(order))).all()):
        seq_arr = seq_arr[order]
        lists = [np.array(values, dtype=object)[order].tolist() for values in lists]
    _seqs, leads, accounts, types, stamps, texts = lists[:6]
    if sqlite:
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
    return cols, _Stored(lists[6], lists[7]) if with_stored else _Stored([], [])


def _sqlite_time(moment: datetime) -> str:
    """A timestamp as SQLite's UTCDateTime column stores it: naive UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def replay_unit(session: Session, tenant: Tenant, model: ScoringModel | None = None) -> vector.VectorReplay:
    """Replay the unit's log under `model` (default: the live model) with the vectorised engine."""
    model = model or live_model(session, tenant)
    return vector.replay(model, load_event_columns(session, tenant))


def rescore_unit(session: Session, tenant: Tenant, model: ScoringModel | None = None) -> RescoreSummary:
    """Make stored scores equal to the replay of the event log under `model` (default: the live model)."""
    policy.require(tenant, Action.EDIT_SCORING)
    model = model or live_model(session, tenant)
    cols, stored = _read_log(session, tenant, with_stored=True)
    result = vector.replay(model, cols)
    changed = _write_events(session, result, stored, model.primary_ruleset_id)
    leads, accounts = result.columns.lead_ids, result.columns.account_ids
    _write_scores(
        session, tenant, models.LeadScore, "lead_id", leads, [(r.ruleset_id, r.lead_scores) for r in result.rulesets]
    )
    _write_scores(
        session, tenant, models.AccountScore, "account_id", accounts,
        [(r.ruleset_id, r.account_scores) for r in result.rulesets],
    )
    return RescoreSummary(len(result.columns), len(leads), len(accounts), changed)


class _Explainer:
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

        def shown(values: np.ndarray[Any, Any], present: np.ndarray[Any, Any]) -> list[str]:
            return np.where(present, values[idx].astype(str), "null").tolist()

        parts: list[list[str]] = []
        for key, rules, rs in zip(self.keys, self.rules, result.rulesets, strict=True):
            parts.append([
                f'{key}:{{"delta":{d},"before":{lb},"after":{la},"account_before":{ab},"account_after":{aa},'
                f'"rules":{rules[c]}}}'
                for d, lb, la, ab, aa, c in zip(
                    rs.delta[idx].tolist(),
                    shown(rs.lead_before, has_lead),
                    shown(rs.lead_after, has_lead),
                    shown(rs.account_before, has_account),
                    shown(rs.account_after, has_account),
                    combo,
                    strict=True,
                )
            ])
        if not parts:
            return ["{}"] * len(combo)
        if len(parts) == 1:
            return ["{" + p + "}" for p in parts[0]]
        return ["{" + ",".join(ps) + "}" for ps in zip(*parts, strict=True)]


def _write_events(session: Session, result: vector.VectorReplay, stored: _Stored, primary: str | None) -> int:
    """Store each event's new primary delta and explanation where they differ; returns how many rows changed."""
    cols = result.columns
    sqlite = _is_sqlite(session)
    primary_rs = result.ruleset(primary) if primary is not None else None
    primary_delta = primary_rs.delta if primary_rs is not None else np.zeros(len(cols), dtype=np.int64)
    explainer = _Explainer(result)
    explanation = "?" if sqlite else "CAST(? AS jsonb)"
    sql = _driver_sql(session, f"UPDATE events SET score_delta = ?, explanation = {explanation} WHERE seq = ?")
    changed = 0
    connection = session.connection()
    for start in range(0, len(cols), _FETCH):
        stop = min(start + _FETCH, len(cols))
        idx = np.arange(start, stop)
        texts = explainer.texts(idx)
        new_deltas = primary_delta[idx].tolist()
        seqs = cols.seq[idx].tolist()
        old_deltas, old_texts = stored.deltas[start:stop], stored.explanations[start:stop]
        if sqlite:
            updates = [
                (d, t, q)
                for d, t, q, od, ot in zip(new_deltas, texts, seqs, old_deltas, old_texts, strict=True)
                if d != od or t != ot
            ]
        else:
            updates = [
                (d, t, q)
                for d, t, q, od, ot in zip(new_deltas, texts, seqs, old_deltas, old_texts, strict=True)
                if d != od or orjson.loads(t) != ot
            ]
        if updates:
            connection.exec_driver_sql(sql, updates)
            changed += len(updates)
    return changed


def _write_scores(
    session: Session,
    tenant: Tenant,
    model: type[models.LeadScore] | type[models.AccountScore],
    key: str,
    owners: Sequence[str],
    per_ruleset: list[tuple[str, np.ndarray[Any, Any]]],
) -> None:
    """Make the stored scores exactly the replay's: one row per owner with events and ruleset; only differences
    are written (rows of owners without events are removed)."""
    table = cast(Table, model.__table__)
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(
            _driver_sql(session, f"SELECT {key}, ruleset_id, score FROM {table.name} WHERE unit_id = ?"),
            (tenant.unit_id,),
        )
        stored = {(o, rs): s for o, rs, s in cursor.fetchall()}
    finally:
        cursor.close()
    wanted: dict[tuple[str, str], int] = {}
    for rs, values in per_ruleset:
        wanted.update(zip([(o, rs) for o in owners], values.tolist(), strict=True))
    unit = tenant.unit_id
    gone = [(unit, o, rs) for (o, rs) in stored.keys() - wanted.keys()]
    added = [(o, rs, s, tenant.org_id, unit) for (o, rs), s in wanted.items() if (o, rs) not in stored]
    moved = [(s, unit, o, rs) for (o, rs), s in wanted.items() if (o, rs) in stored and stored[o, rs] != s]
    # Plain executemany: SQLAlchemy's per-row parameter processing cost more than SQLite's own work here.
    connection = session.connection()
    name, where = table.name, f"unit_id = ? AND {key} = ? AND ruleset_id = ?"
    if gone:
        connection.exec_driver_sql(_driver_sql(session, f"DELETE FROM {name} WHERE {where}"), gone)
    if moved:
        connection.exec_driver_sql(_driver_sql(session, f"UPDATE {name} SET score = ? WHERE {where}"), moved)
    if added:
        connection.exec_driver_sql(
            _driver_sql(
                session, f"INSERT INTO {name} ({key}, ruleset_id, score, org_id, unit_id) VALUES (?, ?, ?, ?, ?)"
            ),
            added,
        )


def _driver_sql(session: Session, sql: str) -> str:
    """`sql` written with ? placeholders, in the driver's parameter style (SQLite: ?, psycopg: %s)."""
    return sql if _is_sqlite(session) else sql.replace("?", "%s")


def verify_unit(session: Session, tenant: Tenant) -> list[str]:
    """Differences between stored scores and a replay of the log; empty when they agree."""
    result = replay_unit(session, tenant)
    problems: list[str] = []
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
