"""Settings: API keys for the tools that send events, and how scores behave."""

from __future__ import annotations

import streamlit as st

from services import api_keys, scoring_settings
from ui import data
from ui.auth import current_user
from ui.components import read_only_notice, when

user = current_user()
st.title("Settings")
read_only_notice(user.can_edit)
locked = not user.can_edit
keys_locked = user.role not in data.OWNER_ONLY

st.subheader("API keys")
st.caption("Send events with `Authorization: Bearer <key>`. A key is shown once, when it is created. "
           "Only Owners manage keys.")
with st.form("new_api_key", clear_on_submit=True):
    name = st.text_input("Key name", placeholder="e.g. website tracker", disabled=keys_locked)
    if st.form_submit_button("Create API key", disabled=keys_locked):
        key_name = name.strip() or "unnamed"
        created = data.save(
            user, lambda s, t, now: api_keys.create_api_key(s, t, name=key_name, now=now), roles=data.OWNER_ONLY
        )
        if created and created.value is not None:
            st.session_state["created_api_key"] = {"name": created.value.name, "secret": created.value.secret}
if st.session_state.get("created_api_key"):
    shown = st.session_state["created_api_key"]
    st.success(f"API key **{shown['name']}** created. Copy it now: it will not be shown again.")
    st.code(shown["secret"], language=None)
    if st.button("I have stored it", key="hide_new_key"):
        st.session_state.pop("created_api_key")
        st.rerun()

keys = data.api_key_list(user.tenant)
st.dataframe(
    [
        {"Name": k["name"], "Key": k["prefix"], "Created": when(k["created_at"]), "Last used": when(k["last_used_at"]),
         "Status": "revoked " + when(k["revoked_at"]) if k["revoked_at"] else "active"}
        for k in keys
    ],
    hide_index=True, width="stretch", key="api_keys_table",
)
live = {k["id"]: f"{k['name']} ({k['prefix']})" for k in keys if not k["revoked_at"]}
if live:
    c1, c2 = st.columns([3, 1])
    to_revoke = c1.selectbox("Revoke a key", list(live), format_func=live.get, disabled=keys_locked,
                             key="revoke_key")
    if c2.button("Revoke", disabled=keys_locked, key="revoke_button") and data.save(
        user, lambda s, t, now: api_keys.revoke_api_key(s, t, to_revoke, now=now), roles=data.OWNER_ONLY
    ):
        st.rerun()

st.subheader("Scoring")
current = data.scoring_settings_of(user.tenant)
with st.form("scoring_settings"):
    allow_negative = st.toggle("Allow negative scores", value=current["allow_negative_scores"], disabled=locked,
                               help="Off: a score never drops below 0. Changing it recomputes every score.")
    abm = st.toggle("Account-based scoring (ABM)", value=current["abm_enabled"], disabled=locked)
    timeout = st.number_input("Session timeout (minutes)", value=current["session_timeout_minutes"], step=1,
                              disabled=locked)
    if st.form_submit_button("Save scoring settings", disabled=locked) and data.save(
        user,
        lambda s, t, now: scoring_settings.update_settings(
            s, t, allow_negative_scores=allow_negative, abm_enabled=abm, session_timeout_minutes=int(timeout), now=now
        ),
    ):
        st.success("Scoring settings saved.")
