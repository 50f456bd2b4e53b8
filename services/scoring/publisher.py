"""Publish on a large unit without stopping ingest: compute the new scores aside, then swap them in.

A change that can move scores on a unit with more than `inline_rescore_max_events` events (or whose previous
publish is still being rescored) is published *aside* (services.scoring.publish): the version is recorded, but
`scoring_live_version` stays where it was, so ingest keeps scoring with the previous model and every read keeps
showing the previous model's scores. Once the change commits, a background thread of this process runs
`run_unit`, which owns its sessions and transactions (like a worker):

1. Under a per-unit lease (services.operations.leases, `rescore:<unit>`), so only one process works a unit.
2. Note the log's newest seq S0 (PostgreSQL: under the exclusive configuration lock, so no ingest is in flight
   and every event with seq <= S0 is committed; later events get higher seqs) and read the unit's events up to
   S0 in a read transaction (WAL readers do not block SQLite's writer). Replay them under the target model
   (the newest published one).
3. Rewrite the changed events' primary delta and explanation in short write transactions of `EVENT_CHUNK`
   events. An event's outcome depends only on events before it, so these rows are final. Which events changed
   is decided by comparing with a replay under the live model (what the rows hold); when versions in between
   may have been half written (a publish during a rescore, a crash), by comparing with the stored rows.
4. Events that arrived after S0 were scored with the previous model. They are re-applied under the target,
   continuing from their owners' scores at S0 in the aside replay (a score is all the state a replay carries),
   and their rows rewritten, in a few catch-up rounds; every owner's score difference is computed beside.
5. Swap, in one short write transaction (PostgreSQL: exclusive configuration lock, so ingests wait for it): the
   last events are re-applied the same way, all score differences written with one statement per table, and
   `scoring_live_version` becomes the target. No event is lost or scored under two models.
6. If a newer version was published meanwhile, go round again.

The one visible seam: between steps 3-4 and the swap (a few seconds on a million events) a timeline may show an old
event's new delta while the lead's score is still the previous model's. Scores themselves switch at once.

A process that dies mid-rescore leaves live < published; the `publish-pending` scheduler job (scheduler.jobs)
finishes such units once the lease has expired.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import replay as vector
from core import scoring
from core.model import ScoringModel
from db import models
from db.engine import Database, dump_json
from services.after_commit import on_commit
from services.context import Tenant
from services.operations import leases
from services.scoring.adjust import Incoming, adjust_incoming
from services.scoring.model import heads, live_model, lock_config, model_at, set_live
from services.scoring.rescore import (
    EventUpdate,
    Explainer,
    RescoreSummary,
    ScoreChanges,
    ScoreUpdate,
    StoredRows,
    event_updates,
    primary_deltas,
    read_log,
    read_scores,
    render_score_update,
    rescore_leads_and_accounts,
    rescore_unit,
    run_score_update,
    score_changes,
    wanted_scores,
    write_event_updates,
    write_score_changes,
)
from settings import get_settings

log = logging.getLogger("leadvane.publisher")

# Events rewritten per write transaction: each holds SQLite's single writer for ~0.1 s.
EVENT_CHUNK = 10_000
# A worker renews its unit lease at least this often; a dead worker's unit is free again after LEASE_TTL.
LEASE_TTL = timedelta(minutes=2)
_RENEW_EVERY_S = 20.0


@dataclass(frozen=True, slots=True)
class PublishStatus:
    published: int  # newest published version
    live: int  # version whose scores are stored (what ingest and reads use)

    @property
    def pending(self) -> bool:
        """A published version is still being rescored aside."""
        return self.live < self.published


def status(session: Session, tenant: Tenant) -> PublishStatus:
    current = heads(session, tenant)
    return PublishStatus(current.published, current.live)


def goes_aside(session: Session, tenant: Tenant, *, pending: bool) -> bool:
    """Whether a change that needs a rescore is rescored aside rather than in its own transaction: the unit has
    more than `inline_rescore_max_events` events, or a rescore is already pending (so the newest version wins
    without racing it). Only sessions of a Database can start the aside work."""
    if Database.of(session) is None:
        return False
    if pending:
        return True
    limit = get_settings().inline_rescore_max_events
    # Counts at most limit + 1 index entries, however big the unit is.
    bounded = (
        select(models.Event.seq).where(models.Event.unit_id == tenant.unit_id).limit(limit + 1).subquery()
    )
    return int(session.scalar(select(func.count()).select_from(bounded)) or 0) > limit


def request(session: Session, tenant: Tenant) -> None:
    """Rescore the unit aside once `session` commits (a background thread of this process)."""
    db = Database.of(session)
    if db is None:
        raise RuntimeError("an aside rescore needs a session of a Database")
    system = Tenant(tenant.org_id, tenant.unit_id)
    on_commit(session, lambda: _start(db, system))


# --- the worker --------------------------------------------------------------------------------------------------


class _Abandon(Exception):
    """The unit is no longer ours: the lease was lost, or its live version moved under us."""


class _Stale(Exception):
    """Events read before the swap were removed meanwhile: replay again."""


def lease_name(tenant: Tenant) -> str:
    return f"rescore:{tenant.unit_id}"


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def run_unit(db: Database, tenant: Tenant, *, worker: str | None = None) -> bool:
    """Bring the unit's stored scores to its newest published version, aside (see the module's docstring).

    False when another worker holds the unit's lease (it will finish the unit); True once live == published.
    """
    worker = worker or holder()
    name = lease_name(tenant)
    with db.write() as session:
        if not leases.acquire(session, name, worker, _utcnow(), LEASE_TTL):
            return False
    try:
        while True:
            with db.read() as session:
                current = status(session, tenant)
            if not current.pending:
                return True
            try:
                _rescore_to(db, tenant, current, worker)
            except _Stale:
                log.info("unit %s: events changed during an aside rescore; replaying again", tenant.unit_id)
    finally:
        with db.write() as session:
            leases.release(session, name, worker)


@dataclass(slots=True)
class _Lease:
    db: Database
    tenant: Tenant
    worker: str
    live: int
    renewed: float = field(default_factory=time.monotonic)

    def check(self, session: Session, *, force: bool = False) -> None:
        """Still ours: the lease is held (renewed now and then) and the live version has not moved."""
        if force or time.monotonic() - self.renewed > _RENEW_EVERY_S:
            if not leases.acquire(session, lease_name(self.tenant), self.worker, _utcnow(), LEASE_TTL):
                raise _Abandon("lease lost")
            self.renewed = time.monotonic()
        if heads(session, self.tenant).live != self.live:
            raise _Abandon("live version moved")


def _rescore_to(db: Database, tenant: Tenant, current: PublishStatus, worker: str) -> None:
    target = current.published
    lease = _Lease(db, tenant, worker, current.live)
    try:
        began = time.perf_counter()
        prepared = _prepare(db, tenant, current)
        read = time.perf_counter()
        _write_events_aside(db, prepared, lease)
        written = time.perf_counter()
        changes = _score_changes_before_swap(db, prepared)
        later = _later(prepared)
        _catch_up(db, prepared, later, lease)
        planned = time.perf_counter()
        caught_up = len(later.board.leads)
        _swap(db, prepared, changes, lease, later)
        swapped = time.perf_counter()
        log.info(
            "unit %s: version %s live after %.2f s (read and replay %.2f s, %s events rewritten aside in %.2f s, "
            "score differences and catch-up %.2f s, swap transaction %.3f s; %s leads touched meanwhile, %s of them "
            "before the swap)", tenant.unit_id, target, swapped - began, read - began, len(prepared.positions),
            written - read, planned - written, swapped - planned, len(later.leads), caught_up,
        )
    except _Abandon as why:
        log.info("unit %s: aside rescore to version %s abandoned (%s)", tenant.unit_id, target, why)


@dataclass(slots=True)
class _Prepared:
    tenant: Tenant
    target: int
    model: ScoringModel
    max_seq: int  # S0: events up to it are replayed aside; later ones in the swap
    result: vector.VectorReplay
    positions: np.ndarray[Any, Any]  # events (column positions) whose row may differ from the replay
    stored: StoredRows | None  # the stored rows when they must be compared, else None
    lead_codes: dict[str, int]  # owner id -> its code in the replay's columns
    account_codes: dict[str, int]

    def scores_at_mark(self, kind: str, owners: set[str]) -> dict[str, dict[str, int]]:
        """The owners' scores after the events up to S0 under the target model (absent: no events by then)."""
        codes = self.lead_codes if kind == "lead" else self.account_codes
        per_ruleset = [
            (r.ruleset_id, r.lead_scores if kind == "lead" else r.account_scores) for r in self.result.rulesets
        ]
        return {
            owner: {rs: int(values[codes[owner]]) for rs, values in per_ruleset} for owner in owners if owner in codes
        }


