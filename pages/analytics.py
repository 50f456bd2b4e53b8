"""Analytics: activity over time by type and channel, what people do most, where scores sit, who is rising.

Event counts come from the daily counters (services.insight.analytics), so the page costs the same over a million
events as over a thousand."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import plotly.express as px
import streamlit as st

from ui import data, nav
from ui.auth import current_user
from ui.components import (
    channel_label,
    event_label,
    legend_below,
    level_cell,
    level_column,
    score_column,
    score_scale,
    text,
)
from ui.runtime import now
from ui.surge_chart import surge_chart

user = current_user()
st.title("Analytics")

today = now().date()
picked = st.date_input("Date range", value=(today - timedelta(days=29), today), max_value=today, key="analytics_range")
first, last = (picked if isinstance(picked, tuple) and len(picked) == 2 else (today - timedelta(days=29), today))
start = datetime.combine(first, time.min, UTC)
end = datetime.combine(last + timedelta(days=1), time.min, UTC)
overview = data.analytics_overview(user.tenant, start, end)
last_24h = data.analytics_stats(user.tenant)["last_24h"]
levels = data.engagement_levels(user.tenant)
GAIN_DAYS = 7

c1, c2, c3 = st.columns(3)
c1.metric("Events", f"{overview['totals']['events']:,}")
c2.metric("Active leads, last 24 h", f"{last_24h['active_leads']:,}", help=f"{last_24h['events']:,} events")
c3.metric("Days", (last - first).days + 1)

if not overview["totals"]["events"]:
    st.info(f"No events between {first} and {last}. Pick a wider date range, or send events to the API "
            "or import a CSV on the Import & export page.")

labels = {"day": "Day", "events": "Events", "event_type": "Event", "channel": "Channel", "points": "Points"}
by_type = [{**r, "event_type": event_label(r["event_type"])} for r in overview["by_type"]]
by_channel = [{**r, "channel": channel_label(r["channel"])} for r in overview["by_channel"]]
top_types = [{**r, "event_type": event_label(r["event_type"])} for r in overview["top_types"]]

left, right = st.columns(2)
with left:
    st.subheader("Events by type")
    if by_type:
        figure = legend_below(px.bar(by_type, x="day", y="events", color="event_type", labels=labels), 420)
        st.plotly_chart(figure.update_xaxes(title=None), key="events_by_type")
with right:
    st.subheader("Events by channel")
    if by_channel:
        figure = legend_below(px.area(by_channel, x="day", y="events", color="channel", labels=labels), 420)
        st.plotly_chart(figure.update_xaxes(title=None), key="events_by_channel")

left, right = st.columns(2)
with left:
    st.subheader("Top event types")
    if top_types:
        figure = px.bar(top_types, x="events", y="event_type", orientation="h", labels=labels)
        figure.update_yaxes(autorange="reversed", automargin=True, title=None)
        figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(figure, key="top_event_types")
with right:
    st.subheader("Score distribution")
    upper = score_scale(levels)
    spread = data.score_histogram(user.tenant, upper, bins=30)
    if spread["buckets"]:
        figure = px.bar(spread["buckets"], x="low", y="leads", labels={"low": "Score (bucket start)", "leads": "Leads"})
        figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        st.plotly_chart(figure, key="score_distribution")
        if spread["above"]:
            st.caption(f"Not drawn: {spread['above']:,} leads at {upper} points or more (up to {spread['max']:,}).")
    else:
        st.caption("No scores yet.")

left, right = st.columns(2)
with left:
    st.subheader(f"Biggest score gains, last {GAIN_DAYS} days")
    gains = data.recent_gains(user.tenant, GAIN_DAYS)
    if gains:
        picked_gain = st.dataframe(
            [{"Lead": g["name"] or g["email"] or g["id"], "Email": text(g["email"]), "Points gained": g["gained"],
              "Events": g["events"]} for g in gains],
            hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="gains_table",
        )
        if picked_gain and picked_gain.selection.rows:
            nav.open_lead(gains[picked_gain.selection.rows[0]]["id"])
    else:
        st.caption(f"Nobody gained points in the last {GAIN_DAYS} days.")
with right:
    st.subheader("Top leads now")
    top = data.top_leads(user.tenant)
    if top:
        picked_top = st.dataframe(
            [{"Lead": r["name"] or r["email"] or r["id"], "Score": r["score"],
              "Level": level_cell({"name": r["level"]} if r["level"] else None)} for r in top],
            hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="top_leads_table",
            column_config={"Score": score_column(levels), "Level": level_column(levels)},
        )
        if picked_top and picked_top.selection.rows:
            nav.open_lead(top[picked_top.selection.rows[0]]["id"])
    else:
        st.caption("No leads yet.")

surge_chart(user.tenant, start, end)
