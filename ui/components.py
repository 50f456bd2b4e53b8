"""Small shared pieces of the screens: level badges, names, tables, the waterfall and score charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import streamlit as st

LEVEL_COLOURS = {"hot": "red", "warm": "orange", "cold": "blue"}


def level_badge(level: dict[str, Any] | None) -> str:
    """A coloured Markdown badge for a level (":red-badge[Hot]"), or an em dash."""
    if not level:
        return "—"
    colour = LEVEL_COLOURS.get(str(level.get("name", "")).casefold(), "gray")
    return f":{colour}-badge[{level['name']}]"


def level_name(level: dict[str, Any] | None) -> str:
    return str(level["name"]) if level else "—"


def person_name(item: dict[str, Any]) -> str:
    name = " ".join(p for p in (item.get("first_name"), item.get("last_name")) if p)
    return name or item.get("email") or item.get("id", "")


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


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


def waterfall(contributions: Sequence[dict[str, Any]], total: int) -> go.Figure:
    """'Why this score': the largest contributions stacked up to the current score."""
    labels = [f"{c['event_type']} ({c['events']})" for c in contributions]
    values = [int(c["points"]) for c in contributions]
    rest = total - sum(values)
    measures = ["relative"] * len(values)
    if rest:
        labels.append("other / decay / caps")
        values.append(rest)
        measures.append("relative")
    labels.append("score")
    values.append(total)
    measures.append("total")
    figure = go.Figure(
        go.Waterfall(x=labels, y=values, measure=measures, text=[f"{v:+d}" for v in values[:-1]] + [str(total)])
    )
    figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False)
    return figure


def score_over_time(history: Sequence[tuple[datetime, int]]) -> go.Figure:
    figure = go.Figure(go.Scatter(x=[h[0] for h in history], y=[h[1] for h in history], mode="lines", line_shape="hv"))
    figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="score")
    return figure


def read_only_notice(can_edit: bool) -> None:
    if not can_edit:
        st.info("You are signed in as a Viewer: you can look at everything but not change it.")
