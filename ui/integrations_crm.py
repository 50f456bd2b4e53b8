"""The Integrations page's HubSpot section: the unit's CRM score sync (services.integrations.crm).

The token is write-only: the screen says whether one is set, never shows it, and an empty field keeps it. The
properties are HubSpot internal names; the scheduled sync sends a segment's changed leads every N minutes.
"Sync now" queues them at once, "Test connection" asks HubSpot whether it accepts the stored token.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from services.context import Tenant
from services.errors import ServiceError
from services.integrations import crm
from services.targeting import segments
from services.tenancy import policy
from services.tenancy.policy import Action
from ui import data
from ui.auth import SignedIn
from ui.runtime import get_db

TTL = 10


@st.cache_data(ttl=TTL, show_spinner=False)
def crm_settings_of(tenant: Tenant) -> dict[str, Any]:
    with get_db().read() as session:
        return asdict(crm.get_crm_settings(session, tenant))


@st.cache_data(ttl=TTL, show_spinner=False)
def segment_names(tenant: Tenant) -> dict[str, str]:
    with get_db().read() as session:
        return {s["segment_id"]: s["name"] for s in segments.list_segments(session, tenant)}


def crm_section(user: SignedIn) -> None:
    locked = not user.can(Action.MANAGE_INTEGRATIONS)
    managers = policy.roles_with(Action.MANAGE_INTEGRATIONS)
    current = crm_settings_of(user.tenant)
    st.subheader("HubSpot score sync")
    st.caption("Writes each lead's score, engagement level and fit level to its HubSpot contact (matched by email, "
               "created when missing): when a trigger with **Sync to HubSpot** fires, and on a schedule for a "
               "segment. Use a private app token with the crm.objects.contacts.write scope, and create the "
               "properties in HubSpot first. Failed writes retry and show in the delivery log.")
    flash = st.session_state.pop("crm_flash", None)
    if flash:
        st.success(flash)
    st.markdown(f"Token: **{'set' if current['token_set'] else 'not set'}**")
    token = st.text_input("HubSpot private app token", type="password", disabled=locked, key="crm_token",
                          placeholder="set: leave empty to keep it" if current["token_set"] else "pat-...")
    first, second, third = st.columns(3)
    score_property = first.text_input("Score property", value=current["score_property"], disabled=locked,
                                      key="crm_score_property")
    level_property = second.text_input("Level property", value=current["level_property"] or "", disabled=locked,
                                       key="crm_level_property", help="empty: not written")
    fit_property = third.text_input("Fit level property", value=current["fit_level_property"] or "",
                                    disabled=locked, key="crm_fit_level_property", help="empty: not written")
    names = segment_names(user.tenant)
    options: list[str | None] = [None, *names]
    chosen = current["sync_segment_id"] if current["sync_segment_id"] in names else None
    left, middle, right = st.columns([3, 1, 2])
    segment_id = left.selectbox("Segment to sync", options, index=options.index(chosen), disabled=locked,
                                format_func=lambda sid: "(none)" if sid is None else names[sid], key="crm_segment")
    scheduled = middle.checkbox("Scheduled", value=current["sync_interval_minutes"] is not None, disabled=locked,
                                key="crm_scheduled")
    interval = right.number_input("Every (minutes)", min_value=crm.MIN_INTERVAL, max_value=crm.MAX_INTERVAL,
                                  value=int(current["sync_interval_minutes"] or 60), step=5,
                                  disabled=locked or not scheduled, key="crm_interval")
    if current["last_sync_at"] is not None:
        st.caption(f"Last sync: {current['last_sync_at']:%Y-%m-%d %H:%M} UTC")
    fields: dict[str, Any] = {
        "provider": "hubspot", "token": token.strip() or None, "score_property": score_property,
        "level_property": level_property or None, "fit_level_property": fit_property or None,
        "sync_segment_id": segment_id, "sync_interval_minutes": int(interval) if scheduled else None,
    }

    def save(session: Session, tenant: Tenant, at: datetime) -> crm.CrmSettingsView:
        return crm.put_crm_settings(session, tenant, now=at, **fields)

    save_col, sync_col, test_col = st.columns(3)
    if save_col.button("Save", disabled=locked, key="crm_save") and data.save(user, save, roles=managers):
        st.session_state["crm_flash"] = "HubSpot sync settings saved."
        st.session_state.pop("crm_token", None)  # the typed token is not kept on screen
        st.rerun()
    if sync_col.button("Sync now", disabled=locked or not current["configured"], key="crm_sync_now"):
        synced = data.save(user, lambda s, t, at: crm.sync_now(s, t, at), roles=managers)
        if synced:
            st.success(f"{synced.value} contacts queued for HubSpot.")
    if test_col.button("Test connection", disabled=locked or not current["token_set"], key="crm_test"):
        try:
            with get_db().read() as session:
                result = crm.test_connection(session, user.tenant)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            (st.success if result.ok else st.error)(result.message)
