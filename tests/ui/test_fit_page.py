"""The Fit page and fit beside engagement on the lead screens.

AppTest (both databases): a fit rule added on the Fit page is a draft until published, its preview says who would
move, Publish stores it and rescores fit, and the Leads page then shows the lead's fit level and grade and filters
by fit level; the lead detail's Edit profile form changes a profile value and the fit follows; a Viewer changes
nothing; the Account tab hides account scoring while ABM is off; field mappings save.

Playwright (SQLite, the real app on loopback in headless Chromium): the same story as a user clicks it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import select

from core.profile import LEAD_PROFILE_EVENT
from db import models
from db.engine import Database
from services.context import Tenant
from services.people import lead_profiles, leads
from services.people.profiles import set_lead_profile
from services.scoring import fit_config, scoring_settings
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts

ROOT = Path(__file__).resolve().parents[2]


def _now() -> datetime:
    return datetime.now(UTC)


def clear_demo_fit(db: Database, tenant: Tenant) -> None:
    """Remove the fit configuration and the profiles the demo comes with (these tests build their own)."""
    with db.write() as session:
        for row in session.scalars(select(models.Lead).where(models.Lead.unit_id == tenant.unit_id)):
            set_lead_profile(session, tenant, row, {}, via="test", now=_now())
        for kind in ("profile", "account"):
            for mapping in fit_config.list_mappings(session, tenant, kind):
                fit_config.delete_mapping(session, tenant, kind, mapping["id"], now=_now())
            for level in fit_config.list_fit_levels(session, tenant, kind):
                fit_config.delete_fit_level(session, tenant, kind, level["id"], now=_now())
            for ruleset in fit_config.list_fit_rulesets(session, tenant, kind):
                fit_config.delete_fit_ruleset(session, tenant, kind, ruleset["id"], now=_now())


@pytest.fixture(autouse=True)
def _no_demo_fit(request: pytest.FixtureRequest) -> None:
    if "unit" in request.fixturenames:
        unit: DemoUnit = request.getfixturevalue("unit")
        clear_demo_fit(unit.db, unit.tenant)


def _fit_setup(unit: DemoUnit, *, with_rule: bool = False) -> dict[str, Any]:
    """A primary profile ruleset "ICP" (optionally with "title contains vp: +30"), fit levels Poor 0..19 and
    Good 20..1000, and the top lead's title "VP Sales". Returns {ruleset, lead}."""
    with unit.db.write() as session:
        ruleset = fit_config.create_fit_ruleset(session, unit.tenant, "profile", name="ICP", now=_now())
        fit_config.create_fit_level(session, unit.tenant, "profile", name="Poor", min_score=-1000, max_score=19,
                                    now=_now())
        fit_config.create_fit_level(session, unit.tenant, "profile", name="Good", min_score=20, max_score=1000,
                                    now=_now())
        if with_rule:
            fit_config.create_fit_rule(session, unit.tenant, "profile", ruleset["id"], property="title",
                                       condition="contains", comparison_value="vp", weight=30, now=_now())
        lead = leads.list_leads(session, unit.tenant, limit=1).rows[0]
        lead_profiles.patch_metadata(session, unit.tenant, lead["id"], {"title": "VP Sales"}, now=_now())
    return {"ruleset": ruleset, "lead": lead}


def _lead(unit: DemoUnit, lead_id: str) -> dict[str, Any]:
    with unit.db.read() as session:
        return dict(leads.get_lead(session, unit.tenant, lead_id)["lead"])


