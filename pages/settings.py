"""Settings: API keys and credentials for the tools that send events, and how scores behave."""

from __future__ import annotations

import streamlit as st

from services.scoring import scoring_settings
from services.tenancy import api_keys, policy
from services.tenancy.policy import KEY_ROLES, Action
from ui import data
from ui.auth import current_user
from ui.components import read_only_notice
from ui.runtime import now
from ui.surge_settings import surge_settings_section
from ui.timeago import ago
from ui.usage_panel import usage_panel

ROLE_HELP = {
    "Owner": "Owner: everything, including keys and users",
    "Operator": "Operator: sends events, edits rules, levels, triggers and imports",
    "Viewer": "Viewer: reads only",
    "Ingest": "Ingest: only sends events",
}

user = current_user()
st.title("Settings")
read_only_notice(user.can_edit)
keys_locked = not user.can(Action.MANAGE_KEYS)
scoring_locked = not user.can(Action.EDIT_SCORING)
key_managers = policy.roles_with(Action.MANAGE_KEYS)

st.subheader("API keys")
st.caption("Tools send events with `Authorization: Bearer <key>`. A key is shown once, when it is created, and "
           "acts with the role chosen for it (Ingest keys only send events). Only Owners create and revoke keys.")
with st.form("new_api_key", clear_on_submit=True):
    left, right = st.columns([3, 2])
    name = left.text_input("Key name", placeholder="e.g. website tracker", disabled=keys_locked)
    role = right.selectbox("Role", KEY_ROLES, format_func=ROLE_HELP.get, disabled=keys_locked, key="new_key_role")
    if st.form_submit_button("Create API key", disabled=keys_locked):
        key_name, key_role = name.strip() or "unnamed", role
        created = data.save(
            user, lambda s, t, at: api_keys.create_api_key(s, t, name=key_name, role=key_role, now=at),
            roles=key_managers,
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
seen_at = now()
if keys:
    st.dataframe(
        [
            {
                "Name": k["name"], "Key": k["prefix"], "Role": k["role"],
                "Created": ago(k["created_at"], seen_at), "Last used": ago(k["last_used_at"], seen_at),
                "Status": f"Revoked {ago(k['revoked_at'], seen_at)}" if k["revoked_at"] else "Active",
            }
            for k in keys
        ],
        hide_index=True, width="stretch", key="api_keys_table",
    )
else:
    st.info("No API keys yet. Create one above to start sending events.")
live = {k["id"]: f"{k['name']} ({k['prefix']})" for k in keys if not k["revoked_at"]}
if live:
    c1, c2 = st.columns([3, 1])
    to_revoke = c1.selectbox("Revoke a key", list(live), format_func=live.get, disabled=keys_locked,
                             key="revoke_key")
    if c2.button("Revoke", disabled=keys_locked, key="revoke_button") and data.save(
        user, lambda s, t, at: api_keys.revoke_api_key(s, t, to_revoke, now=at), roles=key_managers
    ):
        st.rerun()

st.subheader("Credentials")
st.caption("Integrations can sign in with a client id and secret instead (HTTP Basic `client_id:client_secret`, "
           "API: `/v1/secrets`). The secret is shown once. Ingest, the default, only sends events.")
with st.form("new_credential", clear_on_submit=True):
    left, right = st.columns([3, 2])
    name = left.text_input("Credential name", placeholder="e.g. Zapier", max_chars=api_keys.NAME_MAX,
                           disabled=keys_locked)
    role = right.selectbox("Role", KEY_ROLES, index=KEY_ROLES.index(api_keys.DEFAULT_CREDENTIAL_ROLE),
                           format_func=ROLE_HELP.get, disabled=keys_locked, key="new_credential_role")
    if st.form_submit_button("Create credential", disabled=keys_locked):
        credential_name, credential_role = name, role
        made = data.save(
            user,
            lambda s, t, at: api_keys.create_credential(s, t, name=credential_name, role=credential_role, now=at),
            roles=key_managers,
        )
        if made and made.value is not None:
            st.session_state["created_credential"] = {
                "name": made.value.name, "client_id": made.value.client_id, "client_secret": made.value.client_secret
            }
if st.session_state.get("created_credential"):
    shown = st.session_state["created_credential"]
    st.success(f"Credential **{shown['name']}** created. Copy the secret now: it will not be shown again.")
    st.code(shown["client_id"], language=None)
    st.code(shown["client_secret"], language=None)
    if st.button("I have stored it", key="hide_new_credential"):
        st.session_state.pop("created_credential")
        st.rerun()

credentials = data.credential_list(user.tenant)
if credentials:
    st.dataframe(
        [
            {
                "Name": c["name"], "Client id": c["client_id"], "Role": c["role"],
                "Created": ago(c["created_at"], seen_at), "Last used": ago(c["last_used_at"], seen_at),
            }
            for c in credentials
        ],
        hide_index=True, width="stretch", key="credentials_table",
    )
    named = {c["id"]: f"{c['name']} ({c['client_id']})" for c in credentials}
    c1, c2 = st.columns([3, 1])
    credential_id = c1.selectbox("Revoke a credential", list(named), format_func=named.get, disabled=keys_locked,
                                 key="revoke_credential")
    if c2.button("Revoke", disabled=keys_locked, key="revoke_credential_button") and data.save(
        user, lambda s, t, at: api_keys.revoke_credential(s, t, credential_id, now=at), roles=key_managers
    ):
        st.rerun()
else:
    st.info("No credentials yet.")

st.subheader("Scoring")
# The session timeout is stored but does nothing yet, so it is not offered here.
current = data.scoring_settings_of(user.tenant)
with st.form("scoring_settings"):
    allow_negative = st.toggle("Allow negative scores", value=current["allow_negative_scores"],
                               disabled=scoring_locked,
                               help="Off: a score never drops below 0. Changing it recomputes every score.")
    abm = st.toggle("Account-based marketing", value=current["abm_enabled"], disabled=scoring_locked,
                    help="On: accounts are scored and shown (Accounts page, /v1/accounts).")
    if st.form_submit_button("Save scoring settings", disabled=scoring_locked) and data.save(
        user,
        lambda s, t, at: scoring_settings.update_settings(
            s, t, allow_negative_scores=allow_negative, abm_enabled=abm, now=at
        ),
        roles=policy.roles_with(Action.EDIT_SCORING),
    ):
        st.success("Scoring settings saved.")

surge_settings_section(user)
usage_panel(user)
