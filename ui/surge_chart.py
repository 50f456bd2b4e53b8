"""The surge chart: a unit's boosted events over time (services.insight.surge), for the Analytics page.

`surge_chart(tenant, start, end)` draws the figures of [start, end): totals, boosted events per interval (hours for
a range up to two days, days beyond) and the peak. Nothing is drawn while the unit has no surge activity in the
range; a caption says how to turn surge scoring on instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import plotly.express as px
import streamlit as st

from services.context import Tenant
from services.insight import surge
from ui.runtime import get_db

TTL = 30


def interval_for(start: datetime, end: datetime) -> str:
    """Hours for a range up to two days, days beyond (a few hundred buckets at most for a year)."""
    return "1h" if end - start <= timedelta(days=2) else "1d"


@st.cache_data(ttl=TTL, show_spinner=False)
def surge_figures(tenant: Tenant, start: datetime, end: datetime, interval: str) -> dict[str, Any]:
    with get_db().read() as session:
        return surge.surge_metrics(session, tenant, tenant.unit_id, start=start, end=end, interval=interval)


def surge_chart(tenant: Tenant, start: datetime, end: datetime) -> None:
    st.subheader("Surges")
    interval = interval_for(start, end)
    if surge.bucket_count(start, end, interval) > surge.MAX_BUCKETS:
        st.caption(f"Pick a range of at most {surge.MAX_BUCKETS:,} days to see surges.")
        return
    figures = surge_figures(tenant, start, end, interval)
    totals = figures["totals"]
    if not totals["boosted_events"] and not totals["surge_events"]:
        st.caption("No surges in this range. A lead surges when its events come close together and the unit's "
                   "surge policy (Settings → Surge) boosts them; surge triggers (Triggers → Surge) announce it.")
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Boosted events", f"{totals['boosted_events']:,}")
    c2.metric("Surging leads", f"{totals['leads']:,}")
    c3.metric("Points from surges", f"{totals['boost_points']:,}")
    c4.metric("Surge alerts", f"{totals['surge_events']:,}", help="Surge trigger firings in the range")
    per = "hour" if interval == "1h" else "day"
    labels = {"at": "Time (UTC)", "count": f"Boosted events per {per}"}
    figure = px.bar(figures["series"], x="at", y="count", labels=labels)
    figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(figure.update_xaxes(title=None), key="surge_series")
    peak = figures["peak"]
    if peak["at"] is not None:
        st.caption(f"Peak: {peak['count']:,} boosted events in the {per} from {peak['at']:%Y-%m-%d %H:%M} UTC.")
