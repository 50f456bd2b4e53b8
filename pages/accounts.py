"""Accounts: companies ranked by engagement, with their fit beside it and their best lead; click a row to open one.
Shown while account scoring (ABM) is on."""

from __future__ import annotations

import streamlit as st

from ui import data, fit, nav
from ui.auth import current_user
from ui.components import ago, current_page, level_cell, level_column, pager, score_column, text
from ui.runtime import now

SORTS = {"score": "Engagement score", "top_lead_score": "Top lead score", "lead_count": "Number of leads",
         "last_activity": "Last activity", "name": "Name"}

user = current_user()
st.title("Accounts")
if not data.abm_enabled(user.tenant):
    fit.abm_off_notice(user, key="accounts_abm_on")
    st.stop()

c1, c2, c3 = st.columns([2, 1, 1])
q = c1.text_input("Search name or domain", key="accounts_q")
sort = c2.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="accounts_sort")
min_score = c3.number_input("Min score", value=None, step=1, key="accounts_min")

limit = 50
query = {"q": q or None, "min_score": int(min_score) if min_score is not None else None, "sort": sort, "limit": limit}
rows, total = data.account_page(user.tenant, **query, page=current_page("accounts_page"))
if not rows and total:
    st.session_state["accounts_page"] = 1
    rows, total = data.account_page(user.tenant, **query, page=1)

if not rows:
    if q or min_score is not None:
        st.info("No account matches. Clear the search or lower the minimum score.")
    else:
        st.info("No accounts yet. An account is created from an event's company domain or name "
                "(`account.domain` in a signal, or the domain of a work email).")
    st.stop()

levels = data.engagement_levels(user.tenant)
fit_levels = fit.fit_levels(user.tenant, "account")
moment = now()
picked = st.dataframe(
    [
        {
            "Account": r["name"], "Domain": text(r["domain"]), "Engagement": r["score"],
            "Level": level_cell(r.get("level")), "Fit": r.get("fit_score", 0), "Fit level": fit.fit_level_cell(r),
            "Top lead score": r["top_lead_score"], "Leads": r["lead_count"], "Owner": text(r.get("owner_name")),
            "Surging": "🔥 Surging" if r.get("surging") else "", "Last activity": ago(r["last_activity_at"], moment),
        }
        for r in rows
    ],
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="accounts_table",
    column_config={
        "Engagement": st.column_config.NumberColumn("Engagement", help="The account's own score: its leads' "
                                                    "events added up"),
        "Level": level_column(levels),
        "Fit": st.column_config.NumberColumn("Fit", help="Account fit: the weights of the account rules it matches "
                                             "(Fit page, Account tab)"),
        "Fit level": fit.fit_level_column(fit_levels),
        "Top lead score": score_column(levels, "Top lead score"),
        "Surging": st.column_config.TextColumn("Surging", help="A lead of the account had a boosted (surge) event "
                                               "or a surge alert in the last 24 hours"),
    },
)
pager("accounts_page", total, limit)
st.caption("Select a row to open the account.")
if picked and picked.selection.rows:
    nav.open_account(rows[picked.selection.rows[0]]["id"])
