"""What-if drafts on plain data: applying a draft to a model, and the comparison maths (levels, bins, movers)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from core import scoring
from core.model import LevelSpec, RulesetSpec, RuleSpec, ScoringModel
from core.replay import replay_events
from core.triggers import Milestone
from services.errors import InvalidInput
from services.scoring.simulate import (
    apply_changes,
    histogram,
    histogram_edges,
    level_changes,
    level_codes,
    milestone_firings,
    top_movers,
)

LEVELS = (
    LevelSpec("st_cold", "Cold", 0, 29), LevelSpec("st_warm", "Warm", 30, 79), LevelSpec("st_hot", "Hot", 80, 10**6),
)


def model() -> ScoringModel:
    return ScoringModel.build(
        rulesets=[RulesetSpec("rs_main", "Main", is_primary=True), RulesetSpec("rs_fit", "Fit")],
        rules=[RuleSpec("rl_demo", "rs_main", "demo_request", 30), RuleSpec("rl_view", "rs_main", "page_view", 1)],
        levels=LEVELS,
    )


def error(changes: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        apply_changes(model(), changes)  # type: ignore[arg-type]
    return caught.value.message


def test_no_changes_is_the_same_model() -> None:
    assert apply_changes(model(), {}) == model()
    assert apply_changes(model(), None) == model()
    assert apply_changes(model(), {"rules": {"add": [], "update": [], "remove": []}}) == model()


def test_rules_are_added_updated_and_removed() -> None:
    draft = apply_changes(model(), {"rules": {
        "add": [{"event_type": "webinar", "weight": 15}, {"event_type": "fit", "weight": 5, "ruleset_id": "rs_fit"}],
        "update": [{"rule_id": "rl_demo", "weight": 50, "conditions": [
            {"property": "plan", "operator": "equals", "value": "pro"}]}],
        "remove": ["rl_view"],
    }})
    by_type = {r.event_type: r for r in draft.rules}
    assert set(by_type) == {"demo_request", "webinar", "fit"}
    assert by_type["demo_request"].id == "rl_demo" and by_type["demo_request"].weight == 50
    assert by_type["demo_request"].conditions == ({"property": "plan", "operator": "equals", "value": "pro"},)
    assert by_type["webinar"].ruleset_id == "rs_main"  # no ruleset_id: the primary one
    assert by_type["fit"].ruleset_id == "rs_fit"
    assert by_type["webinar"].id.startswith("rl_") and by_type["webinar"].id != by_type["fit"].id
    assert draft.levels == model().levels and draft.rulesets == model().rulesets


def test_an_update_keeps_the_fields_it_does_not_name() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    draft = apply_changes(model(), {"rules": {"update": [{"rule_id": "rl_view", "start_at": "2026-01-01T00:00:00Z"}]}})
    view = draft.rule("rl_view")
    assert view is not None and (view.weight, view.event_type, view.start_at) == (1, "page_view", start)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rules": {"add": [{"event_type": "x", "weight": "ten"}]}}, "changes.rules.add[0].weight"),
        ({"rules": {"add": [{"event_type": "x", "weight": 1}, {"weight": 1}]}}, "changes.rules.add[1].event_type"),
        ({"rules": {"add": [{"event_type": "x", "weight": 1, "ruleset_id": "rs_nope"}]}},
         "changes.rules.add[0].ruleset_id"),
        ({"rules": {"add": [{"event_type": "x", "weight": 1, "colour": "red"}]}}, "changes.rules.add[0].colour"),
        ({"rules": {"add": [{"event_type": "x", "weight": 1, "conditions": [{"property": "p", "operator": "near",
                                                                            "value": 1}]}]}},
         "changes.rules.add[0].conditions[0].operator"),
        ({"rules": {"update": [{"rule_id": "rl_demo", "weight": 2}, {"rule_id": "rl_gone", "weight": 3}]}},
         "changes.rules.update[1].rule_id"),
        ({"rules": {"update": [{"rule_id": "rl_demo", "weight": 2.5}]}}, "changes.rules.update[0].weight"),
        ({"rules": {"update": [{"rule_id": "rl_demo", "weight": 2}], "remove": ["rl_demo"]}},
         "changes.rules.update[0].rule_id"),
        ({"rules": {"remove": ["rl_demo", "rl_nope"]}}, "changes.rules.remove[1]"),
        ({"rules": {"rename": []}}, "changes.rules.rename"),
        ({"rules": []}, "changes.rules"),
        ({"surge": {}}, "changes.surge"),
        ({"levels": [{"name": "Cold", "min_score": 0, "max_score": 29}, {"name": "Warm", "min_score": 30,
                                                                       "max_score": 79},
                     {"name": "Hot", "min_score": 70, "max_score": 500}]}, "changes.levels[2].min_score"),
        ({"levels": [{"name": "Hot", "min_score": 90, "max_score": 500},
                     {"name": "Cold", "min_score": 0, "max_score": 29}]}, "changes.levels[0].min_score"),
        ({"levels": [{"name": "Cold", "min_score": 10, "max_score": 0}]}, "changes.levels[0].min_score"),
        ({"levels": [{"name": "", "min_score": 0, "max_score": 1}]}, "changes.levels[0].name"),
        ({"levels": [{"name": "A", "min_score": 0, "max_score": 1}, {"name": "a", "min_score": 2, "max_score": 3}]},
         "changes.levels[1].name"),
        ({"levels": [{"name": "A", "min_score": 0}]}, "changes.levels[0].max_score"),
    ],
)
def test_problems_name_their_path(changes: dict[str, object], field: str) -> None:
    assert error(changes).split(": ", 1)[0] == field


def test_levels_replace_the_set_keeping_known_ids() -> None:
    draft = apply_changes(model(), {"levels": [
        {"id": "st_cold", "name": "Cold", "min_score": 0, "max_score": 49},
        {"name": "Hot", "min_score": 50, "max_score": 1000},
    ]})
    assert [(lv.name, lv.min_score, lv.max_score) for lv in draft.levels] == [("Cold", 0, 49), ("Hot", 50, 1000)]
    assert draft.levels[0].id == "st_cold" and draft.levels[1].id != "st_hot"
    assert draft.rules == model().rules
    assert apply_changes(model(), {"levels": []}).levels == ()


def test_level_changes_count_leads_moving_between_named_levels() -> None:
    before = np.array([0, 10, 35, 90, 50, -5], dtype=np.int64)
    after = np.array([0, 40, 85, 90, 20, -5], dtype=np.int64)
    assert level_codes(before, LEVELS).tolist() == [0, 0, 1, 2, 1, -1]
    moved = level_changes(before, after, LEVELS, LEVELS)
    assert [(c.from_level, c.to_level, c.count) for c in moved] == [
        ("Cold", "Warm", 1), ("Warm", "Cold", 1), ("Warm", "Hot", 1),
    ]
    # New level bounds move leads whose scores stay put; a score in no level is None.
    narrower = (LevelSpec("x", "Cold", 0, 9), LevelSpec("y", "Warm", 10, 79))
    moved = level_changes(before, before, LEVELS, narrower)
    assert {(c.from_level, c.to_level): c.count for c in moved} == {("Cold", "Warm"): 1, ("Hot", None): 1}


def test_histograms_share_their_bins() -> None:
    before = np.array([0, 0, 5, 10], dtype=np.int64)
    after = np.array([0, 20, 40, 39], dtype=np.int64)
    edges = histogram_edges(before, after, bins=4)
    assert edges == (0, 11, 4)
    b, a = histogram(before, edges), histogram(after, edges)
    assert [(x.min, x.max) for x in b] == [(x.min, x.max) for x in a] == [(0, 10), (11, 21), (22, 32), (33, 43)]
    assert [x.count for x in b] == [4, 0, 0, 0] and [x.count for x in a] == [1, 1, 0, 2]
    assert histogram(np.zeros(0, dtype=np.int64), histogram_edges(np.zeros(0, dtype=np.int64),
                                                                  np.zeros(0, dtype=np.int64))) == []


def test_top_movers_largest_change_first_ties_by_id() -> None:
    ids = [f"ld_{i}" for i in range(30)]
    before = np.zeros(30, dtype=np.int64)
    after = np.array([i % 7 for i in range(30)], dtype=np.int64) * np.where(np.arange(30) % 2, 1, -1)
    movers = top_movers(ids, before, after, limit=5)
    sizes = [abs(a - b) for _i, b, a in movers]
    assert sizes == [6, 6, 6, 6, 5]
    assert [m[0] for m in movers[:4]] == sorted(m[0] for m in movers[:4])
    assert top_movers(ids, before, before) == []


def test_milestone_dry_run_counts_crossings_like_ingest() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    events = [
        scoring.LoggedEvent(seq, lead, None, scoring.EventFacts(kind, at, {}))
        for seq, (lead, kind) in enumerate([
            ("ann", "demo_request"), ("ann", "demo_request"), ("ann", "demo_request"),  # 30, 60, 90: crosses 80
            ("bob", "page_view"), ("bob", scoring.DECAY_EVENT_TYPE), (None, "demo_request"),
        ], start=1)
    ]
    book = scoring.RuleBook(("rs",), [scoring.Rule("r1", "rs", "demo_request", 30), scoring.Rule("r2", "rs",
                                                                                                 "page_view", 100)])
    result = replay_events(book, scoring.ScoringPolicy(), events)
    rs = result.ruleset("rs")
    assert rs is not None
    firings = milestone_firings(result.columns, rs.lead_before, rs.lead_after, [
        ("any", Milestone(80)), ("demo", Milestone(80, "demo_request")), ("none", Milestone(80, "webinar")),
    ])
    assert firings == {"any": 2, "demo": 1, "none": 0}
