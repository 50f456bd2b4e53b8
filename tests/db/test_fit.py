"""Fit configuration on the real database (services.scoring.fit_config): stored fit follows the fit rules, every
change is a version that can be rolled back, mappings fill profiles at ingest and over history, roles hold."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.fit import FitBook, FitRulesetSpec, FitRuleSpec
from core.profile import LEAD_PROFILE_EVENT
from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.ingest.contract import AccountRef, AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.people.profiles import set_account_profile, set_lead_profile, verify_profiles
from services.scoring import fit_config, rules, scoring_settings, versions
from services.scoring.fit import verify_fit
from services.scoring.model import heads, published_model
from services.scoring.simulate import histogram, histogram_edges, publish_draft, simulate


@pytest.fixture(autouse=True)
def abm_on(db: Database, tenant: Tenant, now: datetime) -> None:
    """The account configuration answers only while ABM is on (403 abm_disabled otherwise: see
    tests/api/test_accounts_abm.py); here it is on, so both kinds are tested alike. (One published version.)"""
    with db.write() as session:
        scoring_settings.update_settings(session, tenant, abm_enabled=True, now=now)


PROFILES = {
    "ann@acme.com": {"title": "VP Sales", "employees": 500, "country": "DE"},
    "bob@globex.com": {"title": "Student", "employees": 3, "country": "US"},
    "cy@initech.com": {"title": "vp marketing", "employees": 250},
    "dee@hooli.com": {},
}


def event(email: str, event_type: str = "page_view", **properties: Any) -> NewEvent:
    return NewEvent(event_type=event_type, person=PersonRef(aliases=[AliasInput("email", email)]),
                    properties=dict(properties))


def make_leads(db: Database, tenant: Tenant, now: datetime) -> dict[str, str]:
    """One lead per PROFILES entry, each with its profile set through services.people.profiles."""
    with db.write() as session:
        made = ingest(session, tenant, [event(email) for email in PROFILES], now)
        ids = {email: r.lead_id for email, r in zip(PROFILES, made, strict=True)}  # type: ignore[union-attr]
        for email, profile in PROFILES.items():
            lead = session.get(models.Lead, ids[email])
            assert lead is not None
            set_lead_profile(session, tenant, lead, profile, via="test", now=now)
    return ids  # type: ignore[return-value]


def stored_fit(session: Session, tenant: Tenant) -> dict[str, tuple[int, dict[str, int]]]:
    rows = session.execute(
        select(models.Lead.id, models.Lead.fit_score, models.Lead.fit_scores)
        .where(models.Lead.unit_id == tenant.unit_id)
    )
    return {lead_id: (score, dict(scores or {})) for lead_id, score, scores in rows}


def setup_rules(db: Database, tenant: Tenant, now: datetime) -> tuple[str, list[str]]:
    with db.write() as session:
        rs = fit_config.create_fit_ruleset(session, tenant, "profile", name="ICP", now=now)
        rule_ids = [
            fit_config.create_fit_rule(session, tenant, "profile", rs["id"], property=p, condition=c,
                                       comparison_value=v, weight=w, now=now)["id"]
            for p, c, v, w in (("title", "contains", "vp", 20), ("employees", "gte", "200", 15),
                               ("country", "in", "de, at, ch", 5), ("title", "equals", "student", -10))
        ]
    return rs["id"], rule_ids


def test_stored_fit_is_the_fit_of_each_profile(db: Database, tenant: Tenant, now: datetime) -> None:
    ids = make_leads(db, tenant, now)
    rs_id, rule_ids = setup_rules(db, tenant, now)
    with db.read() as session:
        fit = stored_fit(session, tenant)
        assert verify_fit(session, tenant, published_model(session, tenant)) == []
    assert fit[ids["ann@acme.com"]] == (40, {rs_id: 40})
    assert fit[ids["bob@globex.com"]] == (-10, {rs_id: -10})
    assert fit[ids["cy@initech.com"]] == (35, {rs_id: 35})  # "vp marketing": text comparisons ignore case
    assert fit[ids["dee@hooli.com"]] == (0, {rs_id: 0})

    # A rule change rescores every lead's fit to core.fit's fit of its stored profile.
    with db.write() as session:
        fit_config.update_fit_rule(session, tenant, "profile", rs_id, rule_ids[0],
                                   fields={"profile_property": "title", "weight": 50}, now=now)
    with db.read() as session:
        model = published_model(session, tenant)
        book = FitBook(
            [FitRulesetSpec(rs_id, "profile", "ICP", True, True)],
            [FitRuleSpec(r.id, r.ruleset_id, r.property, r.condition, r.comparison_value, r.weight)
             for r in model.fit_rules],
        )
        for lead_id, (score, _scores) in stored_fit(session, tenant).items():
            lead = session.get(models.Lead, lead_id)
            assert lead is not None
            assert score == book.fit(lead.metadata_).score
        assert verify_fit(session, tenant, model) == []
    assert stored_fit_of(db, tenant, ids["ann@acme.com"]) == 70

    # Disabling the ruleset leaves no fit; deleting a rule moves only the leads it matched.
    with db.write() as session:
        fit_config.update_fit_ruleset(session, tenant, "profile", rs_id, name="ICP", enabled=False, now=now)
    assert stored_fit_of(db, tenant, ids["ann@acme.com"]) == 0
    with db.write() as session:
        fit_config.update_fit_ruleset(session, tenant, "profile", rs_id, name="ICP", enabled=True, now=now)
        fit_config.delete_fit_rule(session, tenant, "profile", rs_id, rule_ids[3], now=now)
    assert stored_fit_of(db, tenant, ids["bob@globex.com"]) == 0
    assert stored_fit_of(db, tenant, ids["ann@acme.com"]) == 70


def stored_fit_of(db: Database, tenant: Tenant, lead_id: str) -> int:
    with db.read() as session:
        lead = session.get(models.Lead, lead_id)
        assert lead is not None
        return int(lead.fit_score)


def test_each_change_is_a_version_and_rollback_restores_fit(db: Database, tenant: Tenant, now: datetime) -> None:
    ids = make_leads(db, tenant, now)
    with db.read() as session:
        start = heads(session, tenant).published
    rs_id, rule_ids = setup_rules(db, tenant, now)
    with db.read() as session:
        after_setup = heads(session, tenant)
        before = stored_fit(session, tenant)
    assert after_setup.published == max(start, 1) + 5  # a baseline, then the ruleset and four rules
    assert after_setup.live == after_setup.published  # fit never goes aside
    with db.write() as session:
        fit_config.update_fit_rule(session, tenant, "profile", rs_id, rule_ids[0], fields={"weight": 99}, now=now)
        fit_config.create_fit_level(session, tenant, "profile", name="C", min_score=-100, max_score=29, now=now)
    with db.read() as session:
        assert heads(session, tenant).published == after_setup.published + 2
        assert stored_fit(session, tenant)[ids["ann@acme.com"]][0] == 119
    with db.write() as session:
        versions.rollback(session, tenant, after_setup.published, now + timedelta(minutes=1))
    with db.read() as session:
        assert stored_fit(session, tenant) == before
        assert fit_config.list_fit_levels(session, tenant, "profile") == []
        listed = fit_config.list_fit_rules(session, tenant, "profile", rs_id)
        assert sorted(r["weight"] for r in listed) == [-10, 5, 15, 20]
        assert verify_fit(session, tenant, published_model(session, tenant)) == []


def test_changes_are_audited(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        mapping = fit_config.create_mapping(session, tenant, "account", source_field="industry",
                                            property="industry", now=now)
        fit_config.update_mapping(session, tenant, "account", mapping["id"], source_field="sector",
                                  property="industry", update_behavior="set_once", now=now)
        fit_config.delete_mapping(session, tenant, "account", mapping["id"], now=now)
        rs = fit_config.create_fit_ruleset(session, tenant, "account", name="Firmographics", now=now)
        rule = fit_config.create_fit_rule(session, tenant, "account", rs["id"], property="industry",
                                          condition="equals", comparison_value="saas", weight=10, now=now)
        level = fit_config.create_fit_level(session, tenant, "account", name="A", min_score=0, max_score=100, now=now)
    with db.read() as session:
        entries = session.execute(
            select(models.AuditLog.action, models.AuditLog.entity_type, models.AuditLog.entity_id,
                   models.AuditLog.changes)
            .where(models.AuditLog.unit_id == tenant.unit_id)
            .order_by(models.AuditLog.id)
        ).all()
    mine = [(a, t, i) for a, t, i, _c in entries if t in ("field_mapping", "fit_ruleset", "fit_rule", "fit_level")]
    assert mine == [
        ("create", "field_mapping", mapping["id"]), ("update", "field_mapping", mapping["id"]),
        ("delete", "field_mapping", mapping["id"]), ("create", "fit_ruleset", rs["id"]),
        ("create", "fit_rule", rule["id"]), ("create", "fit_level", level["id"]),
    ]
    update = next(c for a, t, _i, c in entries if (a, t) == ("update", "field_mapping"))
    assert update["source_field"] == {"before": "industry", "after": "sector"}
    assert sum(1 for a, t, _i, _c in entries if (a, t) == ("publish", "scoring_version")) == 1 + 6  # 1: ABM on


def test_validation_names_the_field(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        rs = fit_config.create_fit_ruleset(session, tenant, "profile", name="ICP", now=now)
    base: dict[str, Any] = {"property": "employees", "condition": "gte", "comparison_value": "10", "weight": 5}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"condition": "bigger"}, "condition"),
        ({"comparison_value": "many"}, "comparison_value"),
        ({"comparison_value": ""}, "comparison_value"),
        ({"property": " "}, "profile_property"),
        ({"weight": "5"}, "weight"),
        ({"weight": 10**9}, "weight"),
    ]
    for change, field in cases:
        with pytest.raises(InvalidInput) as raised, db.write() as session:
            fit_config.create_fit_rule(session, tenant, "profile", rs["id"], **{**base, **change}, now=now)
        assert raised.value.field == field, change
    with pytest.raises(InvalidInput) as raised, db.write() as session:
        fit_config.create_mapping(session, tenant, "profile", source_field="a", property="b",
                                  update_behavior="sometimes", now=now)
    assert raised.value.field == "update_behavior"
    with pytest.raises(InvalidInput) as raised, db.write() as session:
        fit_config.create_mapping(session, tenant, "account", source_field="a", property="", now=now)
    assert raised.value.field == "account_property"
    with pytest.raises(InvalidInput) as raised, db.write() as session:
        fit_config.list_mappings(session, tenant, "person")
    assert raised.value.field == "kind"
    # exists needs no value
    with db.write() as session:
        made = fit_config.create_fit_rule(session, tenant, "profile", rs["id"], property="phone",
                                          condition="exists", comparison_value="", weight=3, now=now)
    assert made["profile_property"] == "phone" and made["comparison_value"] == ""


def test_levels_are_validated_like_engagement_levels(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        a = fit_config.create_fit_level(session, tenant, "profile", name="A", min_score=50, max_score=1000, now=now)
        b = fit_config.create_fit_level(session, tenant, "profile", name="B", min_score=20, max_score=49, now=now)
        fit_config.create_fit_level(session, tenant, "profile", name="C", min_score=-1000, max_score=19, now=now)
        # account levels are a set of their own: the same bands do not overlap the profile ones
        fit_config.create_fit_level(session, tenant, "account", name="A", min_score=0, max_score=10, now=now)
    for name, low, high, words in (("A+", 900, 2000, "overlap"), ("S", 1100, 2000, "gap"),
                                   ("b", 1001, 2000, "more than once")):
        with pytest.raises(InvalidInput, match=words), db.write() as session:
            fit_config.create_fit_level(session, tenant, "profile", name=name, min_score=low, max_score=high, now=now)
    with pytest.raises(InvalidInput, match="gap"), db.write() as session:
        fit_config.delete_fit_level(session, tenant, "profile", b["id"], now=now)
    with db.write() as session:
        fit_config.update_fit_level(session, tenant, "profile", a["id"], name="A", min_score=50, max_score=80, now=now)
    with db.read() as session:
        assert [lv["name"] for lv in fit_config.list_fit_levels(session, tenant, "profile")] == ["C", "B", "A"]
        assert [lv["name"] for lv in fit_config.list_fit_levels(session, tenant, "account")] == ["A"]
    with pytest.raises(NotFound), db.write() as session:
        fit_config.delete_fit_level(session, tenant, "account", a["id"], now=now)  # a profile level


def test_rulesets_primary_and_names(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        first = fit_config.create_fit_ruleset(session, tenant, "profile", name="ICP", now=now)
        second = fit_config.create_fit_ruleset(session, tenant, "profile", name="Persona", now=now)
        other_kind = fit_config.create_fit_ruleset(session, tenant, "account", name="ICP", now=now)
    assert first["is_primary"] and not second["is_primary"] and other_kind["is_primary"]
    with pytest.raises(Conflict) as raised, db.write() as session:
        fit_config.create_fit_ruleset(session, tenant, "profile", name="icp", now=now)
    assert raised.value.field == "name"
    with db.write() as session:
        fit_config.update_fit_ruleset(session, tenant, "profile", second["id"], name="Persona", is_primary=True,
                                      now=now)
        listed = {rs["name"]: rs["is_primary"] for rs in fit_config.list_fit_rulesets(session, tenant, "profile")}
        accounts = fit_config.list_fit_rulesets(session, tenant, "account")
    assert listed == {"ICP": False, "Persona": True}
    assert accounts[0]["is_primary"]  # the other kind's flag is its own
    with pytest.raises(NotFound), db.write() as session:
        fit_config.list_fit_rules(session, tenant, "account", first["id"])  # a profile ruleset
    with db.write() as session:
        fit_config.create_fit_rule(session, tenant, "profile", first["id"], property="t", condition="exists",
                                   comparison_value="", weight=1, now=now)
        fit_config.delete_fit_ruleset(session, tenant, "profile", first["id"], now=now)
        assert session.scalar(select(func.count()).select_from(models.FitRule).where(
            models.FitRule.unit_id == tenant.unit_id)) == 0


def test_a_viewer_changes_nothing(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        rs = fit_config.create_fit_ruleset(session, tenant, "profile", name="ICP", now=now)
    viewer = dataclasses.replace(tenant, role="Viewer", actor="viewer@example.com")
    attempts = [
        lambda s: fit_config.create_mapping(s, viewer, "profile", source_field="a", property="b", now=now),
        lambda s: fit_config.create_fit_ruleset(s, viewer, "account", name="X", now=now),
        lambda s: fit_config.update_fit_ruleset(s, viewer, "profile", rs["id"], name="Y", now=now),
        lambda s: fit_config.create_fit_rule(s, viewer, "profile", rs["id"], property="a", condition="exists",
                                             comparison_value="", weight=1, now=now),
        lambda s: fit_config.create_fit_level(s, viewer, "profile", name="A", min_score=0, max_score=1, now=now),
        lambda s: fit_config.apply_mappings_to_history(s, viewer, now),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden), db.write() as session:
            attempt(session)
    operator = dataclasses.replace(tenant, role="Operator", actor="op@example.com")
    with pytest.raises(Forbidden), db.write() as session:
        fit_config.apply_mappings_to_history(session, operator, now)  # an Owner's backfill
    with db.read() as session:
        assert fit_config.list_fit_rulesets(session, tenant, "profile")[0]["name"] == "ICP"
        assert fit_config.list_mappings(session, tenant, "profile") == []


# --- field mappings ------------------------------------------------------------------------------------------------


def lead_profile(db: Database, tenant: Tenant, email: str) -> dict[str, Any]:
    with db.read() as session:
        lead = session.scalar(
            select(models.Lead).where(models.Lead.unit_id == tenant.unit_id, models.Lead.email == email)
        )
        assert lead is not None
        return dict(lead.metadata_)


def test_mappings_fill_profiles_at_ingest(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        fit_config.create_mapping(session, tenant, "profile", source_field="utm_source",
                                  property="acquisition_source", now=now)
        fit_config.create_mapping(session, tenant, "profile", source_field="utm_source",
                                  property="first_source", update_behavior="set_once", now=now)
        fit_config.create_mapping(session, tenant, "profile", source_field="utm_source",
                                  property="acquisition_source", update_behavior="append", now=now)
        fit_config.create_mapping(session, tenant, "account", source_field="industry", property="industry", now=now)
        rs = fit_config.create_fit_ruleset(session, tenant, "profile", name="ICP", now=now)
        fit_config.create_fit_rule(session, tenant, "profile", rs["id"], property="acquisition_source",
                                   condition="equals", comparison_value="linkedin", weight=7, now=now)
    sources = [f"s{i}" for i in range(12)] + ["linkedin"]
    with db.write() as session:
        for i, source in enumerate(sources):
            ingest(session, tenant, [event("ann@acme.com", utm_source=source)], now + timedelta(seconds=i))
        ingest(session, tenant, [NewEvent(event_type="page_view", properties={"industry": "SaaS"},
                                          person=PersonRef(aliases=[AliasInput("email", "bob@acme.com")]),
                                          account=AccountRef(domain="acme.com", name="Acme"))], now)
    profile = lead_profile(db, tenant, "ann@acme.com")
    assert profile["acquisition_source"] == "linkedin"
    assert profile["first_source"] == "s0"
    assert profile["acquisition_source_list"] == [*sources[-10:]]
    with db.read() as session:
        lead = session.scalar(select(models.Lead).where(models.Lead.unit_id == tenant.unit_id,
                                                        models.Lead.email == "ann@acme.com"))
        assert lead is not None and lead.fit_score == 7
        account = session.scalar(select(models.Account).where(models.Account.unit_id == tenant.unit_id))
        assert account is not None and account.metadata_.get("industry") == "SaaS"
        assert verify_profiles(session, tenant) == []
        assert verify_fit(session, tenant, published_model(session, tenant)) == []


def test_apply_mappings_to_history_is_idempotent(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        for i, source in enumerate(("google", "newsletter", "google")):
            ingest(session, tenant, [event("ann@acme.com", utm_source=source)], now + timedelta(seconds=i))
        ingest(session, tenant, [event("bob@acme.com")], now)
        ingest(session, tenant, [NewEvent(event_type="page_view", properties={"industry": "SaaS"},
                                          person=PersonRef(aliases=[AliasInput("email", "cy@acme.com")]),
                                          account=AccountRef(domain="acme.com", name="Acme"))], now)
    with db.write() as session:
        # A manual edit after the events: history must not overwrite it with an older event's value.
        ann = session.scalar(select(models.Lead).where(models.Lead.unit_id == tenant.unit_id,
                                                       models.Lead.email == "ann@acme.com"))
        assert ann is not None
        set_lead_profile(session, tenant, ann, {"owner": "sam"}, via="api", now=now + timedelta(minutes=1))
    later = now + timedelta(hours=1)
    with db.write() as session:
        fit_config.create_mapping(session, tenant, "profile", source_field="utm_source", property="source",
                                  now=later)
        fit_config.create_mapping(session, tenant, "profile", source_field="utm_source", property="first",
                                  update_behavior="set_once", now=later)
        fit_config.create_mapping(session, tenant, "profile", source_field="utm_source", property="source",
                                  update_behavior="append", now=later)
        fit_config.create_mapping(session, tenant, "account", source_field="industry", property="sector", now=later)
        rs = fit_config.create_fit_ruleset(session, tenant, "profile", name="ICP", now=later)
        fit_config.create_fit_rule(session, tenant, "profile", rs["id"], property="first", condition="equals",
                                   comparison_value="google", weight=9, now=later)
    assert "source" not in lead_profile(db, tenant, "ann@acme.com")  # mappings apply to new events only
    with db.write() as session:
        first = fit_config.apply_mappings_to_history(session, tenant, later)
    assert first == {"leads_processed": 3, "leads_updated": 1, "accounts_processed": 1, "accounts_updated": 1}
    profile = lead_profile(db, tenant, "ann@acme.com")
    assert profile == {"owner": "sam", "source": "google", "first": "google", "source_list": ["newsletter", "google"]}
    with db.read() as session:
        ann = session.scalar(select(models.Lead).where(models.Lead.unit_id == tenant.unit_id,
                                                       models.Lead.email == "ann@acme.com"))
        assert ann is not None and ann.fit_score == 9
        account = session.scalar(select(models.Account).where(models.Account.unit_id == tenant.unit_id))
        assert account is not None and account.metadata_["sector"] == "SaaS"
        assert verify_profiles(session, tenant) == []
        assert verify_fit(session, tenant, published_model(session, tenant)) == []
        logged = session.scalar(select(func.count()).select_from(models.Event).where(
            models.Event.unit_id == tenant.unit_id, models.Event.event_type == LEAD_PROFILE_EVENT))
    with db.write() as session:
        second = fit_config.apply_mappings_to_history(session, tenant, later + timedelta(minutes=1))
    assert second == {"leads_processed": 3, "leads_updated": 0, "accounts_processed": 1, "accounts_updated": 0}
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(models.Event).where(
            models.Event.unit_id == tenant.unit_id, models.Event.event_type == LEAD_PROFILE_EVENT)) == logged


# --- what-if -------------------------------------------------------------------------------------------------------


def test_fit_preview_equals_what_publishing_stores(db: Database, tenant: Tenant, now: datetime) -> None:
    ids = make_leads(db, tenant, now)
    rs_id, rule_ids = setup_rules(db, tenant, now)
    with db.write() as session:
        for name, low, high in (("C", -1000, 19), ("B", 20, 39), ("A", 40, 1000)):
            fit_config.create_fit_level(session, tenant, "profile", name=name, min_score=low, max_score=high, now=now)
        account = session.scalar(select(models.Account).where(models.Account.unit_id == tenant.unit_id,
                                                              models.Account.domain == "acme.com"))
        assert account is not None
        set_account_profile(session, tenant, account, {"employees": 900}, via="test", now=now)
        accounts_rs = fit_config.create_fit_ruleset(session, tenant, "account", name="Firms", now=now)
    changes: dict[str, Any] = {
        "profile_rules": {
            "add": [{"ruleset_id": rs_id, "profile_property": "country", "condition": "equals",
                     "comparison_value": "us", "weight": 30}],
            "update": [{"rule_id": rule_ids[0], "weight": 5}],
            "remove": [rule_ids[3]],
        },
        "profile_levels": [{"name": "C", "min_score": -1000, "max_score": 9},
                           {"name": "B", "min_score": 10, "max_score": 29},
                           {"name": "A", "min_score": 30, "max_score": 1000}],
        "account_rules": {"add": [{"ruleset_id": accounts_rs["id"], "account_property": "employees",
                                   "condition": "gt", "comparison_value": "500", "weight": 25}]},
    }
    with db.read() as session:
        stored_before = stored_fit(session, tenant)
        version_before = heads(session, tenant).published
        preview = simulate(session, tenant, changes, None, now)
        assert stored_fit(session, tenant) == stored_before and heads(session, tenant).published == version_before
    profile, accounts = preview.fit["profile"], preview.fit["account"]
    # ann 40 -> 25 (vp 5 + employees 15 + country 5), bob -10 -> 30, cy 35 -> 20, dee 0 -> 0
    assert (profile.evaluated, profile.changed) == (4, 3)
    assert [(m.id, m.label, m.before, m.after) for m in profile.top_movers] == [
        (ids["bob@globex.com"], "bob@globex.com", -10, 30),
        *sorted([(ids["ann@acme.com"], "ann@acme.com", 40, 25), (ids["cy@initech.com"], "cy@initech.com", 35, 20)]),
    ]
    assert {(c.from_level, c.to_level, c.count) for c in profile.level_changes} == {("C", "A", 1), ("A", "B", 1)}
    assert sum(b.count for b in profile.distribution_before) == 4
    assert [(m.label, m.before, m.after) for m in accounts.top_movers] == [("acme.com", 0, 25)]

    with db.write() as session:
        published = publish_draft(session, tenant, changes, now + timedelta(minutes=1))
    assert published is not None
    with db.read() as session:
        stored_after = stored_fit(session, tenant)
        assert verify_fit(session, tenant, published_model(session, tenant)) == []
        account_fit = session.scalar(select(models.Account.fit_score).where(models.Account.id == account.id))
    for mover in profile.top_movers:
        assert stored_after[mover.id][0] == mover.after
    changed = sum(1 for lead_id in stored_after if stored_after[lead_id][0] != stored_before[lead_id][0])
    assert changed == profile.changed
    edges = histogram_edges(np.array([s for s, _ in stored_before.values()], dtype=np.int64),
                            np.array([s for s, _ in stored_after.values()], dtype=np.int64))
    assert histogram(np.array([s for s, _ in stored_after.values()], dtype=np.int64), edges) == \
        profile.distribution_after
    assert account_fit == accounts.top_movers[0].after
    # And the preview of the now published model moves nobody.
    with db.read() as session:
        again = simulate(session, tenant, {}, None, now)
    assert again.fit["profile"].changed == 0 and again.fit["account"].changed == 0


def test_a_draft_of_engagement_rules_keeps_the_fit_configuration(db: Database, tenant: Tenant, now: datetime) -> None:
    make_leads(db, tenant, now)
    rs_id, _rule_ids = setup_rules(db, tenant, now)
    with db.write() as session:
        fit_config.create_mapping(session, tenant, "profile", source_field="utm_source", property="source", now=now)
        fit_config.create_fit_level(session, tenant, "profile", name="All", min_score=-1000, max_score=1000, now=now)
        before = published_model(session, tenant)
        rule = rules.create_rule(session, tenant, {"event_type": "demo_request", "weight": 10}, now=now)
    with db.write() as session:
        publish_draft(session, tenant, {"rules": {"update": [{"rule_id": rule.id, "weight": 20}]}}, now)
    with db.read() as session:
        after = published_model(session, tenant)
        assert (after.mappings, after.fit_rulesets, after.fit_rules, after.fit_levels) == (
            before.mappings, before.fit_rulesets, before.fit_rules, before.fit_levels)
        assert len(fit_config.list_fit_rules(session, tenant, "profile", rs_id)) == 4
        assert verify_fit(session, tenant, after) == []
