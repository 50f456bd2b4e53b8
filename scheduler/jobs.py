"""Scheduler jobs: module-level functions with fixed ids, registered with replace_existing.

Each job takes a database lease first (services.operations.leases), so when several processes run a scheduler
only one of them runs a given job at a time. Each unit's work is its own short transaction.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler

from db.engine import Database
from notify.dispatcher import dispatch_due
from services.context import Tenant
from services.gc_pause import paused_gc
from services.ingest import idempotency
from services.insight import stream
from services.integrations import crm, research_jobs
from services.operations import leases, metrics
from services.people import erasure
from services.scoring import decay, publisher
from services.triggers import triggers

log = logging.getLogger("leadvane.scheduler")

HOLDER = f"{socket.gethostname()}:{os.getpid()}"
DECAY_JOB, WINDOWS_JOB, DELIVERIES_JOB = "decay", "trigger-windows", "deliveries"
IDEMPOTENCY_JOB = "idempotency-prune"
STREAM_PRUNE_JOB = "stream-prune"
PUBLISH_JOB = "publish-pending"
ERASURE_JOB = "lead-erasures"
CRM_SYNC_JOB = "crm-sync"
RESEARCH_JOB = "research-requests"
INTERVALS = {
    DECAY_JOB: 300, WINDOWS_JOB: 30, DELIVERIES_JOB: 5, IDEMPOTENCY_JOB: 3600, STREAM_PRUNE_JOB: 3600, PUBLISH_JOB: 30,
    ERASURE_JOB: 60, CRM_SYNC_JOB: 60, RESEARCH_JOB: 10,
}
DECAY_SLICE = 5000  # drops per decay transaction: SQLite has one writer, ingest must not wait long
LEASE_TTL = {
    DECAY_JOB: timedelta(minutes=10), WINDOWS_JOB: timedelta(minutes=2), DELIVERIES_JOB: timedelta(seconds=30),
    IDEMPOTENCY_JOB: timedelta(minutes=10), STREAM_PRUNE_JOB: timedelta(minutes=10),
    PUBLISH_JOB: timedelta(minutes=10), ERASURE_JOB: timedelta(minutes=10), CRM_SYNC_JOB: timedelta(minutes=10),
    RESEARCH_JOB: timedelta(minutes=5),
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _with_lease(db: Database, name: str, holder: str, now: datetime, work: Callable[[], int]) -> int | None:
    """Run `work` while holding lease `name`; None when another process holds it."""
    with db.write() as session:
        if not leases.acquire(session, name, holder, now, LEASE_TTL[name]):
            return None
    try:
        with metrics.SCHEDULER_JOB.labels(job=name).time():  # only runs that did the work, not lease misses
            return work()
    finally:
        with db.write() as session:
            leases.release(session, name, holder)


def run_decay(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """Apply every due decay drop in every unit; returns the number of DECAY events written."""
    at = now or _utcnow()

    def work() -> int:
        with db.read() as session:
            units = decay.units_with_decay(session)
        total = 0
        for tenant in units:
            with paused_gc():
                total += _decay_unit(db, tenant, at)
        return total

    return _with_lease(db, DECAY_JOB, holder, at, work)


def _decay_unit(db: Database, tenant: Tenant, at: datetime) -> int:
    """One unit's drops: planned once in a read transaction (it writes nothing, so it blocks no writer), then
    written `DECAY_SLICE` at a time, each slice in its own short write transaction that re-checks the plan."""
    written = 0
    for _attempt in range(3):  # a publish between the plan and a slice: plan the rest again
        with db.read() as session:
            plan = decay.plan_decay(session, tenant, at)
        for start in range(0, len(plan.events), DECAY_SLICE):
            with db.write() as session:
                done = decay.apply_planned(session, tenant, plan, plan.events[start : start + DECAY_SLICE], at)
            if done is None:
                break
            written += done
        else:
            return written
    return written


def run_windows(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """Re-check sequence and pattern windows over recently received events; returns firings written."""
    at = now or _utcnow()

    def work() -> int:
        with db.read() as session:
            units = triggers.units_with_windowed_triggers(session)
        total = 0
        for tenant in units:
            with db.write() as session:
                total += triggers.sweep_windows(session, tenant, at)
        return total

    return _with_lease(db, WINDOWS_JOB, holder, at, work)


def run_deliveries(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """Send due outbox rows (each row is also claimed on its own, so this is safe beside the wake-up thread)."""
    at = now or _utcnow()
    clock = (lambda: at) if now is not None else _utcnow
    return _with_lease(db, DELIVERIES_JOB, holder, at, lambda: dispatch_due(db, holder, clock))


def run_idempotency_prune(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """Delete Idempotency-Key records older than 24 hours (every unit); returns how many."""
    at = now or _utcnow()

    def work() -> int:
        with db.write() as session:
            return idempotency.prune_expired(session, at)

    return _with_lease(db, IDEMPOTENCY_JOB, holder, at, work)


def run_stream_prune(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """Delete live-stream batches older than 24 hours (every unit); returns how many."""
    at = now or _utcnow()

    def work() -> int:
        with db.write() as session:
            return stream.prune(session, at)

    return _with_lease(db, STREAM_PRUNE_JOB, holder, at, work)


def run_publish_pending(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """Finish publishes whose aside rescore stopped (a process died mid-rescore): every unit whose live scoring
    version trails its published one and whose unit lease (services.scoring.publisher) is free; returns how many
    units went live."""
    at = now or _utcnow()
    return _with_lease(db, PUBLISH_JOB, holder, at, lambda: publisher.finish_pending(db))


def run_erasures(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """Finish lead erasures left pending (the process died after answering DELETE /v1/leads/{id}, or the unit was
    busy with a scoring change): one transaction per request; returns how many completed."""
    at = now or _utcnow()

    def work() -> int:
        with db.read() as session:
            pending = erasure.pending_erasures(session)
        done = 0
        for tenant, lead_id in pending:
            try:
                with db.write() as session:
                    done += erasure.erase_lead(session, tenant, lead_id, at) is not None
            except Exception:  # one failing request must not stop the others; it stays pending
                log.exception("erasure of lead %s failed; retried on the next run", lead_id)
        return done

    return _with_lease(db, ERASURE_JOB, holder, at, work)


def run_crm_sync(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """The scheduled CRM score sync: every unit whose sync interval has passed queues its segment's changed leads
    (services.integrations.crm), one transaction per unit; returns how many contacts were queued."""
    at = now or _utcnow()

    def work() -> int:
        with db.read() as session:
            due = crm.units_due(session, at)
        queued = 0
        for tenant in due:
            try:
                with db.write() as session:
                    queued += crm.sync_unit(session, tenant, at)
            except Exception:  # one unit's failure must not stop the others; it is tried again next minute
                log.exception("CRM sync of unit %s failed", tenant.unit_id)
        return queued

    return _with_lease(db, CRM_SYNC_JOB, holder, at, work)


def run_research(db: Database, now: datetime | None = None, holder: str = HOLDER) -> int | None:
    """Work contact research requests left pending (their process died, or an attempt failed) once their lease
    ran out; returns how many finished."""
    at = now or _utcnow()
    clock = (lambda: at) if now is not None else _utcnow
    return _with_lease(db, RESEARCH_JOB, holder, at, lambda: research_jobs.sweep(db, clock))


JOBS: dict[str, Callable[..., int | None]] = {
    DECAY_JOB: run_decay, WINDOWS_JOB: run_windows, DELIVERIES_JOB: run_deliveries,
    IDEMPOTENCY_JOB: run_idempotency_prune, STREAM_PRUNE_JOB: run_stream_prune, PUBLISH_JOB: run_publish_pending,
    ERASURE_JOB: run_erasures, CRM_SYNC_JOB: run_crm_sync, RESEARCH_JOB: run_research,
}


def register(scheduler: BaseScheduler, db: Database) -> None:
    """Add every periodic job to `scheduler` (decay, trigger windows, delivery, idempotency-key and stream
    pruning, pending publishes, pending lead erasures, the CRM score sync)."""
    for job_id, func in JOBS.items():
        scheduler.add_job(
            func, "interval", seconds=INTERVALS[job_id], id=job_id, replace_existing=True, args=[db],
            next_run_time=_utcnow(),
        )


def run_all_once(db: Database) -> dict[str, int | None]:
    return {job_id: func(db) for job_id, func in JOBS.items()}
