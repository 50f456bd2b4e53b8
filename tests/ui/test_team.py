"""The Team page and the unit switcher: people see their team, Owners invite, Viewers cannot change anything."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from streamlit.testing.v1 import AppTest

from db import models
from services.tenancy import members, tenants, users
from services.tenancy.units import person_units
from tests.ui.conftest import PASSWORD, DemoUnit, frame_with, open_page
from ui.auth import SignedIn


def _org_owner(unit: DemoUnit) -> SignedIn:
    return dataclasses.replace(unit.owner, org_role="Owner")


def test_an_owner_invites_a_person_who_gets_a_one_time_password(unit: DemoUnit) -> None:
    email = f"ivy-{uuid.uuid4().hex[:6]}@example.com"
    at = open_page("team", _org_owner(unit))
    assert not at.exception
    at.text_input(key="team_first_name").set_value("Ivy")
    at.text_input(key="team_last_name").set_value("Invited")
    at.text_input(key="team_email").set_value(email)
    at.selectbox(key="team_invite_role").set_value("Operator")
    at.button(key="team_invite").click().run()
    assert not at.exception and not at.error
    password = at.code[0].value
    with unit.db.read() as session:
        person = users.authenticate_user(session, email, password)
        assert person is not None
        assert [(u.unit_id, u.role) for u in person_units(session, person)] == [(unit.tenant.unit_id, "Operator")]
    table = frame_with(at, "Role in this unit").set_index("Email")
    assert table.loc[email, "Role in this unit"] == "Operator" and table.loc[email, "Name"] == "Ivy Invited"


def test_a_viewer_sees_the_team_but_every_control_is_disabled(unit: DemoUnit) -> None:
    at = open_page("team", unit.viewer)
    assert not at.exception
    table = frame_with(at, "Role in this unit").set_index("Email")
    assert table.loc[unit.owner.email, "Role in this unit"] == "Owner"
    assert table.loc[unit.viewer.email, "Role in this unit"] == "Viewer"
    for key in ("team_invite", "team_save_role", "team_remove", "team_delete"):
        assert at.button(key=key).disabled, key
    assert at.text_input(key="team_email").disabled


def test_an_owner_changes_a_role_and_cannot_remove_the_last_owner(unit: DemoUnit) -> None:
    at = open_page("team", _org_owner(unit))
    at.selectbox(key="team_role_person").set_value(unit.viewer.id)
    at.selectbox(key="team_role_value").set_value("Operator")
    at.button(key="team_save_role").click().run()
    assert not at.exception and not at.error
    assert frame_with(at, "Role in this unit").set_index("Email").loc[unit.viewer.email, "Role in this unit"] == \
        "Operator"
    at.selectbox(key="team_remove_person").set_value(unit.owner.id)
    at.button(key="team_remove").click().run()
    assert "last Owner" in at.error[0].value


def test_an_operator_is_not_offered_the_owner_role(unit: DemoUnit) -> None:
    operator = dataclasses.replace(unit.viewer, role="Operator", org_role="Operator")
    at = open_page("team", operator)
    assert list(at.selectbox(key="team_role_value").options) == ["Operator", "Viewer"]
    assert not at.button(key="team_save_role").disabled and at.button(key="team_invite").disabled


def _switcher() -> None:
    import streamlit as st

    from ui import nav

    nav.unit_switcher(st.session_state["switch_user"])


def test_the_unit_switcher_shows_only_the_persons_units(unit: DemoUnit) -> None:
    now = datetime.now(UTC)
    with unit.db.write() as session:
        second = tenants.add_unit(session, org_id=unit.tenant.org_id, name="Marketing", now=now)
        tenants.add_unit(session, org_id=unit.tenant.org_id, name="Finance", now=now)  # not theirs
        users.add_membership(session, dataclasses.replace(unit.tenant, unit_id=second.id), user_id=unit.viewer.id,
                             role="Viewer", now=now)
    at = AppTest.from_function(_switcher, default_timeout=60)
    at.session_state["switch_user"] = unit.viewer
    at.run()
    assert not at.exception
    switcher = at.selectbox(key="lv_unit_switcher")
    assert list(switcher.options) == ["Sales", "Marketing"]
    switcher.set_value(second.id).run()
    assert at.session_state["lv_unit"] == second.id

    # One unit: no switcher at all.
    with unit.db.write() as session:
        session.delete(session.get(models.UnitMembership, _membership_id(unit, second.id)))
    single = AppTest.from_function(_switcher, default_timeout=60)
    single.session_state["switch_user"] = dataclasses.replace(unit.viewer, name="fresh")  # a new cache entry
    single.run()
    assert not single.exception and not single.selectbox


def _membership_id(unit: DemoUnit, unit_id: str) -> str:
    from sqlalchemy import select

    with unit.db.read() as session:
        return str(session.scalar(select(models.UnitMembership.id).where(
            models.UnitMembership.unit_id == unit_id, models.UnitMembership.user_id == unit.viewer.id)))


def test_members_are_listed_per_organization(unit: DemoUnit) -> None:
    with unit.db.read() as session:
        listed = members.list_members(session, unit.owner.tenant)
    assert {m.email for m in listed} == {unit.owner.email, unit.viewer.email}
    assert PASSWORD not in repr(listed)
