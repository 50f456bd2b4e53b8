"""What-if drafts of the data-quality parts on plain data: inorganic filters, event-type scopes, the bot switch and
the surge policy applied to a model, each validated as its real endpoint validates it (errors name the path)."""

from __future__ import annotations

from typing import Any

import pytest

from core.model import RulesetSpec, RuleSpec, ScoringModel
from core.quarantine import EventTypeScope, FilterSpec
from core.surge import GENTLE_BANDS, STANDARD_BANDS, SurgeBand
from services.errors import InvalidInput
from services.scoring.simulate import apply_changes
from services.scoring.surge_policy import check_surge_policy


def model() -> ScoringModel:
    return ScoringModel.build(
        rulesets=[RulesetSpec("rs_main", "Main", is_primary=True)],
        rules=[RuleSpec("rl_view", "rs_main", "page_view", 1)],
        filters=[FilterSpec("if_views", "page_view", 5, 60_000)],
        event_type_scopes=[EventTypeScope("email_open", "decide")],
    )


def problem(changes: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        apply_changes(model(), changes)
    return caught.value


def test_filters_are_added_updated_and_removed() -> None:
    draft = apply_changes(model(), {"filters": {
        "add": [{"event_type": "email_open", "count_threshold": 3, "time_window_ms": 1000, "group_events": True}],
        "update": [{"filter_id": "if_views", "count_threshold": 8}],
    }})
    by_type = {f.event_type: f for f in draft.filters}
    assert by_type["page_view"] == FilterSpec("if_views", "page_view", 8, 60_000, False)  # the rest kept
    added = by_type["email_open"]
    assert (added.count_threshold, added.time_window_ms, added.group_events) == (3, 1000, True)
    assert added.id.startswith("if")
    assert draft.rules == model().rules and draft.event_type_scopes == model().event_type_scopes
    assert apply_changes(model(), {"filters": {"remove": ["if_views"]}}).filters == ()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"add": [{"event_type": "x", "count_threshold": 1, "time_window_ms": 10}]},
         "changes.filters.add[0].count_threshold"),
        ({"add": [{"event_type": "DECAY", "count_threshold": 3, "time_window_ms": 10}]},
         "changes.filters.add[0].event_type"),
        ({"add": [{"event_type": "x", "count_threshold": 3, "time_window_ms": 86_400_001}]},
         "changes.filters.add[0].time_window_ms"),
        ({"update": [{"filter_id": "if_views", "group_events": "yes"}]}, "changes.filters.update[0].group_events"),
        ({"update": [{"filter_id": "if_nope", "count_threshold": 3}]}, "changes.filters.update[0].filter_id"),
        ({"remove": ["if_nope"]}, "changes.filters.remove[0]"),
        ({"remove": ["if_views"], "update": [{"filter_id": "if_views", "count_threshold": 3}]},
         "changes.filters.update[0].filter_id"),
        ({"replace": []}, "changes.filters.replace"),
    ],
)
def test_bad_filter_changes_name_the_path(changes: dict[str, Any], field: str) -> None:
    assert problem({"filters": changes}).field == field


def test_event_type_scopes_are_set_and_activate_drops_one() -> None:
    draft = apply_changes(model(), {"event_types": [
        {"event_type": "page_view", "max_processing_scope": "observe"},
        {"event_type": "email_open", "max_processing_scope": "activate"},
    ]})
    assert {(s.id, s.scope) for s in draft.event_type_scopes} == {("page_view", "observe")}
    assert problem({"event_types": [{"event_type": "a", "max_processing_scope": "all"}]}).field == (
        "changes.event_types[0].max_processing_scope")
    assert problem({"event_types": [{"event_type": "a", "max_processing_scope": "observe"},
                                    {"event_type": "a", "max_processing_scope": "decide"}]}).field == (
        "changes.event_types[1].event_type")
    assert problem({"event_types": [{"event_type": "", "max_processing_scope": "observe"}]}).field == (
        "changes.event_types[0].event_type")


def test_the_bot_switch() -> None:
    assert apply_changes(model(), {"bot_filter_enabled": True}).settings.bot_filter_enabled is True
    assert apply_changes(model(), {"bot_filter_enabled": True}).rules == model().rules
    assert problem({"bot_filter_enabled": "on"}).field == "changes.bot_filter_enabled"


def test_the_surge_policy() -> None:
    standard = apply_changes(model(), {"surge_policy": {"mode": "standard"}}).surge
    assert (standard.mode, standard.bands, standard.idle_reset_seconds, standard.multiplier_cap) == (
        "standard", STANDARD_BANDS, 1800, 2.0)
    custom = apply_changes(model(), {"surge_policy": {
        "mode": "custom", "bands": [{"min_events": 4, "multiplier": 2}, {"min_events": 1, "multiplier": 1}],
        "idle_reset_seconds": 600, "multiplier_cap": 1.5}}).surge
    assert custom.bands == (SurgeBand(1, 1.0), SurgeBand(4, 2.0)) and custom.multiplier_cap == 1.5
    assert custom.milli_at(4) == 1500  # capped
    assert problem({"surge_policy": {"mode": "custom"}}).field == "changes.surge_policy.bands"
    assert problem({"surge_policy": {"mode": "wild"}}).field == "changes.surge_policy.mode"
    assert problem({"surge_policy": []}).field == "changes.surge_policy"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "custom", "bands": [{"min_events": 0, "multiplier": 1.5}]}, "bands[0].min_events"),
        ({"mode": "custom", "bands": [{"min_events": 2, "multiplier": 3.5}]}, "bands[0].multiplier"),
        ({"mode": "custom", "bands": [{"min_events": 2, "multiplier": 0.5}]}, "bands[0].multiplier"),
        ({"mode": "custom", "bands": [{"min_events": 2, "multiplier": 1.5}, {"min_events": 2, "multiplier": 2}]},
         "bands[1].min_events"),
        ({"mode": "custom", "bands": [{"min_events": 2, "multiplier": True}]}, "bands[0].multiplier"),
        ({"mode": "gentle", "idle_reset_seconds": 0}, "idle_reset_seconds"),
        ({"mode": "gentle", "multiplier_cap": 3.01}, "multiplier_cap"),
        ({"mode": "gentle", "multiplier_cap": 0.9}, "multiplier_cap"),
        ({"mode": "gentle", "boost": 2}, "boost"),
        ({}, "mode"),
    ],
)
def test_surge_policy_check_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_surge_policy(body)
    assert caught.value.field == field


def test_surge_policy_presets_use_their_bands() -> None:
    assert check_surge_policy({"mode": "gentle", "bands": [{"min_events": 2, "multiplier": 3}]}).bands == GENTLE_BANDS
    off = check_surge_policy({"mode": "off"})
    assert off.mode == "off" and not off.active
