"""Lead detail: who this is, how they reached their score, and what they did."""

from __future__ import annotations

import streamlit as st

from services.errors import NotFound
from ui import data, nav
from ui.auth import current_user
from ui.components import level_badge, person_name, score_over_time, waterfall, when

user = current_user()
lead_id = nav.selected("lead")
if not lead_id:
    st.info("Pick a lead on the Leads page to see its detail.")
    st.page_link(nav.page("leads"), label="Go to Leads")
    st.stop()
try:
    detail = data.lead_detail(user.tenant, lead_id)
except NotFound:
    st.error(f"Lead {lead_id} does not exist in this unit.")
    st.stop()
lead, account = detail["lead"], detail["account"]

st.title(person_name(lead))
c1, c2, c3, c4 = st.columns(4)
c1.metric("Score", lead["score"])
c2.markdown(f"**Level**  \n{level_badge(lead.get('level'))}")
c3.markdown(f"**Account**  \n{account.get('name') or '—'}  \n{account.get('domain') or ''}")
c4.markdown(f"**Last activity**  \n{when(lead.get('last_activity_at'))}")
if account.get("id") and st.button("Open account", key="open_account"):
    nav.open_account(account["id"])

left, right = st.columns([3, 2])
with left:
    st.subheader("Why this score")
    if detail["contributions"]:
        st.plotly_chart(waterfall(detail["contributions"], lead["score"]), key="why_waterfall")
    else:
        st.caption("No scored events yet.")
with right:
    st.subheader("Profile")
    st.markdown(f"**Email:** {lead.get('email') or '—'}  \n**Lead id:** `{lead['id']}`  \n"
                f"**Created:** {when(lead.get('created_at'))}")
    st.dataframe(
        [{"Kind": a["alias_kind"], "Value": a["raw_value"], "Primary": a["is_primary"]} for a in lead["aliases"]],
        hide_index=True, width="stretch", key="aliases",
    )
    if lead.get("metadata"):
        st.json(lead["metadata"], expanded=False)

st.subheader("Score over time")
if detail["history"]:
    st.plotly_chart(score_over_time(detail["history"]), key="score_history")

st.subheader("Timeline")
st.dataframe(
    [
        {
            "When": e["timestamp"], "Event": e["event_type"], "Δ score": e["score_delta"], "Channel": e["channel"],
            "Source": e.get("source") or "", "Properties": e.get("metadata") or {},
        }
        for e in detail["events"]
    ],
    hide_index=True,
    width="stretch",
    key="timeline",
    column_config={"When": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm")},
)
