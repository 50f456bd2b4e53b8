"""The Integrations page's HubSpot section (ui.integrations_crm), rendered by AppTest through a tiny script: an
Owner saves a token (shown only as "set" afterwards, stored sealed), properties and a scheduled segment sync; a
Viewer sees it all disabled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

from db import models
from services.integrations import secret_box
from services.targeting import segments
from settings import get_settings
from tests.ui.conftest import DemoUnit, texts


@pytest.fixture(autouse=True)
def secrets_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(get_settings(), "secrets_key", Fernet.generate_key().decode())
    yield


def _section() -> None:
    import streamlit as st

    from ui.integrations_crm import crm_section

    crm_section(st.session_state["crm_user"])


def _open(user: object) -> AppTest:
    at = AppTest.from_function(_section, default_timeout=60)
    at.session_state["crm_user"] = user
    return at.run()


def test_an_owner_saves_the_hubspot_sync_and_the_token_stays_hidden(unit: DemoUnit) -> None:
    with unit.db.write() as session:
        segment_id = segments.create_segment(session, unit.owner.tenant, name="Hot leads",
                                             now=datetime.now(UTC))["segment_id"]
    at = _open(unit.owner)
    assert not at.exception
    assert "Token: **not set**" in texts(at)
    at.text_input(key="crm_token").input("pat-na1-ui-secret")
    at.text_input(key="crm_fit_level_property").input("")
    at.selectbox(key="crm_segment").set_value(segment_id)
    at.checkbox(key="crm_scheduled").check()
    at.run()
    at.number_input(key="crm_interval").set_value(30)
    at.button(key="crm_save").click()
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "HubSpot sync settings saved." in shown and "Token: **set**" in shown
    assert "pat-na1-ui-secret" not in shown and at.text_input(key="crm_token").value == ""
    with unit.db.read() as session:
        row = session.get(models.CrmSettings, unit.tenant.unit_id)
        assert row is not None and row.token_enc and secret_box.unseal(row.token_enc) == "pat-na1-ui-secret"
        assert (row.sync_segment_id, row.sync_interval_minutes, row.fit_level_property) == (segment_id, 30, None)
        assert row.score_property == "leadvane_score"
    # Sync now queues the segment's leads (a segment without rules holds every lead) and says how many.
    at.button(key="crm_sync_now").click()
    at.run()
    assert not at.exception and "contacts queued for HubSpot." in texts(at)


def test_a_viewer_sees_the_section_disabled(unit: DemoUnit) -> None:
    at = _open(unit.viewer)
    assert not at.exception
    assert at.button(key="crm_save").disabled and at.text_input(key="crm_token").disabled
    assert at.button(key="crm_sync_now").disabled and at.button(key="crm_test").disabled
