"""core.model: one value for a unit's scoring configuration, its document, its primary ruleset and its diff."""

from __future__ import annotations

from datetime import UTC, datetime

from core.model import (
    DecaySpec,
    LevelSpec,
    RulesetSpec,
    RuleSpec,
    ScoringModel,
    SettingsSpec,
    diff,
    is_empty,
    summarize,
)

T = datetime(2026, 10, 1, tzinfo=UTC)


def model(weight: int = 10, *, primary: str | None = "rs_b") -> ScoringModel:
    return ScoringModel.build(
        rulesets=[
            RulesetSpec("rs_a", "Product", is_primary=primary == "rs_a"),
            RulesetSpec("rs_b", "Engagement", is_primary=primary == "rs_b"),
        ],
        rules=[
            RuleSpec("r2", "rs_b", "page_view", 1, 
                     conditions=({"property": "page", "operator": "equals", "value": "/"},)),
            RuleSpec("r1", "rs_b", "demo_request", weight, start_at=T),
        ],
        levels=[LevelSpec("l2", "Hot", 50, 100), LevelSpec("l1", "Cold", 0, 49)],
        decay_rules=[DecaySpec("d1", 7, "days", 5)],
        settings=SettingsSpec(allow_negative_scores=True),
    )


def test_the_document_round_trips_and_orders_are_normalised() -> None:
    m = model()
    again = ScoringModel.from_document(m.to_document())
    assert again == m
    assert [r.id for r in m.rules] == ["r1", "r2"] and [lv.name for lv in m.levels] == ["Cold", "Hot"]
    assert m.to_document()["rules"][0]["start_at"] == "2026-10-01T00:00:00Z"


def test_the_primary_ruleset_is_the_flagged_one_else_the_first() -> None:
    assert model(primary="rs_b").primary_ruleset_id == "rs_b"
    assert model(primary=None).primary_ruleset_id == "rs_a"
    assert ScoringModel().primary_ruleset_id is None


def test_scores_same_as_ignores_what_cannot_move_a_score() -> None:
    base = model()
    renamed = ScoringModel.build(
        rulesets=[RulesetSpec("rs_a", "Renamed"), RulesetSpec("rs_b", "Engagement", is_primary=True)],
        rules=base.rules,
        settings=SettingsSpec(allow_negative_scores=True, abm_enabled=True),
    )
    assert renamed.scores_same_as(base)
    assert not model(weight=11).scores_same_as(base)
    assert not model(primary="rs_a").scores_same_as(base)


def test_diff_names_added_removed_and_changed_fields() -> None:
    old, new = model(), model(weight=20)
    changes = diff(old, new)
    assert changes["rules"]["changed"] == [{"id": "r1", "changes": {"weight": {"before": 10, "after": 20}}}]
    assert changes["rules"]["added"] == [] and changes["rules"]["removed"] == []
    assert summarize(old, new) == "rule demo_request: weight 10 → 20"
    assert is_empty(diff(old, old)) and not is_empty(changes)
    emptied = ScoringModel.build(rulesets=old.rulesets, settings=old.settings)
    removed = diff(old, emptied)
    assert {r["id"] for r in removed["rules"]["removed"]} == {"r1", "r2"}
    assert {lv["name"] for lv in removed["levels"]["removed"]} == {"Cold", "Hot"}
    assert "and 1 more" in summarize(old, emptied)
