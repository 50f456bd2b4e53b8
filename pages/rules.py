"""Rules: how many points each kind of event is worth, per ruleset, and the engagement levels.

Editing the rules grids and the levels builds a DRAFT (kept in the session, never stored): live scores do not
change until Publish. "Preview impact" replays the event log under the draft and shows who would move; "Publish"
makes the whole draft one new scoring version; "Discard" drops it. Ruleset management saves directly.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.scoring import CONDITION_OPERATORS
from services.errors import ServiceError
from services.scoring import rules
from services.scoring.simulate import publish_draft
from ui import data, scoring_history
from ui.auth import current_user
from ui.components import legend_below, level_grid_columns, read_only_notice
from ui.grids import (
    describe_draft_error,
    grid_to_rows,
    levels_to_draft,
    levels_to_grid,
    rule_changes,
    rules_to_grid,
    same_levels,
)

DRAFT = "scoring_draft"
WINDOWS: dict[str, int | None] = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "All history": None}

user = current_user()
st.title("Scoring rules")
read_only_notice(user.can_edit)
locked = not user.can_edit

# The draft: per ruleset the grid's rows, and the level list; it belongs to one unit.
draft: dict[str, Any] = st.session_state.get(DRAFT) or {}
if draft.get("unit") != user.tenant.unit_id:
    draft = {"unit": user.tenant.unit_id, "rules": {}, "levels": None}
    st.session_state[DRAFT] = draft


def drop_draft() -> None:
    """Forget the draft and every grid's edits: the grids show what is published again."""
    for key in [k for k in st.session_state if str(k).startswith(("rules_grid_", "levels_draft_grid", "grid_base_"))]:
        st.session_state.pop(key, None)
    st.session_state.pop(DRAFT, None)
    st.session_state.pop("draft_preview", None)


def grid_base(key: str, published: list[dict[str, Any]], drafted: list[dict[str, Any]] | None) -> Any:
    """What a grid starts from: the published rows, or the draft's when the grid comes back (after visiting another
    page the grid's own edits are gone, the draft is not). Kept while the grid lives, so its edits stay aligned."""
    if key not in st.session_state or f"grid_base_{key}" not in st.session_state:
        st.session_state[f"grid_base_{key}"] = drafted if drafted is not None else published
    return st.session_state[f"grid_base_{key}"]


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
        draft["rules"].pop(ruleset_id, None)
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
            "e.g. demo_request worth 30), then Preview impact and Publish.")
grid_key = f"rules_grid_{ruleset_id}"
base_rows = grid_base(grid_key, originals, draft["rules"].get(ruleset_id))
suggestions = sorted({*observed, *(r["event_type"] for r in [*originals, *base_rows] if r["event_type"]),
                      *extra_types})
