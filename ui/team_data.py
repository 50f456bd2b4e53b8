"""What the Team page and the unit switcher read and write, through services.tenancy.members and .units.

Reads are cached briefly per tenant (or person); writes go through ui.data.save, which runs one transaction,
shows a refusal and clears the caches. Who may do what is decided by the services, through the policy.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import streamlit as st

from services.tenancy import members, units
from services.tenancy.policy import ROLES
from ui.auth import SignedIn
from ui.data import TTL, Saved, save
from ui.runtime import get_db

ANY_ROLE: frozenset[str] = frozenset(ROLES)  # the services decide through the policy, not a role list here


@st.cache_data(ttl=TTL, show_spinner=False)
def my_units(user: SignedIn) -> list[dict[str, Any]]:
    """The units the person may open (their memberships; every unit for an organization Owner)."""
    with get_db().read() as session:
        return [asdict(u) for u in units.units_for(session, user.tenant)]


@st.cache_data(ttl=TTL, show_spinner=False)
def team(user: SignedIn) -> list[dict[str, Any]]:
    """Every member of the organization with their role in the user's unit (None: not a member)."""
    tenant = user.tenant
    with get_db().read() as session:
        everyone = members.list_members(session, tenant)
        here = {m.org_member_id: m.role for m in members.list_unit_members(session, tenant, tenant.unit_id)}
    return [{**asdict(m), "unit_role": here.get(m.org_member_id)} for m in everyone]


def invite(user: SignedIn, *, first_name: str, last_name: str, email: str, role: str, where: Any) -> Saved[str]:
    """A new member with `role` in the organization and this unit, and a one-time password for them."""
    password = members.generate_password()

    def work(session: Any, tenant: Any, at: Any) -> str:
        members.create_member(session, tenant, first_name=first_name, last_name=last_name, email=email,
                              password=password, role=role, now=at)
        return password

    return save(user, work, where=where, roles=ANY_ROLE)


def set_unit_role(user: SignedIn, member_id: str, role: str, *, where: Any) -> Saved[Any]:
    """Give a member `role` in this unit (adds them when they are not a member yet)."""
    return save(
        user, lambda s, t, at: members.assign(s, t, t.unit_id, member_id=member_id, role=role, now=at),
        where=where, roles=ANY_ROLE,
    )


def remove_from_unit(user: SignedIn, member_id: str, *, where: Any) -> Saved[None]:
    return save(user, lambda s, t, at: members.remove(s, t, t.unit_id, member_id, at), where=where, roles=ANY_ROLE)


def delete_member(user: SignedIn, member_id: str, *, where: Any) -> Saved[None]:
    return save(user, lambda s, t, at: members.delete_member(s, t, member_id, at), where=where, roles=ANY_ROLE)
