"""The unit's scoring model has one home: numbered versions, a live version, a per-process cache that is never
stale, and a baseline for units that predate versioning."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from db import models
from db.engine import Database
from db.ids import new_id
from services.context import Tenant
from services.errors import NotFound, ServiceError
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import decay, levels, rules, scoring_settings
from services.scoring.model import (
    BASELINE_SUMMARY,
    begin_change,
    heads,
    live_model,
    load_from_tables,
    model_at,
    write_tables,
)
from services.scoring.publish import publish


def visit(db: Database, tenant: Tenant, now: datetime) -> int:
    event = NewEvent("page_visit", properties={}, person=PersonRef(aliases=[AliasInput("email", "c@cache.example")]))
    with db.write() as session:
        (result,) = ingest(session, tenant, [event], now)
    assert not isinstance(result, ServiceError)
    assert result.primary is not None
    return result.primary.delta


def versions(db: Database, tenant: Tenant) -> list[tuple[int, str, str | None]]:
    with db.read() as session:
        return [
            (v, s, by)
            for v, s, by in session.execute(
                select(models.ScoringVersion.version, models.ScoringVersion.summary, models.ScoringVersion.published_by)
                .where(models.ScoringVersion.unit_id == tenant.unit_id)
                .order_by(models.ScoringVersion.version)
            )
        ]


def test_every_change_is_a_version_and_reaches_the_next_ingest(db: Database, tenant: Tenant, now: datetime) -> None:
    assert versions(db, tenant) == [(1, "unit created", None)]
    with db.write() as session:
        rule_id = rules.create_rule(session, tenant, {"event_type": "page_visit", "weight": 5}, now=now).id
    assert visit(db, tenant, now) == 5
    assert visit(db, tenant, now) == 5  # served from the cache

    with db.write() as session:
        rules.update_rule(session, tenant, rule_id, {"event_type": "page_visit", "weight": 7}, now=now)
    assert visit(db, tenant, now) == 7
    with db.write() as session:
        rules.update_rule(session, tenant, rule_id, {"event_type": "page_visit", "weight": 7, "active": False}, now=now)
    assert visit(db, tenant, now) == 0
    with db.write() as session:
        rules.delete_rule(session, tenant, rule_id, now=now)
    assert visit(db, tenant, now) == 0

    history = versions(db, tenant)
    assert [v for v, _, _ in history] == [1, 2, 3, 4, 5]
    assert history[1][1] == "rule page_visit added"
    assert history[2][1] == "rule page_visit: weight 5 → 7"
    assert history[3][1] == "rule page_visit: active true → false"
    assert history[4][1] == "rule page_visit removed"
    with db.read() as session:
        assert heads(session, tenant).live == heads(session, tenant).published == 5
        # Every version stays readable as it was published.
        assert model_at(session, tenant, 3).rules[0].weight == 7
        assert model_at(session, tenant, 2).rules[0].weight == 5
        with pytest.raises(NotFound):
            model_at(session, tenant, 6)


def test_a_change_that_changes_nothing_is_not_a_version(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        rule_id = rules.create_rule(session, tenant, {"event_type": "page_visit", "weight": 5}, now=now).id
    with db.write() as session:
        rules.update_rule(session, tenant, rule_id, {"event_type": "page_visit", "weight": 5}, now=now)
    assert [v for v, _, _ in versions(db, tenant)] == [1, 2]


def test_settings_and_levels_are_part_of_the_model(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.read() as session:
        assert live_model(session, tenant).policy.allow_negative_scores is False
    with db.write() as session:
        scoring_settings.update_settings(session, tenant, allow_negative_scores=True, now=now)
        levels.create_level(session, tenant, name="Hot", min_score=50, max_score=1000, now=now)
    with db.read() as session:
        model = live_model(session, tenant)
        assert model.policy.allow_negative_scores is True
        assert [lv.name for lv in model.levels] == ["Hot"]
    summaries = [s for _, s, _ in versions(db, tenant)]
    assert summaries[1:] == ["allow_negative_scores false → true", "level Hot added"]


def test_a_unit_from_before_versioning_records_its_baseline_first(db: Database, tenant: Tenant, now: datetime) -> None:
    # What a unit migrated from 0007 looks like: configuration rows, no versions (never published in this process).
    legacy = Tenant(org_id=tenant.org_id, unit_id=new_id("unit"))
    with db.write() as session:
        session.add(models.Unit(id=legacy.unit_id, org_id=legacy.org_id, name="legacy", slug=legacy.unit_id,
                                created_at=now))
        session.flush()
        session.add(models.Ruleset(id=new_id("rs"), org_id=legacy.org_id, unit_id=legacy.unit_id, name="Engagement",
                                   is_primary=True, created_at=now, updated_at=now))
        session.flush()
        ruleset_id = session.scalar(select(models.Ruleset.id).where(models.Ruleset.unit_id == legacy.unit_id))
        rule_id = new_id("rule")
        session.add(models.Rule(id=rule_id, org_id=legacy.org_id, unit_id=legacy.unit_id, ruleset_id=ruleset_id,
                                event_type="page_visit", weight=5, conditions=[], created_at=now, updated_at=now))
    assert versions(db, legacy) == []
    assert visit(db, legacy, now) == 5  # read from the tables until the first change
    with db.write() as session:
        rules.update_rule(session, legacy, rule_id, {"event_type": "page_visit", "weight": 9}, now=now + timedelta(1))
    history = versions(db, legacy)
    assert [(v, s) for v, s, _ in history] == [(1, BASELINE_SUMMARY), (2, "rule page_visit: weight 5 → 9")]
    with db.read() as session:
        assert model_at(session, legacy, 1).rules[0].weight == 5
        assert heads(session, legacy).live == 2
    assert visit(db, legacy, now) == 9


def test_a_rolled_back_change_leaves_no_version_behind(db: Database, tenant: Tenant, now: datetime) -> None:
    with pytest.raises(RuntimeError), db.write() as session:
        rules.create_rule(session, tenant, {"event_type": "page_visit", "weight": 5}, now=now)
        raise RuntimeError("the request failed after the change")
    with db.write() as session:
        rules.create_rule(session, tenant, {"event_type": "page_visit", "weight": 3}, now=now)
    assert visit(db, tenant, now) == 3  # version 2 is the committed one, not the cached rolled-back one


def test_write_tables_restores_a_published_model_exactly(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        first = rules.create_rule(session, tenant, {"event_type": "page_visit", "weight": 5}, now=now)
        second_rs = rules.create_ruleset(session, tenant, name="Product", now=now)
        rules.create_rule(session, tenant, {"event_type": "signup", "weight": 30, "ruleset_id": second_rs.id,
                                            "conditions": [{"property": "plan", "operator": "equals", "value": "pro"}]},
                          now=now)
        levels.create_level(session, tenant, name="Hot", min_score=50, max_score=1000, now=now)
        decay.create_decay(session, tenant, inactive_for=7, unit="days", decrease=5, now=now)
        snapshot_version = heads(session, tenant).published
    with db.write() as session:
        rules.update_rule(session, tenant, first.id, {"event_type": "page_visit", "weight": 50}, now=now)
        rules.update_ruleset(session, tenant, second_rs.id, name="Engagement 2", is_primary=True, now=now)
        rules.create_rule(session, tenant, {"event_type": "webinar", "weight": 8}, now=now)
        rules.delete_ruleset(session, tenant, next(rs.id for rs in rules.list_rulesets(session, tenant)
                                               if rs.id != second_rs.id), now=now)
        scoring_settings.update_settings(session, tenant, allow_negative_scores=True, now=now)
    with db.write() as session:
        wanted = model_at(session, tenant, snapshot_version)
        begin_change(session, tenant, now)
        write_tables(session, tenant, wanted, now=now, actor="test")
        published = publish(session, tenant, now=now, summary="restore")
        assert published is not None and published.rescored
        assert load_from_tables(session, tenant) == wanted
        assert live_model(session, tenant) == wanted
