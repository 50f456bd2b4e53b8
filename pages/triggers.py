"""Triggers: milestone, sequence and pattern triggers (create, edit, simulate), decay rules, recent firings and
the delivery log with retry. Thin over services.triggers.triggers / services.scoring.decay /
services.triggers.deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from services.context import Tenant
from services.errors import NotFound, ServiceError
from services.scoring import decay
from services.triggers import deliveries, surge, triggers
from ui import data
from ui.auth import current_user
from ui.components import read_only_notice
from ui.integrations_crm import crm_settings_of
from ui.integrations_slack import connected as slack_connected
from ui.integrations_slack import slack_targets
from ui.runtime import get_db, now
from ui.trigger_audience import audience_fields, audience_summary, segment_names

KINDS = {"milestone": "Milestones", "sequence": "Sequences", "pattern": "Patterns"}
TTL = 10
DASH = "—"
CHANNELS = {"webhook": "Webhook", "email": "Email", "slack": "Slack"}
STATUSES = {"pending": "Waiting to retry", "sending": "Sending", "delivered": "Delivered", "dead": "Gave up"}
WINDOW_UNITS = {"seconds": (1, "s"), "minutes": (60, "min"), "hours": (3600, "h")}


def when(value: Any) -> str:
    """A timestamp as people read it; never a literal None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return DASH
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def yes_no(value: Any) -> str:
    return "Yes" if value else "No"


def window(seconds: int, unit: str) -> str:
    size, short = WINDOW_UNITS.get(unit, (1, "s"))
    return f"{seconds / size:g} {short}"


def trigger_label(t: dict[str, Any]) -> str:
    return t.get("name") or f"Untitled {t['kind']} trigger, created {when(t.get('created_at'))}"


def sends_to(t: dict[str, Any]) -> str:
    parts = []
    if t.get("webhook_url"):
        parts.append("Webhook")
    if t.get("emails"):
        parts.append(f"Email ({len(t['emails'])})")
    if t.get("slack_webhook_url") or t.get("slack_channel"):
        parts.append("Slack")
    if t.get("slack_target_kind"):
        parts.append(f"Slack app ({t.get('slack_target_id') or 'default'})")
    if t.get("hubspot_sync"):
        parts.append("HubSpot")
    return ", ".join(parts) or "Nobody yet"


def trigger_rows(kind: str, existing: list[dict[str, Any]], segments: Mapping[str, str]) -> pd.DataFrame:
    """One human row per trigger: names and plain words, no ids (`segments`: id -> name, for the audience)."""
    rows = []
    for t in existing:
        row: dict[str, Any] = {"Name": trigger_label(t)}
        if kind == "milestone":
            row |= {"Score threshold": t["score_threshold"], "Through event": t.get("event_type") or "any event"}
        elif kind == "sequence":
            row |= {"Steps": " → ".join(t["event_types"]), "Within": window(t["window_seconds"], t["window_unit"]),
                    "In order": yes_no(t["ordered"]),
                    "Fires": "once per lead" if t["fire_mode"] == "once" else "every time"}
        else:
            row |= {"Conditions": ", ".join(f"{c['event_type']} ≥ {c['min_count']}" for c in t["conditions"]),
                    "Within": window(t["window_seconds"], "seconds"), "Counted per": t["scope"]}
        rows.append(row | {"Active": yes_no(t["active"]), "Sends to": sends_to(t),
                           "Audience": audience_summary(t, segments)})
    return pd.DataFrame(rows)


def person(ref: Any, fallback: str | None) -> str:
    if isinstance(ref, dict):
        name, email = ref.get("name"), ref.get("email")
        return f"{name} <{email}>" if name and email else (name or email or ref.get("domain") or fallback or DASH)
    return fallback or DASH


@st.cache_data(ttl=TTL, show_spinner=False)
def trigger_list(tenant: Tenant, kind: str) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return [triggers.trigger_view(r) for r in triggers.list_triggers(session, tenant, kind)]


@st.cache_data(ttl=TTL, show_spinner=False)
def surge_trigger_list(tenant: Tenant) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return [surge.surge_trigger_view(r) for r in surge.list_surge_triggers(session, tenant)]


@st.cache_data(ttl=TTL, show_spinner=False)
def recent_firings(tenant: Tenant, limit: int = 200) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return [triggers.firing_view(r) for r in triggers.list_firings(session, tenant, None, limit=limit)]


