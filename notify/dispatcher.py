"""The dispatcher: claim due outbox rows (short transaction), send them, record the outcome (short transaction)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import requests

from db.engine import Database
from notify.email import send_email
from notify.hubspot import send_hubspot
from notify.slack import send_slack, send_slack_app
from notify.webhook import SendResult, send_webhook
from services.integrations import crm, outbound, secret_box
from services.operations import metrics
from services.triggers import deliveries
from services.triggers.outbox_signal import OUTBOX
from settings import get_settings

log = logging.getLogger("leadvane.notify")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Sender:
    """Sends claimed deliveries in parallel, reusing one HTTP connection pool per worker thread."""

    def __init__(self, workers: int = 8, db: Database | None = None) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leadvane-send")
        self._local = threading.local()
        # Channels that send with a unit's stored credentials (Slack app, CRM) read them here, outside any write.
        self.db = db

    def _http(self) -> requests.Session:
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = outbound.new_session()
        return http

    def send(self, item: deliveries.Claimed, now: datetime) -> SendResult:
        try:
            if item.channel == "webhook":
                if not item.signing_secret:
                    return SendResult(False, None, "no signing secret for this webhook")
                return send_webhook(item.target, item.signing_secret, item.id, item.body, now, self._http())
            if item.channel == "email":
                return send_email(get_settings(), item.target, item.body)
            if item.channel == "slack" and item.target.startswith(deliveries.APP_TARGET_PREFIX):
                return send_slack_app(self.db, item.unit_id, item.target, item.body, self._http())
            if item.channel == "slack":
                return send_slack(get_settings(), item.target, item.body, self._http())
            if item.channel == "hubspot":
                return send_hubspot(get_settings(), self._crm_token(item.unit_id), item.target, item.body,
                                    self._http())
            return SendResult(False, None, f"unknown channel {item.channel!r}")
        except secret_box.UnreadableSecret:
            return SendResult(False, None, "the stored token cannot be decrypted with the configured key")
        except Exception as exc:  # a broken receiver must never kill the dispatcher
            log.exception("delivery %s failed unexpectedly", item.id)
            return SendResult(False, None, outbound.describe_error(exc))

    def _crm_token(self, unit_id: str) -> str | None:
        """The unit's HubSpot token, read at send time (a replaced token is used at once)."""
        if self.db is None:
            return None
        with self.db.read() as session:
            return crm.unit_token(session, unit_id)

    def send_all(
        self, items: list[deliveries.Claimed], clock: Callable[[], datetime]
    ) -> list[tuple[deliveries.Claimed, SendResult]]:
        return list(self.pool.map(lambda item: (item, self.send(item, clock())), items))

    def close(self) -> None:
        self.pool.shutdown(wait=False)


def dispatch_due(
    db: Database, holder: str, clock: Callable[[], datetime] = utcnow, batch: int = 100, sender: Sender | None = None
) -> int:
    """Send everything due now; returns how many deliveries were attempted.

    Each round is one short write transaction that records the previous round's outcomes and claims
    the next batch; sending happens outside any transaction.
    """
    own = sender is None
    sender = sender or Sender(db=db)
    attempted = 0
    results: list[tuple[deliveries.Claimed, SendResult]] = []
    try:
        with db.read() as session:
            if not deliveries.has_due(session, clock()):
                return 0
        while True:
            with db.write() as session:
                _record(session, results, clock)
                claimed = deliveries.claim_due(session, holder, clock(), batch)
            if not claimed:
                return attempted
            results = sender.send_all(claimed, clock)
            attempted += len(claimed)
    finally:
        if own:
            sender.close()


def send_handed_off(
    db: Database, claim: str, delivery_ids: list[str], sender: Sender, clock: Callable[[], datetime] = utcnow
) -> list[tuple[deliveries.Claimed, SendResult]]:
    """Send rows claimed when they were written; no write transaction before the send."""
    with db.read() as session:
        items = deliveries.load_claimed(session, claim, delivery_ids)
    return [(item, sender.send(item, clock())) for item in items]


def _record(session: Any, results: list[tuple[deliveries.Claimed, SendResult]], clock: Callable[[], datetime]) -> None:
    outcomes: list[tuple[str, str]] = []
    for item, result in results:
        if result.ok:
            deliveries.record_success(session, item.id, item.claim, result.status_code, clock())
            outcomes.append((item.id, "delivered"))
        else:
            status = deliveries.record_failure(
                session, item.id, item.claim, item.attempts, result.error or "failed", result.status_code, clock(),
                result.retry_after,
            )
            outcomes.append((item.id, "dead" if status == "dead" else "failed"))
    # Counted (with event-to-delivery latency) when this transaction commits.
    metrics.observe_deliveries(session, outcomes, clock())


class DispatcherThread(threading.Thread):
    """Sends rows handed off by this process's commits at once (sub-second delivery) and sweeps the outbox for
    anything else due (retries, other processes' rows, expired claims) every `interval` seconds."""

    def __init__(self, db: Database, holder: str, interval: float = 1.0) -> None:
        super().__init__(name="leadvane-dispatcher", daemon=True)
        self.db, self.holder, self.interval = db, holder, interval
        self._stop_event = threading.Event()
        self.sender = Sender(db=db)
        # Outcomes are written by one recorder thread, many per transaction, so senders never wait for the
        # (single, on SQLite) writer lock and a burst of acknowledgements costs one commit.
        self._outcomes: queue.SimpleQueue[tuple[deliveries.Claimed, SendResult]] = queue.SimpleQueue()
        self._recorder = threading.Thread(target=self._record_loop, name="leadvane-recorder", daemon=True)

    def run(self) -> None:
        OUTBOX.claimant = self.holder
        self._recorder.start()
        last_sweep = 0.0
        try:
            while not self._stop_event.is_set():
                for claim, ids in OUTBOX.take():
                    self.sender.pool.submit(self._deliver, claim, ids)
                if time.monotonic() - last_sweep >= self.interval:
                    last_sweep = time.monotonic()
                    try:
                        dispatch_due(self.db, self.holder, sender=self.sender)
                    except Exception:
                        log.exception("dispatcher run failed")
                OUTBOX.wait(min(self.interval, 0.25))
        finally:
            OUTBOX.claimant = None
            self.sender.close()

    def _deliver(self, claim: str, ids: list[str]) -> None:
        try:
            for outcome in send_handed_off(self.db, claim, ids, self.sender):
                self._outcomes.put(outcome)
        except Exception:  # the lease runs out and the periodic sweep sends them
            log.exception("sending handed-off deliveries failed")

    def _record_loop(self) -> None:
        while not (self._stop_event.is_set() and self._outcomes.empty()):
            try:
                batch = [self._outcomes.get(timeout=0.25)]
            except queue.Empty:
                continue
            while True:
                try:
                    batch.append(self._outcomes.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.db.write() as session:
                    _record(session, batch, utcnow)
            except Exception:  # unrecorded: the claims expire and the rows are sent again, same webhook-id
                log.exception("recording %d delivery outcomes failed", len(batch))

    def stop(self) -> None:
        self._stop_event.set()
        OUTBOX.set()
