"""Start and stop the background scheduler; jobs are registered by scheduler.jobs.

Besides the periodic jobs, a dispatcher thread sends outbox rows the moment a commit wakes it,
which keeps notification latency under a second.
"""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from db.engine import Database
from notify.dispatcher import DispatcherThread
from scheduler import jobs


def start_scheduler(db: Database) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    jobs.register(scheduler, db)
    scheduler.start()
    dispatcher = DispatcherThread(db, jobs.HOLDER)
    dispatcher.start()
    scheduler.leadvane_dispatcher = dispatcher  # type: ignore[attr-defined]
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    dispatcher = getattr(scheduler, "leadvane_dispatcher", None)
    if dispatcher is not None:
        dispatcher.stop()
    if scheduler.running:
        scheduler.shutdown(wait=False)
