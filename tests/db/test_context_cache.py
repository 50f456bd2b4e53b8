"""The per-process scoring-context cache never scores with rules that changed since it was built."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from db import models
from db.engine import Database
from db.ids import new_id
from services.context import Tenant, load_scoring_context
from services.errors import ServiceError
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest


def visit(db: Database, tenant: Tenant, now: datetime) -> int:
    event = NewEvent("page_visit", properties={}, person=PersonRef(aliases=[AliasInput("email", "c@cache.example")]))
    with db.write() as session:
        (result,) = ingest(session, tenant, [event], now)
    assert not isinstance(result, ServiceError)
    assert result.primary is not None
    return result.primary.delta


def test_rule_changes_reach_the_next_ingest(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        ruleset = session.scalars(select(models.Ruleset.id).where(models.Ruleset.unit_id == tenant.unit_id)).one()
        rule_id = new_id("rule")
        session.add(
            models.Rule(
                id=rule_id, org_id=tenant.org_id, unit_id=tenant.unit_id, ruleset_id=ruleset, event_type="page_visit",
                weight=5, active=True, conditions=[], created_at=now, updated_at=now,
            )
        )
    assert visit(db, tenant, now) == 5
    assert visit(db, tenant, now) == 5  # served from the cache

    with db.write() as session:
        session.execute(update(models.Rule).where(models.Rule.id == rule_id).values(weight=7))
    assert visit(db, tenant, now) == 7

    with db.write() as session:
        session.execute(
            update(models.Rule).where(models.Rule.id == rule_id).values(active=False, updated_at=now + timedelta(1))
        )
    assert visit(db, tenant, now) == 0

    with db.write() as session:
        session.execute(
            update(models.Rule).where(models.Rule.id == rule_id).values(active=True, updated_at=now + timedelta(2))
        )
    assert visit(db, tenant, now) == 7

    with db.write() as session:
        session.execute(delete(models.Rule).where(models.Rule.id == rule_id))
    assert visit(db, tenant, now) == 0


def test_settings_change_reaches_the_next_ingest(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.read() as session:
        assert load_scoring_context(session, tenant).policy.allow_negative_scores is False
    with db.write() as session:
        session.execute(
            update(models.ScoringSettings)
            .where(models.ScoringSettings.unit_id == tenant.unit_id)
            .values(allow_negative_scores=True)
        )
    with db.read() as session:
        assert load_scoring_context(session, tenant).policy.allow_negative_scores is True
