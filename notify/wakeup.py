"""The outbox wake-up signal lives in services.triggers.outbox_signal (services never import notify/); re-exported here
for the dispatcher and older imports."""

from services.triggers.outbox_signal import OUTBOX, Wakeup

__all__ = ["OUTBOX", "Wakeup"]
