"""The dashboard's pages, built in one place so pages can link to each other with st.switch_page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from settings import ROOT
from ui.auth import UNIT_KEY, SignedIn

PAGES_DIR: Path = ROOT / "pages"

_PAGES: dict[str, tuple[str, str, str]] = {
    # key: (file, title, icon)
    "leads": ("leads.py", "Leads", ":material/local_fire_department:"),
    "lead": ("lead_detail.py", "Lead detail", ":material/person:"),
    "accounts": ("accounts.py", "Accounts", ":material/apartment:"),
    "account": ("account_detail.py", "Account detail", ":material/domain:"),
    "rules": ("rules.py", "Rules", ":material/tune:"),
    "levels": ("levels.py", "Levels", ":material/stacked_bar_chart:"),
    "fit": ("fit.py", "Fit", ":material/person_check:"),
    "data_quality": ("data_quality.py", "Data quality", ":material/filter_alt:"),
    "triggers": ("triggers.py", "Triggers", ":material/notifications_active:"),
    "segments": ("segments.py", "Segments", ":material/filter_alt:"),
    "analytics": ("analytics.py", "Analytics", ":material/monitoring:"),
    "import": ("import_export.py", "Import & export", ":material/upload_file:"),
    "settings": ("settings.py", "Settings", ":material/settings:"),
    "audit": ("audit_log.py", "Audit log", ":material/history:"),
    "team": ("team.py", "Team", ":material/group:"),
    "integrations": ("integrations.py", "Integrations", ":material/hub:"),
}
_HIDDEN = {"lead", "account"}


def page(key: str) -> st.Page:
    file, title, icon = _PAGES[key]
    return st.Page(
        PAGES_DIR / file, title=title, icon=icon, url_path=key, visibility="hidden" if key in _HIDDEN else "visible"
    )


def home() -> st.Page:
    """The root URL shows Leads too. Leads itself is not the default page: a default page lives only at "/", and the
    deep link /leads would then be "page not found". (Not a redirect with st.switch_page: interrupting the sign-in
    run that way can lose the login cookie.)"""
    file, title, icon = _PAGES["leads"]
    return st.Page(PAGES_DIR / file, title=title, icon=icon, url_path="home", default=True, visibility="hidden")


def all_pages() -> dict[str, list[st.Page]]:
    """Sections of the sidebar; Triggers appears only once its page exists."""
    def present(keys: list[str]) -> list[st.Page]:
        return [page(k) for k in keys if (PAGES_DIR / _PAGES[k][0]).exists()]

    return {
        "Sales": [home(), *present(["leads", "lead", "accounts", "account"])],
        "Scoring": present(["rules", "levels", "fit", "segments", "data_quality", "triggers"]),
        "Insights": present(["analytics", "import"]),
        "Admin": present(["settings", "integrations", "team", "audit"]),
    }


def unit_switcher(user: SignedIn) -> None:
    """A choice of the person's units (only theirs; hidden with one): switching sets UNIT_KEY and reruns."""
    from ui.team_data import my_units  # imports ui.data, which pages load anyway

    units = my_units(user)
    if len(units) <= 1:
        return
    names = {u["unit_id"]: u["name"] for u in units}
    ids = list(names)

    def switch() -> None:
        st.session_state[UNIT_KEY] = st.session_state["lv_unit_switcher"]
        st.cache_data.clear()

    st.session_state["lv_unit_switcher"] = user.unit_id
    st.selectbox("Unit", ids, format_func=names.get, key="lv_unit_switcher", on_change=switch)


def open_lead(lead_id: str) -> None:
    st.session_state["lead_id"] = lead_id
    st.switch_page(page("lead"), query_params={"lead": lead_id})


def open_account(account_id: str) -> None:
    st.session_state["account_id"] = account_id
    st.switch_page(page("account"), query_params={"account": account_id})


def selected(kind: str) -> str | None:
    """The lead or account a detail page shows: from the URL (?lead=...) or the last selection."""
    return st.query_params.get(kind) or st.session_state.get(f"{kind}_id")
