"""Integrations: where the unit's notifications and data go outside Leadvane (Slack, HubSpot)."""

from __future__ import annotations

import streamlit as st

from ui.auth import current_user
from ui.integrations_crm import crm_section
from ui.integrations_slack import slack_section

user = current_user()
st.title("Integrations")
st.caption("Connect the tools your team works in. Changes here are recorded in the audit log.")
slack_section(user)
st.divider()
crm_section(user)
