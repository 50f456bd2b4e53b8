"""Account detail: the company's engagement, its people by score, and what happened recently."""

from __future__ import annotations

import streamlit as st

from services.errors import NotFound
from ui import data, nav
from ui.auth import current_user
from ui.components import (
    ago,
    channel_label,
    event_label,
    key_values,
    level_cell,
    level_column,
    person_name,
    score_column,
    text,
    when,
)
from ui.runtime import now

user = current_user()
if not data.abm_enabled(user.tenant):
    st.title("Account")
    st.info(data.ABM_OFF_MESSAGE)
    st.stop()
account_id = nav.selected("account")
if not account_id:
    st.info("Pick an account on the Accounts page to see its detail.")
    st.page_link(nav.page("accounts"), label="Go to Accounts")
    st.stop()
try:
    detail = data.account_detail(user.tenant, account_id)
except NotFound:
    st.error(f"Account {account_id} does not exist in this unit.")
    st.page_link(nav.page("accounts"), label="Go to Accounts")
    st.stop()
account = detail["account"]
levels = data.engagement_levels(user.tenant)

st.title(account["name"])
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Engagement score", account["score"])
c2.metric("Fit score", account["fit_score"], help="Fit level: " + text(account["fit_level"]))
c3.metric("Top lead score", account["top_lead_score"])
c4.metric("Leads", account["lead_count"])
c5.markdown(f"**Domain**  \n{text(account['domain'])}  \n**Last activity**  \n{when(account['last_activity_at'])}")

if account["fit_reasons"]:
    st.caption("Fit: " + ", ".join(
        f"{r['account_property']} {r['condition']} {r['comparison_value']} ({r['weight']:+d})"
        for r in account["fit_reasons"]
    ))

st.subheader("Leads")
leads = detail["leads"]
moment = now()
if leads:
    picked = st.dataframe(
        [
            {"Lead": person_name(ld), "Email": text(ld["email"]), "Score": ld["score"],
             "Level": level_cell(ld["level"]), "Fit": ld["fit_score"], "Fit level": text(ld["fit_level"]),
             "Last activity": ago(ld["last_activity_at"], moment)}
            for ld in leads
        ],
        hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="account_leads",
        column_config={"Score": score_column(levels), "Level": level_column(levels)},
    )
    if picked and picked.selection.rows:
        nav.open_lead(leads[picked.selection.rows[0]]["id"])
else:
    st.caption("No leads at this account yet.")

st.subheader("Recent events")
names = {ld["id"]: person_name(ld) for ld in leads}
if detail["events"]:
    st.dataframe(
        [
            {"When": e["timestamp"], "Event": event_label(e["event_type"]),
             "Lead": names.get(e["lead_id"], text(e["lead_id"])), "Score change": e["score_delta"],
             "Channel": channel_label(e["channel"]), "Properties": key_values(e.get("metadata"))}
            for e in detail["events"]
        ],
        hide_index=True, width="stretch", key="account_events",
        column_config={
            "When": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "Score change": st.column_config.NumberColumn("Score change", format="%+d"),
        },
    )
else:
    st.caption("No events for this account yet.")
