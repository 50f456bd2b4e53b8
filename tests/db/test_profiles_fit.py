"""Profiles are folds of the log's profile events, and fit follows profiles and the published fit rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core.fit import FitRulesetSpec, FitRuleSpec
from core.model import FitLevelSpec, ScoringModel
from core.profile import ACCOUNT_PROFILE_EVENT, LEAD_PROFILE_EVENT, MappingSpec
from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import InvalidInput
from services.ingest.contract import AccountRef, AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.people.profiles import logged_profile, rebuild_profiles, set_lead_profile, verify_profiles
from services.scoring import rules
from services.scoring.fit import fit_level, verify_fit
from services.scoring.model import begin_change, published_model, write_tables
from services.scoring.publish import publish
from services.scoring.rescore import verify_unit
from services.scoring.simulate import stored_fit_distribution
from services.scoring.versions import rollback


# Ids are global primary keys: each test's unit gets its own (`_ids`).
def _ids(tenant: Tenant) -> dict[str, str]:
    sfx = tenant.unit_id[-8:]
    return {name: f"{name}_{sfx}" for name in ("icp", "firm", "vp", "src", "big", "a", "b", "m1", "m2", "m3")}


def _fit_parts(tenant: Tenant, vp_weight: int = 20) -> dict[str, object]:
    i = _ids(tenant)
    return {
        "fit_rulesets": (
            FitRulesetSpec(i["icp"], "profile", "ICP", is_primary=True),
            FitRulesetSpec(i["firm"], "account", "Firmographic"),
        ),
        "fit_rules": (
            FitRuleSpec(i["vp"], i["icp"], "title", "contains", "vp", vp_weight),
            FitRuleSpec(i["src"], i["icp"], "source", "equals", "LinkedIn", 5),
            FitRuleSpec(i["big"], i["firm"], "employees", "gte", "200", 30),
        ),
        "fit_levels": (
            FitLevelSpec(i["a"], "profile", "A", 20, 1000), FitLevelSpec(i["b"], "profile", "B", -1000, 19),
        ),
    }


def _mappings(tenant: Tenant) -> tuple[MappingSpec, ...]:
    i = _ids(tenant)
    return (
        MappingSpec(i["m1"], "profile", "utm_source", "source"),
        MappingSpec(i["m2"], "profile", "utm_source", "first_source", "set_once"),
        MappingSpec(i["m3"], "account", "company.size", "employees"),
    )


def _configure(db: Database, tenant: Tenant, now: datetime, **parts: object) -> None:
    """Publish the unit's model with these fit parts (the fit CRUD services are built on the same two calls)."""
    with db.write() as session:
        begin_change(session, tenant, now)
        current = published_model(session, tenant)
        write_tables(session, tenant, ScoringModel.build(
            rulesets=current.rulesets, rules=current.rules, levels=current.levels, decay_rules=current.decay_rules,
            settings=current.settings, **parts,  # type: ignore[arg-type]
        ), now=now, actor="test")
        publish(session, tenant, now=now)


def _send(db: Database, tenant: Tenant, at: datetime, *, properties: dict | None = None, person: dict | None = None,
          company: dict | None = None) -> Ingested:
    event = NewEvent(
        event_type="page_view", occurred_at=at, properties=properties or {},
        person=PersonRef(aliases=[AliasInput("email", "ann@acme.io")], attributes=person or {}),
        account=AccountRef(domain="acme.io", attributes=company or {}) if company is not None else None,
    )
    with db.write() as session:
        (result,) = ingest(session, tenant, [event], at)
    assert isinstance(result, Ingested), result
    return result


def _lead(db: Database, lead_id: str) -> models.Lead:
    with db.read() as session:
        lead = session.get(models.Lead, lead_id)
        assert lead is not None
        session.expunge(lead)
        return lead


