"""The dispatcher: claim due outbox rows (short transaction), send them, record the outcome (short transaction)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from db.engine import Database
from notify.email import send_email
from notify.slack import send_slack
from notify.wakeup import OUTBOX
from notify.webhook import SendResult, send_webhook
from services import deliveries
from settings import get_settings

log = logging.getLogger("leadvane.notify")


def utcnow() -> datetime:
    return datetime.now(UTC)


def send(item: deliveries.Claimed, now: datetime) -> SendResult:
    try:
        if item.channel == "webhook":
            return send_webhook(item.target, item.signing_secret, item.id, item.body, now)
        if item.channel == "email":
            return send_email(get_settings(), item.target, item.body)
        if item.channel == "slack":
            return send_slack(get_settings(), item.target, item.body)
        return SendResult(False, None, f"unknown channel {item.channel!r}")
    except Exception as exc:  # a broken receiver must never kill the dispatcher
        log.exception("delivery %s failed unexpectedly", item.id)
        return SendResult(False, None, f"{type(exc).__name__}: {exc}")


def dispatch_due(db: Database, holder: str, clock: Callable[[], datetime] = utcnow, batch: int = 50) -> int:
    """Send everything due now; returns how many deliveries were attempted."""
    attempted = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        while True:
            with db.write() as session:
                claimed = deliveries.claim_due(session, holder, clock(), batch)
            if not claimed:
                return attempted
            results = list(pool.map(lambda item: (item, send(item, clock())), claimed))
            with db.write() as session:
                for item, result in results:
                    if result.ok:
                        deliveries.record_success(session, item.id, holder, result.status_code, clock())
                    else:
                        deliveries.record_failure(
                            session, item.id, holder, item.attempts, result.error or "failed", result.status_code,
                            clock(),
                        )
            attempted += len(claimed)


class DispatcherThread(threading.Thread):
    """Dispatches as soon as a commit wakes it (sub-second delivery), and polls every `interval` seconds anyway."""

    def __init__(self, db: Database, holder: str, interval: float = 1.0) -> None:
        super().__init__(name="leadvane-dispatcher", daemon=True)
        self.db, self.holder, self.interval = db, holder, interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                dispatch_due(self.db, self.holder)
            except Exception:
                log.exception("dispatcher run failed")
            OUTBOX.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        OUTBOX.set()
