"""The Rules page's History section: the versions newest first, what one changed, and restoring an earlier one
(which persists as a new version with the old rules and recomputed scores); a Viewer cannot restore."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.errors import Forbidden
from services.scoring import filters, rules, surge_policy
from services.scoring.rescore import verify_unit
from services.scoring.versions import list_versions, rollback
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts
from ui.scoring_history import change_rows


def _primary_rules(unit: DemoUnit) -> list[tuple[str, str, int]]:
    with unit.db.read() as session:
        primary = next(rs for rs in rules.list_rulesets(session, unit.tenant) if rs.is_primary)
        return sorted((r.id, r.event_type, r.weight) for r in rules.list_rules(session, unit.tenant, primary.id))


def _change_a_weight(unit: DemoUnit) -> tuple[str, str, int]:
    """Double the first primary rule's weight (as the unit's Owner); returns the rule as it was."""
    rule_id, event_type, weight = _primary_rules(unit)[0]
    with unit.db.write() as session:
        conditions = rules.get_rule(session, unit.tenant, rule_id).conditions
        rules.update_rule(session, unit.owner.tenant, rule_id,
                          {"event_type": event_type, "weight": weight * 2, "conditions": conditions},
                          now=datetime.now(UTC))
    return rule_id, event_type, weight


def _versions(unit: DemoUnit) -> list[tuple[int, str, bool]]:
    with unit.db.read() as session:
        return [(v.version, v.summary, v.live) for v in list_versions(session, unit.tenant)]


def test_history_lists_versions_newest_first_and_shows_a_versions_changes(unit: DemoUnit) -> None:
    _, event_type, weight = _change_a_weight(unit)
    stored = _versions(unit)
    at = open_page("rules", unit.owner)
    assert not at.exception
    assert "History" in texts(at)
    table = frame_with(at, "Summary")
    assert list(table["Version"]) == [v for v, _, _ in stored] == sorted(table["Version"], reverse=True)
    assert list(table["Summary"]) == [s for _, s, _ in stored]
    assert list(table["Live"]) == ["● live"] + [""] * (len(stored) - 1)
    # The newest version (shown first) changed one weight.
    changes = frame_with(at, "Field")
    assert changes.to_dict("records") == [
        {"What": "Rule", "Name": event_type, "Change": "changed", "Field": "Weight", "Before": str(weight),
         "After": str(weight * 2)}
    ]
    assert "This is the version published now." in texts(at)


def test_restoring_a_version_persists_its_rules_and_scores(unit: DemoUnit) -> None:
    before = _primary_rules(unit)
    _change_a_weight(unit)
    assert _primary_rules(unit) != before
    previous = _versions(unit)[1][0]
    at = open_page("rules", unit.owner)
    at.selectbox(key="history_version").set_value(previous).run()
    assert at.button(key="history_restore").disabled  # not before confirming
    at.checkbox(key="history_restore_sure").check().run()
    at.button(key="history_restore").click().run()
    assert not at.exception
    assert f"Restored version {previous} as version {previous + 2}" in texts(at)
    assert _primary_rules(unit) == before
    newest = _versions(unit)[0]
    assert newest == (previous + 2, f"rollback to version {previous}", True)
    with unit.db.read() as session:
        assert verify_unit(session, unit.tenant) == []
    assert frame_with(at, "Summary")["Version"].iloc[0] == previous + 2


def test_a_viewer_sees_the_history_but_cannot_restore(unit: DemoUnit) -> None:
    before = _primary_rules(unit)
    _change_a_weight(unit)
    stored = _versions(unit)
    at = open_page("rules", unit.viewer)
    assert not at.exception
    assert len(frame_with(at, "Summary")) == len(stored)
    at.selectbox(key="history_version").set_value(stored[1][0]).run()
    assert at.checkbox(key="history_restore_sure").disabled
    assert at.button(key="history_restore").disabled
    assert _versions(unit) == stored and _primary_rules(unit) != before
    with pytest.raises(Forbidden), unit.db.write() as session:  # and the service refuses a Viewer anyway
        rollback(session, unit.viewer.tenant, stored[1][0], datetime.now(UTC))
    assert _versions(unit) == stored


def test_history_shows_a_surge_policy_change_and_a_filter_added(unit: DemoUnit) -> None:
    """Versions that change no rule (the surge policy, an inorganic filter) show what they changed too."""
    with unit.db.write() as session:
        surge_policy.set_surge_policy(session, unit.owner.tenant, {"mode": "gentle"}, datetime.now(UTC))
    surge_version = _versions(unit)[0][0]
    with unit.db.write() as session:
        filters.create_filter(session, unit.owner.tenant, now=datetime.now(UTC), fields={
            "event_type": "page_view", "count_threshold": 5, "time_window_ms": 60_000, "group_events": True,
        })
    at = open_page("rules", unit.owner)
    assert not at.exception
    assert frame_with(at, "Field").to_dict("records") == [
        {"What": "Inorganic filter", "Name": "page_view", "Change": "added", "Field": "—", "Before": "—",
         "After": "5 within 60000 ms, counted as one"},
    ]
    at.selectbox(key="history_version").set_value(surge_version).run()
    assert not at.exception
    assert "This version changed nothing that shows here." not in texts(at)
    assert frame_with(at, "Field").to_dict("records") == [
        {"What": "Surge policy", "Name": "Mode", "Change": "changed", "Field": "Mode", "Before": "off",
         "After": "gentle"},
        {"What": "Surge policy", "Name": "Bands", "Change": "changed", "Field": "Bands",
         "Before": "1.25x from the 3rd event, 1.5x from the 5th event",
         "After": "1.1x from the 3rd event, 1.2x from the 5th event"},
    ]


def test_change_rows_show_every_part_of_a_diff() -> None:
    """Fit parts, mappings, event-type scopes, the bot switch, and a part the renderer has never heard of."""
    diff = {
        "version": 7, "against": 6,
        "mappings": {"added": [{"id": "m1", "kind": "profile", "source_field": "utm_source", "property": "source",
                                "update_behavior": "always_latest"}], "removed": [], "changed": []},
        "fit_rules": {"added": [], "removed": [], "changed": [
            {"rule_id": "f1", "name": "title contains vp", "changes": {"weight": {"before": 20, "after": 35}}},
        ]},
        "fit_levels": {"added": [], "removed": [{"id": "a", "kind": "profile", "name": "A", "min_score": 50,
                                                 "max_score": 100}], "changed": []},
        "event_type_scopes": {"added": [{"id": "webinar", "scope": "observe"}], "removed": [], "changed": []},
        "settings": {"bot_filter_enabled": {"before": False, "after": True}},
        "new_part": {"added": [{"id": "x", "size": 3}], "removed": [], "changed": []},
    }
    assert [tuple(r.values()) for r in change_rows(diff)] == [
        ("Field mapping", "utm_source → profile source", "added", "—", "—", "update always_latest"),
        ("Fit rule", "title contains vp", "changed", "Weight", "20", "35"),
        ("Fit level", "A", "removed", "—", "scores 50 to 100", "—"),
        ("Event type", "webinar", "added", "—", "—", "scope observe"),
        ("Setting", "Bot filter enabled", "changed", "Bot filter enabled", "no", "yes"),
        ("New part", "x", "added", "—", "—", "size 3"),
    ]


def test_change_rows_read_as_a_table() -> None:
    diff = {
        "rules": {
            "added": [{"id": "r1", "event_type": "webinar", "weight": 8, "active": True,
                       "conditions": [{"property": "plan", "operator": "equals", "value": "pro"}]}],
            "removed": [{"id": "r2", "event_type": "page_view", "weight": 5, "active": False, "conditions": []}],
            "changed": [{"rule_id": "r3", "name": "signup", "changes": {"active": {"before": True, "after": False}}}],
        },
        "levels": {"added": [{"id": "l1", "name": "Hot", "min_score": 50, "max_score": 1000}], "removed": [],
                   "changed": []},
        "settings": {"allow_negative_scores": {"before": False, "after": True}},
    }
    assert [tuple(r.values()) for r in change_rows(diff)] == [
        ("Rule", "webinar", "added", "—", "—", "weight 8, if plan = pro"),
        ("Rule", "page_view", "removed", "—", "weight 5, inactive", "—"),
        ("Rule", "signup", "changed", "Active", "yes", "no"),
        ("Level", "Hot", "added", "—", "—", "scores 50 to 1000"),
        ("Setting", "Allow negative scores", "changed", "Allow negative scores", "no", "yes"),
    ]


def test_restoring_a_version_without_the_ruleset_on_screen(unit: DemoUnit) -> None:
    before = _versions(unit)[0][0]
    with unit.db.write() as session:
        extra = rules.create_ruleset(session, unit.owner.tenant, name="Temporary", now=datetime.now(UTC))
    at = open_page("rules", unit.owner, ruleset=extra.id)
    assert at.selectbox(key="ruleset").value == extra.id
    at.selectbox(key="history_version").set_value(before).run()
    at.checkbox(key="history_restore_sure").check().run()
    at.button(key="history_restore").click().run()
    assert not at.exception
    with unit.db.read() as session:
        assert [rs.name for rs in rules.list_rulesets(session, unit.tenant)] == ["Engagement"]
    assert at.selectbox(key="ruleset").value != extra.id
    assert f"Restored version {before}" in texts(at)
