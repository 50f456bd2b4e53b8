"""Lead detail: who this is, how they reached their score, how well they fit, and what they did."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pandas as pd
import streamlit as st

from services.errors import NotFound
from services.tenancy.policy import Action
from ui import data, data_quality, lead_fit, nav
from ui.auth import current_user
from ui.components import (
    alias_kind_label,
    channel_label,
    event_label,
    key_values,
    level_badge,
    person_name,
    score_over_time,
    text,
    waterfall,
    when,
)

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
    st.page_link(nav.page("leads"), label="Go to Leads")
    st.stop()
lead, account = detail["lead"], detail["account"]
levels = data.engagement_levels(user.tenant)

st.title(person_name(lead))
c1, c2, c3, c4 = st.columns(4)
c1.metric("Score", lead["score"])
c2.markdown(f"**Level**  \n{level_badge(lead.get('level'), levels)}")
c3.markdown(f"**Account**  \n{text(account.get('name'))}  \n{account.get('domain') or ''}")
c4.markdown(f"**Last activity**  \n{when(lead.get('last_activity_at'))}")
if account.get("id") and st.button(f"Open {account.get('name') or 'the account'}", key="open_account"):
    nav.open_account(account["id"])

left, right = st.columns([3, 2])
with left:
    st.subheader("Why this score")
    if detail["contributions"]:
        st.plotly_chart(
            waterfall(detail["contributions"], lead["score"], detail.get("rule_conditions")), key="why_waterfall"
        )
    else:
        st.caption("No scored events yet: none of this lead's events matches a scoring rule. Rules are on the "
                   "Rules page.")
with right:
    st.subheader("Profile")
    st.markdown(f"**Email:** {text(lead.get('email'))}  \n**Created:** {when(lead.get('created_at'))}  \n"
                f"**Lead id:** `{lead['id']}`")
    if lead["aliases"]:
        st.dataframe(
            [
                {"Kind": alias_kind_label(a["alias_kind"]), "Value": text(a["raw_value"]),
                 "Primary": "yes" if a["is_primary"] else ""}
                for a in lead["aliases"]
            ],
            hide_index=True, width="stretch", key="aliases",
        )
    if lead.get("metadata"):
        st.markdown("**Attributes**  \n" + key_values(lead["metadata"], separator="  \n"))

st.subheader("Score over time")
if detail["history"]:
    st.plotly_chart(score_over_time(detail["history"]), key="score_history")
else:
    st.caption("No score changes yet.")

with st.expander("Score at a past moment, or under another scoring version"):
    st.caption("Replays this lead's events up to the moment (UTC) under the chosen version's rules: what the lead "
               "had then, or would have under yesterday's rules.")
    a1, a2, a3 = st.columns(3)
    day = a1.date_input("Day (UTC)", value=None, min_value=date(2000, 1, 1), max_value=date(2100, 12, 31),
                        key="as_of_day", help="empty: every event up to now")
    moment = a2.time_input("Time (UTC)", value=time(23, 59, 59), key="as_of_time")
    choices = [None, *(v["version"] for v in data.scoring_versions(user.tenant))]
    chosen_version = a3.selectbox(
        "Scoring version", choices, key="as_of_version",
        format_func=lambda v: "live (scores shown above)" if v is None else f"version {v}",
    )
    at = datetime.combine(day, moment, tzinfo=UTC) if day is not None else None
    if at is not None or chosen_version is not None:
        answer = data.lead_score_at(user.tenant, lead["id"], at, chosen_version)
        st.metric("Score then" if at is not None else f"Score under version {chosen_version}", answer["score"])
        if answer.get("level"):
            st.markdown(f"**Level** {level_badge(answer['level'], levels)}")

# --- fit: score, level, matched profile rules, and the Edit profile form (ui/lead_fit.py) ---------------------------
with st.container(border=True):
    lead_fit.render_fit(user, lead)
    lead_fit.render_edit_profile(user, lead)

st.subheader("Timeline")
if detail["events"]:
    held_back = [bool(e.get("quarantined")) for e in detail["events"]]
    if any(held_back):
        st.caption("Greyed events are held back by a data quality filter: kept, but scored 0 and fire nothing.")
    st.dataframe(
        data_quality.grey_held_back(pd.DataFrame([
            {
                "When": e["timestamp"], "Event": event_label(e["event_type"]), "Score change": e["score_delta"],
                "Channel": channel_label(e["channel"]), "Source": text(e.get("source")),
                "Properties": key_values(e.get("metadata")),
                **({"Held back": text(e.get("quarantine_reason")) if e.get("quarantined") else ""}
                   if any(held_back) else {}),
            }
            for e in detail["events"]
        ]), held_back),
        hide_index=True,
        width="stretch",
        key="timeline",
        column_config={
            "When": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "Score change": st.column_config.NumberColumn("Score change", format="%+d"),
        },
    )
else:
    st.caption("No events for this lead yet.")

st.subheader("Duplicates and erasure")
merge_col, erase_col = st.columns(2)
with merge_col, st.expander("Merge with…"):
    st.caption("The other lead's events and aliases move into this lead, whose score becomes the replay of all the "
               "events together. The other lead's id keeps answering with this lead; no trigger fires twice.")
    query = st.text_input("Find the duplicate by email, phone or lead id", key="merge_query",
                          disabled=not user.can(Action.MERGE_LEADS))
    hits = {h["lead_id"]: h for h in data.lead_search(user.tenant, query) if h["lead_id"] != lead["id"]}
    if query and len(query.strip()) >= 2 and not hits:
        st.caption("No other lead matches.")
    if hits:
        picked = st.selectbox(
            "Lead to merge into this one", list(hits), key="merge_pick",
            format_func=lambda i: f"{person_name(hits[i])} · {text(hits[i].get('email'))} · score {hits[i]['score']}",
        )
        sure = st.checkbox(f"Yes, merge {text(hits[picked].get('email')) or picked} into {person_name(lead)}",
                           key="merge_sure")
        if st.button("Merge", key="merge_go", disabled=not sure) and data.merge_leads(user, lead["id"], [picked]):
            st.success("Merged.")
            st.rerun()
if user.can(Action.ERASE_LEADS):
    with erase_col, st.expander("Erase"):
        st.warning("Erases this person for good: the lead and leads merged into it, their events, aliases, scores, "
                   "and their data in triggers' messages. Account scores are replayed without them.")
        typed = st.text_input("Type the lead id to confirm", key="erase_typed", placeholder=lead["id"])
        if st.button("Erase this person", key="erase_go", type="primary", disabled=typed.strip() != lead["id"]) \
                and data.erase_lead(user, lead["id"]):
            st.session_state.pop("lead_id", None)
            st.switch_page(nav.page("leads"))
