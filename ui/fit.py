"""The Fit page's pieces: field mappings, fit rulesets, the fit rules grid and fit levels of one kind ("profile":
leads, "account": accounts), the draft of rule and level changes with its preview, and the reads behind them.

Fit rules and fit levels are part of the versioned scoring model: editing them builds a DRAFT (kept in the
session, never stored) that "Preview impact" replays through services.scoring.simulate and "Publish" makes one new
version (services.scoring.simulate.publish_draft). Mappings and rulesets save directly (services.scoring.fit_config).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.grade import grade
from core.profile import UPDATE_BEHAVIORS
from core.scoring import CONDITION_OPERATORS
from services.errors import InvalidInput, ServiceError
from services.people import properties
from services.scoring import fit_config, scoring_settings
from services.scoring import simulate as what_if
from services.scoring.model import published_model
from ui import data
from ui.auth import SignedIn, require_editor
from ui.components import DASH, condition_label, legend_below, level_colour, level_grid_columns, level_hex
from ui.grids import _blank, levels_to_draft, levels_to_grid, same_levels
from ui.runtime import get_db

KINDS: dict[str, str] = {"profile": "Profile", "account": "Account"}
OWNERS: dict[str, str] = {"profile": "leads", "account": "accounts"}
RULE_COLUMNS: tuple[str, ...] = ("id", "property", "condition", "comparison_value", "weight", "ui_order")
MAPPING_COLUMNS: tuple[str, ...] = ("id", "source_field", "property", "update_behavior")
BEHAVIOR_HELP = ("always_latest: the newest value wins; set_once: the first value is kept; append: the last 10 "
                 "values are kept in <property>_list")
HISTOGRAM_BINS = 20


# --- reads ---------------------------------------------------------------------------------------------------------


def _with_property(view: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A rule or mapping view with the property it reads under `property` (the API names it <kind>_property)."""
    plain = dict(view)
    plain["property"] = plain.pop(fit_config.property_field(kind), plain.get("property"))
    return plain


@st.cache_data(ttl=data.TTL, show_spinner=False)
def fit_setup(tenant: Any, kind: str) -> dict[str, Any]:
    """The fit configuration of `kind` as published: {mappings, rulesets, rules (by ruleset id), levels}."""
    with get_db().read() as session:
        rulesets = fit_config.list_fit_rulesets(session, tenant, kind)
        return {
            "mappings": [_with_property(m, kind) for m in fit_config.list_mappings(session, tenant, kind)],
            "rulesets": rulesets,
            "rules": {
                rs["id"]: [_with_property(r, kind) for r in fit_config.list_fit_rules(session, tenant, kind, rs["id"])]
                for rs in rulesets
            },
            "levels": fit_levels_of(session, tenant, kind),
        }


def fit_levels_of(session: Any, tenant: Any, kind: str) -> list[dict[str, Any]]:
    return [{k: lv[k] for k in ("id", "name", "min_score", "max_score")}
            for lv in fit_config.list_fit_levels(session, tenant, kind)]


@st.cache_data(ttl=data.TTL, show_spinner=False)
def fit_levels(tenant: Any, kind: str) -> list[dict[str, Any]]:
    """The published fit levels of `kind` ({id, name, min_score, max_score}), lowest band first."""
    with get_db().read() as session:
        return fit_levels_of(session, tenant, kind)


@st.cache_data(ttl=data.TTL, show_spinner=False)
def fit_properties(tenant: Any, kind: str) -> list[str]:
    """The property keys seen on the unit's leads (profile) or accounts: GET /v1/{kind}/properties."""
    with get_db().read() as session:
        if kind == "profile":
            return properties.profile_properties(session, tenant)
        return properties.account_properties(session, tenant)


@st.cache_data(ttl=data.TTL, show_spinner=False)
def fit_distribution(tenant: Any, kind: str) -> list[dict[str, int]]:
    """The unit's current (stored) fit scores of `kind` as histogram bins ({min, max, count})."""
    with get_db().read() as session:
        return what_if.stored_fit_distribution(session, tenant, kind)


