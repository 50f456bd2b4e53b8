"""Fit: how well a lead (its profile) or an account matches the ideal customer, as the sum of the weights of the
fit rules it matches. One tab per kind: field mappings (which event fields fill the profile), fit rulesets, the
fit rules grid, and fit levels over the current fit scores.

Rule and level edits build a DRAFT: nothing changes until Publish; "Preview impact" shows who would move first.
"""

from __future__ import annotations

import streamlit as st

from ui import fit
from ui.auth import current_user
from ui.components import read_only_notice

user = current_user()
st.title("Fit scoring")
st.caption("Engagement says how active a lead is; fit says how well it matches your ideal customer. The Leads page "
           "shows both, with a combined grade (A1 = best fit, hottest).")
read_only_notice(user.can_edit)

profile_tab, account_tab = st.tabs(["Profile", "Account"])
with profile_tab:
    fit.render_kind(user, "profile")
with account_tab:
    fit.render_kind(user, "account")
