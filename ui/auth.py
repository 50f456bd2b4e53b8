"""Sign-in (our throttled form; streamlit-authenticator keeps the session cookie), the signed-in user, and what
that user's role may do (asked of services.tenancy.policy, the same module every service write asks).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import streamlit_authenticator as stauth

from services.context import Tenant
from services.errors import Forbidden
from services.tenancy import policy, sign_in
from services.tenancy.policy import Action
from services.tenancy.users import EDITOR_ROLES
from ui.runtime import cookie_key, get_db, now

USER_KEY = "lv_user"
UNIT_KEY = "lv_unit"  # the unit the person chose (a unit switcher sets it); else their first unit
COOKIE_NAME = "leadvane_session"


@dataclass(frozen=True, slots=True)
class SignedIn:
    id: str
    email: str
    name: str
    role: str
    org_id: str
    unit_id: str
    org_role: str | None = None  # the person's organization role (an organization Owner manages people, units)

    @property
    def tenant(self) -> Tenant:
        """The unit, acting with this user's role; the email is the actor recorded on what they change."""
        return Tenant(org_id=self.org_id, unit_id=self.unit_id, role=self.role, actor=self.email, member_id=self.id,
                      org_role=self.org_role)

    def can(self, action: Action) -> bool:
        return policy.permits(self.tenant, action)

    @property
    def can_edit(self) -> bool:
        """May change the unit's scoring configuration (pages that edit ask this or `can(Action.X)`)."""
        return self.can(Action.EDIT_SCORING)


def _credentials() -> dict[str, dict[str, dict[str, object]]]:
    """Every enabled member as streamlit-authenticator credentials, keyed by email (the login name)."""
    from sqlalchemy import select

    from db import models

    with get_db().read() as session:
        users = session.scalars(select(models.User).where(models.User.disabled.is_(False))).all()
    return {
        "usernames": {
            u.email: {"email": u.email, "name": u.name, "password": u.password_hash, "roles": [u.role]} for u in users
        }
    }


def _signed_in(email: str, unit_id: str | None) -> SignedIn | None:
    """The member with `email` in `unit_id` (or their first unit) with their role there; None without a unit.
    An organization Owner may open every unit of the organization (services.tenancy.units)."""
    from sqlalchemy import select

    from db import models
    from services.tenancy.units import person_units

    with get_db().read() as session:
        user = session.scalar(
            select(models.User).where(models.User.email == email, models.User.disabled.is_(False))
        )
        if user is None:
            return None
        units = person_units(session, user)
        if not units:
            return None
        unit = next((u for u in units if u.unit_id == unit_id), units[0])
        return SignedIn(user.id, user.email, user.name, unit.role, user.org_id, unit.unit_id, user.role)


def _authenticator() -> stauth.Authenticate:
    return stauth.Authenticate(
        _credentials(), COOKIE_NAME, cookie_key(), cookie_expiry_days=7, auto_hash=False, login_sleep_time=0
    )


def _sign_in_form(authenticator: stauth.Authenticate) -> None:
    """The sign-in form. The attempt goes through services.tenancy.sign_in (throttled, recorded) before any password
    check; on success streamlit-authenticator takes over the session (state and cookie) as after its own form.
    """
    screen = st.empty()
    with screen.container():
        st.title("Leadvane")
        with st.form("lv_sign_in"):
            st.subheader("Sign in")
            email = st.text_input("Email", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    with get_db().write() as session:
        result = sign_in.sign_in(session, email, password, now())
        signed_in_as = result.user.email if result.user is not None else None
    if result.throttled:
        st.error(f"Too many failed sign-ins for this email: try again in {result.retry_after_seconds} s.")
    elif signed_in_as is None:
        st.error("Email or password is incorrect.")
    else:
        authenticator.authentication_controller.login(token={"username": signed_in_as})
        # No rerun here: the cookie is set by a component that must reach the browser with this run.
        authenticator.cookie_controller.set_cookie()
        screen.empty()


def login_gate() -> SignedIn | None:
    """Show the sign-in form until the user is signed in; returns the signed-in user (or None to stop)."""
    authenticator = _authenticator()
    st.session_state["lv_authenticator"] = authenticator
    if not st.session_state.get("authentication_status"):
        try:
            # Renders nothing: signs in from a valid session cookie, if the browser has one.
            authenticator.login(location="unrendered")
        except stauth.LoginError:  # the cookie names a user since disabled or deleted
            st.session_state["authentication_status"] = None
    if not st.session_state.get("authentication_status"):
        _sign_in_form(authenticator)
    status = st.session_state.get("authentication_status")
    if not status:
        st.session_state.pop(USER_KEY, None)
        return None
    user = _signed_in(str(st.session_state.get("username", "")).strip().lower(), st.session_state.get(UNIT_KEY))
    if user is None:
        st.session_state["authentication_status"] = None
        st.error("This user no longer exists, is disabled, or belongs to no unit.")
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


def can(action: Action) -> bool:
    """May the signed-in user do `action`? For greying out what their role cannot change."""
    user = st.session_state.get(USER_KEY)
    return isinstance(user, SignedIn) and user.can(action)


def require_editor(user: SignedIn, roles: frozenset[str] = EDITOR_ROLES) -> None:
    """Refuse a change early for a role outside `roles` (the services refuse it anyway, through the policy)."""
    if user.role not in roles:
        raise Forbidden(f"{user.role} users cannot make this change")
