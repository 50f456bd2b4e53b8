"""Engagement levels: named score bands (Cold, Warm, Hot) drawn over the spread of current scores."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from services.scoring import levels
from ui import data
from ui.auth import current_user
from ui.components import level_grid_columns, level_hex, read_only_notice, score_scale
from ui.grids import grid_to_levels, levels_to_grid

user = current_user()
st.title("Engagement levels")
read_only_notice(user.can_edit)

current = data.engagement_levels(user.tenant)
upper = score_scale(current)
spread = data.score_histogram(user.tenant, upper, bins=40)
buckets, above = spread["buckets"], spread["above"]

if buckets:
    figure = go.Figure()
    for lv in current:  # each band in its badge colour, named at the top
        x1 = min(lv["max_score"], upper - 1) + 0.5
        if lv["min_score"] < upper:
            figure.add_vrect(x0=lv["min_score"] - 0.5, x1=x1, fillcolor=level_hex(lv["name"], current), opacity=0.15,
                             line_width=0, annotation_text=f"<b>{lv['name']}</b>", annotation_position="top left")
    figure.add_bar(x=[(b["low"] + b["high"]) / 2 for b in buckets], y=[b["leads"] for b in buckets],
                   width=[b["high"] - b["low"] + 1 for b in buckets], name="leads", marker_color="#555",
                   hovertemplate="scores %{customdata}: %{y} leads<extra></extra>",
                   customdata=[f"{b['low']} to {b['high']}" for b in buckets])
    if above:
        width = buckets[0]["high"] - buckets[0]["low"] + 1
        figure.add_bar(x=[upper + width / 2], y=[above], width=[width], name=f"{upper}+", marker_color="#999",
                       hovertemplate=f"scores {upper} and above: %{{y}} leads<extra></extra>")
        figure.add_annotation(x=upper + width / 2, y=above, text=f"{upper}+", showarrow=False, yshift=10)
    figure.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10}, xaxis_title="Score",
                         yaxis_title="Leads", bargap=0, showlegend=False)
    st.plotly_chart(figure, key="levels_histogram")
    if above:
        st.caption(f"{above:,} leads score {upper} or more (up to {spread['max']:,}); they are counted in the last "
                   "bar so the bands stay readable.")
else:
    st.info("No lead has a score yet: the chart fills in as events arrive and match rules.")

st.subheader("Levels")
if not current:
    st.info("No levels yet. Add rows below, for example Cold 0 to 29, Warm 30 to 79 and Hot 80 to 100000, then save.")
st.caption(
    "Each score must fall in exactly one level: no overlaps, no gaps. Max is inclusive. Saving publishes a new "
    "scoring version at once (scores do not move, only their level names); to preview level changes together with "
    "rule changes first, edit them in the Rules page's draft."
)
edited = st.data_editor(
    levels_to_grid(current),
    key="levels_grid",
    num_rows="dynamic",
    disabled=not user.can_edit,
    hide_index=True,
    width="stretch",
    column_config=level_grid_columns(),
)


problems = st.container()
save_clicked = st.button("Save levels", type="primary", disabled=not user.can_edit, key="save_levels")
if save_clicked and data.save(
    user, lambda s, t, now: levels.replace_all(s, t, grid_to_levels(edited), now), where=problems
):
    st.session_state.pop("levels_grid", None)
    st.session_state["levels_saved"] = "Levels saved."
    st.rerun()
if st.session_state.get("levels_saved"):
    st.success(st.session_state.pop("levels_saved"))