def abm_off_notice(user: SignedIn, *, key: str) -> None:
    """Account scoring is off: say so and how to turn it on, with a button that does (Owner or Operator)."""
    st.info(data.ABM_OFF_MESSAGE, icon=":material/domain_disabled:")
    if st.button("Turn ABM on", disabled=not user.can_edit, key=key) and data.save(
        user, lambda s, t, at: scoring_settings.update_settings(s, t, abm_enabled=True, now=at)
    ):
        st.rerun()


def simulate_fit_draft(user: SignedIn, changes: dict[str, Any], kind: str) -> dict[str, Any]:
    """What publishing the fit draft would do to `kind` (nothing stored): {leads_evaluated, leads_changed,
    level_changes, distribution_before/after, top_movers}, over every stored profile. Fit needs no replay of the
    event log, so only the fit part of the what-if runs. Raises the refusal (InvalidInput naming the path)."""
    require_editor(user)
    with get_db().read() as session:
        published = published_model(session, user.tenant)
        draft = what_if.apply_changes(published, changes)
        return what_if.simulate_fit(session, user.tenant, published, draft)[kind].as_dict()


# --- grids ---------------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if _blank(value) else str(value).strip()


def _whole(value: Any) -> int | None:
    if _blank(value):
        return None
    number = float(value)
    return int(number) if number.is_integer() else None


def rules_to_grid(rules: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{c: r.get(c) for c in RULE_COLUMNS} for r in sorted(rules, key=lambda r: (r.get("ui_order", 0), r["id"]))],
        columns=list(RULE_COLUMNS),
    )
    frame["weight"] = frame["weight"].astype("Int64")
    frame["ui_order"] = frame["ui_order"].astype("Int64")
    return frame


def grid_to_rules(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The grid's rows as plain rule rows ({id|None, property, condition, comparison_value, weight, ui_order});
    a blank order becomes the row's place."""
    rows: list[dict[str, Any]] = []
    for place, record in enumerate(frame.to_dict("records")):
        order = _whole(record.get("ui_order"))
        rows.append({
            "id": None if _blank(record.get("id")) else str(record["id"]),
            "property": _text(record.get("property")),
            "condition": _text(record.get("condition")),
            "comparison_value": _text(record.get("comparison_value")),
            "weight": _whole(record.get("weight")) if not _blank(record.get("weight")) else None,
            "ui_order": place if order is None else order,
        })
    return rows


_RULE_FIELDS: tuple[str, ...] = ("property", "condition", "comparison_value", "weight", "ui_order")


def rule_changes(
    rows: Sequence[Mapping[str, Any]], originals: Sequence[Mapping[str, Any]], ruleset_id: str, kind: str
) -> dict[str, list[Any]]:
    """{add, update, remove} turning the ruleset's published fit rules into `rows` (a draft's `<kind>_rules`).
    Rows are compared with the published rules as the grid shows them, so an untouched row is never a change."""
    published = {r["id"]: r for r in grid_to_rules(rules_to_grid(originals))}
    prop = f"{kind}_property"

    def body(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
        return {(prop if f == "property" else f): row.get(f) for f in fields}

    add: list[dict[str, Any]] = []
    update: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        rule_id = row.get("id")
        if rule_id is None or rule_id not in published:
            add.append({"ruleset_id": ruleset_id, **body(row, _RULE_FIELDS)})
            continue
        seen.add(rule_id)
        changed = [f for f in _RULE_FIELDS if row.get(f) != published[rule_id].get(f)]
        if changed:
            update.append({"rule_id": rule_id, **body(row, changed)})
    return {"add": add, "update": update, "remove": [r for r in published if r not in seen]}


def mappings_to_grid(mappings: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{c: m.get(c) for c in MAPPING_COLUMNS} for m in mappings], columns=list(MAPPING_COLUMNS))


def grid_to_mappings(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "id": None if _blank(record.get("id")) else str(record["id"]),
            "source_field": _text(record.get("source_field")),
            "property": _text(record.get("property")),
            "update_behavior": _text(record.get("update_behavior")) or "always_latest",
        }
        for record in frame.to_dict("records")
    ]


