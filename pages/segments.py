"""Segments: saved, live lists of leads picked by rules (profile fields, events, score, levels, account). Pick a
segment to edit its name, build its rules in AND/OR groups with a live count as you type, browse its members and
download them as CSV."""

from __future__ import annotations

import streamlit as st

from ui import segments
from ui.auth import current_user
from ui.components import read_only_notice

user = current_user()
st.title("Segments")
st.caption("A segment is a live list: its members are whoever matches its rules right now. Use it to filter the "
           "Leads page and to restrict triggers.")
read_only_notice(user.can_edit)
segments.render(user)
