"""The Data quality page's pieces: the bot switch, the inorganic (burst) filters with what each holds back, and the
event types' visibility and processing scope; plus the lead timeline's greying of held-back events.

Every change here is a change of the unit's scoring model made through services.scoring.filters and
services.scoring.scoring_settings (a new version, whose rescore quarantines or releases events); reads are cached
per tenant like every other page's (ui.data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.quarantine import BOT_FILTER_ID, PROCESSING_SCOPES
from services.insight import event_types
from services.scoring import filters, scoring_settings
from services.tenancy.policy import Action
from ui import data
from ui.auth import SignedIn
from ui.runtime import get_db

SCOPE_HELP = ("activate: scored and fires triggers; decide: scored, fires no trigger; observe: stored and shown "
              "on the timeline, never scored nor triggered")
GREY = "color: #9aa0a6; font-style: italic"


# --- reads ---------------------------------------------------------------------------------------------------------


@st.cache_data(ttl=data.TTL, show_spinner=False)
def setup(tenant: Any) -> dict[str, Any]:
    """{filters (with quarantined_count), bot_filter_enabled, bot_quarantined, event_types}."""
    with get_db().read() as session:
        listed = filters.list_filters(session, tenant)
        return {
            "filters": listed,
            "bot_filter_enabled": scoring_settings.get_settings(session, tenant).bot_filter_enabled,
            "bot_quarantined": filters.quarantined_counts(session, tenant).get(BOT_FILTER_ID, 0),
            "event_types": event_types.event_type_settings(session, tenant),
        }


def window_label(ms: int) -> str:
    """A burst window as people say it: 500 ms, 30 s, 5 min, 2 h."""
    for size, unit in ((3_600_000, "h"), (60_000, "min"), (1000, "s")):
        if ms >= size and ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def describe_filter(f: Mapping[str, Any]) -> str:
    grouped = "; the burst counts as one event" if f["group_events"] else ""
    return (f"{f['count_threshold']}+ {f['event_type']} events within {window_label(int(f['time_window_ms']))}"
            f"{grouped}")


# --- the bot switch ------------------------------------------------------------------------------------------------


def render_bot_switch(user: SignedIn, state: Mapping[str, Any], locked: bool) -> None:
    st.subheader("Bots and crawlers")
    st.caption("Events whose user agent (metadata.user_agent) is a known crawler are kept in the log but held back "
               "from scoring and triggers. Turning this on or off publishes a scoring version and rescores.")
    wanted = st.toggle("Hold back known bots and crawlers", value=bool(state["bot_filter_enabled"]),
                       disabled=locked, key="dq_bot_switch")
    if state["bot_filter_enabled"]:
        st.caption(f"{state['bot_quarantined']} events held back as bot traffic.")
    if wanted != bool(state["bot_filter_enabled"]) and data.save(
        user, lambda s, t, at: scoring_settings.update_settings(s, t, bot_filter_enabled=wanted, now=at)
    ):
        st.session_state["dq_saved"] = "Bot filter turned " + ("on." if wanted else "off.")
        st.rerun()


# --- inorganic filters ---------------------------------------------------------------------------------------------


def filters_frame(listed: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"Event type": f["event_type"], "Threshold": f["count_threshold"],
          "Window": window_label(int(f["time_window_ms"])), "Count burst as one": f["group_events"],
          "Held back": f["quarantined_count"]} for f in listed],
        columns=["Event type", "Threshold", "Window", "Count burst as one", "Held back"],
    )


def _filter_form(key: str, locked: bool, event_types: Sequence[str], current: Mapping[str, Any] | None) -> Any:
    """The fields of a filter form; returns the body (FILTER_FIELDS) the inputs describe."""
    options = list(dict.fromkeys([*(([current["event_type"]]) if current else []), *event_types]))
    event_type = st.selectbox("Event type", options, index=0 if options else None, accept_new_options=True,
                              disabled=locked, key=f"{key}_event_type")
    c1, c2 = st.columns(2)
    count = c1.number_input("Events (threshold)", min_value=filters.COUNT_THRESHOLD_MIN,
                            max_value=filters.COUNT_THRESHOLD_MAX, step=1,
                            value=int(current["count_threshold"]) if current else 10, disabled=locked,
                            key=f"{key}_count", help="this many events of the type by one lead within the window")
    window = c2.number_input("Within (milliseconds)", min_value=filters.TIME_WINDOW_MS_MIN,
                             max_value=filters.TIME_WINDOW_MS_MAX, step=1000,
                             value=int(current["time_window_ms"]) if current else 60_000, disabled=locked,
                             key=f"{key}_window", help="at most one day (86,400,000 ms)")
    group = st.checkbox("Count the burst as one event (its first event scores) instead of holding all of it back",
                        value=bool(current["group_events"]) if current else False, disabled=locked,
                        key=f"{key}_group")
    return {"event_type": event_type or "", "count_threshold": int(count), "time_window_ms": int(window),
            "group_events": bool(group)}


def render_filters(user: SignedIn, state: Mapping[str, Any], locked: bool) -> None:
    st.subheader("Burst filters")
    st.caption("A burst (many events of one type by one lead in a short time) is usually a script or a reload loop. "
               "Its events stay in the log, greyed on the lead's timeline, but score nothing and fire nothing. A "
               "change publishes a scoring version and rescores.")
    listed = state["filters"]
    seen = [e["event_type"] for e in state["event_types"]]
    if listed:
        st.dataframe(filters_frame(listed), hide_index=True, width="stretch", key="dq_filters")
    else:
        st.info("No burst filter yet. Add one below, e.g. 10 page_view events within 60,000 ms.")
    with st.expander("Add a burst filter", expanded=not listed), st.form("dq_new_filter", clear_on_submit=False):
        body = _filter_form("dq_new", locked, seen, None)
        if st.form_submit_button("Add filter", disabled=locked) and data.save(
            user, lambda s, t, at: filters.create_filter(s, t, fields=body, now=at)
        ):
            st.session_state["dq_saved"] = f"Filter added: {describe_filter(body)}."
            st.rerun()
    if not listed:
        return
    with st.expander("Edit or delete a filter"):
        names = {f["filter_id"]: describe_filter(f) for f in listed}
        chosen = st.selectbox("Filter", list(names), format_func=names.__getitem__, key="dq_edit_choice")
        current = next(f for f in listed if f["filter_id"] == chosen)
        with st.form(f"dq_edit_{chosen}"):
            body = _filter_form(f"dq_edit_{chosen}", locked, seen, current)
            c1, c2 = st.columns(2)
            save = c1.form_submit_button("Save filter", disabled=locked)
            delete = c2.form_submit_button("Delete filter", disabled=locked)
        if save and data.save(user, lambda s, t, at: filters.update_filter(s, t, chosen, fields=body, now=at)):
            st.session_state["dq_saved"] = f"Filter saved: {describe_filter(body)}."
            st.rerun()
        if delete and data.save(user, lambda s, t, at: filters.delete_filter(s, t, chosen, now=at)):
            st.session_state["dq_saved"] = (f"Filter deleted; the {current['quarantined_count']} events it held back "
                                            "are scored again.")
            st.rerun()


# --- event types ---------------------------------------------------------------------------------------------------


def event_types_frame(settings: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"event_type": e["event_type"], "events": int(e.get("events_count", 0)), "hidden": bool(e["hidden"]),
          "scope": e["max_processing_scope"]} for e in settings],
        columns=["event_type", "events", "hidden", "scope"],
    )


def event_type_changes(frame: pd.DataFrame, settings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the grid that differ from the stored settings: [{event_type, hidden?, max_processing_scope?}]."""
    stored = {e["event_type"]: e for e in settings}
    changes: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        was = stored.get(str(record["event_type"]))
        if was is None:
            continue
        change: dict[str, Any] = {}
        if bool(record["hidden"]) != bool(was["hidden"]):
            change["hidden"] = bool(record["hidden"])
        if record["scope"] and record["scope"] != was["max_processing_scope"]:
            change["max_processing_scope"] = str(record["scope"])
        if change:
            changes.append({"event_type": was["event_type"], **change})
    return changes


