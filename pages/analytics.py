"""Analytics: activity over time by type and channel, what people do most, where scores sit, who is rising."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import plotly.express as px
import streamlit as st

from ui import data, nav
from ui.auth import current_user
from ui.components import level_name
from ui.runtime import now

user = current_user()
st.title("Analytics")

today = now().date()
picked = st.date_input("Date range", value=(today - timedelta(days=29), today), max_value=today, key="analytics_range")
first, last = (picked if isinstance(picked, tuple) and len(picked) == 2 else (today - timedelta(days=29), today))
start = datetime.combine(first, time.min, UTC)
end = datetime.combine(last + timedelta(days=1), time.min, UTC)
overview = data.analytics_overview(user.tenant, start, end)

c1, c2, c3 = st.columns(3)
c1.metric("Events", f"{overview['totals']['events']:,}")
c2.metric("Active leads", f"{overview['totals']['active_leads']:,}")
c3.metric("Days", (last - first).days + 1)

left, right = st.columns(2)
with left:
    st.subheader("Events by type")
    if overview["by_type"]:
        st.plotly_chart(px.bar(overview["by_type"], x="day", y="events", color="event_type", height=320),
                        key="events_by_type")
with right:
    st.subheader("Events by channel")
    if overview["by_channel"]:
        st.plotly_chart(px.area(overview["by_channel"], x="day", y="events", color="channel", height=320),
                        key="events_by_channel")

left, right = st.columns(2)
with left:
    st.subheader("Top event types")
    if overview["top_types"]:
        st.plotly_chart(
            px.bar(overview["top_types"], x="events", y="event_type", orientation="h", hover_data=["points"],
                   height=320).update_yaxes(autorange="reversed"),
            key="top_event_types",
        )
with right:
    st.subheader("Score distribution")
    buckets = data.score_distribution(user.tenant)
    if buckets:
        st.plotly_chart(
            px.bar(buckets, x="low", y="leads", height=320, labels={"low": "score from"}), key="score_distribution"
        )

left, right = st.columns(2)
with left:
    st.subheader("Biggest score gains in the period")
    gains = overview["gains"]
    picked_gain = st.dataframe(
        [{"Lead": g["name"], "Email": g["email"], "Points gained": g["gained"], "Events": g["events"]} for g in gains],
        hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="gains_table",
    )
    if picked_gain and picked_gain.selection.rows:
        nav.open_lead(gains[picked_gain.selection.rows[0]]["lead_id"])
with right:
    st.subheader("Top leads now")
    top, _total = data.lead_page(user.tenant, limit=10)
    picked_top = st.dataframe(
        [{"Lead": r["email"] or r["id"], "Score": r["score"], "Level": level_name(r["level"])} for r in top],
        hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="top_leads_table",
    )
    if picked_top and picked_top.selection.rows:
        nav.open_lead(top[picked_top.selection.rows[0]]["id"])
