"""Inorganic filters, event-type settings and the bot switch over the API: CRUD, validation naming the field,
partial updates, quarantined counts, roles, audit, tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from db import models
from tests.api.test_fit_config import error, ok, visit, with_key
from tests.conftest import ApiHarness

BASE = "/v1/filters/inorganic"
BURST = {"event_type": "page_view", "count_threshold": 5, "time_window_ms": 60_000}


def audit_entries(api: ApiHarness) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    with api.db.read() as session:
        return [
            (a, t, i, dict(c or {}))
            for a, t, i, c in session.execute(
                select(models.AuditLog.action, models.AuditLog.entity_type, models.AuditLog.entity_id,
                       models.AuditLog.changes)
                .where(models.AuditLog.unit_id == api.tenant.unit_id)
                .order_by(models.AuditLog.id)
            )
        ]


def test_filter_crud(api: ApiHarness) -> None:
    assert ok(api.get(BASE)) == []
    made = ok(api.post(BASE, BURST), 201)
    assert set(made) == {"filter_id", "event_type", "count_threshold", "time_window_ms", "group_events", "org_id",
                         "created_by", "updated_by", "created_at", "updated_at", "quarantined_count"}
    assert (made["event_type"], made["count_threshold"], made["time_window_ms"], made["group_events"]) == (
        "page_view", 5, 60_000, False)  # group_events defaults to false
    assert made["org_id"] == api.tenant.org_id and made["quarantined_count"] == 0
    assert made["created_by"] and made["created_by"] == made["updated_by"]
    assert made["created_at"].endswith("Z")
    grouped = ok(api.post(BASE, {**BURST, "event_type": "email_open", "group_events": True}), 201)
    assert grouped["group_events"] is True
    assert [f["filter_id"] for f in ok(api.get(BASE))] == [made["filter_id"], grouped["filter_id"]]

    # PUT is partial: what is left out keeps its value
    changed = ok(api.put(f"{BASE}/{made['filter_id']}", {"count_threshold": 10}))
    assert (changed["event_type"], changed["count_threshold"], changed["time_window_ms"]) == ("page_view", 10, 60_000)
    changed = ok(api.put(f"{BASE}/{made['filter_id']}", {"group_events": True, "time_window_ms": 1000}))
    assert (changed["count_threshold"], changed["time_window_ms"], changed["group_events"]) == (10, 1000, True)
    assert ok(api.get(BASE))[0] == changed

    assert api.delete(f"{BASE}/{made['filter_id']}").status_code == 204
    assert [f["filter_id"] for f in ok(api.get(BASE))] == [grouped["filter_id"]]
    assert api.delete(f"{BASE}/{made['filter_id']}").status_code == 404
    assert api.put(f"{BASE}/{made['filter_id']}", {"count_threshold": 3}).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": ""}, "event_type"),
        ({"event_type": "   "}, "event_type"),
        ({"event_type": "x" * 201}, "event_type"),
        ({"event_type": "DECAY"}, "event_type"),
        ({"event_type": "PROFILE_UPDATE"}, "event_type"),
        ({"count_threshold": 1}, "count_threshold"),
        ({"count_threshold": "5"}, "count_threshold"),
        ({"count_threshold": 5.5}, "count_threshold"),
        ({"count_threshold": None}, "count_threshold"),
        ({"time_window_ms": 0}, "time_window_ms"),
        ({"time_window_ms": 86_400_001}, "time_window_ms"),
        ({"time_window_ms": True}, "time_window_ms"),
        ({"group_events": "yes"}, "group_events"),
        ({"threshold": 3}, "threshold"),
    ],
)
def test_invalid_filter_is_422_naming_the_field(api: ApiHarness, change: dict[str, Any], field: str) -> None:
    assert field in error(api.post(BASE, {**BURST, **change}), 422)
    assert ok(api.get(BASE)) == []


def test_bounds_are_accepted(api: ApiHarness) -> None:
    low = ok(api.post(BASE, {**BURST, "count_threshold": 2, "time_window_ms": 1}), 201)
    high = ok(api.post(BASE, {**BURST, "time_window_ms": 86_400_000}), 201)
    assert (low["count_threshold"], low["time_window_ms"], high["time_window_ms"]) == (2, 1, 86_400_000)


def test_invalid_update_is_422_and_changes_nothing(api: ApiHarness) -> None:
    made = ok(api.post(BASE, BURST), 201)
    path = f"{BASE}/{made['filter_id']}"
    assert "count_threshold" in error(api.put(path, {"count_threshold": 1}), 422)
    assert "event_type" in error(api.put(path, {"event_type": "DECAY"}), 422)
    assert "time_window_ms" in error(api.put(path, {"time_window_ms": 0}), 422)
    assert "unit_id" in error(api.put(path, {"unit_id": "u_other"}), 422)
    assert ok(api.get(BASE)) == [made]


def test_quarantined_count_is_per_filter(api: ApiHarness) -> None:
    a = ok(api.post(BASE, {**BURST, "count_threshold": 2}), 201)
    b = ok(api.post(BASE, {**BURST, "event_type": "email_open"}), 201)
    visit(api, "ann@acme.com")
    visit(api, "ann@acme.com")  # two page views by one lead within the minute: a burst of filter a
    visit(api, "bob@acme.com")
    counts = {f["filter_id"]: f["quarantined_count"] for f in ok(api.get(BASE))}
    assert counts == {a["filter_id"]: 2, b["filter_id"]: 0}
    assert ok(api.put(f"{BASE}/{a['filter_id']}", {"count_threshold": 3}))["quarantined_count"] == 0
    assert ok(api.put(f"{BASE}/{a['filter_id']}", {"count_threshold": 2}))["quarantined_count"] == 2


def test_filter_changes_are_audited(api: ApiHarness) -> None:
    made = ok(api.post(BASE, BURST), 201)
    ok(api.put(f"{BASE}/{made['filter_id']}", {"count_threshold": 7}))
    assert api.delete(f"{BASE}/{made['filter_id']}").status_code == 204
    entries = [(a, i, c) for a, t, i, c in audit_entries(api) if t == "inorganic_filter"]
    assert [(a, i) for a, i, _c in entries] == [("create", made["filter_id"]), ("update", made["filter_id"]),
                                                 ("delete", made["filter_id"])]
    assert entries[1][2]["count_threshold"] == {"before": 5, "after": 7}


# --- event-type settings -------------------------------------------------------------------------------------------


def test_event_type_setting_upsert(api: ApiHarness) -> None:
    path = "/v1/settings/event-types/page_view"
    assert ok(api.put(path, {"hidden": True})) == {
        "event_type": "page_view", "hidden": True, "max_processing_scope": "activate"}
    assert ok(api.put(path, {"max_processing_scope": "observe"})) == {
        "event_type": "page_view", "hidden": True, "max_processing_scope": "observe"}  # hidden kept
    assert ok(api.put(path, {"hidden": False, "max_processing_scope": "decide"})) == {
        "event_type": "page_view", "hidden": False, "max_processing_scope": "decide"}
    assert ok(api.put(path, {})) == {"event_type": "page_view", "hidden": False, "max_processing_scope": "decide"}
    spaced = ok(api.put("/v1/settings/event-types/demo%20request", {"hidden": True}))
    assert spaced["event_type"] == "demo request"
    with api.db.read() as session:
        rows = {r.event_type: (r.hidden, r.max_processing_scope) for r in session.scalars(
            select(models.EventTypeSetting).where(models.EventTypeSetting.unit_id == api.tenant.unit_id))}
    assert rows == {"page_view": (False, "decide"), "demo request": (True, "activate")}
    entries = [(a, i, c) for a, t, i, c in audit_entries(api) if t == "event_type_setting"]
    assert [i for _a, i, _c in entries] == ["page_view"] * 3 + ["demo request"]
    assert entries[1][2]["max_processing_scope"] == {"before": "activate", "after": "observe"}


@pytest.mark.parametrize(
    ("event_type", "body", "field"),
    [
        ("page_view", {"max_processing_scope": "everything"}, "max_processing_scope"),
        ("page_view", {"hidden": "yes"}, "hidden"),
        ("page_view", {"visible": True}, "visible"),
        ("DECAY", {"hidden": True}, "event_type"),
        ("ACCOUNT_PROFILE_UPDATE", {"max_processing_scope": "observe"}, "event_type"),
        ("%20", {"hidden": True}, "event_type"),
        ("x" * 201, {"hidden": True}, "event_type"),
    ],
)
def test_invalid_event_type_setting_is_422(api: ApiHarness, event_type: str, body: dict[str, Any],
                                           field: str) -> None:
    assert field in error(api.put(f"/v1/settings/event-types/{event_type}", body), 422)
    with api.db.read() as session:
        assert session.scalars(select(models.EventTypeSetting)
                               .where(models.EventTypeSetting.unit_id == api.tenant.unit_id)).all() == []


# --- the bot switch ------------------------------------------------------------------------------------------------


def test_bot_switch_is_a_scoring_setting(api: ApiHarness) -> None:
    assert ok(api.get("/v1/settings/scoring"))["bot_filter_enabled"] is False
    on = ok(api.put("/v1/settings/scoring", {"bot_filter_enabled": True}))
    assert on["bot_filter_enabled"] is True and on["session_timeout_minutes"] == 30
    assert ok(api.get("/v1/settings/scoring"))["bot_filter_enabled"] is True
    kept = ok(api.put("/v1/settings/scoring", {"abm_enabled": True}))
    assert kept["bot_filter_enabled"] is True  # left out: unchanged
    assert "bot_filter_enabled" in error(api.put("/v1/settings/scoring", {"bot_filter_enabled": "on"}), 422)
    changes = [c for _a, t, _i, c in audit_entries(api) if t == "scoring_settings"]
    assert changes[0]["bot_filter_enabled"] == {"before": False, "after": True}


# --- roles and tenancy ---------------------------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_change(api: ApiHarness) -> None:
    made = ok(api.post(BASE, BURST), 201)
    viewer = with_key(api, "Viewer")
    for method, path, body in (
        ("post", BASE, BURST),
        ("put", f"{BASE}/{made['filter_id']}", {"count_threshold": 3}),
        ("delete", f"{BASE}/{made['filter_id']}", None),
        ("put", "/v1/settings/event-types/page_view", {"hidden": True}),
        ("put", "/v1/settings/scoring", {"bot_filter_enabled": True}),
    ):
        call = getattr(viewer, method)
        resp = call(path, body) if body is not None else call(path)
        assert resp.status_code == 403, (method, path, resp.text)
    assert ok(viewer.get(BASE)) == [made]
    operator = with_key(api, "Operator")
    ok(operator.put(f"{BASE}/{made['filter_id']}", {"count_threshold": 3}))
    ok(operator.put("/v1/settings/event-types/page_view", {"max_processing_scope": "decide"}))


def test_another_unit_reaches_nothing(api: ApiHarness, other_api: ApiHarness) -> None:
    made = ok(api.post(BASE, BURST), 201)
    ok(api.put("/v1/settings/event-types/page_view", {"hidden": True}))
    assert ok(other_api.get(BASE)) == []
    assert other_api.put(f"{BASE}/{made['filter_id']}", {"count_threshold": 3}).status_code == 404
    assert other_api.delete(f"{BASE}/{made['filter_id']}").status_code == 404
    # the other unit's setting of the same type is its own
    assert ok(other_api.put("/v1/settings/event-types/page_view", {}))["hidden"] is False
    assert ok(api.get(BASE)) == [made]
