"""Small shared pieces of the screens: labels, level badges, score bars, tables without `None`, the charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from services.people.lead_insights import event_label

__all__ = ["event_label"]

LEVEL_COLOURS = {"hot": "red", "warm": "orange", "cold": "blue"}
# For levels with other names: coolest (lowest scores) to hottest.
_LADDER = ("blue", "green", "yellow", "orange", "red")
_HEX = {"blue": "#1c83e1", "green": "#21c354", "yellow": "#faca2b", "orange": "#ff8700", "red": "#ff4b4b",
        "gray": "#808495", "violet": "#803df5"}
DASH = "—"

_CHANNELS = {"web": "Website", "email": "Email", "slack": "Slack", "webinar": "Webinar", "crm": "CRM",
             "system": "System (decay)", "other": "Other"}
_ALIAS_KINDS = {"email": "Email", "phone": "Phone", "external_id": "External id", "cookie": "Cookie",
                "social": "Social profile"}
_OPERATORS = {"equals": "=", "not_equals": "≠", "contains": "contains", "not_contains": "does not contain",
              "starts_with": "starts with", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "exists": "is set",
              "not_exists": "is not set", "in": "is one of"}


def humanize(identifier: str | None) -> str:
    """'last_activity' -> 'Last activity'; None -> '—'."""
    if not identifier:
        return DASH
    text = str(identifier).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def channel_label(channel: str | None) -> str:
    return _CHANNELS.get(channel or "", humanize(channel))


def alias_kind_label(kind: str) -> str:
    return _ALIAS_KINDS.get(kind, humanize(kind))


def text(value: Any) -> str:
    """A table cell that never reads 'None'."""
    return DASH if value is None or value == "" else str(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"
    return DASH if value is None else str(value)


def key_values(properties: Mapping[str, Any] | None, separator: str = " · ") -> str:
    """{'page': '/pricing', 'minutes': 12} -> 'page: /pricing · minutes: 12' (not raw JSON)."""
    if not properties:
        return DASH
    return separator.join(f"{k}: {_scalar(v)}" for k, v in properties.items())


def condition_label(condition: Mapping[str, Any]) -> str:
    """{'property': 'page', 'operator': 'equals', 'value': '/pricing'} -> 'page = /pricing'."""
    op = _OPERATORS.get(str(condition.get("operator")), str(condition.get("operator")))
    if condition.get("operator") in ("exists", "not_exists"):
        return f"{condition.get('property')} {op}"
    return f"{condition.get('property')} {op} {_scalar(condition.get('value'))}"


def level_colour(name: str, levels: Sequence[Mapping[str, Any]] = ()) -> str:
    """Hot red, Warm orange, Cold blue; other names by their place among the levels, coolest first."""
    known = LEVEL_COLOURS.get(name.strip().casefold())
    if known:
        return known
    names = [str(lv["name"]) for lv in sorted(levels, key=lambda lv: lv["min_score"])]
    if name in names and len(names) > 1:
        return _LADDER[round(names.index(name) * (len(_LADDER) - 1) / (len(names) - 1))]
    return "gray"


def level_hex(name: str, levels: Sequence[Mapping[str, Any]] = ()) -> str:
    return _HEX[level_colour(name, levels)]


def level_badge(level: Mapping[str, Any] | None, levels: Sequence[Mapping[str, Any]] = ()) -> str:
    """A coloured Markdown badge for a level (":red-badge[Hot]"), or an em dash."""
    if not level:
        return DASH
    return f":{level_colour(str(level['name']), levels)}-badge[{level['name']}]"


def level_name(level: Mapping[str, Any] | None) -> str:
    return str(level["name"]) if level else DASH


def level_cell(level: Mapping[str, Any] | None) -> list[str]:
    """A Level cell for `level_column`: a one-item list, shown as a coloured badge."""
    return [str(level["name"])] if level else []


def level_column(levels: Sequence[Mapping[str, Any]]) -> Any:
    """The Level column: each level a badge in its colour (the same colours as the Levels chart)."""
    names = [str(lv["name"]) for lv in levels]
    return st.column_config.MultiselectColumn(
        "Level", options=names, color=[level_colour(n, levels) for n in names], width="small"
    )


def score_scale(levels: Sequence[Mapping[str, Any]]) -> int:
    """A fixed top for score bars: 1.5x where the top level starts (a bar is full above it), 100 without levels."""
    tops = [int(lv["min_score"]) for lv in levels if int(lv["min_score"]) > 0]
    return max(10, int(max(tops) * 1.5)) if tops else 100


def score_column(levels: Sequence[Mapping[str, Any]], label: str = "Score") -> Any:
    top = score_scale(levels)
    return st.column_config.ProgressColumn(
        label, format="%d", min_value=0, max_value=top,
        help=f"Bars share one scale on every page: full at {top} points and above.",
    )


def person_name(item: Mapping[str, Any]) -> str:
    name = " ".join(p for p in (item.get("first_name"), item.get("last_name")) if p)
    return name or item.get("email") or item.get("id") or DASH


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else DASH


def ago(value: datetime | None, now: datetime) -> str:
    """'3 hours ago', 'yesterday', '12 days ago'; '—' for never."""
    if value is None:
        return DASH
    if value.tzinfo is None:
        value = value.replace(tzinfo=now.tzinfo)
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 60:
        return "just now"
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            if unit == "day" and count == 1:
                return "yesterday"
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def current_page(key: str) -> int:
    """The page a paged table shows (its pager widget sits under the table)."""
    return max(1, int(st.session_state.get(key) or 1))


def pager(key: str, total: int, limit: int) -> None:
    """A page number input under a table, for the page shown on the next run."""
    pages = max(1, -(-total // limit))
    if current_page(key) > pages:
        st.session_state[key] = pages
    left, right = st.columns([1, 3])
    page = int(left.number_input("Page", min_value=1, max_value=pages, value=current_page(key), step=1, key=key))
    right.caption(f"{total:,} in total · page {page} of {pages:,}")


def contribution_label(item: Mapping[str, Any], rule_conditions: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """'Page visit · page = /pricing (3 events)': the event, the rule's condition when it has one, how often."""
    label = event_label(str(item["event_type"]))
    conditions = rule_conditions.get(str(item.get("rule_id")), ())
    if conditions:
        label += " · " + ", ".join(condition_label(c) for c in conditions)
    count = int(item["events"])
    return f"{label} ({count} event{'' if count == 1 else 's'})"


