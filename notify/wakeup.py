"""A process-wide signal: 'the outbox has something new', so the dispatcher sends it at once, not at its next poll."""

from __future__ import annotations

import threading


class Wakeup:
    """Thread-safe; set() from any thread after a commit, wait() in the dispatcher loop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke


OUTBOX = Wakeup()