@st.cache_data(ttl=TTL, show_spinner=False)
def delivery_log(tenant: Tenant, status: str | None, limit: int = 200) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return [deliveries.delivery_view(r) for r in deliveries.list_deliveries(session, tenant, status=status,
                                                                                limit=limit)]


@st.cache_data(ttl=TTL, show_spinner=False)
def decay_list(tenant: Tenant) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return [decay.decay_view(r) for r in decay.list_decays(session, tenant)]


def simulate(tenant: Tenant, kind: str, trigger_id: str, lead: str | None, days: int) -> dict[str, Any] | None:
    try:
        with get_db().read() as session:
            lead_id = triggers.lead_id_for(session, tenant, lead) if lead else None
            if lead and lead_id is None:
                st.error(f"No lead with the email or id {lead!r}.")
                return None
            return triggers.simulate(session, tenant, kind, trigger_id, lead_id=lead_id, days=days, now=now())
    except NotFound as exc:
        st.error(exc.message)
        return None


SLACK_APP = {"": "No Slack app message", "default": "Slack app: the unit's default target",
             "channel": "Slack app: a channel", "user": "Slack app: a person (DM)"}


def slack_app_fields(key: str, current: dict[str, Any]) -> dict[str, Any]:
    """The unit's Slack app as a destination, offered when the unit is connected (Integrations page). Choosing
    "No Slack app message" sends slack_target_kind "" (which removes it); "default" sends slack_target_id ""."""
    now_kind = current.get("slack_target_kind") or ""
    choice_now = "default" if now_kind and not current.get("slack_target_id") else now_kind
    if not slack_connected(user.tenant):
        if now_kind:
            st.caption("This trigger posts through the Slack app, but the unit is not connected to Slack "
                       "(Integrations page): its Slack messages fail until it is.")
        return {}
    left, right = st.columns(2)
    choice = left.selectbox("Slack app", list(SLACK_APP), format_func=SLACK_APP.get,
                            index=list(SLACK_APP).index(choice_now), key=f"{key}_slack_app")
    if choice in ("", "default"):
        return {"slack_target_kind": "" if choice == "" else (now_kind if now_kind in ("channel", "user")
                                                                else "channel"),
                "slack_target_id": "" if choice == "default" else None}
    try:
        options = slack_targets(user.tenant, choice)
    except ServiceError as exc:
        st.error(f"Could not read Slack's list: {exc.message}")
        options = []
    labels = {o["id"]: o["label"] for o in options}
    ids = list(labels)
    current_id = current.get("slack_target_id")
    picked = right.selectbox("Channel" if choice == "channel" else "Person", ids, format_func=labels.get,
                             index=ids.index(current_id) if current_id in ids else (0 if ids else None),
                             key=f"{key}_slack_app_target")
    return {"slack_target_kind": choice, "slack_target_id": picked or ""}


def hubspot_field(key: str, current: dict[str, Any]) -> dict[str, Any]:
    """Offered when the unit has a HubSpot token (Integrations page), or to turn off a trigger that syncs."""
    if not (crm_settings_of(user.tenant)["token_set"] or current.get("hubspot_sync")):
        return {}
    sync = st.checkbox("Sync to HubSpot", value=bool(current.get("hubspot_sync")), key=f"{key}_hubspot",
                       help="writes the lead's score, level and fit level to its HubSpot contact on each firing")
    return {"hubspot_sync": sync}


def channel_fields(key: str, current: dict[str, Any]) -> dict[str, Any]:
    st.markdown("**Notify**")
    left, right = st.columns(2)
    webhook_url = left.text_input("Webhook URL", current.get("webhook_url") or "", key=f"{key}_webhook")
    slack_webhook_url = right.text_input("Slack incoming-webhook URL", current.get("slack_webhook_url") or "",
                                         key=f"{key}_slack_url")
    emails = left.text_input("Emails (comma-separated)", ", ".join(current.get("emails") or []), key=f"{key}_emails")
    slack_channel = right.text_input("Slack channel (bot token)", current.get("slack_channel") or "",
                                     key=f"{key}_slack_channel")
    subject = left.text_input("Email subject", current.get("email_subject") or "", key=f"{key}_subject")
    preheader = right.text_input("Email preheader", current.get("email_preheader") or "", key=f"{key}_preheader")
    message = st.text_area("Message", current.get("email_message") or "", key=f"{key}_message")
    return {
        **slack_app_fields(key, current),
        **hubspot_field(key, current),
        "webhook_url": webhook_url.strip() or None, "slack_webhook_url": slack_webhook_url.strip() or None,
        "emails": [e.strip() for e in emails.split(",") if e.strip()], "slack_channel": slack_channel.strip() or None,
        "email_subject": subject or None, "email_preheader": preheader or None, "email_message": message or None,
    }