def _prepare(db: Database, tenant: Tenant, current: PublishStatus) -> _Prepared:
    """Steps 2 and 3's reading: S0, the log up to it, its replay under the target, and which rows to rewrite."""
    if not db.is_sqlite:
        with db.write() as session:
            lock_config(session, tenant, exclusive=True)  # in-flight ingests commit first: no seq <= S0 is missing
            max_seq = _newest_seq(session)
    # Rows must be compared when they may hold a version other than the live one (a half-written earlier target).
    exact = current.live == 0 or current.published != current.live + 1
    with db.read() as session:
        if db.is_sqlite:
            max_seq = _newest_seq(session)  # the same snapshot as the read: later events get higher seqs
        model = model_at(session, tenant, current.published)
        previous = None if exact else model_at(session, tenant, current.live)
        cols, stored = read_log(session, tenant, with_stored=exact, max_seq=max_seq)
    result = vector.replay(model, cols)
    if previous is None:
        positions = np.arange(len(cols))
    else:
        old = vector.replay(previous, cols)
        positions = np.flatnonzero(
            changed_events(old, result, previous.primary_ruleset_id, model.primary_ruleset_id)
        )
    return _Prepared(
        tenant, current.published, model, max_seq, result, positions, stored if exact else None,
        {owner: i for i, owner in enumerate(cols.lead_ids)}, {owner: i for i, owner in enumerate(cols.account_ids)},
    )


