"""The dashboard script: sign in, then the navigation over pages/. Launched through app.py."""

from __future__ import annotations

import streamlit as st

from ui import nav
from ui.auth import login_gate, logout_button
from ui.runtime import start_background_fallback

st.set_page_config(page_title="Leadvane", page_icon=":material/local_fire_department:", layout="wide")

background = start_background_fallback()  # no-op when app.py's lifespan already serves the API
user = login_gate()
# Always resolve the page, signed in or not, so a deep link (/lead?lead=...) survives the sign-in.
page = st.navigation(nav.all_pages(), position="sidebar" if user else "hidden")
if user is None:
    st.stop()

with st.sidebar:
    st.markdown(f"**{user.name}** · {user.role}  \n{user.email}")
    nav.unit_switcher(user)
    st.caption("API: " + (background.api_url if background else "/api (docs at /api/docs)"))
    logout_button()

page.run()