def kind_fields(kind: str, key: str, current: dict[str, Any]) -> dict[str, Any]:
    if kind == "milestone":
        left, right = st.columns(2)
        return {
            "score_threshold": left.number_input("Score threshold", value=int(current.get("score_threshold", 80)),
                                                 step=1, key=f"{key}_threshold"),
            "event_type": right.text_input("Through event type (empty: any)", current.get("event_type") or "",
                                           key=f"{key}_event_type"),
        }
    window = st.number_input("Window (seconds)", min_value=1, value=int(current.get("window_seconds", 86400)),
                             step=60, key=f"{key}_window")
    if kind == "sequence":
        left, mid, right = st.columns(3)
        types = st.text_input("Event types, in order (comma-separated)", ", ".join(current.get("event_types") or []),
                              key=f"{key}_types")
        return {
            "event_types": [t.strip() for t in types.split(",") if t.strip()], "window_seconds": int(window),
            "window_unit": left.selectbox("Show window in", ["seconds", "minutes", "hours"],
                                          index=["seconds", "minutes", "hours"].index(
                                              current.get("window_unit", "hours")), key=f"{key}_unit"),
            "ordered": mid.checkbox("In order", value=bool(current.get("ordered", True)), key=f"{key}_ordered"),
            "fire_mode": right.selectbox("Fire", ["once", "every"], index=["once", "every"].index(
                current.get("fire_mode", "once")), key=f"{key}_fire_mode", help="once per lead, or every time"),
        }
    conditions = pd.DataFrame(current.get("conditions") or [{"event_type": "", "min_count": 5}])
    edited = st.data_editor(conditions, num_rows="dynamic", key=f"{key}_conditions", hide_index=True,
                            column_config={"event_type": st.column_config.TextColumn("Event type", required=True),
                                           "min_count": st.column_config.NumberColumn("At least", min_value=1,
                                                                                      step=1, required=True)})
    scope = st.selectbox("Count per", ["lead", "account"], index=["lead", "account"].index(
        current.get("scope", "lead")), key=f"{key}_scope")
    rows = [{"event_type": str(r["event_type"]).strip(), "min_count": int(r["min_count"])}
            for r in edited.to_dict("records") if str(r.get("event_type") or "").strip() and pd.notna(r["min_count"])]
    return {"conditions": rows, "window_seconds": int(window), "scope": scope}


def check_urls(fields: dict[str, Any]) -> frozenset[str] | None:
    """The outbound guard's DNS look-ups, before the save's transaction; a refusal is shown, None returned."""
    try:
        return triggers.check_channel_urls(user.tenant, fields)
    except ServiceError as exc:
        st.error(exc.message)
        return None


def forget_form(key: str) -> None:
    """Clear a form's widgets, so the next run shows it empty (after Create)."""
    for name in [k for k in st.session_state if str(k).startswith(f"{key}_")]:
        del st.session_state[name]


