"""Fit on plain data: a what-if draft's fit parts applied to a model (services.scoring.simulate.apply_changes), and
the mappings-over-history fold (services.scoring.fit_config.mapped_history_profile)."""

from __future__ import annotations

from typing import Any

import pytest

from core.fit import FitRulesetSpec, FitRuleSpec
from core.model import FitLevelSpec, LevelSpec, RulesetSpec, RuleSpec, ScoringModel
from core.profile import LEAD_PROFILE_EVENT, MappingSpec, ProfileChange
from services.errors import InvalidInput
from services.scoring.fit_config import mapped_history_profile
from services.scoring.simulate import apply_changes


def model() -> ScoringModel:
    return ScoringModel.build(
        rulesets=[RulesetSpec("rs_main", "Main", is_primary=True)],
        rules=[RuleSpec("rl_demo", "rs_main", "demo_request", 30)],
        levels=[LevelSpec("st_all", "All", 0, 100)],
        mappings=[MappingSpec("fm_1", "profile", "utm_source", "source")],
        fit_rulesets=[FitRulesetSpec("frs_p", "profile", "ICP", True, True),
                      FitRulesetSpec("frs_a", "account", "Firms", True, True)],
        fit_rules=[FitRuleSpec("fr_vp", "frs_p", "title", "contains", "vp", 20),
                   FitRuleSpec("fr_big", "frs_a", "employees", "gte", "200", 10)],
        fit_levels=[FitLevelSpec("fl_a", "profile", "A", 20, 1000), FitLevelSpec("fl_b", "profile", "B", -1000, 19),
                    FitLevelSpec("fl_x", "account", "X", 0, 100)],
    )


def error(changes: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        apply_changes(model(), changes)
    return caught.value


def test_fit_rules_are_added_updated_and_removed_per_kind() -> None:
    draft = apply_changes(model(), {
        "profile_rules": {
            "add": [{"ruleset_id": "frs_p", "profile_property": "country", "condition": "in",
                     "comparison_value": "de,at", "weight": 5, "created_at": "ignored"}],
            "update": [{"rule_id": "fr_vp", "weight": 40}],
        },
        "account_rules": {"remove": ["fr_big"]},
    })
    rules = {r.property: r for r in draft.fit_rules}
    assert set(rules) == {"title", "country"}
    assert (rules["title"].id, rules["title"].weight, rules["title"].comparison_value) == ("fr_vp", 40, "vp")
    assert (rules["country"].ruleset_id, rules["country"].condition) == ("frs_p", "in")
    assert draft.profile_fit.fit({"title": "VP", "country": "DE"}).score == 45
    assert draft.account_fit.fit({"employees": 500}).score == 0
    # every other part of the model is as it was
    base = model()
    assert (draft.rules, draft.levels, draft.mappings, draft.fit_rulesets, draft.fit_levels) == (
        base.rules, base.levels, base.mappings, base.fit_rulesets, base.fit_levels)


def test_engagement_changes_keep_the_fit_parts() -> None:
    draft = apply_changes(model(), {"rules": {"update": [{"rule_id": "rl_demo", "weight": 50}]},
                                    "levels": [{"name": "All", "min_score": 0, "max_score": 10}]})
    base = model()
    assert draft.rules[0].weight == 50
    assert (draft.mappings, draft.fit_rulesets, draft.fit_rules, draft.fit_levels) == (
        base.mappings, base.fit_rulesets, base.fit_rules, base.fit_levels)


def test_fit_levels_replace_one_kind_only() -> None:
    draft = apply_changes(model(), {"profile_levels": [
        {"level_id": "fl_a", "name": "A", "min_score": 30, "max_score": 1000},
        {"name": "B", "min_score": -1000, "max_score": 29},
    ]})
    profile = {lv.name: lv for lv in draft.fit_levels if lv.kind == "profile"}
    assert profile["A"].id == "fl_a" and profile["A"].min_score == 30
    assert profile["B"].id != "fl_b" and profile["B"].id.startswith("fl_")  # not named: a new level
    assert [lv for lv in draft.fit_levels if lv.kind == "account"] == [FitLevelSpec("fl_x", "account", "X", 0, 100)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"profile_rules": {"add": [{"ruleset_id": "frs_a", "profile_property": "t", "condition": "exists",
                                     "comparison_value": "", "weight": 1}]}},
         "changes.profile_rules.add[0].ruleset_id"),
        ({"profile_rules": {"add": [{"ruleset_id": "frs_p", "profile_property": "t", "condition": "gte",
                                     "comparison_value": "many", "weight": 1}]}},
         "changes.profile_rules.add[0].comparison_value"),
        ({"profile_rules": {"update": [{"rule_id": "fr_vp", "condition": "near"}]}},
         "changes.profile_rules.update[0].condition"),
        ({"profile_rules": {"update": [{"rule_id": "fr_big", "weight": 1}]}},
         "changes.profile_rules.update[0].rule_id"),
        ({"account_rules": {"remove": ["fr_vp"]}}, "changes.account_rules.remove[0]"),
        ({"account_rules": {"update": [{"rule_id": "fr_big", "profile_property": "x"}]}},
         "changes.account_rules.update[0].profile_property"),
        ({"account_levels": [{"name": "X", "min_score": 0, "max_score": 10},
                             {"name": "Y", "min_score": 5, "max_score": 20}]}, "changes.account_levels[1].min_score"),
        ({"profile_rules": {"change": []}}, "changes.profile_rules.change"),
    ],
)
def test_bad_fit_drafts_name_the_path(changes: dict[str, Any], field: str) -> None:
    assert error(changes).field == field


def logged(*items: tuple[str, str | None, dict[str, Any]]) -> list[tuple[str, str | None, dict[str, Any]]]:
    return list(items)


def change(**values: Any) -> dict[str, Any]:
    return ProfileChange(set=values).to_metadata()


def test_history_interleaves_mapped_fields_with_profile_changes() -> None:
    mappings = [MappingSpec("m1", "profile", "utm_source", "source"),
                MappingSpec("m2", "profile", "utm_source", "first", "set_once"),
                MappingSpec("m3", "profile", "utm_source", "source", "append")]
    events = logged(
        ("page_view", "web", {"utm_source": "google"}),
        (LEAD_PROFILE_EVENT, "system", change(title="CTO")),
        ("page_view", "web", {"utm_source": "bing"}),
        (LEAD_PROFILE_EVENT, "system", change(source="manual")),  # an edit after the events wins
        ("DECAY", "system", {"utm_source": "ignored"}),
    )
    stored = {"title": "CTO", "source": "manual"}
    result = mapped_history_profile(events, mappings, LEAD_PROFILE_EVENT, stored)
    assert result == {"title": "CTO", "source": "manual", "first": "google", "source_list": ["google", "bing"]}
    # its own result, recorded as one more profile change, folds to itself: a second run changes nothing
    again = [*events, (LEAD_PROFILE_EVENT, "system", change(**{k: v for k, v in result.items() if k != "title"}))]
    assert mapped_history_profile(again, mappings, LEAD_PROFILE_EVENT, result) == result


def test_history_keeps_a_stored_profile_the_log_does_not_explain() -> None:
    mappings = [MappingSpec("m1", "profile", "utm_source", "source")]
    events = logged(("page_view", "web", {"utm_source": "google"}))
    assert mapped_history_profile(events, mappings, LEAD_PROFILE_EVENT, {"legacy": 1}) == {
        "legacy": 1, "source": "google"}
