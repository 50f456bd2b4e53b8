"""Data quality: keep bots, bursts and noisy event types out of the scores. The bot switch, the burst filters (with
how many events each holds back now) and the event types' visibility and processing scope.

Held-back events stay in the log (greyed on the lead's timeline with the reason); every change here publishes a
scoring version whose rescore applies it to history.
"""

from __future__ import annotations

import streamlit as st

from ui import data_quality
from ui.auth import current_user
from ui.components import read_only_notice

user = current_user()
st.title("Data quality")
st.caption("Bots, scripts and reload loops inflate scores. Hold their events back here: they are kept and shown, "
           "but score nothing and fire no trigger.")
read_only_notice(user.can_edit)
if st.session_state.get("dq_saved"):
    st.success(st.session_state.pop("dq_saved"))

locked = not user.can_edit
state = data_quality.setup(user.tenant)
with st.container(border=True):
    data_quality.render_bot_switch(user, state, locked)
with st.container(border=True):
    data_quality.render_filters(user, state, locked)
with st.container(border=True):
    data_quality.render_event_types(user, state, locked)
