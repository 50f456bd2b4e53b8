"""Login (streamlit-authenticator over the users table), the signed-in user, and role checks."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import streamlit_authenticator as stauth

from services.context import Tenant
from services.errors import Forbidden
from services.users import EDITOR_ROLES
from ui.runtime import cookie_key, get_db

USER_KEY = "lv_user"
COOKIE_NAME = "leadvane_session"


@dataclass(frozen=True, slots=True)
class SignedIn:
    id: str
    email: str
    name: str
    role: str
    org_id: str
    unit_id: str

    @property
    def tenant(self) -> Tenant:
        return Tenant(org_id=self.org_id, unit_id=self.unit_id)

    @property
    def can_edit(self) -> bool:
        return self.role in EDITOR_ROLES


def _credentials() -> tuple[dict[str, dict[str, dict[str, object]]], dict[str, SignedIn]]:
    """Every enabled user as streamlit-authenticator credentials, keyed by email (the login name)."""
    from sqlalchemy import select

    from db import models

    with get_db().read() as session:
        users = session.scalars(select(models.User).where(models.User.disabled.is_(False))).all()
    credentials = {
        u.email: {"email": u.email, "name": u.name, "password": u.password_hash, "roles": [u.role]} for u in users
    }
    people = {u.email: SignedIn(u.id, u.email, u.name, u.role, u.org_id, u.unit_id) for u in users}
    return {"usernames": credentials}, people


def _authenticator() -> tuple[stauth.Authenticate, dict[str, SignedIn]]:
    credentials, people = _credentials()
    authenticator = stauth.Authenticate(
        credentials, COOKIE_NAME, cookie_key(), cookie_expiry_days=7, auto_hash=False, login_sleep_time=0
    )
    return authenticator, people


def login_gate() -> SignedIn | None:
    """Show the login form until the user is signed in; returns the signed-in user (or None to stop)."""
    authenticator, people = _authenticator()
    st.session_state["lv_authenticator"] = authenticator
    if not st.session_state.get("authentication_status"):
        st.title("Leadvane")
        fields = {"Form name": "Sign in", "Username": "Email", "Password": "Password", "Login": "Sign in"}
        authenticator.login(location="main", fields=fields)
    status = st.session_state.get("authentication_status")
    if status is False:
        st.error("Email or password is incorrect.")
    if not status:
        st.session_state.pop(USER_KEY, None)
        return None
    user = people.get(str(st.session_state.get("username", "")).strip().lower())
    if user is None:
        st.session_state["authentication_status"] = None
        st.error("This user no longer exists or is disabled.")
        return None
    st.session_state[USER_KEY] = user
    return user


def logout_button() -> None:
    authenticator = st.session_state.get("lv_authenticator")
    if authenticator is not None:
        # Not key="logout": streamlit-authenticator keeps its own flag under that session-state name.
        authenticator.logout("Log out", location="sidebar", key="lv_logout", callback=lambda _info: _forget())
        if not st.session_state.get("authentication_status"):
            st.rerun()


def _forget() -> None:
    st.session_state.pop(USER_KEY, None)


def current_user() -> SignedIn:
    """The signed-in user; a page opened without one stops with a message."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, SignedIn):
        st.warning("Please sign in.")
        st.stop()
    return user


def require_editor(user: SignedIn, roles: frozenset[str] = EDITOR_ROLES) -> None:
    """Refuse a change for a Viewer (or anyone outside `roles`); called before every write a page makes."""
    if user.role not in roles:
        raise Forbidden(f"{user.role} users cannot make this change")
