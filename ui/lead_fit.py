"""The lead detail panel's fit section: the fit score, its level and the profile rules the lead matched (its fit
reasons), and the "Edit profile" form (a key/value editor of the lead's profile).

A saved profile goes through the lead profile service: the change is recorded as a profile event of the log,
audited, and the lead's fit recomputed under the published fit rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from services.context import Tenant
from services.errors import InvalidInput
from services.people import lead_profiles
from services.tenancy import policy
from services.tenancy.policy import Action
from ui import data
from ui.auth import SignedIn
from ui.components import DASH, level_badge
from ui.fit import fit_levels, grade_of, level_name, reason_label
from ui.grids import _blank

PROFILE_COLUMNS: tuple[str, ...] = ("key", "value")


def cell(value: Any) -> str:
    """A profile value as the editor shows it: text as is, anything else (numbers, lists, true/false) as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def parse_cell(text: str) -> Any:
    """What a typed value means: '200' -> 200, 'true' -> True, '["a", "b"]' -> a list, anything else text."""
    stripped = text.strip()
    try:
        parsed = json.loads(stripped)
    except json.JSONDecodeError:
        return stripped
    return parsed if isinstance(parsed, int | float | bool | list | dict) else stripped


def profile_to_grid(profile: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{"key": k, "value": cell(v)} for k, v in profile.items()], columns=list(PROFILE_COLUMNS))


def grid_to_profile(frame: pd.DataFrame, original: Mapping[str, Any]) -> dict[str, Any]:
    """The edited grid as a profile. A value whose text is unchanged keeps its original type ("200" stays the text
    it was, 200 the number); an empty key is refused, as is a key given twice."""
    profile: dict[str, Any] = {}
    for place, record in enumerate(frame.to_dict("records"), start=1):
        key = "" if _blank(record.get("key")) else str(record["key"]).strip()
        text = "" if _blank(record.get("value")) else str(record["value"])
        if not key:
            if text.strip():
                raise InvalidInput("profile", f"row {place} has a value but no key")
            continue
        if key in profile:
            raise InvalidInput("profile", f"key {key!r} appears more than once")
        profile[key] = original[key] if key in original and cell(original[key]) == text else parse_cell(text)
    return profile


def save_profile(session: Session, tenant: Tenant, lead_id: str, profile: Mapping[str, Any], now: datetime
                 ) -> dict[str, Any]:
    """Make `profile` the lead's profile (services.people.lead_profiles: recorded as a profile event of the log,
    audited, fit recomputed); the lead as it is then."""
    return lead_profiles.update_lead(session, tenant, lead_id, metadata=profile, account_id=None, set_account=False,
                                     now=now, via="dashboard")


def render_fit(user: SignedIn, lead: Mapping[str, Any]) -> None:
    """Fit score, fit level and the matched profile rules of the lead."""
    levels = fit_levels(user.tenant, "profile")
    st.subheader("Fit")
    c1, c2, c3 = st.columns(3)
    c1.metric("Fit score", lead.get("fit_score", 0))
    name = level_name(lead.get("fit_level"))
    c2.markdown(f"**Fit level**  \n{level_badge({'name': name}, levels) if name else DASH}")
    combined = grade_of(lead, levels, data.engagement_levels(user.tenant))
    c3.markdown(f"**Grade**  \n{combined or DASH}", help="fit letter (A = best fit level) and engagement digit "
                "(1 = hottest level), where both level sets exist")
    reasons = list(lead.get("fit_reasons") or [])
    if reasons:
        st.dataframe(
            [{"Matched profile rule": reason_label(r), "Points": r.get("weight")} for r in reasons],
            hide_index=True, width="stretch", key="fit_reasons",
            column_config={"Points": st.column_config.NumberColumn("Points", format="%+d")},
        )
    else:
        st.caption("No profile rule matches this lead. Fit rules are on the Fit page.")


def render_edit_profile(user: SignedIn, lead: Mapping[str, Any]) -> None:
    """The "Edit profile" form: every key of the lead's profile and its value; a saved change rescores its fit."""
    profile = dict(lead.get("metadata") or {})
    may_edit = user.can(Action.EDIT_LEADS)
    with st.expander("Edit profile", expanded=False):
        if not may_edit:
            st.caption("Viewers see the profile; an Owner or Operator can change it.")
        st.caption("One row per property. Numbers, true/false and lists (as JSON) keep their type; clear a row to "
                   "remove the property. Saving records the change in the lead's history and recomputes its fit.")
        where = st.container()
        with st.form(f"edit_profile_{lead['id']}"):
            edited = st.data_editor(
                profile_to_grid(profile), key=f"profile_grid_{lead['id']}", num_rows="dynamic", hide_index=True,
                width="stretch", disabled=not may_edit,
                column_config={"key": st.column_config.TextColumn("Property", required=True),
                               "value": st.column_config.TextColumn("Value")},
            )
            submitted = st.form_submit_button("Save profile", disabled=not may_edit)
        if submitted:
            try:
                wanted = grid_to_profile(edited, profile)
            except InvalidInput as exc:
                where.error(exc.message.split(": ", 1)[-1])
                return
            if wanted == profile:
                where.info("Nothing changed in the profile.")
                return
            saved = data.save(user, lambda s, t, at: save_profile(s, t, str(lead["id"]), wanted, at), where=where,
                              roles=policy.roles_with(Action.EDIT_LEADS))
            if saved and saved.value is not None:
                st.session_state["profile_saved"] = (
                    f"Profile saved; fit score now {saved.value['fit_score']}"
                    + (f" ({saved.value['fit_level']})." if saved.value.get("fit_level") else "."))
                st.session_state.pop(f"profile_grid_{lead['id']}", None)
                st.rerun()
    if st.session_state.get("profile_saved"):
        st.success(st.session_state.pop("profile_saved"))
