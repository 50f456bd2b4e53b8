"""Scheduler jobs: module-level functions with fixed ids, registered with replace_existing."""

from __future__ import annotations

from apscheduler.schedulers.base import BaseScheduler

from db.engine import Database


def register(scheduler: BaseScheduler, db: Database) -> None:
    """Add every periodic job to `scheduler` (decay, trigger windows, delivery)."""
    # Jobs land with the time-aware scoring work (issue 4).