def waterfall(
    contributions: Sequence[Mapping[str, Any]], total: int,
    rule_conditions: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> go.Figure:
    """'Why this score': the largest contributions stacked up to the current score, as horizontal bars.

    Horizontal so that long labels ('Page visit · page = /pricing (3 events)') read in full on the left.
    """
    labels = [contribution_label(c, rule_conditions or {}) for c in contributions]
    values = [int(c["points"]) for c in contributions]
    rest = total - sum(values)
    if rest:
        labels.append("Other, decay and the floor at 0")
        values.append(rest)
    measures = ["relative"] * len(values) + ["total"]
    labels.append("Score now")
    values.append(total)
    figure = go.Figure(
        go.Waterfall(
            orientation="h", y=labels, x=values, measure=measures, textposition="outside", cliponaxis=False,
            text=[f"{v:+d}" for v in values[:-1]] + [str(total)],
            increasing={"marker": {"color": _HEX["green"]}}, decreasing={"marker": {"color": _HEX["red"]}},
            totals={"marker": {"color": _HEX["blue"]}},
        )
    )
    figure.update_layout(
        height=max(260, 34 * len(labels) + 60), margin={"l": 10, "r": 40, "t": 10, "b": 10}, showlegend=False,
        xaxis_title="points",
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    return figure


def score_over_time(history: Sequence[tuple[datetime, int]]) -> go.Figure:
    figure = go.Figure(go.Scatter(x=[h[0] for h in history], y=[h[1] for h in history], mode="lines", line_shape="hv"))
    figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="Score")
    return figure


def legend_below(figure: go.Figure, height: int = 380) -> go.Figure:
    """Legends under the plot, wrapping, titled by nothing: a narrow column never cuts them off."""
    figure.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0, "xanchor": "left", "title": None},
    )
    return figure


def read_only_notice(can_edit: bool) -> None:
    if not can_edit:
        st.info("You are signed in as a Viewer: you can look at everything but not change it.")


def level_grid_columns() -> dict[str, Any]:
    """The engagement levels grid's columns (the Levels page and the Rules page's draft)."""
    return {
        "id": None,
        "name": st.column_config.TextColumn("Name", required=True),
        "min_score": st.column_config.NumberColumn("Min score", step=1, required=True),
        "max_score": st.column_config.NumberColumn("Max score", step=1, required=True),
    }
