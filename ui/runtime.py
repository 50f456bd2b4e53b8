"""Process-wide resources of the dashboard: the database, first-start setup, background services.

Everything here runs once per process (st.cache_resource or the ASGI lifespan), never on import
and never per rerun, so a second browser tab starts nothing.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import streamlit as st

from db.engine import Database
from settings import data_dir, get_settings

OWNER_FILE_NAME = "initial-owner.txt"
COOKIE_KEY_FILE_NAME = "cookie_key"


def now() -> datetime:
    return datetime.now(UTC)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def cookie_key() -> str:
    """The key that signs login cookies: settings first, else a random key generated once and persisted."""
    configured = get_settings().cookie_key
    if configured:
        return configured
    path = data_dir() / COOKIE_KEY_FILE_NAME
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    _write_private(path, key)
    return key


def ensure_owner(db: Database) -> str | None:
    """On a fresh install create the first Owner; print its password once and keep it in data/initial-owner.txt."""
    from services.tenancy.tenants import DEFAULT_TENANT
    from services.tenancy.users import ensure_first_owner

    email = os.environ.get("LEADVANE_OWNER_EMAIL", "owner@leadvane.local")
    with db.write() as session:
        password = ensure_first_owner(session, DEFAULT_TENANT, email=email, now=now())
    if password is None:
        return None
    path = data_dir() / OWNER_FILE_NAME
    _write_private(path, f"email: {email}\npassword: {password}\n")
    print(f"Leadvane: created the first Owner {email} with password {password} (also in {path}).", flush=True)
    return password


@st.cache_resource(show_spinner=False)
def get_db() -> Database:
    """The dashboard's database (thread-safe engine), migrated and with a first Owner, once per process."""
    from db.migrate import upgrade

    upgrade(get_settings().database_url)
    db = Database()
    ensure_owner(db)
    return db


@dataclass
class Background:
    api_url: str
    scheduler: Any
    server: Any = None
    thread: threading.Thread | None = None

    def stop(self) -> None:
        from scheduler.runner import stop_scheduler

        if self.server is not None:
            self.server.should_exit = True
        if self.scheduler is not None:
            stop_scheduler(self.scheduler)


# Set by app.py's lifespan when the API is mounted under /api of the dashboard's own server.
_LIFESPAN_STARTED = threading.Event()


def mark_started_by_lifespan() -> None:
    _LIFESPAN_STARTED.set()


@st.cache_resource(show_spinner=False)
def start_background_fallback() -> Background | None:
    """Fallback when the dashboard was not launched through app.py's st.App (plain `streamlit run <script>`):
    the API on its own uvicorn thread (LEADVANE_API_PORT, default 8000) plus the scheduler, once per process.
    """
    if _LIFESPAN_STARTED.is_set() or os.environ.get("LEADVANE_NO_BACKGROUND"):
        return None
    import uvicorn

    from api.app import create_api
    from scheduler.runner import start_scheduler

    db = get_db()
    settings = get_settings()
    port = int(os.environ.get("LEADVANE_API_PORT", settings.api_port))
    server = uvicorn.Server(uvicorn.Config(create_api(db), host=settings.api_host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="leadvane-api", daemon=True)
    thread.start()
    scheduler = start_scheduler(db)
    url = f"http://{settings.api_host}:{port}"
    print(f"Leadvane API: {url} (docs at {url}/docs)", flush=True)
    return Background(api_url=url, scheduler=scheduler, server=server, thread=thread)
