"""The Segments page's pieces: the list of segments, a segment's settings, its rule builder (AND/OR groups) with a
live count of the leads the rules select as you type a rule, its members (paged) and their CSV export.

Reads and writes go through services.targeting.segments; membership is computed by the same live query as
GET /v1/segments/{id}/count. Rules save at once (a segment is not part of the scoring model: no draft).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from core import segments as core
from core.scoring import CONDITION_OPERATORS
from services.errors import ServiceError
from services.people import leads as lead_service
from services.targeting import export as segment_export
from services.targeting import segments as targeting
from ui import data
from ui.auth import SignedIn
from ui.runtime import get_db, now

PAGE_SIZE = 25
RULE_TYPE_LABELS: dict[str, str] = {
    "lead_metadata": "Lead profile field", "event_metadata": "Event with a field", "score": "Score",
    "level": "Engagement level", "fit_level": "Fit level", "account": "Account field",
}
RULE_COLUMNS: tuple[str, ...] = ("logic_group", "order_index", "logic_op", "rule", "active")


# --- reads ---------------------------------------------------------------------------------------------------------


@st.cache_data(ttl=data.TTL, show_spinner=False)
def segment_list(tenant: Any) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return targeting.list_segments(session, tenant)


@st.cache_data(ttl=data.TTL, show_spinner=False)
def segment_rules(tenant: Any, segment_id: str) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return targeting.list_rules(session, tenant, segment_id)


@st.cache_data(ttl=5, show_spinner=False)
def count_of(tenant: Any, rules: tuple[core.SegmentRule, ...]) -> int:
    """How many leads `rules` select now (saved or being edited)."""
    with get_db().read() as session:
        return targeting.count_rules(session, tenant, rules, now())


@st.cache_data(ttl=data.TTL, show_spinner=False)
def members(tenant: Any, segment_id: str, page: int) -> tuple[list[dict[str, Any]], int]:
    with get_db().read() as session:
        found = lead_service.list_leads(session, tenant, segment_id=segment_id, now=now(), page=page,
                                        limit=PAGE_SIZE)
        return found.rows, found.total


def members_csv(tenant: Any, segment_id: str) -> str:
    with get_db().read() as session:
        return "".join(segment_export.export_csv(segment_export.export_rows(session, tenant, segment_id, now())))


def rule_label(rule: Mapping[str, Any]) -> str:
    """A rule as a sentence: 'Lead profile field plan equals pro', 'Event form_submit (30 days) page contains x'."""
    kind = rule["rule_type"]
    subject = {
        "lead_metadata": f"profile {rule['field_name']}",
        "event_metadata": f"an event {rule.get('event_type')}"
        + (f" in the last {rule['within_days']} days" if rule.get("within_days") else "")
        + f" with {rule['field_name']}",
        "score": "score" if rule["field_name"] in core.PRIMARY_SCORE_FIELDS else f"score in {rule['field_name']}",
        "level": "engagement level", "fit_level": "fit level", "account": f"account {rule['field_name']}",
    }[kind]
    value = "" if rule["operator"] in core.NO_VALUE_OPERATORS else f" {rule.get('value')}"
    return f"{subject} {rule['operator'].replace('_', ' ')}{value}"


def rules_table(rules: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"logic_group": r["logic_group"], "order_index": r["order_index"], "logic_op": r["logic_op"],
          "rule": rule_label(r), "active": r["active"]} for r in rules],
        columns=list(RULE_COLUMNS),
    )


# --- screen --------------------------------------------------------------------------------------------------------


def render(user: SignedIn) -> None:
    locked = not user.can_edit
    segments = segment_list(user.tenant)
    render_create(user, locked)
    if not segments:
        st.info("No segments yet: create one above, then add rules that pick its leads.")
        return
    names = {s["segment_id"]: s["name"] for s in segments}
    picked = st.selectbox("Segment", list(names), format_func=lambda v: names.get(v, v), key="segment_pick")
    segment_id = str(picked or next(iter(names)))
    segment = next(s for s in segments if s["segment_id"] == segment_id)
    rules = segment_rules(user.tenant, segment_id)
    st.metric("Leads in the segment", f"{count_of(user.tenant, tuple(targeting.as_core(r) for r in rules)):,}")
    settings_tab, rules_tab, members_tab = st.tabs(["Settings", "Rules", "Members"])
    with settings_tab:
        render_settings(user, segment, locked)
    with rules_tab:
        render_rules(user, segment_id, rules, locked)
    with members_tab:
        render_members(user, segment_id)


def render_create(user: SignedIn, locked: bool) -> None:
    with (st.expander("New segment", expanded=not segment_list(user.tenant)),
          st.form("segment_create", clear_on_submit=True)):
        name = st.text_input("Name", key="segment_new_name", disabled=locked)
        description = st.text_input("Description", key="segment_new_description", disabled=locked)
        if st.form_submit_button("Create segment", disabled=locked):
            saved = data.save(user, lambda s, t, at: targeting.create_segment(
                s, t, name=name, description=description or None, now=at))
            if saved and saved.value is not None:
                st.session_state["segment_pick"] = saved.value["segment_id"]
                st.rerun()


def render_settings(user: SignedIn, segment: dict[str, Any], locked: bool) -> None:
    sid = segment["segment_id"]
    with st.form(f"segment_settings_{sid}"):
        name = st.text_input("Name", value=segment["name"], disabled=locked)
        description = st.text_area("Description", value=segment["description"] or "", disabled=locked)
        active = st.checkbox("Active", value=segment["active"], disabled=locked,
                             help="A label for your own use: an inactive segment still counts and lists its leads.")
        if st.form_submit_button("Save segment", disabled=locked):
            saved = data.save(user, lambda s, t, at: targeting.update_segment(
                s, t, sid, name=name, description=description or None, active=active, now=at))
            if saved:
                st.rerun()
    if st.button("Delete segment", disabled=locked, key=f"segment_delete_{sid}") and data.save(
        user, lambda s, t, at: targeting.delete_segment(s, t, sid, now=at)
    ):
        st.session_state.pop("segment_pick", None)
        st.rerun()


def render_rules(user: SignedIn, segment_id: str, rules: list[dict[str, Any]], locked: bool) -> None:
    st.caption("Rules in one group join in order: each rule with AND or OR to what comes before it. Groups join "
               "with AND. Inactive rules are skipped; a segment without rules holds every lead.")
    if rules:
        st.dataframe(rules_table(rules), hide_index=True, width="stretch",
                     column_config={"logic_group": "Group", "order_index": "Order", "logic_op": "Join",
                                    "rule": "Rule", "active": "Active"})
        labels = {r["rule_id"]: f"Group {r['logic_group']} · {rule_label(r)}" for r in rules}
        left, right = st.columns([3, 1])
        doomed = str(left.selectbox("Rule", list(labels), format_func=lambda v: labels[v],
                                    key=f"segment_rule_pick_{segment_id}", disabled=locked))
        if right.button("Delete rule", disabled=locked, key=f"segment_rule_delete_{segment_id}") and doomed and (
            data.save(user, lambda s, t, at: targeting.delete_rule(s, t, segment_id, doomed, now=at))
        ):
            st.rerun()
    st.markdown("**Add a rule**")
    c1, c2, c3 = st.columns(3)
    rule_type = str(c1.selectbox("Rule type", list(RULE_TYPE_LABELS), format_func=lambda v: RULE_TYPE_LABELS[v],
                                 key=f"segment_add_type_{segment_id}", disabled=locked))
    field_help = {"score": "empty: the primary score; or a ruleset id",
                  "account": "domain, name, fit_score or a profile field"}.get(rule_type)
    field = c2.text_input("Field", key=f"segment_add_field_{segment_id}", disabled=locked, help=field_help,
                          value="level" if rule_type in ("level", "fit_level") else "")
    operator = c3.selectbox("Operator", CONDITION_OPERATORS, key=f"segment_add_operator_{segment_id}",
                            disabled=locked)
    c4, c5, c6 = st.columns(3)
    value = c4.text_input("Value", key=f"segment_add_value_{segment_id}", disabled=locked,
                          help="in / not in: a comma-separated list")
    event_type = within = None
    if rule_type == "event_metadata":
        event_type = c5.text_input("Event type", key=f"segment_add_event_{segment_id}", disabled=locked)
        within = c6.number_input("Within days (0: any time)", min_value=0, max_value=36500, step=1,
                                 key=f"segment_add_within_{segment_id}", disabled=locked)
    c7, c8 = st.columns(2)
    group = c7.number_input("Group", min_value=0, max_value=1000, step=1, key=f"segment_add_group_{segment_id}",
                            disabled=locked)
    join = c8.radio("Join with the rules before it in its group", ["AND", "OR"], horizontal=True,
                    key=f"segment_add_join_{segment_id}", disabled=locked)
    fields = {
        "rule_type": rule_type, "field_name": field, "operator": operator,
        "value": None if operator in core.NO_VALUE_OPERATORS else value, "event_type": event_type,
        "within_days": int(within) if within else None, "logic_group": int(group), "logic_op": join,
        "order_index": 1 + max((r["order_index"] for r in rules if r["logic_group"] == int(group)), default=-1),
    }
    try:
        draft = targeting.as_core({**targeting.validate_rule(fields), "active": True})
    except (ServiceError, ValueError) as exc:
        st.caption(f"Rule incomplete: {getattr(exc, 'message', exc)}")
        draft = None
    if draft is not None:
        with_draft = (*(targeting.as_core(r) for r in rules), draft)
        st.metric("Leads with this rule added (live)", f"{count_of(user.tenant, with_draft):,}")
    if st.button("Add rule", disabled=locked or draft is None, key=f"segment_add_rule_{segment_id}") and data.save(
        user, lambda s, t, at: targeting.create_rule(s, t, segment_id, fields=fields, now=at)
    ):
        st.rerun()


def render_members(user: SignedIn, segment_id: str) -> None:
    page = int(st.number_input("Page", min_value=1, step=1, key=f"segment_members_page_{segment_id}"))
    rows, total = members(user.tenant, segment_id, page)
    st.caption(f"{total:,} leads; page {page} of {max(1, -(-total // PAGE_SIZE))}.")
    st.dataframe(
        pd.DataFrame([{"email": r["email"], "name": " ".join(filter(None, (r["first_name"], r["last_name"]))),
                       "company": (r["account"] or {}).get("name"), "score": r["score"],
                       "level": (r["level"] or {}).get("name"), "fit_level": r["fit_level"], "id": r["id"]}
                      for r in rows], columns=["email", "name", "company", "score", "level", "fit_level", "id"]),
        hide_index=True, width="stretch",
    )
    st.download_button("Download CSV", data=lambda: members_csv(user.tenant, segment_id),
                       file_name=f"segment-{segment_id}.csv", mime="text/csv", key=f"segment_export_{segment_id}")
