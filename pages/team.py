"""Team: the organization's people and their role in this unit; invite, change roles, remove, delete."""

from __future__ import annotations

import streamlit as st

from services.tenancy.policy import ROLES, Action
from ui import team_data
from ui.auth import current_user

ROLE_HELP = {
    "Owner": "Owner: everything, including keys and people",
    "Operator": "Operator: edits rules, levels, triggers and imports; manages Operators and Viewers",
    "Viewer": "Viewer: reads only",
}

user = current_user()
st.title("Team")
can_invite = user.can(Action.MANAGE_ORG)  # organization Owners
can_manage = user.can(Action.MANAGE_MEMBERSHIPS)  # Owners and Operators of this unit
grantable = ROLES if user.role == "Owner" else tuple(r for r in ROLES if r != "Owner")
if not can_manage:
    st.info(f"You are a {user.role} in this unit: you can see the team but not change it.")

people = team_data.team(user)
st.dataframe(
    [
        {
            "Name": f"{p['first_name']} {p['last_name']}".strip() or p["email"], "Email": p["email"],
            "Role in this unit": p["unit_role"] or "—", "Organization role": p["role"],
        }
        for p in people
    ],
    hide_index=True, width="stretch", key="team_table",
)
labels = {p["org_member_id"]: f"{p['first_name']} {p['last_name']} ({p['email']})".strip() for p in people}
in_unit = [p["org_member_id"] for p in people if p["unit_role"]]

st.subheader("Invite a person")
st.caption("Only organization Owners invite. The person gets the role in the organization and in this unit, and a "
           "one-time password that is shown once.")
first_col, last_col = st.columns(2)
first_name = first_col.text_input("First name", key="team_first_name", disabled=not can_invite)
last_name = last_col.text_input("Last name", key="team_last_name", disabled=not can_invite)
email_col, role_col = st.columns([3, 2])
email = email_col.text_input("Email", key="team_email", disabled=not can_invite)
role = role_col.selectbox("Role", ROLES, index=2, format_func=ROLE_HELP.get, key="team_invite_role",
                          disabled=not can_invite)
invite_problems = st.container()
if st.button("Invite", type="primary", key="team_invite", disabled=not can_invite):
    invited = team_data.invite(user, first_name=first_name, last_name=last_name, email=email, role=role,
                               where=invite_problems)
    if invited and invited.value is not None:
        st.session_state["team_invited"] = {"email": email.strip().lower(), "password": invited.value}
        for field in ("team_first_name", "team_last_name", "team_email"):
            st.session_state.pop(field, None)
        st.rerun()
if st.session_state.get("team_invited"):
    shown = st.session_state["team_invited"]
    st.success(f"Invited **{shown['email']}**. Give them this one-time password: it will not be shown again.")
    st.code(shown["password"], language=None)
    if st.button("I have passed it on", key="team_hide_password"):
        st.session_state.pop("team_invited")
        st.rerun()

st.subheader("Role in this unit")
st.caption("Owners and Operators of the unit change roles here; only Owners grant or take the Owner role. "
           "Choosing a role for someone outside the unit adds them to it.")
who_col, role_col, go_col = st.columns([3, 2, 1], vertical_alignment="bottom")
who = who_col.selectbox("Person", list(labels), format_func=labels.get, key="team_role_person",
                        disabled=not can_manage)
new_role = role_col.selectbox("New role", grantable, key="team_role_value", disabled=not can_manage)
role_problems = st.container()
clicked = go_col.button("Save role", key="team_save_role", disabled=not can_manage or who is None)
if clicked and who is not None and team_data.set_unit_role(user, who, new_role, where=role_problems):
    st.rerun()

st.subheader("Remove from this unit")
out_col, out_go = st.columns([5, 1], vertical_alignment="bottom")
leaving = out_col.selectbox("Member of this unit", in_unit, format_func=labels.get, key="team_remove_person",
                            disabled=not can_manage)
remove_problems = st.container()
clicked = out_go.button("Remove", key="team_remove", disabled=not can_manage or leaving is None)
if clicked and leaving is not None and team_data.remove_from_unit(user, leaving, where=remove_problems):
    st.rerun()

st.subheader("Delete from the organization")
st.caption("Only organization Owners delete people: they lose every unit. What they changed stays in the audit log.")
del_col, del_go = st.columns([5, 1], vertical_alignment="bottom")
gone = del_col.selectbox("Person to delete", [p for p in labels if p != user.id], format_func=labels.get,
                         key="team_delete_person", disabled=not can_invite)
delete_problems = st.container()
clicked = del_go.button("Delete", key="team_delete", disabled=not can_invite or gone is None)
if clicked and gone is not None and team_data.delete_member(user, gone, where=delete_problems):
    st.rerun()