def save_mappings(session: Any, tenant: Any, kind: str, rows: Sequence[Mapping[str, Any]],
                  originals: Sequence[Mapping[str, Any]], at: Any) -> int:
    """Create, update and delete mappings so the unit's match `rows`; returns how many changed."""
    known = {m["id"]: m for m in originals}
    changed = 0
    for index, row in enumerate(rows):
        fields = {"source_field": row["source_field"], "property": row["property"],
                  "update_behavior": row["update_behavior"]}
        try:
            if row["id"] in known:
                before = known[row["id"]]
                if any(before.get(k) != v for k, v in fields.items()):
                    fit_config.update_mapping(session, tenant, kind, row["id"], **fields, now=at)
                    changed += 1
            else:
                fit_config.create_mapping(session, tenant, kind, **fields, now=at)
                changed += 1
        except InvalidInput as exc:
            raise InvalidInput(f"Row {index + 1}", exc.message) from exc
    kept = {row["id"] for row in rows}
    for mapping_id in known:
        if mapping_id not in kept:
            fit_config.delete_mapping(session, tenant, kind, mapping_id, now=at)
            changed += 1
    return changed


_FIT_DRAFT_PATH = re.compile(
    r"^(changes\.(?:profile|account)_(?:rules\.(?:add|update|remove)\[\d+\]|levels\[\d+\]))\.?([a-z_]*)"
)


def describe_fit_error(message: str, places: Mapping[str, str]) -> str:
    """'changes.profile_rules.add[0].weight: must be an integer' -> 'ICP, row 3, weight: must be an integer'
    (`places` names where each change came from)."""
    match = _FIT_DRAFT_PATH.match(message)
    if not match or match.group(1) not in places:
        return message
    rest = message[match.end():].lstrip(".:[] ")
    field = match.group(2)
    where = places[match.group(1)]
    return f"{where}, {field}: {rest}" if field else f"{where}: {rest}"


# --- charts --------------------------------------------------------------------------------------------------------


