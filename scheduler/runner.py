"""Start and stop the background scheduler; jobs are registered by scheduler.jobs."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from db.engine import Database
from scheduler import jobs


def start_scheduler(db: Database) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    jobs.register(scheduler, db)
    scheduler.start()
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=False)
