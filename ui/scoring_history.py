"""The "History" section of the Rules page: every published version of the scoring configuration, what each one
changed, and restoring an earlier one (services.scoring.versions.rollback: a new version, scores recomputed)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from services.scoring import versions
from ui import data
from ui.auth import SignedIn
from ui.components import DASH, condition_label, humanize, when
from ui.surge_settings import describe_bands

# What a diff part's rows say in the "What" column; a part not named here shows as its humanized name, so a part
# the diff gains later still shows.
LABELS: dict[str, str] = {
    "rulesets": "Ruleset", "rules": "Rule", "levels": "Level", "decay_rules": "Decay rule",
    "mappings": "Field mapping", "fit_rulesets": "Fit ruleset", "fit_rules": "Fit rule", "fit_levels": "Fit level",
    "filters": "Inorganic filter", "event_type_scopes": "Event type", "settings": "Setting", "surge": "Surge policy",
}
ITEM_KEYS = ("added", "removed", "changed")
COLUMNS = ("What", "Name", "Change", "Field", "Before", "After")
GRID_STATE_PREFIX = "rules_grid_"  # pages/rules.py keys its rules editor rules_grid_<ruleset id>


def render_history(user: SignedIn, *, on_restore: Callable[[], None] | None = None) -> None:
    """Versions newest first, the chosen one's changes against the version before it, and "Restore this version".

    `on_restore` runs after a restore (the Rules page drops its draft: it was made against the replaced rules)."""
    st.header("History")
    history = data.scoring_versions(user.tenant)
    if not history:
        st.info("No version yet: the first change of the scoring configuration starts the history.")
        return
    if st.session_state.get("history_restored"):
        st.success(st.session_state.pop("history_restored"))
    st.dataframe(
        [
            {
                "Version": v["version"], "Published": when(v["published_at"]), "By": v["published_by"] or "system",
                "Summary": v["summary"], "Live": "● live" if v["live"] else "",
            }
            for v in history
        ],
        hide_index=True, width="stretch",
    )
    by_number = {v["version"]: v for v in history}
    chosen = st.selectbox(
        "Show the changes of version", list(by_number), key="history_version",
        format_func=lambda n: f"{n} · {when(by_number[n]['published_at'])} · {by_number[n]['summary'][:80]}",
    )
    if chosen is None:
        return
    changes = data.scoring_version_diff(user.tenant, chosen)
    if changes["against"]:
        st.caption(f"What version {chosen} changed from version {changes['against']}.")
    else:
        st.caption(f"Version {chosen} is the first: compared with an empty configuration.")
    rows = change_rows(changes)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.info("This version changed nothing that shows here.")

    newest = history[0]["version"]
    locked = not user.can_edit
    if chosen == newest:
        st.caption("This is the version published now.")
        return
    problems = st.container()
    sure = st.checkbox(
        f"Yes, make version {chosen}'s configuration the current one (recorded as a new version; scores are "
        "recomputed from the event log)",
        key="history_restore_sure", disabled=locked,
    )
    if st.button("Restore this version", key="history_restore", disabled=locked or not sure):
        saved = data.save(user, lambda s, t, now: versions.rollback(s, t, chosen, now), where=problems)
        if saved and saved.value is not None:
            st.session_state["history_restored"] = (
                f"Restored version {chosen} as version {saved.value.version}; scores recomputed."
            )
            # Unsaved edits of the rules grid were made against the rules just replaced: drop them with our widgets.
            stale = [k for k in st.session_state if str(k).startswith(GRID_STATE_PREFIX)]
            for key in ("history_version", "history_restore_sure", *stale):
                st.session_state.pop(key, None)
            if on_restore is not None:
                on_restore()
            st.rerun()


def change_rows(changes: Mapping[str, Any]) -> list[dict[str, str]]:
    """A diff (services.scoring.versions.diff_versions) as table rows, every part of it in its order: one row per
    added or removed item and one per changed field, e.g. Rule · page_view · changed · Weight · 5 · 20. Parts of
    items (`{added, removed, changed}`) and parts of fields (settings, surge: `{field: {before, after}}`) are told
    apart by their shape."""
    rows: list[dict[str, str]] = []
    for part, entry in changes.items():
        if not isinstance(entry, Mapping):
            continue  # version, against
        label = LABELS.get(part, humanize(part))
        if set(entry) == set(ITEM_KEYS):
            for change in ("added", "removed"):
                for item in entry[change]:
                    shown = _describe(part, item)
                    before, after = (DASH, shown) if change == "added" else (shown, DASH)
                    rows.append(_row(label, _name(part, item), change, DASH, before, after))
            for item in entry["changed"]:
                for field, values in item["changes"].items():
                    rows.append(_row(label, str(item["name"]), "changed", humanize(field), _cell(values["before"]),
                                     _cell(values["after"])))
        else:
            for field, values in entry.items():
                rows.append(_row(label, humanize(field), "changed", humanize(field), _cell(values["before"]),
                                 _cell(values["after"])))
    return rows


def _row(*cells: str) -> dict[str, str]:
    return dict(zip(COLUMNS, cells, strict=True))


def _name(part: str, item: Mapping[str, Any]) -> str:
    if part in ("rules", "filters"):
        return str(item["event_type"])
    if part == "decay_rules":
        return f"-{item['decrease']} after {item['inactive_for']} {item['unit']}"
    if part == "mappings":
        return f"{item['source_field']} → {item['kind']} {item['property']}"
    if part == "fit_rules":
        return f"{item['property']} {item['condition']} {item['comparison_value']}".strip()
    if part == "event_type_scopes":
        return str(item["id"])
    return str(item.get("name", item.get("id", DASH)))


def _describe(part: str, item: Mapping[str, Any]) -> str:
    """An added or removed item in a few words."""
    if part == "rules":
        words = [f"weight {item['weight']}"]
        if item.get("conditions"):
            words.append("if " + " and ".join(condition_label(c) for c in item["conditions"]))
        if not item.get("active", True):
            words.append("inactive")
        return ", ".join(words)
    if part in ("levels", "fit_levels"):
        return f"scores {item['min_score']} to {item['max_score']}"
    if part in ("rulesets", "fit_rulesets"):
        return "primary" if item.get("is_primary") else "ruleset"
    if part == "fit_rules":
        return f"weight {item['weight']}"
    if part == "mappings":
        return f"update {item['update_behavior']}"
    if part == "filters":
        grouped = ", counted as one" if item.get("group_events") else ""
        return f"{item['count_threshold']} within {item['time_window_ms']} ms{grouped}"
    if part == "event_type_scopes":
        return f"scope {item['scope']}"
    # Any other part: its fields in a few words.
    return ", ".join(f"{humanize(k).lower()} {_cell(v)}" for k, v in item.items() if k not in ("id", "name"))


def _cell(value: Any) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if value and all(isinstance(v, Mapping) and set(v) == {"min_events", "multiplier"} for v in value):
            return describe_bands(value)  # surge bands
        return " and ".join(_list_item(v) for v in value) or "none"
    return str(value)


def _list_item(value: Any) -> str:
    """One entry of a list field: a rule condition, or anything else as its fields."""
    if not isinstance(value, Mapping):
        return str(value)
    if "operator" in value:
        return condition_label(value)
    return ", ".join(f"{humanize(str(k)).lower()} {v}" for k, v in value.items())
