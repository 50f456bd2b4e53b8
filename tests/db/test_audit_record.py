"""services.tenancy.audit.record on a real database: one row in the caller's transaction, scoped to the unit."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from sqlalchemy import select

from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import Forbidden
from services.tenancy import audit


def _rows(db: Database, tenant: Tenant) -> list[models.AuditLog]:
    with db.read() as session:
        return list(session.scalars(select(models.AuditLog).where(models.AuditLog.unit_id == tenant.unit_id)))


def test_record_writes_one_row_with_actor_entity_diff_and_request_id(
    db: Database, tenant: Tenant, now: datetime
) -> None:
    actor = dataclasses.replace(tenant, actor="ana@example.com")
    audit.set_request_id("req_abc")
    try:
        with db.write() as session:
            audit.record(
                session, actor, action="update", entity_type="rule", entity_id="rule_1",
                before={"weight": 10, "name": "a"}, after={"weight": 20, "name": "a"}, now=now,
            )
    finally:
        audit.set_request_id(None)
    [row] = _rows(db, tenant)
    assert (row.org_id, row.user_email, row.action, row.entity_type, row.entity_id) == (
        tenant.org_id, "ana@example.com", "update", "rule", "rule_1"
    )
    assert row.changes == {"weight": {"before": 10, "after": 20}}
    assert row.request_id == "req_abc"
    assert row.created_at == now


def test_record_rolls_back_with_the_callers_transaction(db: Database, tenant: Tenant, now: datetime) -> None:
    with pytest.raises(RuntimeError), db.write() as session:
        audit.record(session, tenant, action="delete", entity_type="rule", entity_id="r", before={"a": 1},
                     after=None, now=now)
        raise RuntimeError("the change failed")
    assert _rows(db, tenant) == []


def test_list_entries_is_unit_scoped_filtered_and_role_checked(db: Database, tenant: Tenant, now: datetime) -> None:
    from services.tenancy.tenants import create_unit

    with db.write() as session:
        other = create_unit(session, org_name="Other", unit_name="other", now=now)
        audit.record(session, other, action="create", entity_type="level", entity_id="lv", before=None,
                     after={"name": "x"}, now=now)
        audit.write_requests(session, [
            audit.RequestEntry(tenant.org_id, tenant.unit_id, "ci", "POST", "/v1/rules", 201, "req_1", "1.2.3.4",
                               5, now),
            audit.RequestEntry(tenant.org_id, tenant.unit_id, "ci", "DELETE", "/v1/rules/r", 404, "req_2", None,
                               3, now),
        ])
    with db.read() as session:
        assert [e.path for e in audit.list_entries(session, tenant, sort_by="path", sort_order="ASC")] == [
            "/v1/rules", "/v1/rules/r"
        ]
        assert [e.status for e in audit.list_entries(session, tenant, status_min=400)] == [404]
        assert [e.method for e in audit.list_entries(session, tenant, method="post")] == ["POST"]
        assert [e.ip for e in audit.list_entries(session, tenant, search="1.2.3")] == ["1.2.3.4"]
        assert audit.list_entries(session, tenant, user_email="nobody") == []
        assert [e.entity_id for e in audit.list_entries(session, other)] == ["lv"]
        with pytest.raises(Forbidden):
            audit.list_entries(session, dataclasses.replace(tenant, role="Viewer"))
