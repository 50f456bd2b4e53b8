"""A process-wide signal: 'the outbox has something new', so the dispatcher sends it at once, not at its next poll.

When this process runs a dispatcher, it registers itself as the claimant: outbox rows written here are then
claimed in the very transaction that writes them (leased to the claimant), and handed to the dispatcher after
the commit, so the first attempt needs no extra write transaction. If the process dies before sending, the
lease runs out and any dispatcher sends the row, with the same webhook-id.
"""

from __future__ import annotations

import threading


class Wakeup:
    """Thread-safe; set()/hand_off() from any thread after a commit, wait()/take() in the dispatcher loop."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._handed: list[tuple[str, list[str]]] = []
        self.claimant: str | None = None

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke

    def hand_off(self, claim: str, delivery_ids: list[str]) -> None:
        with self._lock:
            self._handed.append((claim, delivery_ids))
        self._event.set()

    def take(self) -> list[tuple[str, list[str]]]:
        with self._lock:
            handed, self._handed = self._handed, []
        return handed


OUTBOX = Wakeup()