def kind_tab(kind: str) -> None:
    tenant = user.tenant
    existing = trigger_list(tenant, kind)
    if existing:
        st.dataframe(trigger_rows(kind, existing, segment_names(tenant)), hide_index=True, width="stretch")
    else:
        st.info(f"No {kind} triggers yet: fill in the form below and press Create.")
    labels = {"": "New trigger"} | {t["trigger_id"]: trigger_label(t) for t in existing}
    chosen = st.selectbox("Create or edit", list(labels), format_func=labels.__getitem__, key=f"{kind}_chosen")
    current = next((t for t in existing if t["trigger_id"] == chosen), {})
    key = f"{kind}_{chosen or 'new'}"
    with st.form(f"{key}_form"):
        left, right = st.columns([3, 1])
        name = left.text_input("Name", current.get("name") or "", key=f"{key}_name")
        active = right.checkbox("Active", value=bool(current.get("active", True)), key=f"{key}_active")
        fields = {"name": name, "active": active, **kind_fields(kind, key, current), **channel_fields(key, current),
                  **audience_fields(tenant, key, current, locked=not user.can_edit)}
        st.caption("The message, email subject and preheader may use {lead.name}, {lead.email}, {account.name}, "
                   "{score}, {level} and {trigger.name}.")
        submitted = st.form_submit_button("Save" if chosen else "Create", type="primary", disabled=not user.can_edit)
    checked = check_urls(fields) if submitted else None
    if checked is not None:
        if chosen:
            saved = data.save(user, lambda s, t, at: triggers.update_trigger(s, t, kind, chosen, fields, at,
                                                                           checked=checked))
        else:
            saved = data.save(user, lambda s, t, at: triggers.create_trigger(s, t, kind, fields, at, user.email,
                                                                           checked=checked))
            if saved.ok and saved.value is not None:
                st.session_state["trigger_secret"] = saved.value.signing_secret
                forget_form(key)
        if saved.ok:
            st.rerun()
    if chosen:
        test, delete = st.columns(2)
        if test.button("Send test", key=f"{key}_send_test", disabled=not user.can_edit,
                       help="Sends a sample notification (a sample lead) to every channel of this trigger"):
            sent = data.save(user, lambda s, t, at: triggers.send_test(s, t, kind, chosen, at))
            if sent.ok and sent.value is not None:
                count = len(sent.value)
                st.success(f"Queued {count} test notification{'s' if count != 1 else ''}; "
                           "the Deliveries tab shows how they went.")
        if delete.button("Delete trigger", key=f"{key}_delete", disabled=not user.can_edit) and data.save(
            user, lambda s, t, _at: triggers.delete_trigger(s, t, kind, chosen)
        ):
            st.rerun()
        st.markdown("**Simulate**")
        left, right, go = st.columns([3, 1, 1], vertical_alignment="bottom")
        lead_id = left.text_input("Lead's email (empty: every lead)", key=f"{key}_sim_lead")
        days = right.number_input("Last N days", min_value=1, max_value=3650, value=30, key=f"{key}_sim_days")
        if go.button("Simulate", key=f"{key}_simulate"):
            result = simulate(tenant, kind, chosen, lead_id.strip() or None, int(days))
            if result is not None:
                message = result["message"]
                if lead_id.strip():  # the service names the lead by id; the screen by what was typed
                    count = result["total_matches"]
                    message = (f"Would have fired {count} time{'s' if count != 1 else ''} for {lead_id.strip()} "
                               f"in the last {int(days)} days")
                (st.success if result["would_fire"] else st.info)(message)
                if result["matched_leads"]:
                    matches = pd.DataFrame([{
                        "When": when(m["occurred_at"]), "Lead": m.get("lead_email") or DASH,
                        "Event": m["event_type"],
                        "Score": score_change(m.get("score_before"), m.get("score_after")),
                    } for m in result["matched_leads"]])
                    st.dataframe(matches, hide_index=True, width="stretch")


SURGE_UNITS = {"seconds": "seconds", "minutes": "minutes", "hours": "hours", "days": "days"}


def surge_label(t: dict[str, Any]) -> str:
    events = t["event_type"] or "any"
    return f"{t['threshold_count']} {events} events within {t['window_seconds']} {t['window_unit']}"


