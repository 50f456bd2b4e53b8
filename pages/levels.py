"""Engagement levels: named score bands (Cold, Warm, Hot) over the spread of current scores."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from services import levels
from ui import data
from ui.auth import current_user
from ui.components import read_only_notice
from ui.grids import grid_to_levels, levels_to_grid

user = current_user()
st.title("Engagement levels")
read_only_notice(user.can_edit)

current = data.engagement_levels(user.tenant)
buckets = data.score_distribution(user.tenant, bins=40)

figure = go.Figure(
    go.Bar(x=[(b["low"] + b["high"]) / 2 for b in buckets], y=[b["leads"] for b in buckets],
           width=[b["high"] - b["low"] + 1 for b in buckets], name="leads", marker_color="#888")
)
top = max([b["high"] for b in buckets] + [lv["min_score"] for lv in current] + [1])
for lv in current:
    figure.add_vrect(x0=lv["min_score"] - 0.5, x1=min(lv["max_score"], top) + 0.5, opacity=0.12, line_width=0,
                     annotation_text=lv["name"], annotation_position="top left")
figure.update_layout(height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10}, xaxis_title="score",
                     yaxis_title="leads", bargap=0)
st.plotly_chart(figure, key="levels_histogram")

st.subheader("Levels")
st.caption("Each score must fall in exactly one level: no overlaps, no gaps. Max is inclusive.")
edited = st.data_editor(
    levels_to_grid(current),
    key="levels_grid",
    num_rows="dynamic",
    disabled=not user.can_edit,
    hide_index=True,
    width="stretch",
    column_config={
        "id": None,
        "name": st.column_config.TextColumn("Name", required=True),
        "min_score": st.column_config.NumberColumn("Min score", step=1, required=True),
        "max_score": st.column_config.NumberColumn("Max score", step=1, required=True),
    },
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
