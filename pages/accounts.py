"""Accounts: companies ranked by engagement, with their best lead; click a row to open one."""

from __future__ import annotations

import streamlit as st

from ui import data, nav
from ui.auth import current_user
from ui.components import current_page, pager

user = current_user()
st.title("Accounts")

c1, c2, c3 = st.columns([2, 1, 1])
q = c1.text_input("Search name or domain", key="accounts_q")
sort = c2.selectbox("Sort by", ["score", "top_lead_score", "lead_count", "last_activity", "name"], key="accounts_sort")
min_score = c3.number_input("Min score", value=None, step=1, key="accounts_min")

limit = 50
query = {"q": q or None, "min_score": int(min_score) if min_score is not None else None, "sort": sort, "limit": limit}
rows, total = data.account_page(user.tenant, **query, page=current_page("accounts_page"))
if not rows and total:
    st.session_state["accounts_page"] = 1
    rows, total = data.account_page(user.tenant, **query, page=1)

picked = st.dataframe(
    [
        {
            "Account": r["name"], "Domain": r["domain"] or "—", "Engagement": r["score"],
            "Top lead score": r["top_lead_score"], "Leads": r["lead_count"], "Last activity": r["last_activity_at"],
        }
        for r in rows
    ],
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="accounts_table",
    column_config={"Last activity": st.column_config.DatetimeColumn("Last activity", format="distance")},
)
pager("accounts_page", total, limit)
if picked and picked.selection.rows:
    nav.open_account(rows[picked.selection.rows[0]]["id"])