def histogram_range(bins: Sequence[Mapping[str, int]], levels: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """The fit scores the chart shows: the scores that occur, widened to the level boundaries near them (a level
    reaching to -1000 or 1000 would otherwise squeeze every bar into a line), plus a margin."""
    data_low, data_high = min(b["min"] for b in bins), max(b["max"] for b in bins)
    span = max(10, data_high - data_low)
    bounds = [v for lv in levels for v in (lv["min_score"], lv["max_score"])]
    low = min([data_low, *(v for v in bounds if v >= data_low - span)])
    high = max([data_high, *(v for v in bounds if v <= data_high + span)])
    margin = max(1.0, (high - low) * 0.05)
    return low - margin, high + margin


def levels_over_histogram(bins: Sequence[Mapping[str, int]], levels: Sequence[Mapping[str, Any]], owners: str
                          ) -> go.Figure:
    """Bars: how many leads (accounts) have each fit score; behind them each fit level's band, in its colour."""
    figure = go.Figure()
    figure.add_bar(
        x=[(b["min"] + b["max"]) / 2 for b in bins], y=[b["count"] for b in bins],
        width=[max(1, b["max"] - b["min"] + 1) * 0.9 for b in bins], marker_color="#808495", name=owners.capitalize(),
        customdata=[f"{b['min']} to {b['max']}" for b in bins],
        hovertemplate="fit %{customdata}: %{y}<extra></extra>",
    )
    low, high = histogram_range(bins, levels)
    for lv in levels:
        x0, x1 = max(lv["min_score"], low) - 0.5, min(lv["max_score"], high) + 0.5
        if x0 >= x1:
            continue
        figure.add_vrect(
            x0=x0, x1=x1, fillcolor=level_hex(str(lv["name"]), levels), opacity=0.15, line_width=0,
            annotation_text=str(lv["name"]), annotation_position="top left",
        )
    figure.update_xaxes(range=[low - 0.5, high + 0.5])
    figure.update_layout(xaxis_title="Fit score", yaxis_title=owners.capitalize(), bargap=0.05, showlegend=False)
    return legend_below(figure, height=320)


# --- the tab of one kind -------------------------------------------------------------------------------------------


def _draft(user: SignedIn, kind: str) -> dict[str, Any]:
    """The draft of `kind` (per ruleset the grid's rows, and the level list); it belongs to one unit."""
    key = f"fit_draft_{kind}"
    draft: dict[str, Any] = st.session_state.get(key) or {}
    if draft.get("unit") != user.tenant.unit_id:
        draft = {"unit": user.tenant.unit_id, "rules": {}, "levels": None}
        st.session_state[key] = draft
    return draft


def drop_draft(kind: str) -> None:
    """Forget the draft of `kind` and its grids' edits: the grids show what is published again."""
    prefixes = (f"fit_rules_grid_{kind}_", f"fit_levels_grid_{kind}", f"fit_grid_base_{kind}")
    for key in [k for k in st.session_state if str(k).startswith(prefixes)]:
        st.session_state.pop(key, None)
    st.session_state.pop(f"fit_draft_{kind}", None)
    st.session_state.pop(f"fit_preview_{kind}", None)


def _grid_base(kind: str, key: str, published: list[dict[str, Any]], drafted: list[dict[str, Any]] | None) -> Any:
    """What a grid starts from: the published rows, or the draft's when the grid comes back (see pages/rules.py)."""
    base = f"fit_grid_base_{kind}_{key}"
    if key not in st.session_state or base not in st.session_state:
        st.session_state[base] = drafted if drafted is not None else published
    return st.session_state[base]


def _rows_for_grid(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{c: r.get(c) for c in RULE_COLUMNS} for r in rows]


def render_kind(user: SignedIn, kind: str) -> None:
    """One tab of the Fit page: mappings, rulesets, rules, levels, draft (for accounts only with ABM on: the account
    configuration answers 403 `abm_disabled` while it is off, in the API as here)."""
    if kind == "account" and not data.abm_enabled(user.tenant):
        st.caption("Account field mappings, fit rules and levels are hidden while account scoring is off.")
        abm_off_notice(user, key="fit_abm_on")
        return
    locked = not user.can_edit
    owners = OWNERS[kind]
    setup = fit_setup(user.tenant, kind)
    render_mappings(user, kind, setup["mappings"], locked)
    ruleset_id = render_rulesets(user, kind, setup["rulesets"], locked)
    draft = _draft(user, kind)
    names = {rs["id"]: rs["name"] for rs in setup["rulesets"]}
    properties_seen = fit_properties(user.tenant, kind)

    changes: dict[str, Any] = {}
    places: dict[str, str] = {}
    part = f"{kind}_rules"
    if ruleset_id is not None:
        st.markdown(f"**Rules of {names[ruleset_id]}**")
        originals = setup["rules"].get(ruleset_id, [])
        if not originals:
            st.info(f"This ruleset has no rules yet: every {owners[:-1]}'s fit is 0. Add a rule (a property, a "
                    "condition, a value and a weight, e.g. title contains VP worth 20), then Preview impact and "
                    "Publish.")
        grid_key = f"fit_rules_grid_{kind}_{ruleset_id}"
        base_rows = _grid_base(kind, grid_key, originals, draft["rules"].get(ruleset_id))
        suggestions = sorted({*properties_seen, *(r["property"] for r in base_rows if r.get("property"))})
        render_add_rule(kind, ruleset_id, grid_key, draft, suggestions, locked)
        edited = st.data_editor(
            rules_to_grid(_rows_for_grid(base_rows)),
            key=grid_key,
            num_rows="dynamic",
            disabled=locked,
            hide_index=True,
            width="stretch",
            height=min(35 * (len(base_rows) + 2) + 3, 900),
            column_config={
                "id": None,
                "property": st.column_config.SelectboxColumn("Property", options=suggestions, required=True),
                "condition": st.column_config.SelectboxColumn("Condition", options=list(CONDITION_OPERATORS),
                                                              required=True),
                "comparison_value": st.column_config.TextColumn(
                    "Value", help="compared case-insensitively; in / not_in: comma-separated; gt..lte: a number"),
                "weight": st.column_config.NumberColumn("Weight", step=1, required=True, help="points; may be < 0"),
                "ui_order": st.column_config.NumberColumn("Order", step=1, help="display order (blank: row order)"),
            },
        )
        draft["rules"][ruleset_id] = grid_to_rules(edited)
    add: list[Any] = []
    update: list[Any] = []
    remove: list[Any] = []
    for rs_id, rows in draft["rules"].items():
        if rs_id not in names:
            continue
        rs_changes = rule_changes(rows, setup["rules"].get(rs_id, []), rs_id, kind)
        row_of = {row.get("id"): n for n, row in enumerate(rows, start=1)}
        published_ids = {r["id"] for r in setup["rules"].get(rs_id, [])}
        new_rows = [n for n, row in enumerate(rows, start=1) if row.get("id") not in published_ids]
        for item, n in zip(rs_changes["add"], new_rows, strict=True):
            places[f"changes.{part}.add[{len(add)}]"] = f"{names[rs_id]}, row {n}"
            add.append(item)
        for item in rs_changes["update"]:
            places[f"changes.{part}.update[{len(update)}]"] = f"{names[rs_id]}, row {row_of[item['rule_id']]}"
            update.append(item)
        remove.extend(rs_changes["remove"])
    if add or update or remove:
        changes[part] = {"add": add, "update": update, "remove": remove}

    problems = st.container()
    render_levels(user, kind, draft, locked, problems)
    if draft["levels"] is not None:
        changes[f"{kind}_levels"] = draft["levels"]
        places.update({f"changes.{kind}_levels[{i}]": f"Fit levels, row {i + 1}"
                       for i in range(len(draft["levels"]))})
    render_draft_bar(user, kind, changes, places, problems, locked)


def render_add_rule(kind: str, ruleset_id: str, grid_key: str, draft: dict[str, Any], suggestions: list[str],
                    locked: bool) -> None:
    """A form that adds one rule to the draft (the grid below takes it as a new row): quicker than the grid for a
    first rule, and it offers the properties seen on the unit's profiles."""
    with st.form(f"fit_add_rule_{kind}", clear_on_submit=True, border=False):
        c1, c2, c3, c4, c5 = st.columns([3, 2, 3, 1, 1], vertical_alignment="bottom")
        prop = c1.selectbox("Property", suggestions, index=None, accept_new_options=True, disabled=locked,
                            key=f"fit_add_property_{kind}", placeholder="title, company_size, country…")
        condition = c2.selectbox("Condition", list(CONDITION_OPERATORS), disabled=locked,
                                 key=f"fit_add_condition_{kind}")
        value = c3.text_input("Value", disabled=locked, key=f"fit_add_value_{kind}")
        weight = c4.number_input("Weight", value=10, step=1, disabled=locked, key=f"fit_add_weight_{kind}")
        added = c5.form_submit_button("Add rule", disabled=locked)
    if added:
        if not prop:
            st.error("Pick or type the property the rule tests.")
            return
        if ruleset_id in draft["rules"]:
            rows = list(draft["rules"][ruleset_id])
        else:
            rows = grid_to_rules(rules_to_grid(st.session_state.get(f"fit_grid_base_{kind}_{grid_key}") or []))
        rows.append({"id": None, "property": str(prop).strip(), "condition": condition,
                     "comparison_value": value.strip(), "weight": int(weight), "ui_order": len(rows)})
        draft["rules"][ruleset_id] = rows
        st.session_state.pop(grid_key, None)  # the grid starts again from the draft, the new rule included
        st.session_state.pop(f"fit_grid_base_{kind}_{grid_key}", None)
        st.rerun()


def render_mappings(user: SignedIn, kind: str, mappings: list[dict[str, Any]], locked: bool) -> None:
    target = "lead profile" if kind == "profile" else "account profile"
    with st.expander(f"Field mappings ({len(mappings)})"):
        st.caption(f"Copy a field of arriving events (a metadata key, or a dotted path such as company.size) into "
                   f"the {target}. Mappings apply to events from now on; they save at once.")
        edited = st.data_editor(
            mappings_to_grid(mappings),
            key=f"fit_mappings_grid_{kind}",
            num_rows="dynamic",
            disabled=locked,
            hide_index=True,
            width="stretch",
            column_config={
                "id": None,
                "source_field": st.column_config.TextColumn("Source field", required=True),
                "property": st.column_config.TextColumn("Property", required=True),
                "update_behavior": st.column_config.SelectboxColumn(
                    "Update behavior", options=list(UPDATE_BEHAVIORS), default="always_latest", help=BEHAVIOR_HELP),
            },
        )
        rows = grid_to_mappings(edited)
        where = st.container()
        if st.button("Save mappings", disabled=locked, key=f"fit_save_mappings_{kind}"):
            saved = data.save(user, lambda s, t, at: save_mappings(s, t, kind, rows, mappings, at), where=where)
            if saved:
                st.session_state.pop(f"fit_mappings_grid_{kind}", None)
                st.session_state[f"fit_saved_{kind}"] = f"Mappings saved ({saved.value} changed)."
                st.rerun()


def render_rulesets(user: SignedIn, kind: str, rulesets: list[dict[str, Any]], locked: bool) -> str | None:
    """The ruleset choice and its management (create, primary, enabled, delete); returns the chosen ruleset id."""
    if st.session_state.get(f"fit_saved_{kind}"):
        st.success(st.session_state.pop(f"fit_saved_{kind}"))
    st.subheader(f"{KINDS[kind]} fit rules")
    if not rulesets:
        st.info("No fit ruleset yet. Create one below (for example \"Ideal customer\"); the primary ruleset's rules "
                "decide the fit score.")

    def label(rs: Mapping[str, Any]) -> str:
        flags = [f for f, on in (("primary", rs["is_primary"]), ("disabled", not rs["enabled"])) if on]
        return rs["name"] + (f" ({', '.join(flags)})" if flags else "")

    names = {rs["id"]: label(rs) for rs in rulesets}
    chosen = st.session_state.pop(f"fit_ruleset_new_{kind}", None)  # a ruleset just created: show it
    if chosen in names:
        st.session_state[f"fit_ruleset_{kind}"] = chosen
    ruleset_id: str | None = st.selectbox("Fit ruleset", list(names), format_func=lambda i: names[i],
                                          key=f"fit_ruleset_{kind}")
    ruleset = next((rs for rs in rulesets if rs["id"] == ruleset_id), None)
    with st.expander("Manage fit rulesets", expanded=not rulesets):
        c1, c2 = st.columns(2)
        with c1.form(f"fit_new_ruleset_{kind}", clear_on_submit=True):
            new_name = st.text_input("New fit ruleset name", disabled=locked, key=f"fit_new_ruleset_name_{kind}")
            primary = st.checkbox("Primary (its score is the fit score)", value=not rulesets, disabled=locked,
                                  key=f"fit_new_ruleset_primary_{kind}")
            if st.form_submit_button("Create fit ruleset", disabled=locked):
                made = data.save(user, lambda s, t, at: fit_config.create_fit_ruleset(
                    s, t, kind, name=new_name, enabled=True, is_primary=primary, now=at))
                if made:
                    st.session_state[f"fit_ruleset_new_{kind}"] = made.value["id"] if made.value else None
                    st.rerun()
        if ruleset is not None:
            with c2.form(f"fit_edit_ruleset_{kind}"):
                # Not keyed: each ruleset's form starts from that ruleset's stored values.
                renamed = st.text_input("Name", value=ruleset["name"], disabled=locked)
                enabled = st.checkbox("Enabled", value=ruleset["enabled"], disabled=locked)
                is_primary = st.checkbox("Primary", value=ruleset["is_primary"], disabled=locked)
                if st.form_submit_button("Save ruleset", disabled=locked) and data.save(
                    user, lambda s, t, at: fit_config.update_fit_ruleset(
                        s, t, kind, ruleset["id"], name=renamed, enabled=enabled, is_primary=is_primary, now=at)
                ):
                    st.rerun()
            sure = st.checkbox("Yes, delete this fit ruleset and its rules", disabled=locked,
                               key=f"fit_delete_sure_{kind}")
            if st.button("Delete this fit ruleset", disabled=locked or not sure, key=f"fit_delete_ruleset_{kind}") \
                    and data.save(user, lambda s, t, at: fit_config.delete_fit_ruleset(s, t, kind, ruleset["id"],
                                                                                         now=at)):
                st.session_state.pop(f"fit_ruleset_{kind}", None)
                _draft(user, kind)["rules"].pop(ruleset["id"], None)
                st.rerun()
    return ruleset_id


def render_levels(user: SignedIn, kind: str, draft: dict[str, Any], locked: bool, problems: Any) -> None:
    owners = OWNERS[kind]
    published = fit_levels(user.tenant, kind)
    st.markdown("**Fit levels**")
    st.caption(f"Each fit score falls in at most one level: no overlaps, no gaps; max is inclusive. The bars are the "
               f"{owners}' current fit scores. Level changes are part of the draft.")
    grid_key = f"fit_levels_grid_{kind}"
    base = _grid_base(kind, grid_key, published, draft["levels"])
    left, right = st.columns([2, 3])
    with left:
        edited = st.data_editor(
            levels_to_grid(base), key=grid_key, num_rows="dynamic", disabled=locked, hide_index=True,
            width="stretch", column_config=level_grid_columns(),
        )
    try:
        planned = levels_to_draft(edited)
        draft["levels"] = None if same_levels(planned, published) else planned
    except ServiceError as exc:
        problems.error(exc.message.split(": ", 1)[-1])
        planned = None
    with right:
        bins = fit_distribution(user.tenant, kind)
        if bins:
            shown = planned if planned is not None else published
            st.plotly_chart(levels_over_histogram(bins, shown, owners), key=f"fit_histogram_{kind}")
        else:
            st.caption(f"No fit scores to show yet: the chart fills once {owners} have profiles.")


def render_draft_bar(user: SignedIn, kind: str, changes: dict[str, Any], places: dict[str, str], problems: Any,
                     locked: bool) -> None:
    part = changes.get(f"{kind}_rules")
    if changes:
        counts = (f"{len(part['add'])} added, {len(part['update'])} changed, {len(part['remove'])} removed"
                  if part else "none")
        st.warning(f"You have unpublished fit changes (rules: {counts}"
                   + ("; levels changed" if f"{kind}_levels" in changes else "")
                   + "). Live fit scores are unchanged until you publish.", icon="✏️")
    c1, c2, c3 = st.columns(3)
    preview = c1.button("Preview impact", disabled=locked or not changes, key=f"fit_preview_button_{kind}")
    publish = c2.button("Publish", type="primary", disabled=locked or not changes, key=f"fit_publish_{kind}")
    discard = c3.button("Discard", disabled=locked or not changes, key=f"fit_discard_{kind}")
    fingerprint = repr(changes)
    if preview:
        try:
            with st.spinner("Scoring every profile under the draft…"):
                st.session_state[f"fit_preview_{kind}"] = (fingerprint, simulate_fit_draft(user, changes, kind))
        except ServiceError as exc:
            problems.error(describe_fit_error(exc.message, places))
    if publish:
        published = data.save(
            user, lambda s, t, at: what_if.publish_draft(s, t, changes, at), where=problems,
            describe=lambda message: describe_fit_error(message, places),
        )
        if published:
            drop_draft(kind)
            version = published.value
            st.session_state[f"fit_saved_{kind}"] = (
                "Nothing to publish: the draft matches the published fit rules." if version is None
                else f"Published version {version.version}; fit scores recomputed.")
            st.rerun()
    if discard:
        drop_draft(kind)
        st.session_state[f"fit_saved_{kind}"] = "Draft discarded: the grids show the published fit rules again."
        st.rerun()
    shown = st.session_state.get(f"fit_preview_{kind}")
    if shown and shown[0] == fingerprint:
        render_preview(kind, shown[1])
    elif shown:
        st.caption("The draft changed since the last preview: Preview impact again to see its effect.")


def _mover_label(mover: Mapping[str, Any]) -> str:
    return str(mover.get("label") or mover.get("id") or DASH)


def render_preview(kind: str, fit: Mapping[str, Any]) -> None:
    owners = OWNERS[kind]
    st.subheader("Impact of the draft")
    movers = list(fit["top_movers"])
    level_moves = list(fit["level_changes"])
    m1, m2, m3 = st.columns(3)
    m1.metric(f"{owners.capitalize()} evaluated", f"{int(fit['leads_evaluated']):,}")
    m2.metric(f"{owners.capitalize()} whose fit changes", f"{int(fit['leads_changed']):,}")
    m3.metric(f"{owners.capitalize()} changing fit level", f"{sum(int(c['count']) for c in level_moves):,}")
    st.markdown("**Fit level changes** (rows: level now, columns: level under the draft)")
    if level_moves:
        moves = pd.DataFrame([{"from": c.get("from") or "(no level)", "to": c.get("to") or "(no level)",
                               "count": c["count"]} for c in level_moves])
        matrix = moves.pivot_table(index="from", columns="to", values="count", aggfunc="sum", fill_value=0)
        matrix = matrix.reset_index().rename(columns={"from": "Level now"})
        matrix.columns.name = None
        st.dataframe(matrix, hide_index=True, width="stretch", key=f"fit_level_matrix_{kind}")
    else:
        st.caption(f"No {owners[:-1]} would change fit level.")
    before = fit["distribution_before"]["bins"]
    after = fit["distribution_after"]["bins"]
    if before:
        labels = [f"{b['min']} to {b['max']}" for b in before]
        figure = go.Figure()
        figure.add_bar(x=labels, y=[b["count"] for b in before], name="Now", marker_color="#808495")
        figure.add_bar(x=labels, y=[b["count"] for b in after], name="With the draft", marker_color="#1c83e1")
        figure.update_layout(barmode="group", xaxis_title="Fit score", yaxis_title=owners.capitalize())
        st.markdown("**Fit score distribution**")
        st.plotly_chart(legend_below(figure, height=340), key=f"fit_preview_distribution_{kind}")
    st.markdown("**Top movers**")
    if movers:
        st.dataframe(
            pd.DataFrame([{owners[:-1].capitalize(): _mover_label(m), "Now": m["before"], "With the draft": m["after"],
                           "Change": m["after"] - m["before"]} for m in movers]),
            hide_index=True, width="stretch", key=f"fit_movers_{kind}",
        )
    else:
        st.caption(f"No {owners[:-1]}'s fit would change.")


# --- fit beside engagement (Leads, lead detail, Accounts) --------------------------------------------------------


def level_name(value: Any) -> str | None:
    """A fit or engagement level as reads carry it (a name, or {name, ...}) as its name."""
    if isinstance(value, Mapping):
        return str(value.get("name")) if value.get("name") else None
    return str(value) if value else None


def bands(levels: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Levels as core.grade bands: (name, min score)."""
    return [(str(lv["name"]), int(lv["min_score"])) for lv in levels]



def grade_of(row: Mapping[str, Any], fit_levels: Sequence[Mapping[str, Any]],
             engagement_levels: Sequence[Mapping[str, Any]]) -> str | None:
    """The combined grade of a lead read ("A1"), or None (core.grade)."""
    return grade(level_name(row.get("fit_level")), bands(fit_levels), level_name(row.get("level")),
                 bands(engagement_levels))


def fit_level_column(levels: Sequence[Mapping[str, Any]], label: str = "Fit level") -> Any:
    """A fit level column: each level a badge in its colour (as the engagement Level column)."""
    names = [str(lv["name"]) for lv in levels]
    return st.column_config.MultiselectColumn(
        label, options=names, color=[level_colour(n, levels) for n in names], width="small"
    )


def fit_level_cell(row: Mapping[str, Any]) -> list[str]:
    name = level_name(row.get("fit_level"))
    return [name] if name else []


def reason_label(reason: Mapping[str, Any]) -> str:
    """'title contains vp' from a fit reason ({profile_property | account_property, condition, comparison_value})."""
    prop = reason.get("profile_property") or reason.get("account_property") or reason.get("property")
    return condition_label({"property": prop, "operator": reason.get("condition"),
                            "value": reason.get("comparison_value")})
