"""Lead detail: "Merge with…" finds the duplicate by alias and merges it after a confirmation; "Erase" is an
Owner's, after typing the lead id."""

from __future__ import annotations

from sqlalchemy import select

from db import models
from services.people import leads
from tests.ui.conftest import DemoUnit, open_page


def _two_leads(unit: DemoUnit) -> tuple[dict, dict]:
    with unit.db.read() as session:
        rows = leads.list_leads(session, unit.tenant, limit=2).rows
    return rows[0], rows[1]


def test_merge_with_a_duplicate_found_by_email(unit: DemoUnit) -> None:
    target, duplicate = _two_leads(unit)
    at = open_page("lead_detail", unit.owner, lead_id=target["id"])
    assert not at.exception
    at.text_input(key="merge_query").input(duplicate["email"]).run()
    assert at.selectbox(key="merge_pick").value == duplicate["id"]
    assert at.button(key="merge_go").disabled  # not before the confirmation
    at.checkbox(key="merge_sure").check().run()
    at.button(key="merge_go").click().run()
    assert not at.exception
    with unit.db.read() as session:
        assert session.get(models.Lead, duplicate["id"]).merged_into == target["id"]  # type: ignore[union-attr]
        merged = leads.get_lead(session, unit.tenant, target["id"])["lead"]
    assert merged["score"] >= target["score"]


def test_only_an_owner_erases_and_only_after_typing_the_id(unit: DemoUnit) -> None:
    target, _ = _two_leads(unit)
    viewer = open_page("lead_detail", unit.viewer, lead_id=target["id"])
    assert not viewer.exception
    assert not [b for b in viewer.button if b.key == "erase_go"]
    at = open_page("lead_detail", unit.owner, lead_id=target["id"])
    assert at.button(key="erase_go").disabled
    at.text_input(key="erase_typed").input(target["id"]).run()
    assert not at.button(key="erase_go").disabled
    at.button(key="erase_go").click().run()
    with unit.db.read() as session:
        assert session.get(models.Lead, target["id"]) is None
        status = session.scalar(select(models.LeadErasure.status).where(models.LeadErasure.lead_id == target["id"]))
    assert status == "completed"
