"""Sign-in throttling (services.tenancy.sign_in) with an explicit clock: 5 failures in 15 minutes make further attempts
wait, progressively, before the password is even checked; the limit lives in the database."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from db import models
from db.engine import Database
from services.context import Tenant
from services.tenancy import sign_in
from services.tenancy.users import create_user

PASSWORD = "the right password"


@pytest.fixture
def email(db: Database, tenant: Tenant, now: datetime) -> str:
    address = f"rep-{tenant.unit_id}@example.com"
    with db.write() as session:
        create_user(session, tenant, email=address, password=PASSWORD, role="Operator", name="Rep", now=now)
    return address


def attempt(db: Database, email: str, password: str, at: datetime) -> sign_in.SignInResult:
    with db.write() as session:
        return sign_in.sign_in(session, email, password, at)


def fail(db: Database, email: str, at: datetime, times: int = 1) -> None:
    for i in range(times):
        result = attempt(db, email, "wrong", at + timedelta(seconds=i))
        assert result.user is None and not result.throttled


def recorded(db: Database, email: str) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(models.LoginAttempt).where(
            models.LoginAttempt.email == email)) or 0)


def test_four_failures_do_not_slow_anyone_down(db: Database, email: str, now: datetime) -> None:
    fail(db, email, now, times=4)
    result = attempt(db, email, PASSWORD, now + timedelta(seconds=5))
    assert result.user is not None and result.user.email == email


def test_after_five_failures_the_next_attempt_waits_and_is_not_even_checked(
    db: Database, email: str, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    fail(db, email, now, times=5)  # the 5th at now + 4 s
    last = now + timedelta(seconds=4)
    caplog.set_level(logging.INFO, logger="leadvane.sign_in")
    throttled = attempt(db, email, PASSWORD, last + timedelta(seconds=5))  # even the right password
    assert throttled.user is None and throttled.retry_after_seconds == 10
    assert recorded(db, email) == 5  # refused before the check, so not counted as another failure
    assert any(email in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    ok = attempt(db, email, PASSWORD, last + sign_in.FIRST_WAIT)
    assert ok.user is not None


def test_the_wait_doubles_with_every_further_failure_up_to_a_cap(db: Database, email: str, now: datetime) -> None:
    fail(db, email, now, times=5)
    at = now + timedelta(seconds=4)
    waits = []
    for _ in range(3):
        with db.read() as session:
            left = sign_in.retry_after(session, email, at)
        waits.append(left)
        at += timedelta(seconds=left)
        fail(db, email, at)
    assert waits == [15, 30, 60]
    assert sign_in.wait_after(40, 5) == sign_in.MAX_WAIT


def test_failures_older_than_the_window_no_longer_count_and_are_pruned(
    db: Database, email: str, now: datetime
) -> None:
    fail(db, email, now, times=5)
    later = now + timedelta(minutes=15, seconds=5)
    result = attempt(db, email, PASSWORD, later)
    assert result.user is not None
    assert recorded(db, email) == 1  # the five old failures were pruned; the success is kept


def test_a_success_resets_the_count(db: Database, email: str, now: datetime) -> None:
    fail(db, email, now, times=4)
    assert attempt(db, email, PASSWORD, now + timedelta(seconds=10)).user is not None
    fail(db, email, now + timedelta(seconds=20), times=4)
    assert attempt(db, email, PASSWORD, now + timedelta(seconds=30)).user is not None


def test_throttling_is_per_email_whatever_its_case(db: Database, email: str, now: datetime) -> None:
    fail(db, email.upper(), now, times=3)
    fail(db, f"  {email}  ", now + timedelta(seconds=3), times=2)
    assert attempt(db, email, PASSWORD, now + timedelta(seconds=6)).throttled
    assert not attempt(db, f"other-{email}", PASSWORD, now + timedelta(seconds=6)).throttled


def test_the_limit_holds_across_processes(db: Database, email: str, now: datetime) -> None:
    """Another process (its own engine and pool) sees the failures this one recorded."""
    other = Database(db.engine.url.render_as_string(hide_password=False))
    try:
        fail(db, email, now, times=5)
        with other.write() as session:
            assert sign_in.sign_in(session, email, PASSWORD, now + timedelta(seconds=6)).throttled
    finally:
        other.dispose()


def test_an_unknown_email_costs_a_password_check_like_a_known_one(
    db: Database, email: str, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Response time must not reveal which emails have accounts: both paths run bcrypt once."""
    from services.tenancy import users

    checks: list[str] = []
    real_check = users.check_password

    def counting_check(password: str, password_hash: str) -> bool:
        checks.append(password_hash)
        return real_check(password, password_hash)

    monkeypatch.setattr(users, "check_password", counting_check)
    assert attempt(db, "nobody-here@example.com", "whatever", now).user is None
    assert attempt(db, email, "wrong", now).user is None
    assert len(checks) == 2
