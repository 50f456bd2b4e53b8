"""The Integrations page's Slack section: the organization's app credentials (organization Owners), connecting the
unit's workspace (OAuth), its status, the default channel or person for trigger messages, and a test message.

Everything goes through services.integrations.slack; the channel and user lists are Slack's (proxied), read with the
unit's bot token and cached for a minute per unit.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.context import Tenant
from services.errors import ServiceError
from services.integrations import slack
from services.tenancy.policy import ROLES, Action, roles_with
from ui import data
from ui.auth import SignedIn
from ui.runtime import get_db, now

INSTALLERS = roles_with(Action.MANAGE_INTEGRATIONS)
MAX_PAGES = 5  # lists are read up to 5 pages of 200: a picker, not a directory
_URL_KEY = "slack_authorize_url"
REASONS = {
    "state_used": "this Connect link was already used: press Connect again",
    "state_expired": "the Connect link expired (10 minutes): press Connect again",
    "invalid_state": "the Connect link is not valid: press Connect again",
    "access_denied": "the installation was declined in Slack",
    "invalid_code": "Slack refused the authorization code: try again",
    "invalid_client": "Slack refused the app's client id or secret: check the Slack app credentials",
    "app_not_configured": "the organization's Slack app is not configured",
}


@st.cache_data(ttl=10, show_spinner=False)
def slack_status(tenant: Tenant) -> dict[str, Any]:
    with get_db().read() as session:
        return slack.status(session, tenant)


@st.cache_data(ttl=10, show_spinner=False)
def slack_app(tenant: Tenant) -> dict[str, Any]:
    with get_db().read() as session:
        return slack.app_summary(session, tenant)


@st.cache_data(ttl=60, show_spinner=False)
def slack_targets(tenant: Tenant, kind: str) -> list[dict[str, str]]:
    """Channels or people to pick from: [{id, label}], from the proxies (a few pages at most)."""
    found: list[dict[str, str]] = []
    cursor: str | None = None
    with get_db().read() as session:
        for _ in range(MAX_PAGES):
            if kind == "channel":
                page = slack.list_channels(session, tenant, cursor=cursor, limit=200)
                found += [{"id": c["id"], "label": f"#{c.get('name') or c['id']}"} for c in page["channels"]
                          if isinstance(c, dict) and c.get("id")]
            else:
                page = slack.list_users(session, tenant, cursor=cursor, limit=200)
                found += [{"id": u["id"], "label": str(u.get("real_name") or u.get("name") or u["id"])}
                          for u in page["members"] if isinstance(u, dict) and u.get("id") and not u.get("is_bot")
                          and not u.get("deleted")]
            cursor = page["response_metadata"]["next_cursor"]
            if not cursor:
                break
    return found


def connected(tenant: Tenant) -> bool:
    """For the Triggers page: does the unit send through its Slack app?"""
    return bool(slack_status(tenant)["connected"])


def _outcome() -> None:
    outcome = st.query_params.get("slack")
    if outcome:
        # Back from Slack: the OAuth callback changed the connection outside this session, so a status cached
        # before the browser left is stale.
        slack_status.clear()
    if outcome == "connected":
        st.success("Slack is connected.")
    elif outcome == "error":
        reason = str(st.query_params.get("reason") or "")
        st.error(f"Slack was not connected: {REASONS.get(reason, reason or 'unknown error')}.")


def _app_form(user: SignedIn) -> None:
    app = slack_app(user.tenant)
    locked = not user.can(Action.MANAGE_ORG)
    with st.expander("Slack app credentials (organization)", expanded=not app["configured"]):
        st.caption(
            "The organization's Slack app (api.slack.com/apps): its Client ID and Client Secret, and optionally its "
            f"Signing Secret. Its OAuth redirect URL must be `{slack.redirect_uri()}`. Secrets are stored encrypted "
            "and never shown again. Only organization Owners change them.")
        if app["configured"]:
            st.markdown(f"Configured: client id `{app['client_id']}`; signing secret "
                        f"{'set' if app['signing_secret_set'] else 'not set'}.")
        with st.form("slack_app_form", clear_on_submit=True):
            client_id = st.text_input("Client ID", value=app["client_id"] or "", disabled=locked)
            client_secret = st.text_input("Client Secret", type="password", disabled=locked)
            signing_secret = st.text_input("Signing Secret (optional; empty keeps the stored one)", type="password",
                                           disabled=locked)
            if st.form_submit_button("Save Slack app", disabled=locked):
                _save(user, lambda s, t, at: slack.set_app(
                    s, t, client_id=client_id, client_secret=client_secret, signing_secret=signing_secret or None,
                    now=at), "Slack app saved.", frozenset(ROLES))  # an organization action: the policy decides


def _save(user: SignedIn, work: Any, done: str, roles: frozenset[str] | None = None) -> None:
    saved = data.save(user, work, roles=roles if roles is not None else INSTALLERS)
    if saved:
        st.success(done)


def _connect(user: SignedIn, status: dict[str, Any]) -> None:
    may = user.can(Action.MANAGE_INTEGRATIONS)
    configured = slack_app(user.tenant)["configured"]
    st.markdown("Not connected. Connect a Slack workspace so triggers can post to its channels and people.")
    if not configured:
        st.info("An organization Owner first saves the organization's Slack app credentials (above).")
    if st.button("Connect Slack", disabled=not (may and configured), key="slack_connect",
                 help=None if may else "Only Owners connect Slack"):
        saved = data.save(user, lambda s, t, at: slack.begin_install(s, t, at), roles=INSTALLERS)
        if saved and saved.value:
            st.session_state[_URL_KEY] = saved.value
    url = st.session_state.get(_URL_KEY)
    if url:
        st.link_button("Open Slack to authorize (link valid 10 minutes, once)", url, type="primary")


def _targets(user: SignedIn, status: dict[str, Any]) -> None:
    may_pick = user.can(Action.EDIT_TRIGGERS)
    may_manage = user.can(Action.MANAGE_INTEGRATIONS)
    st.markdown("**Default target**: where triggers with *Slack app: default* post.")
    current = (status["default_target_kind"], status["default_target_id"])
    if current[0]:
        st.caption(f"Now: {current[0]} `{current[1]}`")
    kind = st.radio("Post to", ["channel", "user"], horizontal=True, key="slack_target_kind",
                    format_func=lambda k: "A channel" if k == "channel" else "A person (direct message)",
                    disabled=not may_pick, index=1 if current[0] == "user" else 0)
    options: list[dict[str, str]] = []
    if may_pick:
        try:
            options = slack_targets(user.tenant, kind)
        except ServiceError as exc:
            st.error(f"Could not read Slack's {kind} list: {exc.message}")
    labels = {o["id"]: o["label"] for o in options}
    ids = list(labels)
    index = ids.index(current[1]) if current[0] == kind and current[1] in ids else 0
    picked = st.selectbox("Channel" if kind == "channel" else "Person", ids, format_func=labels.get,
                          index=index if ids else None, disabled=not may_pick or not ids, key="slack_target_pick")
    left, right = st.columns(2)
    if left.button("Set as default", disabled=not (may_manage and picked), key="slack_set_default"):
        _save(user, lambda s, t, at: slack.set_default_target(s, t, kind, str(picked), at),
              f"Default Slack target set to {labels.get(str(picked), picked)}.")
    if right.button("Send test message", disabled=not (may_pick and picked), key="slack_test"):
        try:
            sent = slack.send_test(get_db(), user.tenant, kind, str(picked), None, now())
            st.success(sent[:1].upper() + sent[1:] + ".")
        except ServiceError as exc:
            st.error(exc.message)


def slack_section(user: SignedIn) -> None:
    """The whole Slack section, for `user` in their unit."""
    st.subheader("Slack")
    _outcome()
    _app_form(user)
    status = slack_status(user.tenant)
    if not status["connected"]:
        _connect(user, status)
        return
    st.session_state.pop(_URL_KEY, None)
    st.markdown(f"Connected to **{status['team_name'] or status['team_id']}** (bot user `{status['bot_user_id']}`).")
    _targets(user, status)
    if st.button("Disconnect Slack", disabled=not user.can(Action.MANAGE_INTEGRATIONS), key="slack_disconnect"):
        try:
            slack.disconnect(get_db(), user.tenant, now())
        except ServiceError as exc:
            st.error(exc.message)
        else:
            data.invalidate()
            st.rerun()
