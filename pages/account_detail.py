"""Account detail: the company's engagement and fit, its people by score (with their fit and grade), and what
happened recently."""

from __future__ import annotations

import streamlit as st

from services.errors import NotFound
from ui import data, fit, nav
from ui.auth import current_user
from ui.components import (
    DASH,
    ago,
    channel_label,
    event_label,
    key_values,
    level_badge,
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
    st.title("Account detail")
    fit.abm_off_notice(user, key="account_abm_on")
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
fit_levels = fit.fit_levels(user.tenant, "account")
lead_fit_levels = fit.fit_levels(user.tenant, "profile")

st.title(account["name"])
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Engagement score", account["score"])
c2.metric("Fit score", account.get("fit_score", 0))
c3.metric("Top lead score", account["top_lead_score"])
c4.metric("Leads", account["lead_count"])
c5.markdown(f"**Domain**  \n{text(account['domain'])}  \n**Last activity**  \n{when(account['last_activity_at'])}")
account_fit_level = fit.level_name(account.get("fit_level"))
st.markdown(
    f"**Engagement level** {level_badge(account.get('level'), levels)} · **Fit level** "
    f"{level_badge({'name': account_fit_level}, fit_levels) if account_fit_level else DASH}"
)
reasons = account.get("fit_reasons") or []
if reasons:
    st.caption("Matched account rules: " + " · ".join(
        f"{fit.reason_label(r)} ({int(r.get('weight') or 0):+d})" for r in reasons))

st.subheader("Leads")
leads = detail["leads"]
moment = now()
if leads:
    picked = st.dataframe(
        [
            {"Lead": person_name(ld), "Email": text(ld["email"]), "Score": ld["score"],
             "Level": level_cell(ld["level"]), "Fit": ld.get("fit_score", 0), "Fit level": fit.fit_level_cell(ld),
             **({"Grade": text(fit.grade_of(ld, lead_fit_levels, levels))} if lead_fit_levels and levels else {}),
             "Last activity": ago(ld["last_activity_at"], moment)}
            for ld in leads
        ],
        hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="account_leads",
        column_config={"Score": score_column(levels), "Level": level_column(levels),
                       "Fit": st.column_config.NumberColumn("Fit", help="the lead's fit score"),
                       "Fit level": fit.fit_level_column(lead_fit_levels),
                       "Grade": st.column_config.TextColumn("Grade", help="fit letter and engagement digit")},
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