def _newest_seq(session: Session) -> int:
    # The whole table's newest seq (the primary key's last entry): as good a bound as the unit's, and instant.
    return int(session.scalar(select(func.max(models.Event.seq))) or 0)


def changed_events(
    old: vector.VectorReplay, new: vector.VectorReplay, old_primary: str | None, new_primary: str | None
) -> np.ndarray[Any, Any]:
    """Per event (both replays over the same columns): whether its stored row (primary delta, explanation) differs
    between the two replays."""
    n = len(new.columns)
    if [r.ruleset_id for r in old.rulesets] != [r.ruleset_id for r in new.rulesets]:
        return np.ones(n, dtype=bool)
    cols = new.columns
    has_lead, has_account = cols.lead >= 0, cols.account >= 0
    changed = _differs(primary_deltas(old, old_primary), primary_deltas(new, new_primary))
    changed |= _adjustments_differ(old, new)
    texts: dict[str, int] = {}
    old_rules, new_rules = Explainer(old).rules, Explainer(new).rules
    for k, (o, w) in enumerate(zip(old.rulesets, new.rulesets, strict=True)):
        changed |= _differs(o.delta, w.delta)
        changed |= has_lead & (_differs(o.lead_before, w.lead_before) | _differs(o.lead_after, w.lead_after))
        changed |= has_account & (
            _differs(o.account_before, w.account_before) | _differs(o.account_after, w.account_after)
        )
        old_codes = np.array([texts.setdefault(t, len(texts)) for t in old_rules[k]] or [0], dtype=np.int64)
        new_codes = np.array([texts.setdefault(t, len(texts)) for t in new_rules[k]] or [0], dtype=np.int64)
        if n:
            changed |= old_codes[old.combo] != new_codes[new.combo]
    return changed


def _adjustments_differ(old: vector.VectorReplay, new: vector.VectorReplay) -> np.ndarray[Any, Any]:
    """Per event: whether its quarantine (filter, reason), held state or surge multiplier differs (an event a
    filter quarantines may score 0 either way, yet its row changes)."""
    n = len(new.columns)
    reasons: dict[tuple[str, str] | None, int] = {None: -1}

    def key(result: vector.VectorReplay) -> tuple[np.ndarray[Any, Any], ...]:
        adjusted = result.adjustments
        if adjusted is None:
            return np.full(n, -1), np.zeros(n, dtype=bool), np.full(n, scoring.NO_SURGE)
        codes = np.array([reasons.setdefault(r, len(reasons)) for r in adjusted.held.reasons] + [-1],
                         dtype=np.int64)
        return codes[adjusted.held.code], adjusted.held.held, adjusted.surge_milli

    before, after = key(old), key(new)
    return np.logical_or.reduce([_differs(b, a) for b, a in zip(before, after, strict=True)])


