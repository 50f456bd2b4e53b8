"""Every dashboard page renders seeded data; edits persist through the services; a Viewer can change nothing."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import select

from db import models
from services.people import leads
from services.scoring import levels, rules
from services.tenancy import api_keys
from tests.ui.conftest import DemoUnit, frame_with, open_page, texts


def _top_lead(unit: DemoUnit) -> dict:
    with unit.db.read() as session:
        return leads.list_leads(session, unit.tenant, limit=1).rows[0]


def _rules(unit: DemoUnit) -> tuple[str, list]:
    with unit.db.read() as session:
        primary = next(rs for rs in rules.list_rulesets(session, unit.tenant) if rs.is_primary)
        return primary.id, rules.list_rules(session, unit.tenant, primary.id)


def test_leads_page_lists_the_hottest_leads_first(unit: DemoUnit) -> None:
    at = open_page("leads", unit.owner)
    assert not at.exception
    top = _top_lead(unit)
    table = at.dataframe(key="leads_table").value
    assert table.iloc[0]["Email"] == top["email"]
    assert table.iloc[0]["Score"] == top["score"]
    assert list(table["Score"]) == sorted(table["Score"], reverse=True)
    assert "40 in total" in texts(at)


def test_leads_page_filters_by_level_and_search(unit: DemoUnit) -> None:
    at = open_page("leads", unit.owner)
    at.selectbox(key="leads_level").set_value("Cold").run()
    assert not at.exception
    table = at.dataframe(key="leads_table").value
    assert len(table) > 0 and {tuple(level) for level in table["Level"]} == {("Cold",)}
    top = _top_lead(unit)
    at.selectbox(key="leads_level").set_value("Any")
    at.text_input(key="leads_q").set_value(top["email"]).run()
    table = at.dataframe(key="leads_table").value
    assert list(table["Email"]) == [top["email"]]


def test_lead_detail_explains_the_score(unit: DemoUnit) -> None:
    top = _top_lead(unit)
    at = open_page("lead_detail", unit.owner, lead_id=top["id"])
    assert not at.exception
    screen = texts(at)
    assert "Why this score" in screen and "Timeline" in screen
    assert at.metric[0].value == str(top["score"])
    timeline = frame_with(at, "Score change")
    assert len(timeline) > 0
    assert top["email"] in screen


def test_lead_detail_of_an_unknown_lead_says_so(unit: DemoUnit) -> None:
    at = open_page("lead_detail", unit.owner, lead_id="ld_nope")
    assert not at.exception
    assert "does not exist" in texts(at)


def test_accounts_and_account_detail(unit: DemoUnit) -> None:
    at = open_page("accounts", unit.owner)
    assert not at.exception
    table = at.dataframe(key="accounts_table").value
    assert len(table) > 0
    with unit.db.read() as session:
        account_id = session.scalar(
            select(models.Account.id).where(models.Account.unit_id == unit.tenant.unit_id).limit(1)
        )
        name = session.get(models.Account, account_id).name
    detail = open_page("account_detail", unit.owner, account_id=account_id)
    assert not detail.exception
    assert detail.title[0].value == name
    assert len(detail.dataframe(key="account_leads").value) > 0


def _versions(unit: DemoUnit) -> int:
    with unit.db.read() as session:
        from services.scoring.model import heads

        return heads(session, unit.tenant).published


def _edit_weight(at, ruleset_id: str, index: int, weight: int) -> None:  # type: ignore[no-untyped-def]
    at.session_state[f"rules_grid_{ruleset_id}"] = {
        "edited_rows": {index: {"weight": weight}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()


def test_a_rule_edit_is_a_draft_until_published(unit: DemoUnit) -> None:
    ruleset_id, before = _rules(unit)
    index = next(i for i, r in enumerate(before) if r.event_type == "page_visit" and not r.conditions)
    top_before = _top_lead(unit)
    version = _versions(unit)
    at = open_page("rules", unit.owner)
    assert not at.exception
    grid = at.data_editor(key=f"rules_grid_{ruleset_id}").value
    assert set(grid["event_type"]) >= {"page_visit", "demo_request"}
    assert at.button(key="publish_draft").disabled and at.button(key="preview_draft").disabled
    _edit_weight(at, ruleset_id, index, 50)
    assert not at.exception
    assert "unpublished changes (rules: 0 added, 1 changed, 0 removed)" in texts(at)
    # Editing changed nothing stored: rules, scores and versions are as published.
    assert _rules(unit)[1] == before and _versions(unit) == version
    assert _top_lead(unit)["score"] == top_before["score"]

    at.button(key="preview_draft").click().run()
    assert not at.exception
    shown = texts(at)
    assert "Impact of the draft (last 30 days)" in shown and "Leads whose score changes" in shown
    assert frame_with(at, "Change").iloc[0]["Change"] > 0
    assert len(at.get("plotly_chart")) == 1
    assert _rules(unit)[1] == before and _versions(unit) == version  # a preview stores nothing

    at.button(key="publish_draft").click().run()
    assert not at.exception
    assert f"Published version {version + 1}" in texts(at) and "scores recomputed" in texts(at)
    _, after = _rules(unit)
    assert next(r for r in after if r.id == before[index].id).weight == 50
    with unit.db.read() as session:
        rescored = leads.lead_score(session, unit.tenant, top_before["id"])["score"]
    assert rescored > top_before["score"]  # page visits now weigh 50
    assert "unpublished changes" not in texts(at)
    assert at.data_editor(key=f"rules_grid_{ruleset_id}").value.iloc[index]["weight"] == 50


def test_a_draft_survives_a_visit_to_another_ruleset(unit: DemoUnit) -> None:
    from datetime import UTC, datetime

    ruleset_id, _before = _rules(unit)
    with unit.db.write() as session:
        other = rules.create_ruleset(session, unit.tenant, name="Fit", now=datetime.now(UTC))
    at = open_page("rules", unit.owner)
    _edit_weight(at, ruleset_id, 0, 77)
    at.selectbox(key="ruleset").set_value(other.id).run()
    assert "unpublished changes" in texts(at)
    at.selectbox(key="ruleset").set_value(ruleset_id).run()
    assert not at.exception
    assert at.data_editor(key=f"rules_grid_{ruleset_id}").value.iloc[0]["weight"] == 77
    assert "0 added, 1 changed, 0 removed" in texts(at)


def test_discard_drops_the_draft(unit: DemoUnit) -> None:
    ruleset_id, before = _rules(unit)
    version = _versions(unit)
    at = open_page("rules", unit.owner)
    _edit_weight(at, ruleset_id, 0, 999)
    at.button(key="discard_draft").click().run()
    assert not at.exception
    assert "Draft discarded" in texts(at) and "unpublished changes" not in texts(at)
    assert at.data_editor(key=f"rules_grid_{ruleset_id}").value.iloc[0]["weight"] == before[0].weight
    assert _rules(unit)[1] == before and _versions(unit) == version


def test_a_levels_draft_is_previewed_and_published(unit: DemoUnit) -> None:
    version = _versions(unit)
    at = open_page("rules", unit.owner)
    published = at.data_editor(key="levels_draft_grid").value
    warm = next(i for i, name in enumerate(published["name"]) if name == "Warm")
    hot = next(i for i, name in enumerate(published["name"]) if name == "Hot")
    low = int(published.iloc[warm]["min_score"])
    at.session_state["levels_draft_grid"] = {
        "edited_rows": {warm: {"max_score": low}, hot: {"min_score": low + 1}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    assert "levels changed" in texts(at)
    at.button(key="preview_draft").click().run()
    assert not at.exception
    matrix = frame_with(at, "Level now").set_index("Level now")
    assert "Hot" in matrix.columns and matrix.loc["Warm", "Hot"] > 0
    at.button(key="publish_draft").click().run()
    assert not at.exception
    assert _versions(unit) == version + 1 and "changed level" in texts(at)
    with unit.db.read() as session:
        assert {lv["name"]: lv["min_score"] for lv in levels.list_levels(session, unit.tenant)}["Hot"] == low + 1


def test_rule_grid_shows_validation_errors_and_saves_nothing(unit: DemoUnit) -> None:
    ruleset_id, before = _rules(unit)
    version = _versions(unit)
    at = open_page("rules", unit.owner)
    at.session_state[f"rules_grid_{ruleset_id}"] = {
        "edited_rows": {0: {"property": "plan", "operator": "gt", "value": "gold"}}, "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="preview_draft").click().run()
    assert not at.exception
    assert any(", row 1, condition:" in e.value for e in at.error)
    at.button(key="publish_draft").click().run()
    assert not at.exception
    assert any(", row 1, condition:" in e.value for e in at.error)
    assert _rules(unit)[1] == before and _versions(unit) == version


def test_rulesets_can_be_created_and_made_primary(unit: DemoUnit) -> None:
    at = open_page("rules", unit.owner)
    form_input = next(t for t in at.text_input if t.label == "New ruleset name")
    form_input.set_value("Product usage")
    next(b for b in at.button if b.label == "Create ruleset").click().run()
    assert not at.exception
    with unit.db.read() as session:
        names = {rs.name for rs in rules.list_rulesets(session, unit.tenant)}
    assert "Product usage" in names


def test_viewer_sees_rules_but_cannot_edit(unit: DemoUnit) -> None:
    ruleset_id, before = _rules(unit)
    at = open_page("rules", unit.viewer)
    assert not at.exception
    assert "Viewer" in texts(at)
    assert at.button(key="publish_draft").disabled and at.button(key="preview_draft").disabled
    assert at.button(key="discard_draft").disabled
    assert next(b for b in at.button if b.label == "Create ruleset").disabled
    assert at.data_editor(key=f"rules_grid_{ruleset_id}").value.shape[0] == len(before)


def test_levels_edit_persists_and_overlaps_are_refused(unit: DemoUnit) -> None:
    at = open_page("levels", unit.owner)
    assert not at.exception
    grid = at.data_editor(key="levels_grid").value
    assert list(grid["name"]) == ["Cold", "Warm", "Hot"]
    at.session_state["levels_grid"] = {"edited_rows": {1: {"max_score": 90}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="save_levels").click().run()
    assert any("overlap" in e.value for e in at.error)
    at.session_state["levels_grid"] = {
        "edited_rows": {1: {"max_score": 59}, 2: {"min_score": 60}}, "added_rows": [], "deleted_rows": [],
    }
    at.run()
    at.button(key="save_levels").click().run()
    assert not at.error
    with unit.db.read() as session:
        stored = {lv["name"]: (lv["min_score"], lv["max_score"]) for lv in levels.list_levels(session, unit.tenant)}
    assert stored["Warm"] == (30, 59) and stored["Hot"][0] == 60


def test_viewer_cannot_save_levels(unit: DemoUnit) -> None:
    at = open_page("levels", unit.viewer)
    assert not at.exception
    assert at.button(key="save_levels").disabled


def test_analytics_shows_activity_and_top_leads(unit: DemoUnit) -> None:
    at = open_page("analytics", unit.owner)
    assert not at.exception
    events = next(m for m in at.metric if m.label == "Events")
    assert int(events.value.replace(",", "")) > 0
    top = _top_lead(unit)
    assert at.dataframe(key="top_leads_table").value.iloc[0]["Score"] == top["score"]
    assert len(at.dataframe(key="gains_table").value) > 0


def test_settings_creates_an_api_key_shown_once(unit: DemoUnit) -> None:
    at = open_page("settings", unit.owner)
    assert not at.exception
    next(t for t in at.text_input if t.label == "Key name").set_value("website")
    next(b for b in at.button if b.label == "Create API key").click().run()
    assert not at.exception
    secret = at.code[0].value
    assert secret.startswith("sk_live_")
    with unit.db.read() as session:
        found = api_keys.authenticate(session, secret)
        assert found is not None and (found.org_id, found.unit_id) == (unit.tenant.org_id, unit.tenant.unit_id)
        assert [k.name for k in api_keys.list_api_keys(session, unit.tenant)] == ["website"]


def test_viewer_cannot_create_api_keys(unit: DemoUnit) -> None:
    at = open_page("settings", unit.viewer)
    assert not at.exception
    assert next(b for b in at.button if b.label == "Create API key").disabled


def test_import_page_and_export(unit: DemoUnit) -> None:
    at = open_page("import_export", unit.owner)
    assert not at.exception
    assert "event_type" in texts(at)
    at.button(key="export_prepare").click().run()
    assert not at.exception
    assert at.session_state["export_csv"].startswith("id,lead_id,event_type,timestamp")


def test_pages_without_a_signed_in_user_ask_to_sign_in(unit: DemoUnit) -> None:
    at = open_page("leads", None)
    assert not at.exception
    assert "Please sign in" in texts(at)


def test_grid_round_trip_keeps_extra_conditions() -> None:
    from ui.grids import grid_to_rows, rules_to_grid

    original = {
        "id": "r1", "event_type": "page_visit", "weight": 3, "active": True, "start_at": None, "end_at": None,
        "conditions": [
            {"property": "page", "operator": "equals", "value": "/pricing"},
            {"property": "utm", "operator": "exists", "value": None},
        ],
    }
    frame = rules_to_grid([original])
    frame.loc[0, "weight"] = 7
    (row,) = grid_to_rows(pd.DataFrame(frame), [original])
    assert row["weight"] == 7 and row["conditions"] == original["conditions"]


def test_owner_revokes_a_key_and_an_operator_cannot_manage_keys(unit: DemoUnit) -> None:
    from datetime import UTC, datetime

    from services.tenancy.users import create_user
    from tests.ui.conftest import PASSWORD, _signed_in

    with unit.db.write() as session:
        key = api_keys.create_api_key(session, unit.tenant, name="old", now=datetime.now(UTC))
        operator = _signed_in(create_user(session, unit.tenant, email=f"op-{key.id}@example.com", password=PASSWORD,
                                          role="Operator", name="Op", now=datetime.now(UTC)), unit.tenant)
    as_operator = open_page("settings", operator)
    assert next(b for b in as_operator.button if b.label == "Create API key").disabled
    assert as_operator.button(key="revoke_button").disabled
    at = open_page("settings", unit.owner)
    at.button(key="revoke_button").click().run()
    assert not at.exception
    with unit.db.read() as session:
        assert api_keys.authenticate(session, key.secret) is None


def test_a_ruleset_is_deleted_only_after_confirming(unit: DemoUnit) -> None:
    from datetime import UTC, datetime

    with unit.db.write() as session:
        extra = rules.create_ruleset(session, unit.tenant, name="Temporary", now=datetime.now(UTC))
    at = open_page("rules", unit.owner)
    at.selectbox(key="ruleset").set_value(extra.id).run()
    assert at.button(key="delete_ruleset").disabled
    at.checkbox(key="delete_ruleset_sure").check().run()
    at.button(key="delete_ruleset").click().run()
    assert not at.exception
    with unit.db.read() as session:
        assert "Temporary" not in {rs.name for rs in rules.list_rulesets(session, unit.tenant)}


# --- what a user reads: labels, badges, hints, no "None", empty states ------------------------------------------


def _no_none(at) -> None:  # type: ignore[no-untyped-def]
    for frame in at.dataframe:
        assert "None" not in frame.value.to_string(), frame.value.to_string()
    assert "None" not in texts(at)


def test_leads_table_reads_like_a_sales_list(unit: DemoUnit) -> None:
    import json

    at = open_page("leads", unit.owner)
    assert not at.exception
    element = at.dataframe(key="leads_table")
    table = element.value
    columns = json.loads(element.proto.columns)
    # Level is a coloured badge per level; score bars share one fixed scale whatever the page shows.
    assert columns["Level"]["type_config"]["options"] == [
        {"value": "Cold", "color": "blue"}, {"value": "Warm", "color": "orange"}, {"value": "Hot", "color": "red"},
    ]
    assert columns["Score"]["type_config"]["max_value"] == 120  # 1.5 x where Hot starts (80)
    assert {tuple(v) for v in table["Level"]} <= {("Cold",), ("Warm",), ("Hot",)}
    # Every row says why: its 7-day change and, when it gained points, the event type that gave most.
    assert all(why.startswith(("+", "-", "no activity")) for why in table["Why"])
    assert any(" in 7d · mostly " in why for why in table["Why"])
    assert not any("_" in why for why in table["Why"])  # 'Demo request', not 'demo_request'
    assert not any(str(v).startswith(("ld_", "acc_")) for v in table["Lead"])
    _no_none(at)
    at.selectbox(key="leads_level").set_value("Cold").run()
    assert json.loads(at.dataframe(key="leads_table").proto.columns)["Score"]["type_config"]["max_value"] == 120


def test_leads_sort_and_event_filters_show_words_not_identifiers(unit: DemoUnit) -> None:
    at = open_page("leads", unit.owner)
    sort = at.selectbox(key="leads_sort")
    assert sort.options == ["Score", "Last activity", "Newest"]
    event = at.selectbox(key="leads_event")
    assert "Demo request" in event.options and "demo_request" not in event.options


def test_lead_detail_shows_properties_as_key_values_and_readable_events(unit: DemoUnit) -> None:
    top = _top_lead(unit)
    at = open_page("lead_detail", unit.owner, lead_id=top["id"])
    assert not at.exception
    timeline = frame_with(at, "Score change")
    assert "page_visit" not in set(timeline["Event"]) and "Page visit" in set(timeline["Event"]) | {"Page visit"}
    assert not any(str(p).startswith("{") for p in timeline["Properties"])
    assert any(":" in str(p) for p in timeline["Properties"])  # e.g. "page: /pricing"
    _no_none(at)


def test_account_detail_names_leads_not_ids(unit: DemoUnit) -> None:
    with unit.db.read() as session:
        account_id = leads.list_leads(session, unit.tenant, limit=1).rows[0]["account"]["id"]
    at = open_page("account_detail", unit.owner, account_id=account_id)
    assert not at.exception
    events = frame_with(at, "Score change")
    assert len(events) > 0 and not any(str(v).startswith("ld_") for v in events["Lead"])
    _no_none(at)


def test_accounts_and_analytics_have_no_none_cells(unit: DemoUnit) -> None:
    for page in ("accounts", "analytics", "levels"):
        at = open_page(page, unit.owner)
        assert not at.exception
        _no_none(at)


def test_publishing_says_how_many_leads_changed_level(unit: DemoUnit) -> None:
    ruleset_id, before = _rules(unit)
    index = next(i for i, r in enumerate(before) if r.event_type == "page_visit" and not r.conditions)
    with unit.db.read() as session:
        from services.scoring.level_changes import lead_levels

        levels_before = lead_levels(session, unit.tenant)
    at = open_page("rules", unit.owner)
    _edit_weight(at, ruleset_id, index, 40)
    at.selectbox(key="preview_window").set_value("All history").run()
    at.button(key="preview_draft").click().run()
    previewed = int(frame_with(at, "Level now").set_index("Level now").to_numpy().sum())
    at.button(key="publish_draft").click().run()
    assert not at.exception
    with unit.db.read() as session:
        levels_after = lead_levels(session, unit.tenant)
    moved = sum(1 for lead_id, level in levels_after.items() if levels_before[lead_id] != level)
    assert moved > 0  # page visits at 40 points lift most leads
    assert previewed == moved  # the all-history preview said exactly this
    message = next(s.value for s in at.success)
    assert f"{moved} leads changed level: " in message and "Cold → " in message


def test_empty_unit_pages_say_what_to_do(dashboard_db) -> None:  # type: ignore[no-untyped-def]
    import uuid
    from datetime import UTC, datetime

    from services.tenancy.tenants import create_unit
    from services.tenancy.users import create_user
    from tests.ui.conftest import PASSWORD, _signed_in

    now = datetime.now(UTC)
    with dashboard_db.write() as session:
        tenant = create_unit(session, org_name="Empty", unit_name="empty", now=now)
        owner = _signed_in(create_user(session, tenant, email=f"empty-{uuid.uuid4().hex[:8]}@example.com",
                                       password=PASSWORD, role="Owner", name="E", now=now), tenant)
    expected = {
        "leads": "No leads yet", "accounts": "Account scoring is off", "analytics": "No events between",
        "levels": "No levels yet", "rules": "no rules yet", "account_detail": "Account scoring is off",
        "fit": "No fit ruleset yet",
    }
    for page, hint in expected.items():
        at = open_page(page, owner)
        assert not at.exception, page
        assert hint in texts(at), (page, texts(at))
        _no_none(at)

    import streamlit as st

    from services.scoring.scoring_settings import update_settings

    with dashboard_db.write() as session:
        update_settings(session, tenant, abm_enabled=True, now=now)
    st.cache_data.clear()
    at = open_page("accounts", owner)
    assert not at.exception and "No accounts yet" in texts(at)


def test_lead_detail_answers_the_score_at_a_moment_and_under_a_version(unit: DemoUnit) -> None:
    top = _top_lead(unit)
    at = open_page("lead_detail", unit.owner, lead_id=top["id"])
    assert not at.exception

    def shown(label: str) -> str:
        values = [m.value for m in at.expander[0].metric if m.label == label]  # the panel's own metric
        assert values, [(m.label, m.value) for m in at.expander[0].metric]
        return values[0]

    at.selectbox(key="as_of_version").set_value(1).run()  # the unit as created: no rules yet
    assert not at.exception, at.exception
    assert at.selectbox(key="as_of_version").value == 1, at.selectbox(key="as_of_version").options
    assert shown("Score under version 1") == "0"
    at.selectbox(key="as_of_version").set_value(None)
    at.date_input(key="as_of_day").set_value(date(2000, 1, 1)).run()  # before every event
    assert not at.exception, at.exception
    assert shown("Score then") == "0"
    at.date_input(key="as_of_day").set_value(date(2100, 1, 1)).run()  # after every event: the stored score
    assert shown("Score then") == str(top["score"])
