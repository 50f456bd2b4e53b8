"""The Settings page's Surge section: the unit's surge (session) policy, read and saved through
services.scoring.surge_policy (a change is published as a scoring version and recomputes scores)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from core.surge import MULTIPLIER_CAP_MAX, MULTIPLIER_CAP_MIN, preset_bands
from services.context import Tenant
from services.scoring import scoring_settings, surge_policy
from services.tenancy import policy
from services.tenancy.policy import Action
from ui import data
from ui.auth import SignedIn
from ui.runtime import get_db

TTL = 10
MODES = {"off": "Off", "standard": "Standard", "gentle": "Gentle", "custom": "Custom"}


@st.cache_data(ttl=TTL, show_spinner=False)
def current_policy(tenant: Tenant) -> dict[str, Any]:
    with get_db().read() as session:
        return surge_policy.get_surge_policy(session, tenant)


def describe_bands(bands: list[dict[str, Any]]) -> str:
    steps = [f"{b['multiplier']:g}x from the {ordinal(int(b['min_events']))} event" for b in bands
             if b["multiplier"] > 1]
    return ", ".join(steps) or "no boost"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def surge_settings_section(user: SignedIn) -> None:
    locked = not user.can(Action.EDIT_SCORING)
    current = current_policy(user.tenant)
    st.subheader("Surge")
    st.caption("A lead's events close together in time form a session; from a band's event on, every score gain in "
               "the session is multiplied (never above the cap). A pause as long as the idle reset or the session "
               "timeout, whichever is shorter, starts a new session. Saving recomputes every score.")
    timeout_now = int(data.scoring_settings_of(user.tenant)["session_timeout_minutes"])
    first, second, third, fourth = st.columns(4)
    mode = first.selectbox("Surge mode", list(MODES), index=list(MODES).index(current["mode"]),
                           format_func=MODES.__getitem__, disabled=locked, key="surge_mode")
    idle = second.number_input("Idle reset (seconds)", min_value=1, max_value=surge_policy.MAX_IDLE_RESET_SECONDS,
                               value=int(current["idle_reset_seconds"]), step=60, disabled=locked, key="surge_idle")
    timeout = third.number_input(
        "Session timeout (minutes)", min_value=scoring_settings.MIN_SESSION_TIMEOUT_MINUTES,
        max_value=scoring_settings.MAX_SESSION_TIMEOUT_MINUTES, value=timeout_now, step=5, disabled=locked,
        key="surge_session_timeout", help="A scoring setting: the session ends after this pause too, whichever of "
        "the two is shorter",
    )
    cap = fourth.number_input("Multiplier cap", min_value=MULTIPLIER_CAP_MIN, max_value=MULTIPLIER_CAP_MAX,
                              value=float(current["multiplier_cap"]), step=0.05, format="%.2f", disabled=locked,
                              key="surge_cap")
    body: dict[str, Any] = {"mode": mode, "idle_reset_seconds": int(idle), "multiplier_cap": round(float(cap), 3)}
    if mode == "custom":
        edited = st.data_editor(  # starts from the bands in effect (a preset's until custom ones are saved)
            pd.DataFrame(current["bands"], columns=["min_events", "multiplier"]), num_rows="dynamic", hide_index=True,
            disabled=locked, key="surge_bands",
            column_config={
                "min_events": st.column_config.NumberColumn("From event", min_value=1, step=1, required=True,
                                                            help="the band applies from this event of a session on"),
                "multiplier": st.column_config.NumberColumn("Multiplier", min_value=1.0, max_value=3.0, step=0.05,
                                                            required=True, format="%.2f"),
            },
        )
        body["bands"] = [{"min_events": int(r["min_events"]), "multiplier": float(r["multiplier"])}
                         for r in edited.to_dict("records")
                         if pd.notna(r.get("min_events")) and pd.notna(r.get("multiplier"))]
    elif mode != "off":
        bands = [{"min_events": b.min_events, "multiplier": b.multiplier} for b in preset_bands(mode)]
        st.caption(f"{MODES[mode]} bands: {describe_bands(bands)}.")
    def work(session: Session, tenant: Tenant, at: datetime) -> None:
        if int(timeout) != timeout_now:
            scoring_settings.update_settings(session, tenant, session_timeout_minutes=int(timeout), now=at)
        surge_policy.set_surge_policy(session, tenant, body, at)

    if st.button("Save surge policy", disabled=locked, key="surge_save") and data.save(
        user, work, roles=policy.roles_with(Action.EDIT_SCORING),
    ):
        st.success(f"Surge policy saved: {MODES[mode].lower()}.")