def surge_tab() -> None:
    """Surge triggers: a lead's count of events (of one type, or any) within a window reaching a threshold; one
    destination each (a webhook or emails)."""
    existing = surge_trigger_list(user.tenant)
    st.caption("Tells you when a lead's events come thick and fast: when a lead's count of events within the window "
               "reaches the threshold. At most once per lead per window.")
    if existing:
        st.dataframe(pd.DataFrame([{
            "Alert when": surge_label(t), "Sends to": "Webhook" if t["webhook_url"] else f"Email ({len(t['emails'])})",
            "Created": when(t["created_at"]),
        } for t in existing]), hide_index=True, width="stretch")
    else:
        st.info("No surge triggers yet: fill in the form below and press Create.")
    labels = {"": "New surge trigger"} | {t["trigger_id"]: surge_label(t) for t in existing}
    chosen = st.selectbox("Create or edit", list(labels), format_func=labels.__getitem__, key="surge_chosen")
    current = next((t for t in existing if t["trigger_id"] == chosen), {})
    key = f"surge_{chosen or 'new'}"
    with st.form(f"{key}_form"):
        left, mid, right, last = st.columns(4)
        event_type = left.text_input("Event type (empty: any)", current.get("event_type") or "", key=f"{key}_type")
        threshold = mid.number_input("At least (events)", min_value=1, value=int(current.get("threshold_count", 5)),
                                     step=1, key=f"{key}_threshold")
        window_size = right.number_input("Within", min_value=1, value=int(current.get("window_seconds", 10)), step=1,
                                         key=f"{key}_window")
        unit = last.selectbox("Unit", list(SURGE_UNITS), index=list(SURGE_UNITS).index(
            current.get("window_unit", "minutes")), key=f"{key}_unit")
        left, right = st.columns([1, 3])
        destination = left.radio("Send to", ["Webhook", "Emails"], horizontal=True, key=f"{key}_destination",
                                 index=1 if current.get("emails") else 0)
        target = right.text_input("Webhook URL, or emails (comma-separated)",
                                  current.get("webhook_url") or ", ".join(current.get("emails") or []),
                                  key=f"{key}_target")
        st.caption("Surge triggers fire for any lead: they have no audience (segment or filters) yet.")
        submitted = st.form_submit_button("Save" if chosen else "Create", type="primary", disabled=not user.can_edit)
    fields: dict[str, Any] = {
        "event_type": event_type.strip() or None, "threshold_count": int(threshold),
        "window_seconds": int(window_size), "window_unit": unit,
        "webhook_url": target.strip() or None if destination == "Webhook" else None,
        "emails": [e.strip() for e in target.split(",") if e.strip()] if destination == "Emails" else [],
    }
    checked = check_urls(fields) if submitted else None
    if checked is not None:
        if chosen:
            saved = data.save(user, lambda s, t, at: surge.update_surge_trigger(s, t, chosen, fields, at,
                                                                              checked=checked))
        else:
            saved = data.save(user, lambda s, t, at: surge.create_surge_trigger(s, t, fields, at, checked=checked))
            if saved.ok and saved.value is not None:
                st.session_state["trigger_secret"] = saved.value.signing_secret
                forget_form(key)
        if saved.ok:
            st.rerun()
    if chosen and st.button("Delete surge trigger", key=f"{key}_delete", disabled=not user.can_edit) and data.save(
        user, lambda s, t, at: surge.delete_surge_trigger(s, t, chosen, at)
    ):
        st.rerun()


def decay_tab() -> None:
    rules = decay_list(user.tenant)
    st.caption("A lead inactive for the period loses points, again after each further full period; "
               "new activity restarts the clock. Scores never go below the floor.")
    edited = st.data_editor(
        pd.DataFrame(rules or [], columns=["decay_id", "inactive_for", "unit", "decrease"]),
        num_rows="dynamic", hide_index=True, key="decay_grid", disabled=not user.can_edit or ["decay_id"],
        column_order=["inactive_for", "unit", "decrease"],  # the id stays in the data, off the screen
        column_config={
            "decay_id": st.column_config.TextColumn("Id"),
            "inactive_for": st.column_config.NumberColumn("Inactive for", min_value=1, step=1, required=True),
            "unit": st.column_config.SelectboxColumn("Unit", options=["hours", "days", "weeks"], required=True),
            "decrease": st.column_config.NumberColumn("Decrease by", min_value=1, step=1, required=True),
        },
    )
    if st.button("Save decay rules", type="primary", disabled=not user.can_edit):
        wanted = [r for r in edited.to_dict("records") if pd.notna(r.get("inactive_for"))]

        def work(session: Any, tenant: Tenant, at: Any) -> None:
            keep = {r["decay_id"] for r in wanted if isinstance(r.get("decay_id"), str) and r["decay_id"]}
            for old in rules:
                if old["decay_id"] not in keep:
                    decay.delete_decay(session, tenant, old["decay_id"], now=at)
            for r in wanted:
                values = {"inactive_for": int(r["inactive_for"]), "unit": r["unit"], "decrease": int(r["decrease"])}
                if r["decay_id"] in keep and isinstance(r.get("decay_id"), str):
                    decay.update_decay(session, tenant, r["decay_id"], values, at)
                else:
                    decay.create_decay(session, tenant, **values, now=at)

        if data.save(user, work):
            st.session_state.pop("decay_grid", None)
            st.rerun()


def trigger_names(tenant: Tenant) -> dict[str, str]:
    names = {t["trigger_id"]: trigger_label(t) for kind in KINDS for t in trigger_list(tenant, kind)}
    return names | {t["trigger_id"]: f"Surge: {surge_label(t)}" for t in surge_trigger_list(tenant)}


