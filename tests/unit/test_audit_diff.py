"""The audit diff on plain data: only changed fields, JSON-safe values, secrets and bookkeeping left out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.tenancy.audit import diff, snapshot


def test_diff_keeps_only_changed_fields() -> None:
    before = {"name": "Hot", "weight": 10, "active": True}
    after = {"name": "Hot", "weight": 25, "active": False}
    assert diff(before, after) == {
        "active": {"before": True, "after": False},
        "weight": {"before": 10, "after": 25},
    }


def test_create_and_delete_show_every_field_on_one_side() -> None:
    row = {"name": "Hot", "weight": 10}
    assert diff(None, row) == {"name": {"before": None, "after": "Hot"}, "weight": {"before": None, "after": 10}}
    assert diff(row, None) == {"name": {"before": "Hot", "after": None}, "weight": {"before": 10, "after": None}}


def test_unchanged_snapshot_is_an_empty_diff() -> None:
    row = {"conditions": [{"property": "url", "operator": "contains", "value": "/pricing"}]}
    assert diff(row, dict(row)) == {}


def test_values_are_json_safe() -> None:
    at = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    changed = diff({"start_at": None}, {"start_at": at, "tags": ("a", "b")})
    assert changed["start_at"]["after"] == "2026-11-02T12:00:00+00:00"
    assert changed["tags"]["after"] == ["a", "b"]
    json.dumps(changed)


def test_snapshot_leaves_out_secrets_and_bookkeeping() -> None:
    fields = snapshot(
        {"name": "ci", "key_hash": "abc", "password_hash": "x", "secret": "s", "unit_id": "u", "updated_at": 1,
         "role": "Owner"}
    )
    assert fields == {"name": "ci", "role": "Owner"}