def render_event_types(user: SignedIn, state: Mapping[str, Any], locked: bool) -> None:
    st.subheader("Event types")
    st.caption("Hidden types are left out of event type lists. The scope caps how far a type's events go: "
               + SCOPE_HELP + ". A scope change publishes a scoring version and rescores.")
    settings = state["event_types"]
    if not settings:
        st.info("No events yet: event types appear here once events arrive.")
        return
    edited = st.data_editor(
        event_types_frame(settings),
        key="dq_event_types",
        disabled=["event_type", "events"] if not locked else True,
        hide_index=True,
        width="stretch",
        column_config={
            "event_type": st.column_config.TextColumn("Event type"),
            "events": st.column_config.NumberColumn("Events", help="events of this type in the log"),
            "hidden": st.column_config.CheckboxColumn("Hidden", help="left out of event type lists"),
            "scope": st.column_config.SelectboxColumn("Processing scope", options=list(PROCESSING_SCOPES),
                                                      required=True, help=SCOPE_HELP),
        },
    )
    changes = event_type_changes(edited, settings)
    where = st.container()
    if st.button("Save event types", disabled=locked or not changes, key="dq_save_event_types"):

        def work(session: Any, tenant: Any, at: Any) -> int:
            for change in changes:
                filters.set_event_type(session, tenant, change["event_type"], hidden=change.get("hidden"),
                                       max_processing_scope=change.get("max_processing_scope"), now=at)
            return len(changes)

        saved = data.save(user, work, where=where)
        if saved:
            st.session_state.pop("dq_event_types", None)
            st.session_state["dq_saved"] = f"Event types saved ({saved.value} changed)."
            st.rerun()
    render_purge(user, [e["event_type"] for e in settings if e.get("events_count")])


