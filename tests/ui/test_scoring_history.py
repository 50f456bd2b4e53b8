"""The Rules page's History section: the versions newest first, what one changed, and restoring an earlier one
(which persists as a new version with the old rules and recomputed scores); a Viewer cannot restore."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.errors import Forbidden
from services.scoring import rules
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
