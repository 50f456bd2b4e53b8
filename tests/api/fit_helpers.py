"""Test helpers for fit and accounts: fit rulesets, rules and levels written straight to the tables and published
(the fit CRUD API is tested on its own), keys of other roles, events through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from db import models
from db.ids import new_id
from services.scoring.model import begin_change
from services.scoring.publish import publish
from services.tenancy import api_keys
from tests.conftest import ApiHarness

AT = datetime(2026, 1, 1, tzinfo=UTC)


def add_fit(
    api: ApiHarness,
    kind: str,
    rules: list[tuple[str, str, str, int]],
    levels: list[tuple[str, int, int]] = (),  # type: ignore[assignment]
) -> tuple[str, list[str]]:
    """A primary fit ruleset of `kind` with rules (property, condition, comparison_value, weight) and fit levels
    (name, min, max), published; returns (ruleset id, rule ids)."""
    t = api.tenant
    ruleset_id, rule_ids = new_id("frs"), []
    with api.db.write() as session:
        begin_change(session, t, AT)
        session.add(models.FitRuleset(id=ruleset_id, org_id=t.org_id, unit_id=t.unit_id, kind=kind, name=f"{kind} fit",
                                      enabled=True, is_primary=True, created_at=AT, updated_at=AT))
        session.flush()
        for order, (prop, condition, value, weight) in enumerate(rules):
            rule_id = new_id("frule")
            rule_ids.append(rule_id)
            session.add(models.FitRule(id=rule_id, org_id=t.org_id, unit_id=t.unit_id, ruleset_id=ruleset_id,
                                       property=prop, condition=condition, comparison_value=value, weight=weight,
                                       ui_order=order, created_at=AT, updated_at=AT))
        for name, low, high in levels:
            session.add(models.FitLevel(id=new_id("flvl"), org_id=t.org_id, unit_id=t.unit_id, kind=kind, name=name,
                                        min_score=low, max_score=high, created_at=AT, updated_at=AT))
        session.flush()
        publish(session, t, now=AT)
    return ruleset_id, rule_ids


def with_role(api: ApiHarness, role: str) -> ApiHarness:
    with api.db.write() as session:
        secret = api_keys.create_api_key(session, api.tenant, name=f"{role} key", role=role,
                                         now=datetime.now(UTC)).secret
    return ApiHarness(api.client, api.tenant, secret, api.db)


def send(api: ApiHarness, email: str, event_type: str = "page_view", **body: Any) -> dict[str, Any]:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                   "event_type": event_type, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def audit_rows(api: ApiHarness, entity_type: str) -> list[models.AuditLog]:
    with api.db.read() as session:
        return list(session.scalars(
            select(models.AuditLog)
            .where(models.AuditLog.unit_id == api.tenant.unit_id, models.AuditLog.entity_type == entity_type)
            .order_by(models.AuditLog.id)
        ).all())