def firing_details(f: dict[str, Any]) -> str:
    d = f.get("data") or {}
    if f["kind"] == "sequence":
        return " → ".join(step["event_type"] for step in d.get("steps", []))
    if f["kind"] == surge.KIND:
        return f"{d.get('count')} {d.get('event_type') or 'any'} events within {d.get('window_seconds')} s"
    if f["kind"] == "pattern":
        return ", ".join(f"{event}: {count} times" for event, count in (d.get("counts") or {}).items())
    return f"through {d['event_type']}" if d.get("event_type") else ""


def score_change(before: int | None, after: int | None) -> str:
    if after is None:
        return DASH
    return f"{before} → {after}" if before is not None else str(after)


def firings_tab() -> None:
    rows = recent_firings(user.tenant)
    if not rows:
        st.info("Nothing has fired yet. Triggers fire when leads cross a threshold or complete a sequence or "
                "pattern; use Send test on a trigger to try its channels.")
        return
    names = trigger_names(user.tenant)
    table = pd.DataFrame([{
        "Fired": when(f["fired_at"]), "Trigger": f.get("trigger_name") or names.get(f["trigger_id"], "Deleted trigger"),
        "Kind": f["kind"].capitalize(), "Lead": person(f.get("lead"), f.get("lead_id")),
        "Account": person(f.get("account"), f.get("account_id")),
        "Score": score_change(f.get("score_before"), f.get("score_after")),
        "Level": f.get("level") or DASH, "Details": firing_details(f) or DASH,
    } for f in rows])
    st.dataframe(table, hide_index=True, width="stretch")


def delivery_target(d: dict[str, Any]) -> str:
    target = d["target"]
    return f"Slack channel {target.removeprefix('channel:')}" if target.startswith("channel:") else target


def status_label(d: dict[str, Any]) -> str:
    if d["status"] == "pending" and not d["attempts"]:
        return "Queued"
    return STATUSES.get(d["status"], d["status"])


def retry_label(d: dict[str, Any]) -> str:
    return (f"{CHANNELS.get(d['channel'], d['channel'])} to {delivery_target(d)} "
            f"({status_label(d).lower()}, {when(d['created_at'])})")


def deliveries_tab() -> None:
    labels = {"all": "All"} | STATUSES
    status = st.selectbox("Status", list(labels), format_func=labels.__getitem__, key="delivery_status")
    rows = delivery_log(user.tenant, None if status == "all" else status)
    if not rows:
        st.info("No deliveries yet. Each time a trigger fires, one is queued per channel.")
        return
    names = trigger_names(user.tenant)
    st.dataframe(pd.DataFrame([{
        "Created": when(d["created_at"]), "Trigger": names.get(d["trigger_id"] or "", "Deleted trigger"),
        "Channel": CHANNELS.get(d["channel"], d["channel"]), "To": delivery_target(d),
        "Status": status_label(d), "Attempts": d["attempts"],
        "Last error": d["last_error"] or "", "Next attempt": when(d["next_attempt_at"]),
        "Delivered": when(d["delivered_at"]),
    } for d in rows]), hide_index=True, width="stretch")
    retryable = {d["delivery_id"]: d for d in rows if d["status"] in ("pending", "dead")}
    if retryable:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox(
            "Delivery to retry", list(retryable), key="delivery_retry_id",
            format_func=lambda i: retry_label(retryable[i]),
        )
        if right.button("Retry now", disabled=not user.can_edit, key="delivery_retry") and data.save(
            user, lambda s, t, at: deliveries.retry_delivery(s, t, chosen, at)
        ):
            st.rerun()


user = current_user()
st.title("Triggers")
read_only_notice(user.can_edit)
if st.session_state.get("trigger_secret"):
    st.success("Trigger created. Its webhook signing secret is shown once; store it now:")
    st.code(st.session_state.pop("trigger_secret"))

tabs = st.tabs([*KINDS.values(), "Surge", "Decay", "Recent firings", "Deliveries"])
for tab, kind in zip(tabs[:3], KINDS, strict=True):
    with tab:
        kind_tab(kind)
with tabs[3]:
    surge_tab()
with tabs[4]:
    decay_tab()
with tabs[5]:
    firings_tab()
with tabs[6]:
    deliveries_tab()
