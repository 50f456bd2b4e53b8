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

PARTS: dict[str, str] = {"rulesets": "Ruleset", "rules": "Rule", "levels": "Level", "decay_rules": "Decay rule"}
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
    """A diff (services.scoring.versions.diff_versions) as table rows: one per added or removed item and one per
    changed field, e.g. Rule · page_view · changed · Weight · 5 · 20."""
    rows: list[dict[str, str]] = []
    for part, label in PARTS.items():
        entry = changes.get(part) or {}
        for change, items in (("added", entry.get("added", [])), ("removed", entry.get("removed", []))):
            for item in items:
                shown = _describe(part, item)
                before, after = (DASH, shown) if change == "added" else (shown, DASH)
                rows.append(_row(label, _name(part, item), change, DASH, before, after))
        for item in entry.get("changed", []):
            for field, values in item["changes"].items():
                rows.append(_row(label, item["name"], "changed", humanize(field), _cell(values["before"]),
                                 _cell(values["after"])))
    for field, values in (changes.get("settings") or {}).items():
        rows.append(_row("Setting", humanize(field), "changed", humanize(field), _cell(values["before"]),
                         _cell(values["after"])))
    return rows


def _row(*cells: str) -> dict[str, str]:
    return dict(zip(COLUMNS, cells, strict=True))


def _name(part: str, item: Mapping[str, Any]) -> str:
    if part == "rules":
        return str(item["event_type"])
    if part == "decay_rules":
        return f"-{item['decrease']} after {item['inactive_for']} {item['unit']}"
    return str(item["name"])


def _describe(part: str, item: Mapping[str, Any]) -> str:
    """An added or removed item in a few words."""
    if part == "rules":
        words = [f"weight {item['weight']}"]
        if item.get("conditions"):
            words.append("if " + " and ".join(condition_label(c) for c in item["conditions"]))
        if not item.get("active", True):
            words.append("inactive")
        return ", ".join(words)
    if part == "levels":
        return f"scores {item['min_score']} to {item['max_score']}"
    if part == "rulesets":
        return "primary" if item.get("is_primary") else "ruleset"
    return _name(part, item)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " and ".join(condition_label(c) if isinstance(c, Mapping) else str(c) for c in value) or "none"
    return str(value)
