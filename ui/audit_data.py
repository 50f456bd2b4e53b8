"""What the Audit log page reads, through services.tenancy.audit (cached briefly, keyed by tenant and filters)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import streamlit as st

from services.context import Tenant
from services.tenancy import audit
from ui.runtime import get_db

TTL = 10


@st.cache_data(ttl=TTL, show_spinner=False)
def audit_entries(
    tenant: Tenant, *, limit: int = 100, offset: int = 0, search: str | None = None, method: str | None = None,
    status_min: int | None = None, status_max: int | None = None, user_email: str | None = None,
    sort_by: audit.SortBy = "created_at", sort_order: audit.SortOrder = "DESC",
) -> list[dict[str, Any]]:
    with get_db().read() as session:
        entries = audit.list_entries(
            session, tenant, limit=limit, offset=offset, search=search, method=method, status_min=status_min,
            status_max=status_max, user_email=user_email, sort_by=sort_by, sort_order=sort_order,
        )
    return [asdict(e) for e in entries]
