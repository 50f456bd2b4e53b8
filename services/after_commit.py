"""The one home for work that must happen after a write commits (wake the dispatcher, count metrics), and for the
last writes of a transaction that must happen just before it commits (the live stream's one batch).

Actions are registered on the session, not in process globals: they run once its transaction commits and are
dropped, never run, when it rolls back. Services register here and never import notify/.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

_ON_COMMIT = "leadvane_on_commit"
_ON_ROLLBACK = "leadvane_on_rollback"
_BEFORE_COMMIT = "leadvane_before_commit"


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once `session`'s transaction commits; forget it if the transaction rolls back."""
    session.info.setdefault(_ON_COMMIT, []).append(action)


def on_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run `action` if `session`'s transaction rolls back (to clear per-transaction state); forget it on commit."""
    session.info.setdefault(_ON_ROLLBACK, []).append(action)


def before_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` (which may still write, in the same transaction) just before `session` commits; forget it if the
    transaction rolls back."""
    session.info.setdefault(_BEFORE_COMMIT, []).append(action)


@sa_event.listens_for(Session, "before_commit")
def _run_before_commit(session: Session) -> None:
    for action in session.info.pop(_BEFORE_COMMIT, ()):
        action()


@sa_event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    for action in session.info.pop(_ON_COMMIT, ()):
        action()


@sa_event.listens_for(Session, "after_rollback")
def _run_on_rollback(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)
    session.info.pop(_BEFORE_COMMIT, None)
    for action in session.info.pop(_ON_ROLLBACK, ()):
        action()
