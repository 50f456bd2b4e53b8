"""Dashboard page tests: each page runs in streamlit's AppTest against a real, migrated database.

The `db` fixture (tests/conftest.py) gives one database per backend; here the dashboard is pointed at it
through DATABASE_URL (settings and the dashboard's cached engine are reset), and every test gets a fresh
unit filled by the demo seed, with an Owner and a Viewer of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from db.engine import Database
from services.context import Tenant
from services.operations.demo import seed_demo
from services.tenancy.tenants import create_unit
from services.tenancy.users import create_user
from settings import ROOT, get_settings
from ui.auth import USER_KEY, SignedIn

PASSWORD = "correct horse battery"


def _reset_caches() -> None:
    from ui.runtime import get_db

    get_settings.cache_clear()
    get_db.clear()
    st.cache_data.clear()


@pytest.fixture(scope="session")
def dashboard_db(db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The test database, as the dashboard sees it (DATABASE_URL), with first-start files in a temp dir."""
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "LEADVANE_DATA_DIR", "LEADVANE_NO_BACKGROUND")}
    os.environ["DATABASE_URL"] = db.engine.url.render_as_string(hide_password=False)
    os.environ["LEADVANE_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    os.environ["LEADVANE_NO_BACKGROUND"] = "1"
    _reset_caches()
    yield db
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _reset_caches()


@dataclass
class DemoUnit:
    tenant: Tenant
    owner: SignedIn
    viewer: SignedIn
    db: Database


def _signed_in(user: Any, tenant: Tenant) -> SignedIn:
    return SignedIn(user.id, user.email, user.name, user.role, tenant.org_id, tenant.unit_id)


@pytest.fixture
def unit(dashboard_db: Database) -> DemoUnit:
    """A fresh unit with demo data (rules, levels, leads, accounts, events), an Owner and a Viewer."""
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    with dashboard_db.write() as session:
        tenant = create_unit(session, org_name=f"Org {tag}", unit_name="Sales", now=now)
        seed_demo(session, tenant, now=now, leads=40)
        owner = create_user(session, tenant, email=f"owner-{tag}@example.com", password=PASSWORD, role="Owner",
                            name="Olive Owner", now=now)
        viewer = create_user(session, tenant, email=f"viewer-{tag}@example.com", password=PASSWORD, role="Viewer",
                             name="Vic Viewer", now=now)
        people = (_signed_in(owner, tenant), _signed_in(viewer, tenant))
    st.cache_data.clear()
    return DemoUnit(tenant, people[0], people[1], dashboard_db)


def open_page(page: str, user: SignedIn | None, **state: Any) -> AppTest:
    """Run pages/<page>.py as `user` with extra session state, and return the finished AppTest."""
    at = AppTest.from_file(str(Path(ROOT) / "pages" / f"{page}.py"), default_timeout=120)
    if user is not None:
        at.session_state[USER_KEY] = user
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def texts(at: AppTest) -> str:
    """Everything a user can read on the screen, as one string (for 'is X shown' assertions)."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "success", "error", "warning", "info", "code"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    parts.extend(str(m.label) + " " + str(m.value) for m in at.metric)
    for frame in at.dataframe:
        parts.append(frame.value.to_string())
    return "\n".join(parts)


def frame_with(at: AppTest, column: str) -> Any:
    """The first table on screen that has `column`."""
    return next(f.value for f in at.dataframe if column in f.value.columns)
