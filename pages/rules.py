"""Rules: how many points each kind of event is worth, per ruleset, edited in a grid and saved atomically."""

from __future__ import annotations

import streamlit as st

from core.scoring import CONDITION_OPERATORS
from services.scoring import rules
from ui import data, scoring_history
from ui.auth import current_user
from ui.components import read_only_notice
from ui.grids import describe_error, grid_to_rows, rules_to_grid

user = current_user()
st.title("Scoring rules")
read_only_notice(user.can_edit)
locked = not user.can_edit

rulesets = data.rulesets(user.tenant)
if not rulesets:
    st.info("No ruleset yet. Create one below (for example \"Engagement\"); its rules decide the scores.")
names = {rs["id"]: rs["name"] + (" (primary)" if rs["is_primary"] else "") for rs in rulesets}
ruleset_id = st.selectbox("Ruleset", list(names), format_func=names.get, key="ruleset")
ruleset = next((rs for rs in rulesets if rs["id"] == ruleset_id), {"id": None, "name": "", "is_primary": False})

with st.expander("Manage rulesets"):
    c1, c2 = st.columns(2)
    with c1.form("new_ruleset", clear_on_submit=True):
        new_name = st.text_input("New ruleset name", disabled=locked)
        if st.form_submit_button("Create ruleset", disabled=locked) and data.save(
            user, lambda s, t, now: rules.create_ruleset(s, t, name=new_name, now=now)
        ):
            st.rerun()
    with c2.form("rename_ruleset"):
        renamed = st.text_input("Rename to", value=ruleset["name"], disabled=locked)
        if st.form_submit_button("Rename", disabled=locked) and data.save(
            user, lambda s, t, now: rules.update_ruleset(s, t, ruleset_id, name=renamed, now=now)
        ):
            st.rerun()
    c3, c4 = st.columns(2)
    if c3.button("Make primary", disabled=locked or ruleset["is_primary"], key="make_primary") and data.save(
        user, lambda s, t, now: rules.update_ruleset(s, t, ruleset_id, is_primary=True, now=now)
    ):
        st.rerun()
    sure = c4.checkbox("Yes, delete this ruleset and its rules", disabled=locked, key="delete_ruleset_sure")
    if c4.button("Delete this ruleset", disabled=locked or not sure, key="delete_ruleset") and data.save(
        user, lambda s, t, now: rules.delete_ruleset(s, t, ruleset_id, now=now)
    ):
        st.session_state.pop("ruleset", None)
        st.rerun()

if ruleset_id is None:
    st.stop()
st.subheader(f"Rules of {ruleset['name']}")
originals = data.ruleset_rules(user.tenant, ruleset_id)
observed = data.observed_event_types(user.tenant)
extra_types = st.session_state.setdefault("extra_event_types", [])
new_type = st.text_input("Add an event type not seen yet", key="new_event_type", disabled=locked)
if new_type and new_type.strip() not in extra_types:
    extra_types.append(new_type.strip())
if not originals:
    st.info("This ruleset has no rules yet: every event scores 0. Add a row to the grid (event type and weight, "
            "e.g. demo_request worth 30), then Save rules.")
suggestions = sorted({*observed, *(r["event_type"] for r in originals), *extra_types})

edited = st.data_editor(
    rules_to_grid(originals),
    key=f"rules_grid_{ruleset_id}",
    num_rows="dynamic",
    disabled=locked,
    hide_index=True,
    width="stretch",
    height=min(35 * (len(originals) + 2) + 3, 900),  # every rule visible without scrolling the grid
    column_config={
        "id": None,
        "event_type": st.column_config.SelectboxColumn("Event type", options=suggestions, required=True),
        "weight": st.column_config.NumberColumn("Weight", step=1, required=True, help="points per event; may be < 0"),
        "active": st.column_config.CheckboxColumn("Active", default=True),
        "start_at": st.column_config.DatetimeColumn("Window start (UTC)", timezone="UTC"),
        "end_at": st.column_config.DatetimeColumn("Window end (UTC)", timezone="UTC"),
        "property": st.column_config.TextColumn("Property", help="only count events whose property matches"),
        "operator": st.column_config.SelectboxColumn("Operator", options=list(CONDITION_OPERATORS)),
        "value": st.column_config.TextColumn("Value", help='text, a number, true/false or a JSON list for "in"'),
    },
)
problems = st.container()
if st.button("Save rules", type="primary", disabled=locked, key="save_rules"):
    rows = grid_to_rows(edited, originals)
    saved = data.save(
        user,
        data.counting_level_changes(
            lambda s, t, now: rules.save_ruleset_rules(s, t, ruleset_id, rows, now, actor=user.email)
        ),
        where=problems, describe=describe_error,
    )
    if saved and saved.value is not None:
        stored, moved = saved.value
        st.session_state.pop(f"rules_grid_{ruleset_id}", None)
        st.session_state["rules_saved"] = (
            f"Saved {len(stored)} rules; scores recomputed from the event log. {moved.summary()}"
        )
        st.rerun()
if st.session_state.get("rules_saved"):
    st.success(st.session_state.pop("rules_saved"))

scoring_history.render_history(user)
