"""The unit's surge (session) policy over the API: the defaults a unit without one reads (Standard values, off),
upserts of the presets and of custom bands, validation naming the field, roles, the audit entry, tenancy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from services.tenancy import api_keys
from tests.api.test_fit_config import ok
from tests.api.test_surge_triggers import refused
from tests.conftest import ApiHarness

PATH = "/v1/settings/ou/surge-policy"
STANDARD = [{"min_events": 1, "multiplier": 1.0}, {"min_events": 3, "multiplier": 1.25},
            {"min_events": 5, "multiplier": 1.5}]
GENTLE = [{"min_events": 1, "multiplier": 1.0}, {"min_events": 3, "multiplier": 1.1},
          {"min_events": 5, "multiplier": 1.2}]


def with_role(api: ApiHarness, role: str) -> ApiHarness:
    with api.db.write() as session:
        secret = api_keys.create_api_key(session, api.tenant, name=f"{role} key", role=role,
                                         now=datetime.now(UTC)).secret
    return ApiHarness(api.client, api.tenant, secret, api.db)


def test_a_unit_without_a_policy_reads_the_standard_values_switched_off(api: ApiHarness) -> None:
    assert ok(api.get(PATH)) == {
        "org_id": api.tenant.org_id, "unit_id": api.tenant.unit_id, "mode": "off", "bands": STANDARD,
        "idle_reset_seconds": 1800, "multiplier_cap": 2.0,
    }


@pytest.mark.parametrize(("mode", "bands"), [("standard", STANDARD), ("gentle", GENTLE)])
def test_a_preset_stores_its_own_bands_whatever_was_sent(api: ApiHarness, mode: str, bands: list[Any]) -> None:
    sent = {"mode": mode, "bands": [{"min_events": 2, "multiplier": 3}], "idle_reset_seconds": 600,
            "multiplier_cap": 1.4}
    saved = ok(api.put(PATH, sent))
    assert saved["mode"] == mode and saved["bands"] == bands
    assert saved["idle_reset_seconds"] == 600 and saved["multiplier_cap"] == 1.4
    assert ok(api.get(PATH)) == saved


def test_custom_bands_are_stored_sorted_and_audited(api: ApiHarness) -> None:
    body = {"mode": "custom", "bands": [{"min_events": 4, "multiplier": 2}, {"min_events": 2, "multiplier": 1.5}],
            "multiplier_cap": 3}
    saved = ok(api.put(PATH, body))
    assert saved["bands"] == [{"min_events": 2, "multiplier": 1.5}, {"min_events": 4, "multiplier": 2.0}]
    assert saved["idle_reset_seconds"] == 1800 and saved["multiplier_cap"] == 3.0
    ok(api.put(PATH, {**body, "mode": "off"}))
    with api.db.read() as session:
        entries = session.scalars(
            select(models.AuditLog).where(models.AuditLog.unit_id == api.tenant.unit_id,
                                          models.AuditLog.entity_type == "surge_policy")
            .order_by(models.AuditLog.id)
        ).all()
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].changes["mode"] == {"before": "custom", "after": "off"}


@pytest.mark.parametrize(("body", "field"), [
    ({}, "mode"),
    ({"mode": "fast"}, "mode"),
    ({"mode": "custom"}, "bands"),
    ({"mode": "custom", "bands": []}, "bands"),
    ({"mode": "custom", "bands": [{"min_events": 2, "multiplier": 1.5}, {"min_events": 2, "multiplier": 2}]},
     "bands[1].min_events"),
    ({"mode": "custom", "bands": [{"min_events": 0, "multiplier": 1.5}]}, "min_events"),
    ({"mode": "custom", "bands": [{"min_events": 2, "multiplier": 0.5}]}, "multiplier"),
    ({"mode": "custom", "bands": [{"min_events": 2, "multiplier": 3.5}]}, "multiplier"),
    ({"mode": "standard", "idle_reset_seconds": 0}, "idle_reset_seconds"),
    ({"mode": "standard", "idle_reset_seconds": "60"}, "idle_reset_seconds"),
    ({"mode": "standard", "multiplier_cap": 0.9}, "multiplier_cap"),
    ({"mode": "standard", "multiplier_cap": 3.01}, "multiplier_cap"),
    ({"mode": "standard", "extra": 1}, "extra"),
])
def test_bad_policies_are_422_naming_the_field_and_change_nothing(
    api: ApiHarness, body: dict[str, Any], field: str
) -> None:
    refused(api.put(PATH, body), field)
    assert ok(api.get(PATH))["mode"] == "off"


def test_the_service_check_names_a_duplicate_band() -> None:
    from services.errors import InvalidInput
    from services.scoring.surge_policy import check_surge_policy

    spec = check_surge_policy({"mode": "custom", "bands": [{"min_events": 3, "multiplier": 1.5}]})
    assert spec.mode == "custom" and spec.active and spec.milli_at(3) == 1500 and spec.milli_at(2) == 1000
    with pytest.raises(InvalidInput) as raised:
        check_surge_policy({"mode": "custom", "bands": [{"min_events": 3, "multiplier": 1.5},
                                                        {"min_events": 3, "multiplier": 2}]})
    assert raised.value.field == "bands[1].min_events"


def test_a_viewer_reads_the_policy_and_may_not_change_it(api: ApiHarness) -> None:
    viewer = with_role(api, "Viewer")
    assert ok(viewer.get(PATH))["mode"] == "off"
    assert viewer.put(PATH, {"mode": "standard"}).status_code == 403
    assert ok(api.get(PATH))["mode"] == "off"


def test_units_do_not_share_policies(api: ApiHarness, other_api: ApiHarness) -> None:
    ok(api.put(PATH, {"mode": "gentle"}))
    theirs = ok(other_api.get(PATH))
    assert theirs["mode"] == "off" and theirs["unit_id"] == other_api.tenant.unit_id
