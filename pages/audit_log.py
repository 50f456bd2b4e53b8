"""Audit log: who changed what in this unit, and every API request that changed something, newest first."""

from __future__ import annotations

import json

import streamlit as st

from services.tenancy import audit
from services.tenancy.policy import Action, allowed
from ui.audit_data import audit_entries
from ui.auth import current_user

METHODS = ["Any", "POST", "PUT", "PATCH", "DELETE", "GET"]
SORTS = {"created_at": "Time", "user_email": "Who", "method": "Method", "path": "Path", "status": "Status",
         "ip": "IP address", "latency_ms": "Latency"}
PAGE_SIZE = 100

user = current_user()
st.title("Audit log")
if not allowed(user.role, Action.READ_AUDIT):
    st.info("Only an Owner or an Operator of this unit can read its audit log.")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 1])
search = c1.text_input("Search who, path, IP or entity", key="audit_search")
user_email = c2.text_input("Exactly this user or API key", key="audit_user")
method = c3.selectbox("Method", METHODS, key="audit_method")
c4, c5, c6, c7, c8 = st.columns(5)
status_min = c4.number_input("Status from", min_value=0, max_value=999, value=None, step=1, key="audit_status_min")
status_max = c5.number_input("Status to", min_value=0, max_value=999, value=None, step=1, key="audit_status_max")
sort_by = c6.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="audit_sort")
sort_order = c7.selectbox("Order", ["DESC", "ASC"], format_func={"DESC": "Descending", "ASC": "Ascending"}.get,
                          key="audit_order")
page = int(c8.number_input("Page", min_value=1, value=1, step=1, key="audit_page"))

rows = audit_entries(
    user.tenant, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, search=search or None,
    method=None if method == "Any" else method, status_min=None if status_min is None else int(status_min),
    status_max=None if status_max is None else int(status_max), user_email=user_email or None,
    sort_by=sort_by if sort_by in audit.SORT_COLUMNS else "created_at",  # type: ignore[arg-type]
    sort_order="ASC" if sort_order == "ASC" else "DESC",
)
if not rows:
    st.info("No audit entry matches these filters." if page == 1 else "No more entries: go back a page.")
    st.stop()

st.dataframe(
    [
        {
            "Time": r["created_at"], "Who": r["user_email"] or "", "Action": r["action"],
            "What": " ".join(p for p in (r["entity_type"], r["entity_id"]) if p) or (r["path"] or ""),
            "Method": r["method"] or "", "Status": r["status"], "Changes": json.dumps(r["changes"]) if r["changes"]
            else "", "IP": r["ip"] or "", "Latency (ms)": r["latency_ms"], "Request id": r["request_id"] or "",
        }
        for r in rows
    ],
    hide_index=True,
    width="stretch",
    column_config={"Time": st.column_config.DatetimeColumn("Time", format="YYYY-MM-DD HH:mm:ss")},
)
st.caption(f"Page {page}: up to {PAGE_SIZE} entries. Changes show only the fields that changed (before → after).")
