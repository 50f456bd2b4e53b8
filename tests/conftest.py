"""Shared fixtures: a real SQLite file and, when TEST_DATABASE_URL is set, a real PostgreSQL database.

Every database test runs once per backend. Each backend gets a database of its own for the whole
session (migrated with Alembic, as in production); each test gets a fresh tenant (unit) inside it,
which isolates tests the same way tenants are isolated from each other.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from api.app import create_api
from api.audit_middleware import auditor_of
from api.request_counter import counter_of
from db import models
from db.engine import Database
from db.ids import new_id
from db.migrate import upgrade
from services.context import Tenant
from services.scoring.publish import publish
from services.tenancy.api_keys import create_api_key
from services.tenancy.tenants import create_unit

# Secrets generated on first use (token signing key, the integration secrets' key) go to a folder of the test run,
# never into the work tree's data/.
os.environ.setdefault("LEADVANE_DATA_DIR", tempfile.mkdtemp(prefix="leadvane-test-data-"))

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def create_postgres_database(prefix: str) -> str:
    """A brand-new PostgreSQL database on the TEST_DATABASE_URL server; returns its URL."""
    base = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{_worker()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'leadvane.db'}"
        return
    url = create_postgres_database("leadvane_test")
    yield url
    drop_postgres_database(url)


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def tenant(db: Database, now: datetime) -> Tenant:
    with db.write() as session:
        return create_unit(session, org_name="Test org", unit_name=f"unit {uuid.uuid4().hex[:6]}", now=now)


@dataclass
class ApiHarness:
    client: TestClient
    tenant: Tenant
    key: str
    db: Database

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, path: str, json: object = None, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.post(path, json=json, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.get(path, headers=headers, **kwargs)

    def put(self, path: str, json: object = None, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.put(path, json=json, headers=headers, **kwargs)

    def delete(self, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.delete(path, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def api_app(db: Database):  # type: ignore[no-untyped-def]
    app = create_api(db)
    yield app
    auditor_of(app).flush()  # request audit rows still queued, written before the test database goes away
    counter_of(app).flush()  # and API request counts (usage)


def make_harness(api_app, db: Database, tenant: Tenant, now: datetime) -> ApiHarness:  # type: ignore[no-untyped-def]
    with db.write() as session:
        key = create_api_key(session, tenant, name="tests", now=now).secret
    return ApiHarness(TestClient(api_app, raise_server_exceptions=False), tenant, key, db)


@pytest.fixture
def api(api_app, db: Database, tenant: Tenant, now: datetime) -> ApiHarness:  # type: ignore[no-untyped-def]
    return make_harness(api_app, db, tenant, now)


@pytest.fixture
def other_api(api_app, db: Database, now: datetime) -> ApiHarness:  # type: ignore[no-untyped-def]
    """A second, unrelated tenant: for proving tenants never see each other's data."""
    with db.write() as session:
        other = create_unit(session, org_name="Other org", unit_name="other", now=now)
    return make_harness(api_app, db, other, now)


def add_rule(api: ApiHarness, event_type: str, weight: int, ruleset_id: str | None = None) -> str:
    """A rule written straight to the database (primary ruleset by default), then published (and so rescored).

    API tests use it to set up scoring without depending on the /v1/rules routes they do not test.
    """
    t = api.tenant
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with api.db.write() as session:
        if ruleset_id is None:
            ruleset_id = session.scalar(
                select(models.Ruleset.id).where(
                    models.Ruleset.unit_id == t.unit_id, models.Ruleset.is_primary.is_(True)
                )
            )
        rule_id = new_id("rule")
        session.add(
            models.Rule(
                id=rule_id, org_id=t.org_id, unit_id=t.unit_id, ruleset_id=ruleset_id, event_type=event_type,
                weight=weight, active=True, conditions=[], created_at=at, updated_at=at,
            )
        )
        session.flush()
        publish(session, t, now=at)
    return rule_id


def enable_abm(api: ApiHarness) -> None:
    """Turn the unit's account-based marketing switch on (the account endpoints answer 403 abm_disabled while off)."""
    resp = api.put("/v1/settings/scoring", {"abm_enabled": True})
    assert resp.status_code == 200, resp.text
