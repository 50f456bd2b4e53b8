"""Signing in to the dashboard with a database user, the first-start Owner, the cookie key, and logging out."""

from __future__ import annotations

import re
import stat
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db.engine import Database
from db.migrate import upgrade
from services.tenancy.users import authenticate_user
from settings import ROOT, get_settings
from tests.ui.conftest import PASSWORD, DemoUnit, texts
from ui import runtime


def _main() -> AppTest:
    return AppTest.from_file(str(Path(ROOT) / "ui" / "main.py"), default_timeout=120)


def _sign_in(at: AppTest, email: str, password: str) -> AppTest:
    next(t for t in at.text_input if t.label == "Email").set_value(email)
    next(t for t in at.text_input if t.label == "Password").set_value(password)
    return next(b for b in at.button if b.label == "Sign in").click().run()


def test_sign_in_with_email_and_password_opens_the_leads(unit: DemoUnit) -> None:
    at = _main().run()
    assert not at.exception
    assert "Sign in" in texts(at)
    at = _sign_in(at, unit.owner.email, PASSWORD)
    assert not at.exception
    assert "Leads" in [t.value for t in at.title]
    assert at.session_state["lv_user"].role == "Owner"
    assert any(unit.owner.email in m.value for m in at.sidebar.markdown)


def test_wrong_password_is_refused(unit: DemoUnit) -> None:
    at = _sign_in(_main().run(), unit.owner.email, "not the password")
    assert not at.exception
    assert "Email or password is incorrect." in [e.value for e in at.error]
    assert "Leads" not in [t.value for t in at.title]


def test_five_wrong_passwords_make_the_next_sign_in_wait_without_stalling(unit: DemoUnit) -> None:
    at = _main().run()
    for _ in range(5):
        at = _sign_in(at, unit.viewer.email, "not the password")
        assert "Email or password is incorrect." in [e.value for e in at.error]
    started = time.monotonic()
    at = _sign_in(at, unit.viewer.email, PASSWORD)  # the right password, but too soon
    elapsed = time.monotonic() - started
    assert not at.exception
    (message,) = [e.value for e in at.error]
    waited = re.search(r"too many failed sign-ins.*try again in (\d+) s", message, re.IGNORECASE)
    assert waited and 0 < int(waited.group(1)) <= 15
    assert elapsed < int(waited.group(1))  # answered at once: the server does not sleep through the wait
    assert "lv_user" not in at.session_state and "Leads" not in [t.value for t in at.title]
    # Another user is not held back by someone else's failures.
    at = _sign_in(at, unit.owner.email, PASSWORD)
    assert at.session_state["lv_user"].email == unit.owner.email


def test_the_signed_in_users_tenant_carries_role_and_email_and_the_policy_decides_what_they_can_do(
    unit: DemoUnit,
) -> None:
    from services.tenancy.policy import Action

    at = _sign_in(_main().run(), unit.viewer.email, PASSWORD)
    viewer = at.session_state["lv_user"]
    assert (viewer.tenant.role, viewer.tenant.actor) == ("Viewer", unit.viewer.email)
    assert not viewer.can_edit and not viewer.can(Action.EDIT_SCORING) and viewer.can(Action.READ)
    assert unit.owner.can(Action.MANAGE_KEYS) and unit.owner.tenant.role == "Owner"


def test_log_out_returns_to_the_sign_in_form(unit: DemoUnit) -> None:
    at = _sign_in(_main().run(), unit.viewer.email, PASSWORD)
    assert at.session_state["lv_user"].role == "Viewer"
    at.sidebar.button(key="lv_logout").click().run()
    assert not at.exception
    assert "lv_user" not in at.session_state
    assert "Sign in" in texts(at)


def test_first_start_creates_one_owner_and_keeps_its_password_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    monkeypatch.setenv("LEADVANE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEADVANE_OWNER_EMAIL", "boss@example.com")
    db = Database(url)
    password = runtime.ensure_owner(db)
    assert password and password in capsys.readouterr().out
    secret_file = tmp_path / runtime.OWNER_FILE_NAME
    assert password in secret_file.read_text()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    with db.read() as session:
        assert authenticate_user(session, "boss@example.com", password) is not None
    assert runtime.ensure_owner(db) is None  # never a second one
    db.dispose()


def test_cookie_key_comes_from_settings_or_is_generated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADVANE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LEADVANE_COOKIE_KEY", raising=False)
    get_settings.cache_clear()
    try:
        generated = runtime.cookie_key()
        assert len(generated) > 40 and runtime.cookie_key() == generated
        assert stat.S_IMODE((tmp_path / runtime.COOKIE_KEY_FILE_NAME).stat().st_mode) == 0o600
        monkeypatch.setenv("LEADVANE_COOKIE_KEY", "from-the-environment")
        get_settings.cache_clear()
        assert runtime.cookie_key() == "from-the-environment"
    finally:
        get_settings.cache_clear()


def test_selecting_a_lead_in_the_table_opens_its_detail(unit: DemoUnit) -> None:
    from services.people import leads

    at = _sign_in(_main().run(), unit.owner.email, PASSWORD)
    with unit.db.read() as session:
        top = leads.list_leads(session, unit.tenant, limit=1).rows[0]
    at.session_state["leads_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert "Why this score" in [s.value for s in at.subheader]
    assert at.metric[0].value == str(top["score"])
    assert at.query_params["lead"] == top["id"]