def test_contact_and_company_fields_become_profile_events_and_a_replay_rebuilds_them(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    first = _send(db, tenant, now, person={"title": "CTO"}, company={"industry": "SaaS"})
    _send(db, tenant, now + timedelta(hours=1), person={"title": "VP Sales"}, company={"employees": 250})
    _send(db, tenant, now + timedelta(hours=2), person={"title": "VP Sales"})  # nothing new: no profile event
    with db.read() as session:
        types = session.scalars(
            select(models.Event.event_type).where(models.Event.unit_id == tenant.unit_id).order_by(models.Event.seq)
        ).all()
        # A later event's company fields now reach an existing account too.
        account = session.get(models.Account, first.account_id)
        assert account is not None and account.metadata_ == {"industry": "SaaS", "employees": 250}
        assert logged_profile(session, tenant, lead_id=first.lead_id) == {"title": "VP Sales"}
        assert verify_profiles(session, tenant) == [] and verify_unit(session, tenant) == []
    assert types == [
        "page_view", LEAD_PROFILE_EVENT, ACCOUNT_PROFILE_EVENT, "page_view", LEAD_PROFILE_EVENT,
        ACCOUNT_PROFILE_EVENT, "page_view",
    ]


def test_mappings_copy_event_fields_by_their_update_behavior(db: Database, tenant: Tenant, now: datetime) -> None:
    _configure(db, tenant, now, mappings=_mappings(tenant))
    sent = _send(db, tenant, now, properties={"utm_source": "google"}, company={"size": 120})
    _send(db, tenant, now + timedelta(minutes=5), properties={"utm_source": "LinkedIn"}, company={})
    lead = _lead(db, str(sent.lead_id))
    assert lead.metadata_ == {"source": "LinkedIn", "first_source": "google"}
    with db.read() as session:
        account = session.get(models.Account, sent.account_id)
        assert account is not None and account.metadata_ == {"size": 120, "employees": 120}
        assert verify_profiles(session, tenant) == []


def test_fit_follows_profiles_and_published_rules(db: Database, tenant: Tenant, now: datetime) -> None:
    sent = _send(db, tenant, now, person={"title": "VP Marketing"}, company={"employees": 500})
    assert _lead(db, str(sent.lead_id)).fit_score == 0  # no fit rules yet
    _configure(db, tenant, now, mappings=_mappings(tenant), **_fit_parts(tenant))
    lead = _lead(db, str(sent.lead_id))
    i = _ids(tenant)
    assert (lead.fit_score, lead.fit_scores) == (20, {i["icp"]: 20})  # rescored when the rules were published
    with db.read() as session:
        account = session.get(models.Account, sent.account_id)
        assert account is not None and (account.fit_score, account.fit_scores) == (30, {i["firm"]: 30})
        assert fit_level(published_model(session, tenant), "profile", lead.fit_score) == "A"
        assert stored_fit_distribution(session, tenant, "profile") == [{"min": 20, "max": 20, "count": 1}]
        assert stored_fit_distribution(session, tenant, "account") == [{"min": 30, "max": 30, "count": 1}]
    # Ingest keeps fit current: a mapped field moves it.
    _send(db, tenant, now + timedelta(hours=1), properties={"utm_source": "linkedin"})
    assert _lead(db, str(sent.lead_id)).fit_score == 25  # "equals" ignores case in fit rules
    # So does an edit of the profile.
    with db.write() as session:
        row = session.get(models.Lead, sent.lead_id)
        assert row is not None
        set_lead_profile(session, tenant, row, {"title": "Intern"}, via="test", now=now)
    assert _lead(db, str(sent.lead_id)).fit_score == 0
    with db.read() as session:
        assert verify_fit(session, tenant, published_model(session, tenant)) == []
        assert verify_profiles(session, tenant) == []


def test_a_rollback_restores_the_fit_of_the_version(db: Database, tenant: Tenant, now: datetime) -> None:
    sent = _send(db, tenant, now, person={"title": "VP Sales"})
    _configure(db, tenant, now, **_fit_parts(tenant))
    with db.read() as session:
        with_vp = published_model(session, tenant)
    _configure(db, tenant, now, **_fit_parts(tenant, vp_weight=40))
    assert _lead(db, str(sent.lead_id)).fit_score == 40
    with db.write() as session:
        versions = session.scalars(
            select(models.ScoringVersion.version).where(models.ScoringVersion.unit_id == tenant.unit_id)
        ).all()
        target = next(v for v in versions if ScoringModel.from_document(session.scalar(
            select(models.ScoringVersion.model).where(
                models.ScoringVersion.unit_id == tenant.unit_id, models.ScoringVersion.version == v)
        ) or {}) == with_vp)
        rollback(session, tenant, target, now)
    assert _lead(db, str(sent.lead_id)).fit_score == 20


def test_profile_event_types_are_reserved(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        (result,) = ingest(session, tenant, [NewEvent(event_type=LEAD_PROFILE_EVENT, occurred_at=now)], now)
        assert isinstance(result, InvalidInput) and result.field == "event_type"
        with pytest.raises(InvalidInput) as raised:
            rules.create_rule(session, tenant, {"event_type": ACCOUNT_PROFILE_EVENT, "weight": 5}, now=now)
        assert raised.value.field == "event_type"


def test_rebuilding_from_the_log_restores_a_profile_changed_behind_its_back(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    sent = _send(db, tenant, now, person={"title": "VP Sales"}, company={"employees": 500})
    _configure(db, tenant, now, **_fit_parts(tenant))
    with db.write() as session:  # a stray write that bypassed the log
        row = session.get(models.Lead, sent.lead_id)
        assert row is not None
        row.metadata_, row.fit_score = {"title": "Intern"}, 0
    with db.read() as session:
        assert verify_profiles(session, tenant) != []
    with db.write() as session:
        assert rebuild_profiles(session, tenant, now) == 1
    lead = _lead(db, str(sent.lead_id))
    assert (lead.metadata_, lead.fit_score) == ({"title": "VP Sales"}, 20)
    with db.read() as session:
        assert verify_profiles(session, tenant) == []
        assert verify_fit(session, tenant, published_model(session, tenant)) == []
