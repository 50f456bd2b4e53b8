"""The demo seed builds a believable unit whose scores are real (replayable from the log)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import Conflict
from services.operations.demo import SEED, SEED_SOURCE, _people, seed_demo
from services.operations.sample_data import remove_sample_data, seed_sample_data
from services.scoring.rescore import verify_unit


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


def _levels_of(session, tenant: Tenant) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from services.scoring.levels import level_for_score, load_levels

    levels = load_levels(session, tenant)
    counts: dict[str, int] = {}
    for score in session.scalars(select(models.LeadScore.score).where(models.LeadScore.unit_id == tenant.unit_id)):
        level = level_for_score(int(score), levels)
        name = level["name"] if level else "none"
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_default_demo_forms_a_level_pyramid_with_decay_on(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        seed_demo(session, tenant, now=now)  # the default size, as ./leadvane seeds it
    with db.read() as session:
        counts = _levels_of(session, tenant)
        decays = session.scalar(
            select(func.count()).select_from(models.DecayRule).where(models.DecayRule.unit_id == tenant.unit_id)
        )
        decay_events = session.scalar(
            select(func.count()).select_from(models.Event).where(
                models.Event.unit_id == tenant.unit_id, models.Event.event_type == "DECAY"
            )
        )
        problems = verify_unit(session, tenant)
    total = sum(counts.values())
    assert total == 300 and "none" not in counts
    assert 0.03 <= counts["Hot"] / total <= 0.09, counts  # roughly 5%
    assert 0.14 <= counts["Warm"] / total <= 0.28, counts  # roughly 20%
    assert counts["Cold"] > counts["Warm"] > counts["Hot"], counts
    assert decays >= 1 and decay_events > 0  # decay is on and has already cooled down the quiet leads
    assert problems == []  # decay drops are events too: scores still replay


def test_demo_leads_and_accounts_exist_before_their_first_event(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        seed_demo(session, tenant, now=now, leads=120)
    ev, lead, account = models.Event, models.Lead, models.Account
    with db.read() as session:
        first_lead_event = (
            select(ev.lead_id, func.min(ev.occurred_at).label("first")).where(ev.unit_id == tenant.unit_id)
            .group_by(ev.lead_id).subquery()
        )
        leads = session.execute(
            select(lead.created_at, first_lead_event.c.first)
            .join(first_lead_event, first_lead_event.c.lead_id == lead.id)
        ).all()
        first_account_event = (
            select(ev.account_id, func.min(ev.occurred_at).label("first"))
            .where(ev.unit_id == tenant.unit_id, ev.account_id.is_not(None)).group_by(ev.account_id).subquery()
        )
        accounts = session.execute(
            select(account.created_at, first_account_event.c.first)
            .join(first_account_event, first_account_event.c.account_id == account.id)
        ).all()
    assert len(leads) == 120 and accounts

    def aware(value: datetime) -> datetime:  # MIN() over a UTC column comes back naive on SQLite
        return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)

    assert all(aware(created) <= aware(first) for created, first in leads)
    assert all(aware(created) <= aware(first) for created, first in accounts)
    assert min(aware(created) for created, _ in leads) < now.replace(day=1)  # not all dated at seeding time


def test_no_two_demo_people_share_a_name(db: Database, tenant: Tenant, now: datetime) -> None:
    from services.operations.demo import _names

    with db.write() as session:
        seed_demo(session, tenant, now=now)
    with db.read() as session:
        names = session.execute(
            select(models.Lead.first_name, models.Lead.last_name).where(models.Lead.unit_id == tenant.unit_id)
        ).all()
    assert len(names) == 300 and len(set(names)) == 300
    many = _names(random.Random(1), 5000)  # beyond the plain first x last combinations
    assert len(set(many)) == 5000


def test_demo_events_carry_the_seed_source_and_keep_their_channels(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        seed_demo(session, tenant, now=now, leads=40)
    with db.read() as session:
        rows = session.execute(
            select(models.Event.source, models.Event.channel, models.Event.event_type)
            .where(models.Event.unit_id == tenant.unit_id)
        ).all()
    assert {source for source, _, kind in rows if kind != "DECAY"} == {SEED_SOURCE}
    assert {channel for _, channel, kind in rows if kind == "page_visit"} == {"web"}  # inferred as before
    assert {channel for _, channel, kind in rows if kind == "email_open"} == {"email"}


def test_removing_sample_data_keeps_a_lead_that_was_there_before_the_seed(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    """An imported lead (no events yet) whose email the demo also uses: the seed scores it, the removal takes
    the seeded events back but never the lead, its alias or its date."""
    email = _people(random.Random(SEED), 300)[0].email  # the people seed_sample_data makes
    before = now - timedelta(days=400)
    with db.write() as session:
        session.add(models.Lead(id="ld_imported", org_id=tenant.org_id, unit_id=tenant.unit_id, email=email,
                                first_name="Imported", created_at=before, updated_at=before))
        session.flush()
        session.add(models.LeadAlias(org_id=tenant.org_id, unit_id=tenant.unit_id, lead_id="ld_imported",
                                     kind="email", value=email, raw_value=email, is_primary=True, created_at=before))
    with db.write() as session:
        seed_sample_data(session, tenant, now)
    with db.read() as session:
        seeded_events = session.scalar(select(func.count()).select_from(models.Event).where(
            models.Event.lead_id == "ld_imported"))
        lead = session.get(models.Lead, "ld_imported")
        assert lead is not None and lead.created_at == before  # the seed re-dates only leads it created
    assert seeded_events

    with db.write() as session:
        removed = remove_sample_data(session, tenant, now)
    assert removed.leads == 299 and removed.leads_kept == 0
    with db.read() as session:
        leads = list(session.scalars(select(models.Lead.id).where(models.Lead.unit_id == tenant.unit_id)))
        aliases = list(session.scalars(select(models.LeadAlias.value).where(
            models.LeadAlias.unit_id == tenant.unit_id)))
        events = session.scalar(select(func.count()).select_from(models.Event).where(
            models.Event.unit_id == tenant.unit_id))
        problems = verify_unit(session, tenant)
    assert leads == ["ld_imported"] and aliases == [email]
    assert events == 0 and problems == []


def test_sample_data_is_refused_into_a_unit_with_events(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        seed_demo(session, tenant, now=now, leads=10)
    with db.write() as session, pytest.raises(Conflict):
        seed_sample_data(session, tenant, now)
