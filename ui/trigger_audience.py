"""A trigger's audience on the Triggers page: its segment (empty: any lead), profile filters and lead attribute
filters ({field_name, operator, value}, tested like a segment rule, ignoring case).

The form sends them with the trigger's other fields to services.triggers.triggers, which validates them
(services.targeting.segments.check_trigger_filters: a refusal names the filter, e.g. profile_filters[0].value).
Segment id "" and empty lists clear the audience.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from core.scoring import CONDITION_OPERATORS
from core.segments import LEAD_ATTRIBUTES
from services.context import Tenant
from ui.segments import segment_list

ANY_LEAD = "Any lead"
FILTER_COLUMNS: tuple[str, ...] = ("field_name", "operator", "value")
FILTER_LISTS: dict[str, str] = {"profile_filters": "Profile filters",
                                "lead_attribute_filters": "Lead attribute filters"}


def segment_names(tenant: Tenant) -> dict[str, str]:
    """The unit's segments, id -> name (read like the Segments page reads them)."""
    return {s["segment_id"]: s["name"] for s in segment_list(tenant)}


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def filter_rows(edited: pd.DataFrame) -> list[dict[str, Any]]:
    """The grid's rows as filters, blank rows dropped; anything incomplete is left for the service to name."""
    rows = []
    for r in edited.to_dict("records"):
        field, operator, value = (_text(r.get(c)) for c in FILTER_COLUMNS)
        if field or operator or value:
            rows.append({"field_name": field, "operator": operator, "value": value or None})
    return rows


def _grid(key: str, name: str, current: Mapping[str, Any], locked: bool) -> list[dict[str, Any]]:
    table = pd.DataFrame([{c: f.get(c) for c in FILTER_COLUMNS} for f in current.get(name) or []],
                         columns=list(FILTER_COLUMNS), dtype=object)
    field = (st.column_config.SelectboxColumn("Field", options=list(LEAD_ATTRIBUTES), required=True)
             if name == "lead_attribute_filters" else st.column_config.TextColumn("Profile field", required=True))
    st.caption(FILTER_LISTS[name])
    edited = st.data_editor(
        table, num_rows="dynamic", hide_index=True, key=f"{key}_{name}", disabled=locked, width="stretch",
        column_config={
            "field_name": field,
            "operator": st.column_config.SelectboxColumn("Operator", options=list(CONDITION_OPERATORS),
                                                         required=True),
            "value": st.column_config.TextColumn("Value", help="in / not in: a comma-separated list; gt..lte: a "
                                                 "number; exists / not exists: empty"),
        },
    )
    return filter_rows(edited)


def audience_fields(tenant: Tenant, key: str, current: Mapping[str, Any], *, locked: bool) -> dict[str, Any]:
    """The Audience section of a trigger's form: what it adds to the form's fields (segment_id "" is any lead)."""
    st.markdown("**Audience**")
    names = segment_names(tenant)
    now_id = current.get("segment_id") or ""
    options = {"": ANY_LEAD} | names
    if now_id and now_id not in options:
        options[now_id] = "Deleted segment (fires for nobody)"
    segment_id = st.selectbox("Fire only for members of", list(options), format_func=options.__getitem__,
                              index=list(options).index(now_id), key=f"{key}_segment", disabled=locked,
                              help="a segment of this unit (Segments page), or any lead")
    st.caption("Fire only for leads passing every filter below (compared ignoring case). Lead attributes: "
               + ", ".join(LEAD_ATTRIBUTES) + ".")
    return {"segment_id": segment_id or "",
            **{name: _grid(key, name, current, locked) for name in FILTER_LISTS}}


def audience_summary(t: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """A trigger's audience in a few words: 'segment Pro plan · 2 filters', 'any lead'."""
    parts = []
    segment_id = t.get("segment_id")
    if segment_id:
        parts.append(f"segment {names[segment_id]}" if segment_id in names else "deleted segment (nobody)")
    count = sum(len(t.get(name) or []) for name in FILTER_LISTS)
    if count:
        parts.append(f"{count} filter{'s' if count != 1 else ''}")
    return " · ".join(parts) or "any lead"
