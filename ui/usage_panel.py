"""The Settings page's usage panel: this month's events, API requests and deliveries, and one bar per day.

Reads through services.tenancy.usage (cached briefly, keyed by the tenant and the month); no SQL here.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from services.context import Tenant
from services.tenancy import usage
from ui.auth import SignedIn
from ui.runtime import get_db, now

TTL = 30


@st.cache_data(ttl=TTL, show_spinner=False)
def usage_of(tenant: Tenant, month: str | None = None) -> dict[str, Any]:
    """The unit's usage in `month` (default: the current UTC month), as GET /v1/usage returns it."""
    with get_db().read() as session:
        return usage.month_usage(session, tenant, month=month, now=now())


def usage_chart(days: list[dict[str, Any]]) -> go.Figure:
    x = [d["day"] for d in days]
    figure = go.Figure()
    for field, label in (("events_ingested", "Events"), ("api_requests", "API requests"),
                         ("deliveries", "Deliveries")):
        figure.add_bar(x=x, y=[d[field] for d in days], name=label)
    figure.update_layout(barmode="group", height=280, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         xaxis_title="Day (UTC)", yaxis_title="Count", legend={"orientation": "h"})
    return figure


def usage_panel(user: SignedIn) -> None:
    """Usage this month for the user's unit: a metrics row and a per-day chart."""
    st.subheader("Usage")
    current = usage_of(user.tenant)
    st.caption(f"This month ({current['month']}, UTC) in this unit. API requests are counted every few seconds; "
               "the same figures are at `GET /v1/usage`.")
    cols = st.columns(5)
    cols[0].metric("Events ingested", f"{current['events_ingested']:,}")
    cols[1].metric("API requests", f"{current['api_requests']:,}")
    cols[2].metric("Deliveries", f"{current['deliveries']:,}")
    cols[3].metric("Leads", f"{current['leads']:,}", f"+{current['leads_created']:,} this month")
    cols[4].metric("Accounts", f"{current['accounts']:,}", f"+{current['accounts_created']:,} this month")
    if current["system_events"]:
        st.caption(f"Besides {current['system_events']:,} score decay adjustments made by Leadvane itself.")
    st.plotly_chart(usage_chart(current["days"]), key="usage_chart")
