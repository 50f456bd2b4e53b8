"""Account detail: the company's engagement, its people by score, and what happened recently."""

from __future__ import annotations

import streamlit as st

from services.errors import NotFound
from ui import data, nav
from ui.auth import current_user
from ui.components import level_name, person_name, when

user = current_user()
account_id = nav.selected("account")
if not account_id:
    st.info("Pick an account on the Accounts page to see its detail.")
    st.page_link(nav.page("accounts"), label="Go to Accounts")
    st.stop()
try:
    detail = data.account_detail(user.tenant, account_id)
except NotFound:
    st.error(f"Account {account_id} does not exist in this unit.")
    st.stop()
account = detail["account"]

st.title(account["name"])
c1, c2, c3, c4 = st.columns(4)
c1.metric("Engagement score", account["score"])
c2.metric("Top lead score", account["top_lead_score"])
c3.metric("Leads", account["lead_count"])
c4.markdown(f"**Domain**  \n{account['domain'] or '—'}  \n**Last activity**  \n{when(account['last_activity_at'])}")

st.subheader("Leads")
leads = detail["leads"]
picked = st.dataframe(
    [
        {"Lead": person_name(ld), "Email": ld["email"], "Score": ld["score"], "Level": level_name(ld["level"]),
         "Last activity": ld["last_activity_at"]}
        for ld in leads
    ],
    hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="account_leads",
    column_config={"Last activity": st.column_config.DatetimeColumn("Last activity", format="distance")},
)
if picked and picked.selection.rows:
    nav.open_lead(leads[picked.selection.rows[0]]["id"])

st.subheader("Recent events")
st.dataframe(
    [
        {"When": e["timestamp"], "Event": e["event_type"], "Lead": e["lead_id"], "Δ score": e["score_delta"],
         "Channel": e["channel"]}
        for e in detail["events"]
    ],
    hide_index=True, width="stretch", key="account_events",
    column_config={"When": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm")},
)
