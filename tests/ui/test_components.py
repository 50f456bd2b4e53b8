"""The small pieces every screen uses to show words, not identifiers, JSON or `None`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import plotly.express as px

from ui.components import (
    ago,
    key_values,
    legend_below,
    level_colour,
    person_name,
    score_scale,
    text,
    waterfall,
)

LEVELS = [{"name": "Cold", "min_score": 0}, {"name": "Warm", "min_score": 30}, {"name": "Hot", "min_score": 80}]


def test_the_explanation_chart_is_horizontal_with_readable_labels() -> None:
    contributions = [
        {"event_type": "page_visit", "rule_id": "rule_p", "points": 30, "events": 3},
        {"event_type": "demo_request", "rule_id": "rule_d", "points": 30, "events": 1},
        {"event_type": "DECAY", "rule_id": None, "points": -10, "events": 1},
    ]
    conditions = {"rule_p": [{"property": "page", "operator": "equals", "value": "/pricing"}]}
    figure = waterfall(contributions, 45, conditions)
    trace = figure.data[0]
    assert trace.orientation == "h"  # labels on the y axis read in full instead of slanting under the bars
    assert list(trace.y) == [
        "Page visit · page = /pricing (3 events)", "Demo request (1 event)", "Decay (1 event)",
        "Other, decay and the floor at 0", "Score now",
    ]
    assert list(trace.x) == [30, 30, -10, -5, 45]
    assert figure.layout.yaxis.automargin is True


def test_legends_sit_below_the_chart() -> None:
    figure = legend_below(px.bar({"day": ["1", "2"], "n": [1, 2], "kind": ["A", "B"]}, x="day", y="n", color="kind"))
    assert figure.layout.legend.orientation == "h" and figure.layout.legend.y < 0


def test_cells_never_read_none() -> None:
    assert text(None) == "—" and text("") == "—" and text("x") == "x"
    assert key_values({"page": "/pricing", "minutes": 12, "tags": ["a", "b"], "ok": True}) == (
        "page: /pricing · minutes: 12 · tags: a, b · ok: yes"
    )
    assert key_values({}) == "—" and key_values(None) == "—"
    assert person_name({"first_name": "Ada", "last_name": None, "email": "ada@x.com"}) == "Ada"
    assert person_name({"first_name": None, "last_name": None, "email": None, "id": None}) == "—"
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    assert ago(None, now) == "—" and ago(now - timedelta(hours=3), now) == "3 hours ago"
    assert ago(now - timedelta(days=1, hours=2), now) == "yesterday"
    assert ago(now - timedelta(days=12), now) == "12 days ago"


def test_level_colours_and_a_fixed_score_scale() -> None:
    assert [level_colour(lv["name"], LEVELS) for lv in LEVELS] == ["blue", "orange", "red"]
    others = [{"name": n, "min_score": m} for n, m in (("Low", 0), ("Mid", 10), ("High", 50))]
    assert [level_colour(lv["name"], others) for lv in others] == ["blue", "yellow", "red"]
    assert score_scale(LEVELS) == 120 and score_scale([]) == 100