def render_purge(user: SignedIn, event_types_with_events: Sequence[str]) -> None:
    """Delete every event of one type, after a dry run says how many events and score entries go. The affected
    leads and accounts are rescored from what remains (services.insight.event_types)."""
    st.markdown("**Delete all events of a type**")
    allowed = user.can(Action.DELETE_EVENTS)
    chosen = st.selectbox("Event type", list(event_types_with_events), index=None, key="dq_purge_type",
                          placeholder="Choose a type", disabled=not allowed or not event_types_with_events)
    if chosen is None:
        return
    with get_db().read() as session:
        counted = event_types.delete_dry_run(session, user.tenant, chosen)
    st.warning(f"This deletes {counted['events_count']:,} {chosen} events ({counted['event_scores_count']:,} score "
               "entries) for good; the leads and accounts they scored are rescored. It cannot be undone.")
    where = st.container()
    if st.button(f"Delete {counted['events_count']:,} events", key="dq_purge", type="primary", disabled=not allowed):
        deleted = data.save(
            user, lambda session, tenant, at: event_types.delete_event_type_events(session, tenant, chosen, at),
            where=where,
        )
        if deleted:
            st.session_state.pop("dq_purge_type", None)
            st.session_state["dq_saved"] = f"Deleted {deleted.value['events_deleted']:,} {chosen} events."
            st.rerun()


# --- the lead timeline ---------------------------------------------------------------------------------------------


def grey_held_back(frame: pd.DataFrame, held_back: Sequence[bool]) -> Any:
    """`frame` (the lead timeline's rows) styled with the rows of held-back events greyed (a pandas Styler)."""
    flags = list(held_back)

    def style(row: pd.Series) -> list[str]:
        return [GREY if flags[int(row.name)] else "" for _ in row]

    return frame.style.apply(style, axis=1)
