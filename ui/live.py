"""The live activity panel: the unit's newest live-stream messages (services.insight.stream, the source GET /v1/stream
serves), re-read by a fragment every few seconds without rerunning the page around it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import streamlit as st

from services.context import Tenant
from services.insight import stream
from ui.components import ago, event_label
from ui.runtime import get_db, now

REFRESH = "3s"
SHOWN = 12


def recent_activity(tenant: Tenant, n: int = 40) -> list[stream.StreamMessage]:
    """The newest messages, newest first. Not cached: the panel is live and the read is one indexed query."""
    with get_db().read() as session:
        return stream.latest(session, tenant, n)


def activity_rows(
    messages: Sequence[stream.StreamMessage], moment: datetime, shown: int = SHOWN
) -> list[dict[str, Any]]:
    """Table rows (When, What, Who) for events, level changes and trigger firings; score updates are already told by
    their events. A lead is named by the email its events carried, when one did."""
    emails = {m.data.get("lead_id"): m.data.get("email") for m in messages if m.kind == "event" and m.data.get("email")}
    rows: list[dict[str, Any]] = []
    for m in messages:
        who = emails.get(m.data.get("lead_id")) or m.data.get("lead_id") or m.data.get("account_id") or "—"
        if m.kind == "event":
            delta, score = m.data.get("score_delta") or 0, m.data.get("score")
            points = f" ({delta:+d} → {score})" if delta and score is not None else ""
            what = f"{event_label(str(m.data.get('event_type')))}{points}"
        elif m.kind == "level_change":
            what = f"Level {m.data.get('from') or 'none'} → {m.data.get('to') or 'none'}"
        elif m.kind == "trigger_fired":
            what = f"Trigger fired: {m.data.get('trigger_name') or m.data.get('trigger_id')}"
        else:
            continue
        rows.append({"When": ago(m.created_at, moment), "What": what, "Who": str(who)})
        if len(rows) >= shown:
            break
    return rows


@st.fragment(run_every=REFRESH)
def live_panel(tenant: Tenant) -> None:
    """'Live activity': what just happened in the unit, refreshed every few seconds."""
    rows = activity_rows(recent_activity(tenant), now())
    st.subheader("Live activity", anchor=False)
    if rows:
        height = min(35 * (len(rows) + 1) + 3, 300)
        st.dataframe(rows, hide_index=True, width="stretch", key="live_activity", height=height)
    else:
        st.caption("Nothing yet: new events, level changes and trigger firings appear here as they arrive.")