def _differs(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(a != b, dtype=bool)


def _write_events_aside(db: Database, prepared: _Prepared, lease: _Lease) -> None:
    """Step 3: the changed rows up to S0, `EVENT_CHUNK` per short write transaction (texts built outside it)."""
    explainer = Explainer(prepared.result)
    primary = primary_deltas(prepared.result, prepared.model.primary_ruleset_id)
    decoded = not db.is_sqlite
    for start in range(0, len(prepared.positions), EVENT_CHUNK):
        idx = prepared.positions[start : start + EVENT_CHUNK]
        updates = event_updates(explainer, primary, idx, stored=prepared.stored, decoded=decoded)
        if not updates and time.monotonic() - lease.renewed < _RENEW_EVERY_S:
            continue
        with db.write() as session:
            lease.check(session)
            write_event_updates(session, updates)


@dataclass(frozen=True, slots=True)
class _Planned:
    leads: ScoreChanges
    accounts: ScoreChanges
    lead_update: ScoreUpdate  # the moved scores as one statement, rendered before the swap
    account_update: ScoreUpdate


def _score_changes_before_swap(db: Database, prepared: _Prepared) -> _Planned:
    """Every owner's score difference, against scores read now. Only owners of events after S0 can change before
    the swap (ingest writes the scores of its events' owners), and the swap redoes exactly those after writing
    these."""
    result, tenant, sqlite = prepared.result, prepared.tenant, db.is_sqlite
    lead_wanted = wanted_scores(result.columns.lead_ids, [(r.ruleset_id, r.lead_scores) for r in result.rulesets])
    account_wanted = wanted_scores(
        result.columns.account_ids, [(r.ruleset_id, r.account_scores) for r in result.rulesets]
    )
    with db.read() as session:
        lead_stored = read_scores(session, tenant, models.LeadScore)
        account_stored = read_scores(session, tenant, models.AccountScore)
    leads, accounts = score_changes(lead_stored, lead_wanted), score_changes(account_stored, account_wanted)
    return _Planned(
        leads, accounts,
        render_score_update(sqlite, "lead_scores", "lead_id", tenant.unit_id, leads.moved),
        render_score_update(sqlite, "account_scores", "account_id", tenant.unit_id, accounts.moved),
    )


@dataclass(slots=True)
class _Later:
    """Events after S0 re-applied under the target so far. A score is the whole state a replay carries from one
    event of an owner to the next, so they continue from their owners' scores at S0 under the target (the aside
    replay's): exactly what a replay of the owners' whole histories gives, without reading them again."""

    board: scoring.Scoreboard
    upto: int  # every event up to this seq is on the board
    leads: set[str] = field(default_factory=set)  # owners of events after S0
    accounts: set[str] = field(default_factory=set)
    # Leads whose earlier events' quarantine or surge the events after S0 changed (services.scoring.adjust):
    # rescored from their log in the swap.
    retro: set[str] = field(default_factory=set)


def _later(prepared: _Prepared) -> _Later:
    return _Later(scoring.Scoreboard(prepared.model.book, prepared.model.policy), prepared.max_seq)


def _reapply(
    session: Session, prepared: _Prepared, later: _Later, upto: int | None = None
) -> list[EventUpdate]:
    """Re-apply the events after `later.upto` (up to `upto`, when given) under the target; their new rows."""
    event, model = models.Event, prepared.model
    query = select(event.seq, event.lead_id, event.account_id, event.event_type, event.occurred_at, event.metadata_)
    query = query.where(event.unit_id == prepared.tenant.unit_id, event.seq > later.upto)
    if upto is not None:
        query = query.where(event.seq <= upto)
    rows = session.execute(query.order_by(event.seq)).all()
    new_leads = {r.lead_id for r in rows if r.lead_id is not None} - later.leads
    new_accounts = {r.account_id for r in rows if r.account_id is not None} - later.accounts
    later.board.leads.update(prepared.scores_at_mark("lead", new_leads))
    later.board.accounts.update(prepared.scores_at_mark("account", new_accounts))
    later.leads |= new_leads
    later.accounts |= new_accounts
    adjusted = adjust_incoming(
        session, prepared.tenant, model,
        [Incoming(r.lead_id, r.event_type, r.occurred_at, r.metadata_ or {}) for r in rows], stored_upto=later.upto,
    )
    later.retro |= adjusted.retro
    updates: list[EventUpdate] = []
    for row, adjustment in zip(rows, adjusted.events, strict=True):
        outcomes = later.board.apply(
            scoring.EventFacts(row.event_type, row.occurred_at, row.metadata_ or {}), row.lead_id, row.account_id,
            held=adjustment.held, surge_milli=adjustment.surge_milli,
        )
        primary = outcomes.get(model.primary_ruleset_id) if model.primary_ruleset_id else None
        explanation = dump_json({rs: o.as_explanation() for rs, o in outcomes.items()})
        columns = adjustment.columns
        updates.append((primary.delta if primary else 0, explanation, columns["quarantine_filter_id"],
                        columns["quarantine_reason"], columns["surge_milli"], row.seq))
    later.upto = upto if upto is not None else (rows[-1].seq if rows else later.upto)
    return updates


# Catch-up rounds before the swap, so the swap itself re-applies only the last moment's events.
_CATCH_UP_ROUNDS = 3
_CATCH_UP_ENOUGH = 200


def _catch_up(db: Database, prepared: _Prepared, later: _Later, lease: _Lease) -> None:
    """Re-apply the events that arrived during the aside work (their rows only; scores wait for the swap)."""
    tenant = prepared.tenant
    for _ in range(_CATCH_UP_ROUNDS):
        upto: int | None = None
        if not db.is_sqlite:
            with db.write() as session:
                lock_config(session, tenant, exclusive=True)  # as for S0: every seq up to the mark is committed
                upto = _newest_seq(session)
        with db.read() as session:  # SQLite: one snapshot, and later events get higher seqs
            updates = _reapply(session, prepared, later, upto)
        if updates:
            with db.write() as session:
                lease.check(session)
                write_event_updates(session, updates)
        if len(updates) < _CATCH_UP_ENOUGH:
            return


def _swap(
    db: Database, prepared: _Prepared, planned: _Planned, lease: _Lease, later: _Later | None = None
) -> None:
    """Step 4, one short write transaction: re-apply the events not caught up yet, write the scores, go live."""
    tenant = prepared.tenant
    later = later or _later(prepared)
    with db.write() as session:
        lock_config(session, tenant, exclusive=True)  # PostgreSQL: ingests wait for the swap (SQLite: one writer)
        lease.check(session, force=True)
        write_event_updates(session, _reapply(session, prepared, later))
        # Everyone's planned differences first (a touched owner's planned score is overwritten just below) ...
        run_score_update(session, planned.lead_update)
        run_score_update(session, planned.account_update)
        write_score_changes(session, tenant, models.LeadScore, _without(planned.leads, later.leads, moved=False))
        write_score_changes(
            session, tenant, models.AccountScore, _without(planned.accounts, later.accounts, moved=False)
        )
        # ... then the owners of events after S0, against what is stored for them now.
        write_score_changes(
            session, tenant, models.LeadScore,
            _owner_changes(session, tenant, models.LeadScore, later.board.leads, later.leads),
        )
        write_score_changes(
            session, tenant, models.AccountScore,
            _owner_changes(session, tenant, models.AccountScore, later.board.accounts, later.accounts),
        )
        set_live(session, tenant, prepared.target)
        rescore_leads_and_accounts(session, tenant, sorted(later.retro), prepared.model)


def _without(changes: ScoreChanges, owners: set[str], *, moved: bool) -> ScoreChanges:
    """`changes` without the rows of `owners` (and without the moved rows unless `moved`)."""
    return ScoreChanges(
        gone=[k for k in changes.gone if k[0] not in owners],
        moved=[(k, s) for k, s in changes.moved if k[0] not in owners] if moved else [],
        added=[(k, s) for k, s in changes.added if k[0] not in owners],
    )


def _owner_changes(
    session: Session,
    tenant: Tenant,
    table: type[models.LeadScore] | type[models.AccountScore],
    board: dict[str, dict[str, int]],
    touched: set[str],
) -> ScoreChanges:
    """The touched owners' scores after the re-applied events, against what is stored for them now."""
    if not touched:
        return ScoreChanges([], [], [])
    wanted = {(owner, rs): score for owner in touched for rs, score in board.get(owner, {}).items()}
    return score_changes(read_scores(session, tenant, table, sorted(touched)), wanted)


# --- running it: in the background, synchronously, from the scheduler ---------------------------------------------


@dataclass(slots=True)
class _Background:
    thread: threading.Thread | None = None
    again: bool = False


_LOCK = threading.Lock()
_RUNNING: dict[tuple[int, str], _Background] = {}


def _start(db: Database, tenant: Tenant) -> None:
    """Run the unit's aside rescore on a thread of its own (one per unit and database in this process): never
    inside the committing transaction, which may still hold the database's write lock."""
    key = (id(db), tenant.unit_id)
    with _LOCK:
        running = _RUNNING.get(key)
        if running is not None:
            running.again = True  # it goes round once more, and so sees the newest version
            return
        running = _RUNNING[key] = _Background()
        running.thread = threading.Thread(
            target=_background, args=(db, tenant, key, running), name=f"leadvane-rescore-{tenant.unit_id}",
            daemon=True,
        )
        running.thread.start()


def _background(db: Database, tenant: Tenant, key: tuple[int, str], running: _Background) -> None:
    while True:
        running.again = False
        try:
            run_unit(db, tenant)
        except Exception:  # the publish-pending job retries the unit
            log.exception("aside rescore of unit %s failed", tenant.unit_id)
        with _LOCK:
            if not running.again:
                del _RUNNING[key]
                return


def wait_idle(timeout: float = 120.0) -> bool:
    """Wait for this process's background rescores to end (tests, shutdown); False if some still run."""
    deadline = time.monotonic() + timeout
    while True:
        with _LOCK:
            threads = [r.thread for r in _RUNNING.values() if r.thread is not None]
        if not threads:
            return True
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            with _LOCK:
                return not _RUNNING


def settle(db: Database, tenant: Tenant, *, timeout: float = 600.0) -> PublishStatus:
    """Finish the unit's pending publish now, in this thread (waiting for another worker that holds the unit);
    returns the status once live == published. For tests and the command line."""
    deadline = time.monotonic() + timeout
    system = Tenant(tenant.org_id, tenant.unit_id)
    while True:
        with db.read() as session:
            current = status(session, system)
        if not current.pending:
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(f"unit {tenant.unit_id}: version {current.published} not live after {timeout} s")
        if not run_unit(db, system):
            time.sleep(0.05)


def pending_units(session: Session) -> list[Tenant]:
    unit = models.Unit
    rows = session.execute(select(unit.org_id, unit.id).where(unit.scoring_live_version < unit.scoring_version))
    return [Tenant(org_id, unit_id) for org_id, unit_id in rows]


def finish_pending(db: Database) -> int:
    """Finish every unit whose live version trails its published one (a worker died, or never started); units
    another worker holds are left to it. Returns how many units were brought live."""
    with db.read() as session:
        units = pending_units(session)
    return sum(1 for tenant in units if run_unit(db, tenant))


def rescore_now(db: Database, tenant: Tenant, *, timeout: float = 600.0) -> RescoreSummary:
    """Rebuild the unit's stored scores and explanations from the log under its newest published version, comparing
    every stored row (a repair), in one write transaction, and make that version live. Waits for the unit's lease,
    so no aside rescore runs meanwhile. For `manage.py rescore`: ingest waits for it."""
    worker, name = holder(), lease_name(tenant)
    deadline = time.monotonic() + timeout
    while True:
        with db.write() as session:
            if leases.acquire(session, name, worker, _utcnow(), LEASE_TTL):
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"unit {tenant.unit_id}: another worker holds {name}")
        time.sleep(0.1)
    try:
        with db.write() as session:
            lock_config(session, tenant, exclusive=True)
            current = heads(session, tenant)
            model = model_at(session, tenant, current.published) if current.published else live_model(session, tenant)
            summary = rescore_unit(session, tenant, model)
            if current.published:
                set_live(session, tenant, current.published)
        return summary
    finally:
        with db.write() as session:
            leases.release(session, name, worker)
