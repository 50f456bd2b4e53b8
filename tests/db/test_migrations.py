"""Migrations on fresh databases: they seed the default tenant and produce exactly the models' schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from core.profile import ACCOUNT_PROFILE_EVENT, LEAD_PROFILE_EVENT
from db import models
from db.engine import Database
from db.migrate import upgrade
from db.models import Base
from services.context import Tenant
from services.people.profiles import logged_profile, verify_profiles
from tests.conftest import create_postgres_database, drop_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL is not set")
    url = create_postgres_database("leadvane_migrate")
    yield url
    drop_postgres_database(url)


def test_upgrade_seeds_the_default_tenant(fresh_url: str) -> None:
    upgrade(fresh_url)
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM organizations")).scalars().all() == ["org_default"]
            assert conn.execute(text("SELECT id, org_id FROM units")).all() == [("unit_default", "org_default")]
            rulesets = conn.execute(text("SELECT id, unit_id, is_primary FROM rulesets")).all()
            assert [(r[0], r[1], bool(r[2])) for r in rulesets] == [("rs_default", "unit_default", True)]
            settings = conn.execute(
                text("SELECT allow_negative_scores FROM scoring_settings WHERE unit_id = 'unit_default'")
            )
            assert [bool(v) for v in settings.scalars()] == [False]
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(fresh_url: str) -> None:
    upgrade(fresh_url)
    upgrade(fresh_url)
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM rulesets")).scalar() == 1
    finally:
        engine.dispose()


def test_models_match_the_migrations(fresh_url: str) -> None:
    upgrade(fresh_url)
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], "models and migrations differ; add a migration:\n" + "\n".join(map(str, diff))


def test_teams_migration_keeps_every_row_and_turns_users_into_members(fresh_url: str) -> None:
    """0006 rebuilds `units` and `users` on SQLite; rows that reference them (ON DELETE CASCADE) must all survive,
    and each user keeps their unit and role as a membership."""
    upgrade(fresh_url, "0005")
    engine = create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO units (id, org_id, name, created_at) VALUES ('unit_b', 'org_default', 'Default', "
                "'2026-11-01 00:00:00')"
            ))
            conn.execute(text(
                "INSERT INTO users (id, org_id, unit_id, email, name, password_hash, role, created_at, disabled) "
                "VALUES ('usr_1', 'org_default', 'unit_b', 'ann@example.com', 'Ann', 'x', 'Operator', "
                "'2026-11-01 00:00:00', false)"
            ))
        upgrade(fresh_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM rulesets WHERE unit_id = 'unit_default'")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM scoring_settings")).scalar() == 1
            slugs = dict(conn.execute(text("SELECT id, slug FROM units")).all())
            assert len(set(slugs.values())) == 2 and slugs["unit_b"].startswith("default")
            assert conn.execute(text("SELECT user_id, unit_id, role FROM unit_memberships")).all() == [
                ("usr_1", "unit_b", "Operator")
            ]
            assert conn.execute(text("SELECT role, first_name FROM users")).all() == [("Operator", "")]
    finally:
        engine.dispose()


def test_fit_migration_records_existing_profiles_as_profile_events(fresh_url: str) -> None:
    """0009: a lead's and an account's existing metadata become one baseline profile event each, so a replay of the
    log rebuilds today's profiles; rows without metadata get none, and every lead and account starts with fit 0."""
    upgrade(fresh_url, "0008")
    engine = create_engine(fresh_url)
    stamp = "'2026-11-01 00:00:00'"
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO accounts (id, org_id, unit_id, domain, name, name_key, metadata, created_at, updated_at) "
                f"VALUES ('acc_1', 'org_default', 'unit_default', 'acme.io', 'Acme', 'acme', "
                f"'{{\"employees\": 250}}', {stamp}, {stamp})"
            ))
            for lead_id, metadata in (("ld_1", '{"title": "VP Sales", "country": "DE"}'), ("ld_2", "{}")):
                conn.execute(text(
                    "INSERT INTO leads (id, org_id, unit_id, account_id, email, metadata, created_at, updated_at) "
                    f"VALUES ('{lead_id}', 'org_default', 'unit_default', 'acc_1', '{lead_id}@acme.io', "
                    f"'{metadata}', {stamp}, {stamp})"
                ))
        upgrade(fresh_url)
        db = Database(fresh_url)
        try:
            with db.read() as session:
                tenant = Tenant(org_id="org_default", unit_id="unit_default")
                assert logged_profile(session, tenant, lead_id="ld_1") == {"title": "VP Sales", "country": "DE"}
                assert logged_profile(session, tenant, account_id="acc_1") == {"employees": 250}
                assert verify_profiles(session, tenant) == []
                events = session.execute(
                    select(models.Event.lead_id, models.Event.account_id, models.Event.event_type, models.Event.channel)
                    .order_by(models.Event.seq)
                ).all()
                assert sorted(events, key=str) == sorted([
                    (None, "acc_1", ACCOUNT_PROFILE_EVENT, "system"), ("ld_1", None, LEAD_PROFILE_EVENT, "system"),
                ], key=str)
                fits = session.execute(select(models.Lead.fit_score, models.Lead.fit_scores)).all()
                assert [tuple(f) for f in fits] == [(0, {}), (0, {})]
        finally:
            db.dispose()
    finally:
        engine.dispose()
