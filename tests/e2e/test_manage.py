"""The command line as an operator uses it: real `python manage.py ...` processes against a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from db import models
from tests.conftest import create_postgres_database, drop_postgres_database

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('manage') / 'leadvane.db'}"
    else:
        url = create_postgres_database("leadvane_manage")
    migrated = run(url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    yield url
    if request.param == "postgresql":
        drop_postgres_database(url)


def count(database_url: str, model: type[models.Base]) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()


def test_migrate_is_repeatable(database_url: str) -> None:
    again = run(database_url, "migrate")
    assert again.returncode == 0, again.stderr
    assert "migrated" in again.stdout


def test_create_api_key_prints_the_secret_alone_on_the_last_line(database_url: str) -> None:
    created = run(database_url, "create-api-key", "--name", "zapier")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    assert "zapier" in lines[0]
    assert lines[-1].startswith("sk_live_") and " " not in lines[-1]
    again = run(database_url, "create-api-key", "--name", "zapier")
    assert again.stdout.strip().splitlines()[-1] != lines[-1]


def stored_key(database_url: str, secret: str) -> tuple[str, str, str]:
    """(unit_id, role, kind) of the key whose secret the command printed."""
    from services.tenancy.api_keys import hash_secret

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(models.ApiKey.unit_id, models.ApiKey.role, models.ApiKey.kind).where(
                models.ApiKey.key_hash == hash_secret(secret))).one()
            return row.unit_id, row.role, row.kind
    finally:
        engine.dispose()


def test_create_api_key_defaults_to_an_owner_key_of_the_default_unit(database_url: str) -> None:
    created = run(database_url, "create-api-key", "--name", "deploy")
    assert created.returncode == 0, created.stderr
    assert stored_key(database_url, created.stdout.strip().splitlines()[-1]) == ("unit_default", "Owner", "api_key")


def test_create_api_key_for_a_unit_with_a_role(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(models.Unit.__table__.insert().values(
                id="unit_cli_test", org_id="org_default", name="CLI test", slug="cli-test",
                created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    finally:
        engine.dispose()
    created = run(database_url, "create-api-key", "--name", "pipe", "--unit", "unit_cli_test", "--role", "Ingest")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk_live_") and " " not in secret
    assert stored_key(database_url, secret) == ("unit_cli_test", "Ingest", "api_key")


def test_create_api_key_for_an_unknown_unit_is_a_clear_error(database_url: str) -> None:
    keys_before = count(database_url, models.ApiKey)
    refused = run(database_url, "create-api-key", "--name", "x", "--unit", "unit_nope")
    assert refused.returncode == 2
    assert "unit_nope" in refused.stderr and "not found" in refused.stderr and "Traceback" not in refused.stderr
    assert "sk_live_" not in refused.stdout
    assert count(database_url, models.ApiKey) == keys_before


def test_create_api_key_refuses_an_unknown_role(database_url: str) -> None:
    refused = run(database_url, "create-api-key", "--name", "x", "--role", "Admin")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr and "sk_live_" not in refused.stdout


def test_create_user_and_refuse_a_duplicate(database_url: str) -> None:
    created = run(database_url, "create-user", "--email", "rev@example.com", "--password", "s3cret-pass!",
                  "--role", "Operator")
    assert created.returncode == 0, created.stderr
    assert "rev@example.com" in created.stdout
    duplicate = run(database_url, "create-user", "--email", "rev@example.com", "--password", "another-pass!",
                    "--role", "Viewer")
    assert duplicate.returncode != 0
    assert "Traceback" not in duplicate.stderr
    bad_role = run(database_url, "create-user", "--email", "x@example.com", "--password", "pw-pw-pw-pw",
                   "--role", "Admin")
    assert bad_role.returncode != 0


def test_seed_demo_is_idempotent_and_scores_verify(database_url: str) -> None:
    first = run(database_url, "seed-demo", "--leads", "60")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("demo seeded: 60 leads")
    events = count(database_url, models.Event)
    assert events > 60

    second = run(database_url, "seed-demo", "--leads", "60")
    assert second.returncode == 0, second.stderr
    assert "not seeded" in second.stdout
    assert count(database_url, models.Event) == events

    verified = run(database_url, "verify-scores")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "equal" in verified.stdout
    rescored = run(database_url, "rescore")
    assert rescored.returncode == 0, rescored.stderr
    assert run(database_url, "verify-scores").returncode == 0
