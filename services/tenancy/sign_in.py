"""Dashboard sign-in with throttling: repeated failures for an email make further attempts wait.

After `login_max_failures` failed sign-ins for one email within `login_window_minutes` (and since its last
success), each further attempt must wait, before its password is even checked: FIRST_WAIT after the last
failure, doubling with every further failure, up to MAX_WAIT. Attempts are rows of `login_attempts`, so the
limit holds across dashboard processes; rows older than the window are pruned as attempts come in.
A refused attempt is answered at once with the time left (nothing sleeps), so the server never stalls.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db import models
from services.tenancy.users import authenticate_user
from settings import get_settings

log = logging.getLogger("leadvane.sign_in")

FIRST_WAIT = timedelta(seconds=15)
MAX_WAIT = timedelta(minutes=5)
_EMAIL_MAX = 320


@dataclass(frozen=True, slots=True)
class SignInResult:
    user: models.User | None = None
    retry_after_seconds: int = 0  # > 0: throttled, the password was not checked

    @property
    def throttled(self) -> bool:
        return self.retry_after_seconds > 0


def attempt_key(email: str) -> str:
    """The email as attempts are counted: case and surrounding spaces do not make a new budget."""
    return email.strip().lower()[:_EMAIL_MAX]


def wait_after(failures: int, max_failures: int) -> timedelta:
    """How long the next attempt waits after `failures` consecutive failures (zero below the limit)."""
    if failures < max_failures:
        return timedelta(0)
    doublings = min(failures - max_failures, 32)  # beyond that the cap has long been reached
    return min(FIRST_WAIT * (2**doublings), MAX_WAIT)


def retry_after(session: Session, email: str, now: datetime) -> int:
    """Seconds before `email` may try again (0: now)."""
    settings = get_settings()
    window_start = now - timedelta(minutes=settings.login_window_minutes)
    la = models.LoginAttempt
    # Newest first, only as many as can matter: the failures since the latest success in the window.
    rows = session.execute(
        select(la.succeeded, la.attempted_at)
        .where(la.email == attempt_key(email), la.attempted_at >= window_start)
        .order_by(la.attempted_at.desc(), la.id.desc())
        .limit(settings.login_max_failures + 64)
    ).all()
    failures = 0
    for succeeded, _at in rows:
        if succeeded:
            break
        failures += 1
    wait = wait_after(failures, settings.login_max_failures)
    if not wait:
        return 0
    left = rows[0].attempted_at + wait - now
    return max(0, math.ceil(left.total_seconds()))


def sign_in(session: Session, email: str, password: str, now: datetime) -> SignInResult:
    """Check a sign-in unless the email is throttled; records the attempt. The caller commits."""
    key = attempt_key(email)
    _prune(session, now)
    wait = retry_after(session, key, now)
    if wait:
        # Not recorded: a refused attempt was never checked, so it neither counts nor extends the wait.
        log.warning("sign-in throttled for %s: retry in %s s", key, wait)
        return SignInResult(retry_after_seconds=wait)
    user = authenticate_user(session, email, password)
    session.add(models.LoginAttempt(email=key, succeeded=user is not None, attempted_at=now))
    session.flush()
    if user is None:
        failures_wait = retry_after(session, key, now)
        if failures_wait:
            log.warning("sign-in failed for %s; too many failures, next attempt in %s s", key, failures_wait)
        else:
            log.info("sign-in failed for %s", key)
    return SignInResult(user=user)


def _prune(session: Session, now: datetime) -> None:
    """Forget attempts older than the window: they no longer count for anyone."""
    cutoff = now - timedelta(minutes=get_settings().login_window_minutes)
    session.execute(delete(models.LoginAttempt).where(models.LoginAttempt.attempted_at < cutoff))
