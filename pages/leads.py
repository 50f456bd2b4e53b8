"""Leads: who is hot right now and why, and how well they fit. Live activity and filters on top, the ranked table
(engagement and fit side by side, with the combined grade A1..), click a row to open the lead."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from ui import data, fit, nav, segments
from ui.auth import current_user
from ui.components import (
    ago,
    current_page,
    event_label,
    level_cell,
    level_column,
    pager,
    person_name,
    score_column,
    text,
)
from ui.live import live_panel
from ui.runtime import now

SORTS = {"score": "Score", "last_activity": "Last activity", "created": "Newest"}

user = current_user()
st.title("Leads")
with st.container(border=True):
    live_panel(user.tenant)  # what just happened, refreshed every few seconds (the live stream's messages)

level_rows = data.engagement_levels(user.tenant)
levels = [lv["name"] for lv in level_rows]
fit_level_rows = fit.fit_levels(user.tenant, "profile")
with st.container(border=True):
    c1, c2, c3, c4, c0 = st.columns([2, 1, 1, 1, 1])
    q = c1.text_input("Search email, name or domain", key="leads_q")
    segment_names = {s["segment_id"]: s["name"] for s in segments.segment_list(user.tenant)}
    segment_id = c0.selectbox("Segment", ["Any", *segment_names], key="leads_segment",
                              format_func=lambda v: segment_names.get(v, v), disabled=not segment_names,
                              help="Segments are built on the Segments page." if not segment_names else None)
    level = c2.selectbox("Level", ["Any", *levels], key="leads_level")
    active = c3.selectbox("Last active", ["Any time", "24 hours", "7 days", "30 days"], key="leads_active")
    event_type = c4.selectbox(
        "Did event", ["Any", *data.observed_event_types(user.tenant)], key="leads_event",
        format_func=lambda v: v if v == "Any" else event_label(v),
    )
    c5, c6, c7, c8, c9 = st.columns([1, 1, 1, 1, 1])
    min_score = c5.number_input("Min score", value=None, step=1, key="leads_min")
    max_score = c6.number_input("Max score", value=None, step=1, key="leads_max")
    fit_level = c7.selectbox("Fit level", ["Any", *(lv["name"] for lv in reversed(fit_level_rows))],
                             key="leads_fit_level", disabled=not fit_level_rows,
                             help="Fit levels are set on the Fit page." if not fit_level_rows else None)
    sort = c8.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="leads_sort")
    descending = c9.toggle("Highest first", value=True, key="leads_desc")

active_days = {"24 hours": 1, "7 days": 7, "30 days": 30}.get(active)
filters = {
    "q": q or None,
    "level": None if level == "Any" else level,
    "fit_level": None if fit_level == "Any" else fit_level,
    "last_active_after": now().replace(minute=0, second=0, microsecond=0) - timedelta(days=active_days)
    if active_days else None,
    "event_type": None if event_type == "Any" else event_type,
    "min_score": int(min_score) if min_score is not None else None,
    "max_score": int(max_score) if max_score is not None else None,
    "segment_id": None if segment_id == "Any" else segment_id,
}
filtered = any(v is not None for v in filters.values())
limit = 50
rows, total = data.lead_page(
    user.tenant, **filters, sort=sort, descending=descending, page=current_page("leads_page"), limit=limit
)
if not rows and total:  # the filters shrank the list below the page we were on
    st.session_state["leads_page"] = 1
    rows, total = data.lead_page(user.tenant, **filters, sort=sort, descending=descending, page=1, limit=limit)

if not rows:
    if filtered:
        st.info("No lead matches these filters. Widen the score range, pick another level or clear the search.")
    else:
        st.info(
            "No leads yet. Leads appear with their first event: send one to the API "
            "(`POST /api/v1/signals`, see the README's quick start) or upload a CSV of events."
        )
        st.page_link(nav.page("import"), label="Import events from a CSV", icon=":material/upload_file:")
    st.stop()

ids = tuple(r["id"] for r in rows)
trends = data.lead_trends(user.tenant, ids)
hints = data.lead_hints(user.tenant, ids)
moment = now()
graded = bool(fit_level_rows and level_rows)  # a grade needs both level sets
table = [
    {
        "Lead": person_name(r),
        "Email": text(r["email"]),
        "Score": r["score"],
        "Level": level_cell(r["level"]),
        "Fit": r.get("fit_score", 0),
        "Fit level": fit.fit_level_cell(r),
        **({"Grade": text(fit.grade_of(r, fit_level_rows, level_rows))} if graded else {}),
        "Why": hints.get(r["id"], ""),
        "Account": text((r["account"] or {}).get("name")),
        "Last activity": ago(r["last_activity_at"], moment),
        "Last 14 days": trends.get(r["id"], []),
    }
    for r in rows
]
picked = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="leads_table",
    column_config={
        "Score": score_column(level_rows),
        "Level": level_column(level_rows),
        "Fit": st.column_config.NumberColumn("Fit", help="Fit score: the weights of the profile rules the lead "
                                             "matches (Fit page)"),
        "Fit level": fit.fit_level_column(fit_level_rows),
        "Grade": st.column_config.TextColumn("Grade", help="Fit letter (A = best fit level) and engagement digit "
                                             "(1 = hottest level)", width="small"),
        "Why": st.column_config.TextColumn(
            "Why (last 7 days)", help="The score change over the last 7 days and the event type that added most."
        ),
        "Last 14 days": st.column_config.BarChartColumn("Points per day, last 14 days"),
    },
)
pager("leads_page", total, limit)
st.caption("Select a row to open the lead and see why it has its score.")
if picked and picked.selection.rows:
    nav.open_lead(rows[picked.selection.rows[0]]["id"])