def _button(at: Any, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def test_a_fit_rule_is_a_draft_until_published_and_the_leads_page_shows_fit_and_grade(unit: DemoUnit) -> None:
    setup = _fit_setup(unit)
    lead_id, ruleset_id = setup["lead"]["id"], setup["ruleset"]["id"]
    assert _lead(unit, lead_id)["fit_score"] == 0

    at = open_page("fit", unit.owner)
    assert not at.exception
    assert at.button(key="fit_publish_profile").disabled and at.button(key="fit_preview_button_profile").disabled
    assert "title" in at.selectbox(key="fit_add_property_profile").options  # a property seen on the profiles
    at.selectbox(key="fit_add_property_profile").set_value("title")
    at.selectbox(key="fit_add_condition_profile").set_value("contains")
    at.text_input(key="fit_add_value_profile").set_value("vp")
    at.number_input(key="fit_add_weight_profile").set_value(30)
    _button(at, "Add rule").click().run()
    assert not at.exception
    assert "unpublished fit changes (rules: 1 added, 0 changed, 0 removed)" in texts(at)
    grid = at.data_editor(key=f"fit_rules_grid_profile_{ruleset_id}").value
    assert list(grid["property"]) == ["title"] and list(grid["weight"]) == [30]
    # A draft: nothing stored yet.
    with unit.db.read() as session:
        assert fit_config.list_fit_rules(session, unit.tenant, "profile", ruleset_id) == []
    assert _lead(unit, lead_id)["fit_score"] == 0

    at.button(key="fit_preview_button_profile").click().run()
    assert not at.exception
    shown = texts(at)
    assert "Impact of the draft" in shown
    assert next(m.value for m in at.metric if m.label == "Leads whose fit changes") == "1"
    assert next(m.value for m in at.metric if m.label == "Leads changing fit level") == "1"
    matrix = frame_with(at, "Level now")
    assert matrix.iloc[0]["Level now"] == "Poor" and matrix.iloc[0]["Good"] == 1
    movers = frame_with(at, "With the draft")
    assert list(movers["With the draft"]) == [30] and list(movers["Now"]) == [0]

    at.button(key="fit_publish_profile").click().run()
    assert not at.exception
    assert any("Published version" in s.value for s in at.success)
    with unit.db.read() as session:
        stored = fit_config.list_fit_rules(session, unit.tenant, "profile", ruleset_id)
    assert [(r["profile_property"], r["condition"], r["comparison_value"], r["weight"]) for r in stored] == [
        ("title", "contains", "vp", 30)
    ]
    lead = _lead(unit, lead_id)
    assert lead["fit_score"] == 30 and lead["fit_level"] == "Good"
    assert "unpublished fit changes" not in texts(at)  # the draft is gone

    page = open_page("leads", unit.owner)
    assert not page.exception
    table = page.dataframe(key="leads_table").value
    row = table[table["Email"] == setup["lead"]["email"]].iloc[0]
    engagement_levels = sorted(_engagement_levels(unit), key=lambda lv: -lv["min_score"])
    digit = 1 + [lv["name"] for lv in engagement_levels].index(lead["level"]["name"])
    assert row["Fit"] == 30 and list(row["Fit level"]) == ["Good"] and row["Grade"] == f"A{digit}"
    others = table[table["Email"] != setup["lead"]["email"]]
    assert set(others["Grade"].str[0]) == {"B"}  # everyone else is Poor: the second fit band

    page.selectbox(key="leads_fit_level").set_value("Good").run()
    assert not page.exception
    assert list(page.dataframe(key="leads_table").value["Email"]) == [setup["lead"]["email"]]


def _engagement_levels(unit: DemoUnit) -> list[dict[str, Any]]:
    from services.scoring import levels

    with unit.db.read() as session:
        return levels.list_levels(session, unit.tenant)


def test_editing_a_rule_in_the_grid_and_discarding_the_draft(unit: DemoUnit) -> None:
    setup = _fit_setup(unit, with_rule=True)
    ruleset_id = setup["ruleset"]["id"]
    at = open_page("fit", unit.owner)
    at.session_state[f"fit_rules_grid_profile_{ruleset_id}"] = {
        "edited_rows": {0: {"weight": 5}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    assert "rules: 0 added, 1 changed, 0 removed" in texts(at)
    at.button(key="fit_preview_button_profile").click().run()
    assert next(m.value for m in at.metric if m.label == "Leads changing fit level") == "1"  # 30 -> 5: Good -> Poor
    at.button(key="fit_discard_profile").click().run()
    assert not at.exception
    assert "Draft discarded" in texts(at)
    assert list(at.data_editor(key=f"fit_rules_grid_profile_{ruleset_id}").value["weight"]) == [30]
    assert _lead(unit, setup["lead"]["id"])["fit_score"] == 30


def test_a_bad_rule_is_refused_with_its_row_named(unit: DemoUnit) -> None:
    setup = _fit_setup(unit)
    ruleset_id = setup["ruleset"]["id"]
    at = open_page("fit", unit.owner)
    at.session_state[f"fit_rules_grid_profile_{ruleset_id}"] = {
        "edited_rows": {}, "deleted_rows": [],
        "added_rows": [{"property": "employees", "condition": "gt", "comparison_value": "many", "weight": 5}],
    }
    at.run()
    at.button(key="fit_publish_profile").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "ICP, row 1, comparison_value" in errors
    with unit.db.read() as session:
        assert fit_config.list_fit_rules(session, unit.tenant, "profile", ruleset_id) == []


def test_edit_profile_changes_a_value_and_the_fit_follows(unit: DemoUnit) -> None:
    setup = _fit_setup(unit, with_rule=True)
    lead_id = setup["lead"]["id"]
    at = open_page("lead_detail", unit.owner, lead_id=lead_id)
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "Fit score") == "30"
    reasons = frame_with(at, "Matched profile rule")
    assert list(reasons["Matched profile rule"]) == ["title contains vp"] and list(reasons["Points"]) == [30]
    grid_key = f"profile_grid_{lead_id}"
    title_row = list(at.data_editor(key=grid_key).value["key"]).index("title")
    at.session_state[grid_key] = {
        "edited_rows": {title_row: {"value": "Student"}}, "deleted_rows": [],
        "added_rows": [{"key": "employees", "value": "250"}],
    }
    _button(at, "Save profile").click().run()
    assert not at.exception, at.exception
    assert any("Profile saved; fit score now 0 (Poor)" in s.value for s in at.success)
    assert next(m.value for m in at.metric if m.label == "Fit score") == "0"
    lead = _lead(unit, lead_id)
    assert lead["metadata"]["title"] == "Student" and lead["metadata"]["employees"] == 250  # typed as a number
    assert lead["fit_score"] == 0 and lead["fit_level"] == "Poor"
    with unit.db.read() as session:
        from services.tenancy import audit

        entries = audit.list_entries(session, unit.tenant, search=lead_id, limit=20)
    assert any(e.entity_type == "lead" and e.action == "update" and e.user_email == unit.owner.email
               and "Student" in str(e.changes) for e in entries)
    with unit.db.read() as session:  # recorded in the log as the dashboard's edit
        change = session.scalars(select(models.Event.metadata_).where(
            models.Event.lead_id == lead_id, models.Event.event_type == LEAD_PROFILE_EVENT,
        ).order_by(models.Event.seq.desc()).limit(1)).one()
    assert change["via"] == "dashboard" and change["set"]["title"] == "Student"


def test_a_viewer_sees_fit_but_changes_nothing(unit: DemoUnit) -> None:
    setup = _fit_setup(unit, with_rule=True)
    at = open_page("fit", unit.viewer)
    assert not at.exception
    assert "signed in as a Viewer" in texts(at)
    assert _button(at, "Add rule").disabled and _button(at, "Create fit ruleset").disabled
    assert at.button(key="fit_save_mappings_profile").disabled
    assert at.button(key="fit_publish_profile").disabled
    detail = open_page("lead_detail", unit.viewer, lead_id=setup["lead"]["id"])
    assert not detail.exception
    assert _button(detail, "Save profile").disabled


def test_the_account_tab_hides_account_scoring_while_abm_is_off(unit: DemoUnit) -> None:
    at = open_page("fit", unit.owner)
    assert "fit_ruleset_account" in [s.key for s in at.selectbox]  # the demo turns ABM on
    with unit.db.write() as session:
        scoring_settings.update_settings(session, unit.tenant, abm_enabled=False, now=_now())
    st.cache_data.clear()  # as a save on the Settings page does
    at = open_page("fit", unit.owner)
    assert not at.exception
    assert "Account scoring is off for this unit" in texts(at)
    assert "fit_ruleset_account" not in [s.key for s in at.selectbox]
    assert "fit_ruleset_profile" in [s.key for s in at.selectbox]
    buttons = [b.key for b in at.button]  # account mappings too: the API refuses them while ABM is off
    assert "fit_save_mappings_profile" in buttons and "fit_save_mappings_account" not in buttons
    accounts = open_page("accounts", unit.owner)
    assert "Account scoring is off for this unit" in texts(accounts)
    _button(accounts, "Turn ABM on").click().run()
    assert not accounts.exception
    assert len(accounts.dataframe(key="accounts_table").value) > 0


def test_fit_rulesets_are_created_made_primary_and_disabled(unit: DemoUnit) -> None:
    at = open_page("fit", unit.owner)
    assert "No fit ruleset yet" in texts(at)
    at.text_input(key="fit_new_ruleset_name_profile").set_value("ICP")
    _button(at, "Create fit ruleset").click().run()
    assert not at.exception, at.exception
    at.text_input(key="fit_new_ruleset_name_profile").set_value("Enterprise")
    at.checkbox(key="fit_new_ruleset_primary_profile").set_value(False)
    _button(at, "Create fit ruleset").click().run()
    assert not at.exception, at.exception
    with unit.db.read() as session:
        made = {rs["name"]: rs for rs in fit_config.list_fit_rulesets(session, unit.tenant, "profile")}
    assert made["ICP"]["is_primary"] and not made["Enterprise"]["is_primary"]
    assert at.selectbox(key="fit_ruleset_profile").value == made["Enterprise"]["id"]  # the new one is shown
    next(c for c in at.checkbox if c.label == "Primary").set_value(True)
    next(c for c in at.checkbox if c.label == "Enabled").set_value(False)
    _button(at, "Save ruleset").click().run()
    assert not at.exception, at.exception
    with unit.db.read() as session:
        made = {rs["name"]: rs for rs in fit_config.list_fit_rulesets(session, unit.tenant, "profile")}
    assert made["Enterprise"]["is_primary"] and not made["Enterprise"]["enabled"]
    assert not made["ICP"]["is_primary"]
    assert "Enterprise (primary, disabled)" in at.selectbox(key="fit_ruleset_profile").format_func(
        made["Enterprise"]["id"])


def test_fit_levels_are_part_of_the_draft_and_a_ruleset_can_be_deleted(unit: DemoUnit) -> None:
    setup = _fit_setup(unit, with_rule=True)
    lead_id = setup["lead"]["id"]
    at = open_page("fit", unit.owner)
    levels_grid = at.data_editor(key="fit_levels_grid_profile").value
    assert list(levels_grid["name"]) == ["Poor", "Good"]
    at.session_state["fit_levels_grid_profile"] = {  # Good starts at 40 now: the VP lead's 30 becomes Poor
        "edited_rows": {0: {"max_score": 39}, 1: {"min_score": 40}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    assert "rules: none; levels changed" in texts(at)
    at.button(key="fit_preview_button_profile").click().run()
    assert next(m.value for m in at.metric if m.label == "Leads changing fit level") == "1"
    assert next(m.value for m in at.metric if m.label == "Leads whose fit changes") == "0"
    at.button(key="fit_publish_profile").click().run()
    assert not at.exception
    assert _lead(unit, lead_id)["fit_level"] == "Poor"

    at.checkbox(key="fit_delete_sure_profile").check().run()
    at.button(key="fit_delete_ruleset_profile").click().run()
    assert not at.exception, at.exception
    with unit.db.read() as session:
        assert fit_config.list_fit_rulesets(session, unit.tenant, "profile") == []
    assert "No fit ruleset yet" in texts(at)
    assert _lead(unit, lead_id)["fit_score"] == 0


def test_field_mappings_save_from_the_grid(unit: DemoUnit) -> None:
    at = open_page("fit", unit.owner)
    at.session_state["fit_mappings_grid_profile"] = {
        "edited_rows": {}, "deleted_rows": [],
        "added_rows": [{"source_field": "company.size", "property": "employees", "update_behavior": "set_once"}],
    }
    at.run()
    at.button(key="fit_save_mappings_profile").click().run()
    assert not at.exception
    assert "Mappings saved (1 changed)" in texts(at)
    with unit.db.read() as session:
        saved = fit_config.list_mappings(session, unit.tenant, "profile")
    assert [(m["source_field"], m["profile_property"], m["update_behavior"]) for m in saved] == [
        ("company.size", "employees", "set_once")
    ]


# --- the real app in a real browser ----------------------------------------------------------------------------------


@pytest.fixture
def running_app(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app (`streamlit run app.py`) on loopback over a fresh SQLite file with the demo, an Owner, fit levels,
    an empty primary profile ruleset and the top lead titled "VP Sales"."""
    from services.tenancy.tenants import DEFAULT_TENANT
    from tests.e2e.test_dashboard import EMAIL, seeded_app

    def fit_setup(database_url: str, lead_id: str) -> dict[str, Any]:
        owner = replace(DEFAULT_TENANT, actor=EMAIL)
        db = Database(database_url)
        clear_demo_fit(db, owner)
        with db.write() as session:
            fit_config.create_fit_ruleset(session, owner, "profile", name="ICP", now=_now())
            fit_config.create_fit_level(session, owner, "profile", name="Poor", min_score=-1000, max_score=19,
                                        now=_now())
            fit_config.create_fit_level(session, owner, "profile", name="Good", min_score=20, max_score=1000,
                                        now=_now())
            lead_profiles.patch_metadata(session, owner, lead_id, {"title": "VP Sales"}, now=_now())
        with db.read() as session:
            profile_keys = list(leads.get_lead(session, owner, lead_id)["lead"]["metadata"])
        db.dispose()
        return {"profile_keys": profile_keys}

    with seeded_app(tmp_path, fit_setup) as app:
        yield app


@pytest.mark.e2e
def test_in_the_browser_a_published_fit_rule_grades_the_lead_and_a_profile_edit_moves_its_fit(
    running_app: dict[str, Any],
) -> None:
    from playwright.sync_api import expect

    from tests.e2e.test_dashboard import choose, signed_in_page

    base, lead_id = running_app["base"], running_app["lead_id"]
    with signed_in_page(base, "fit", "Fit scoring", viewport={"width": 1400, "height": 1200}) as page:
        # A rule through the "Add rule" form: property, condition, value, weight.
        profile = page.get_by_role("tabpanel").first
        prop = profile.get_by_role("combobox", name="Property").first
        prop.click()
        prop.fill("title")
        page.keyboard.press("Enter")
        choose(page, profile.get_by_role("combobox", name="Condition").first, "contains")
        profile.get_by_role("textbox", name="Value").first.fill("vp")
        weight = profile.get_by_role("spinbutton", name="Weight").first
        weight.fill("30")
        profile.get_by_role("button", name="Add rule").click()
        expect(page.get_by_text(re.compile(r"unpublished fit changes \(rules: 1 added"))).to_be_visible()

        profile.get_by_role("button", name="Preview impact").click()
        expect(page.get_by_text("Impact of the draft")).to_be_visible()
        expect(page.get_by_text("Leads whose fit changes")).to_be_visible()
        profile.get_by_role("button", name="Publish", exact=True).click()
        expect(page.get_by_text(re.compile(r"Published version \d+; fit scores recomputed"))).to_be_visible()

        # The Leads page grades the lead: fit letter A (Good, the top fit band) and its engagement digit.
        page.goto(f"{base}/leads")
        expect(page.get_by_role("heading", name="Leads").first).to_be_visible()
        expect(page.get_by_text(re.compile(r"^A\d$")).first).to_be_attached()
        expect(page.get_by_text("Good", exact=True).first).to_be_attached()

        # The lead's page: fit 30 from "title contains vp"; Edit profile makes the title "Student": fit 0.
        page.goto(f"{base}/lead?lead={lead_id}")
        fit_metric = page.get_by_test_id("stMetric").filter(has_text="Fit score")
        expect(fit_metric.get_by_test_id("stMetricValue")).to_have_text("30")
        page.get_by_text("Edit profile").click()
        form = page.get_by_test_id("stForm").filter(has_text="Save profile")
        canvas = form.get_by_test_id("data-grid-canvas")
        expect(canvas).to_be_visible()
        page.wait_for_timeout(1000)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box is not None
        row = running_app["profile_keys"].index("title")
        page.mouse.dblclick(box["x"] + box["width"] * 0.75, box["y"] + 35 + 35 * row + 17)  # the title's value
        editor = page.locator("textarea.gdg-input, input.gdg-input").first
        expect(editor).to_be_focused()
        editor.fill("Student")
        page.keyboard.press("Enter")
        page.wait_for_timeout(500)
        form.get_by_role("button", name="Save profile").click()
        expect(page.get_by_text(re.compile(r"Profile saved; fit score now 0"))).to_be_visible()
        expect(fit_metric.get_by_test_id("stMetricValue")).to_have_text("0")