edited = st.data_editor(
    rules_to_grid(base_rows),
    key=grid_key,
    num_rows="dynamic",
    disabled=locked,
    hide_index=True,
    width="stretch",
    height=min(35 * (len(base_rows) + 2) + 3, 900),  # every rule visible without scrolling the grid
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
draft["rules"][ruleset_id] = grid_to_rows(edited, originals)

published_levels = data.engagement_levels(user.tenant)
with st.expander("Engagement levels", expanded=draft["levels"] is not None):
    st.caption("Each score must fall in exactly one level: no overlaps, no gaps. Max is inclusive. Changes here are "
               "part of the draft too.")
    level_base = grid_base("levels_draft_grid", published_levels, draft["levels"])
    edited_levels = st.data_editor(
        levels_to_grid(level_base),
        key="levels_draft_grid",
        num_rows="dynamic",
        disabled=locked,
        hide_index=True,
        width="stretch",
        column_config=level_grid_columns(),
    )
problems = st.container()
try:
    level_list = levels_to_draft(edited_levels)
    draft["levels"] = None if same_levels(level_list, published_levels) else level_list
except ServiceError as exc:  # a row without a bound: shown, and the levels part left out until it is fixed
    problems.error(exc.message.split(": ", 1)[-1])

# --- the draft as changes against what is published ----------------------------------------------------------------

changes: dict[str, Any] = {}
places: dict[str, str] = {}
add: list[dict[str, Any]] = []
update: list[dict[str, Any]] = []
remove: list[str] = []
for rs_id, rows in draft["rules"].items():
    if rs_id not in names:
        continue
    rs_originals = originals if rs_id == ruleset_id else data.ruleset_rules(user.tenant, rs_id)
    row_of = {row.get("id"): n for n, row in enumerate(rows, start=1)}
    rs_add, rs_update, rs_remove = rule_changes(rows, rs_originals, rs_id)
    label = names[rs_id].removesuffix(" (primary)")
    new_rows = [n for n, row in enumerate(rows, start=1) if row.get("id") not in {r["id"] for r in rs_originals}]
    for item, n in zip(rs_add, new_rows, strict=True):
        places[f"changes.rules.add[{len(add)}]"] = f"{label}, row {n}"
        add.append(item)
    for item in rs_update:
        places[f"changes.rules.update[{len(update)}]"] = f"{label}, row {row_of[item['rule_id']]}"
        update.append(item)
    remove.extend(rs_remove)
if add or update or remove:
    changes["rules"] = {"add": add, "update": update, "remove": remove}
if draft["levels"] is not None:
    changes["levels"] = draft["levels"]
    places.update({f"changes.levels[{i}]": f"Levels, row {i + 1}" for i in range(len(draft["levels"]))})

if changes:
    counts = [f"{len(add)} added", f"{len(update)} changed", f"{len(remove)} removed"] if "rules" in changes else []
    st.warning(
        "You have unpublished changes (rules: " + (", ".join(counts) if counts else "none")
        + ("; levels changed" if "levels" in changes else "") + "). Live scores are unchanged until you publish.",
        icon="✏️",
    )

c1, c2, c3, c4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
window = c1.selectbox("Preview over", list(WINDOWS), index=1, key="preview_window")
preview_clicked = c2.button("Preview impact", disabled=locked or not changes, key="preview_draft")
publish_clicked = c3.button("Publish", type="primary", disabled=locked or not changes, key="publish_draft")
discard_clicked = c4.button("Discard", disabled=locked or not changes, key="discard_draft")
fingerprint = repr((changes, WINDOWS[window]))

if preview_clicked:
    try:
        with st.spinner("Replaying the event log under the draft…"):
            answer = data.simulate_draft(user, changes, WINDOWS[window])
        st.session_state["draft_preview"] = (fingerprint, window, answer)
    except ServiceError as exc:
        problems.error(describe_draft_error(exc.message, places))
if publish_clicked:
    published = data.save(
        user, data.counting_level_changes(lambda s, t, now: publish_draft(s, t, changes, now)),
        where=problems, describe=lambda message: describe_draft_error(message, places),
    )
    if published and published.value is not None:
        version, moved = published.value
        drop_draft()
        st.session_state["rules_saved"] = (
            "Nothing to publish: the draft matches the published rules." if version is None
            else f"Published version {version.version}; scores are being recomputed in the background (ingest keeps "
            "flowing) and switch to it when done: History marks it live then." if version.pending
            else f"Published version {version.version}; scores recomputed from the event log. {moved.summary()}"
        )
        st.rerun()
if discard_clicked:
    drop_draft()
    st.session_state["rules_saved"] = "Draft discarded: the grid shows the published rules again."
    st.rerun()
if st.session_state.get("rules_saved"):
    st.success(st.session_state.pop("rules_saved"))

# --- the preview ---------------------------------------------------------------------------------------------------

shown = st.session_state.get("draft_preview")
if shown and shown[0] == fingerprint:
    _, window_label, result = shown
    st.subheader(f"Impact of the draft ({window_label.lower()})")
    if result["since"] is not None:
        st.caption("Scores here count only the window's events, on both sides, so they compare like with like.")
    m1, m2, m3 = st.columns(3)
    m1.metric("Leads evaluated", f"{result['leads_evaluated']:,}")
    m2.metric("Leads whose score changes", f"{result['leads_changed']:,}")
    m3.metric("Leads changing level", f"{sum(c['count'] for c in result['level_changes']):,}")

    st.markdown("**Level changes** (rows: level now, columns: level under the draft)")
    if result["level_changes"]:
        moves = pd.DataFrame(
            [{"from": c["from"] or "(no level)", "to": c["to"] or "(no level)", "count": c["count"]}
             for c in result["level_changes"]]
        )
        matrix = moves.pivot_table(index="from", columns="to", values="count", aggfunc="sum", fill_value=0)
        matrix = matrix.reset_index().rename(columns={"from": "Level now"})
        matrix.columns.name = None
        st.dataframe(matrix, hide_index=True, width="stretch")
    else:
        st.caption("No lead would change level.")

    before_bins, after_bins = result["distribution_before"]["bins"], result["distribution_after"]["bins"]
    if before_bins:
        labels = [f"{b['min']} to {b['max']}" for b in before_bins]
        figure = go.Figure()
        figure.add_bar(x=labels, y=[b["count"] for b in before_bins], name="Now", marker_color="#808495")
        figure.add_bar(x=labels, y=[b["count"] for b in after_bins], name="With the draft", marker_color="#1c83e1")
        figure.update_layout(barmode="group", xaxis_title="Score", yaxis_title="Leads")
        st.markdown("**Score distribution**")
        st.plotly_chart(legend_below(figure, height=360), key="preview_distribution")

    st.markdown("**Top movers**")
    if result["top_movers"]:
        st.dataframe(
            pd.DataFrame(
                [{"Lead": m["email"] or m["lead_id"], "Now": m["before"], "With the draft": m["after"],
                  "Change": m["after"] - m["before"]} for m in result["top_movers"]]
            ),
            hide_index=True, width="stretch",
        )
    else:
        st.caption("No lead's score would change.")

    st.markdown("**Milestone triggers** (firings the draft would have caused in the window)")
    if result["trigger_firings"]:
        trigger_names = data.milestone_trigger_names(user.tenant)
        st.dataframe(
            pd.DataFrame([{"Trigger": trigger_names.get(t) or t, "Would fire": n}
                          for t, n in result["trigger_firings"].items()]),
            hide_index=True, width="stretch",
        )
    else:
        st.caption("No active milestone trigger.")
elif shown:
    st.caption("The draft or the window changed since the last preview: Preview impact again to see its effect.")

scoring_history.render_history(user, on_restore=drop_draft)
