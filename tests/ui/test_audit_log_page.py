"""The Audit log page in AppTest: an Owner sees the unit's changes and filters them; a Viewer is told no."""

from __future__ import annotations

from datetime import UTC, datetime

from services.scoring.rules import create_rule
from services.tenancy import audit
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts


def test_owner_sees_changes_and_requests_and_can_filter(unit: DemoUnit) -> None:
    now = datetime.now(UTC)
    with unit.db.write() as session:
        create_rule(session, unit.owner.tenant, {"event_type": "audited_event", "weight": 3}, now=now)
        audit.write_requests(session, [audit.RequestEntry(
            unit.tenant.org_id, unit.tenant.unit_id, "ci-key", "DELETE", "/v1/rules/rule_x", 404, "req_x",
            "10.0.0.9", 4, now,
        )])
    at = open_page("audit_log", unit.owner)
    assert not at.exception
    table = frame_with(at, "Who")
    assert unit.owner.email in set(table["Who"])  # the Owner's rule change names them
    assert "audited_event" in " ".join(table["Changes"])
    assert "/v1/rules/rule_x" in set(table["What"])

    at.selectbox(key="audit_method").set_value("DELETE").run()
    table = frame_with(at, "Who")
    assert list(table["Method"]) == ["DELETE"] and list(table["Status"]) == [404]

    at.selectbox(key="audit_method").set_value("Any")
    at.text_input(key="audit_search").input("nothing-matches-this").run()
    assert "No audit entry matches" in texts(at)


def test_another_units_entries_are_not_shown(unit: DemoUnit) -> None:
    from services.tenancy.tenants import create_unit

    now = datetime.now(UTC)
    with unit.db.write() as session:
        other = create_unit(session, org_name="Elsewhere", unit_name="x", now=now)
        audit.write_requests(session, [audit.RequestEntry(
            other.org_id, other.unit_id, "other-key", "POST", "/v1/secret-elsewhere", 201, None, None, 1, now,
        )])
    at = open_page("audit_log", unit.owner)
    assert "/v1/secret-elsewhere" not in set(frame_with(at, "Who")["What"])


def test_a_viewer_is_told_only_owners_and_operators_can_read_it(unit: DemoUnit) -> None:
    at = open_page("audit_log", unit.viewer)
    assert not at.exception
    assert "Only an Owner or an Operator" in texts(at)
    assert not at.dataframe
