"""The demo seed builds a believable unit whose scores are real (replayable from the log)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from db import models
from db.engine import Database
from services.context import Tenant
from services.demo import seed_demo
from services.rescore import verify_unit


def test_seed_demo_builds_a_scored_unit_with_hot_leads(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        summary = seed_demo(session, tenant, now=now, leads=200)
    assert summary.startswith("demo seeded: 200 leads")

    with db.read() as session:
        unit = tenant.unit_id
        leads = session.scalar(select(func.count()).select_from(models.Lead).where(models.Lead.unit_id == unit))
        accounts = session.scalar(
            select(func.count()).select_from(models.Account).where(models.Account.unit_id == unit)
        )
        events = session.scalar(select(func.count()).select_from(models.Event).where(models.Event.unit_id == unit))
        hot = session.scalar(
            select(models.EngagementLevel.min_score).where(
                models.EngagementLevel.unit_id == unit, models.EngagementLevel.name == "Hot"
            )
        )
        scores = list(session.scalars(select(models.LeadScore.score).where(models.LeadScore.unit_id == unit)))
        newest = session.scalar(select(func.max(models.Event.occurred_at)).where(models.Event.unit_id == unit))
        oldest = session.scalar(select(func.min(models.Event.occurred_at)).where(models.Event.unit_id == unit))
        problems = verify_unit(session, tenant)

    assert leads == 200
    assert 12 <= accounts <= 60
    assert events >= 5 * leads
    assert hot == 80
    assert sum(1 for s in scores if s >= hot) >= 5
    assert sum(1 for s in scores if s < 30) > len(scores) // 3  # a long tail of cold leads
    assert oldest is not None and newest is not None and newest <= now and (now - oldest).days >= 35
    assert problems == []


def test_seed_demo_skips_a_unit_that_has_events(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        seed_demo(session, tenant, now=now, leads=20)
    with db.write() as session:
        summary = seed_demo(session, tenant, now=now, leads=20)
    assert summary.startswith("demo not seeded")
    with db.read() as session:
        leads = session.scalar(
            select(func.count()).select_from(models.Lead).where(models.Lead.unit_id == tenant.unit_id)
        )
        rules = session.scalar(
            select(func.count()).select_from(models.Rule).where(models.Rule.unit_id == tenant.unit_id)
        )
    assert leads == 20
    assert rules == 12
