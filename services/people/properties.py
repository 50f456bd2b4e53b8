"""The property keys seen on a unit's leads (profile) and accounts: what fit rules and segments can test."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.context import Tenant
from services.people.owner_scores import require_abm

_TABLES = {"profile": "leads", "account": "accounts"}


def _distinct_keys(session: Session, tenant: Tenant, table: str) -> list[str]:
    """The distinct top-level keys of `table`'s metadata objects in this unit, sorted."""
    if session.get_bind().dialect.name == "postgresql":
        sql = (
            f"SELECT DISTINCT k FROM {table}, jsonb_object_keys("
            f"CASE WHEN jsonb_typeof(metadata) = 'object' THEN metadata ELSE '{{}}'::jsonb END) AS k "
            "WHERE unit_id = :unit"
        )
    else:
        sql = (
            f"SELECT DISTINCT j.key FROM {table}, json_each({table}.metadata) AS j "
            f"WHERE {table}.unit_id = :unit AND json_type({table}.metadata) = 'object'"
        )
    return sorted(str(k) for (k,) in session.execute(text(sql), {"unit": tenant.unit_id}))


def profile_properties(session: Session, tenant: Tenant) -> list[str]:
    """Keys seen in the unit's lead metadata (their profiles)."""
    return _distinct_keys(session, tenant, _TABLES["profile"])


def account_properties(session: Session, tenant: Tenant) -> list[str]:
    """Keys seen in the unit's account metadata (403 `abm_disabled` while the unit's ABM switch is off)."""
    require_abm(session, tenant)
    return _distinct_keys(session, tenant, _TABLES["account"])
