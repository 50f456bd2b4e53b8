"""The Settings page's usage panel: this month's figures for the user's unit, and a chart with one bar per day."""

from __future__ import annotations

from datetime import UTC, datetime

from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.tenancy import usage
from tests.ui.conftest import DemoUnit, open_page


def _metric(at, label: str) -> str:  # type: ignore[no-untyped-def]
    return str(next(m.value for m in at.metric if m.label == label))


def test_settings_show_this_months_usage(unit: DemoUnit) -> None:
    now = datetime.now(UTC)
    with unit.db.write() as session:
        usage.add_api_requests(session, {usage.UnitDay(unit.tenant.org_id, unit.tenant.unit_id, now.date()): 1234})
        ingest(session, unit.tenant, [
            NewEvent("page_view", now, person=PersonRef(aliases=[AliasInput("email", f"u{i}@usage.example")]))
            for i in range(3)
        ], now)
    with unit.db.read() as session:
        expected = usage.month_usage(session, unit.tenant, month=None, now=now)
    assert expected["events_ingested"] >= 3

    at = open_page("settings", unit.viewer)  # every member may read usage
    assert not at.exception
    assert "Usage" in [s.value for s in at.subheader]
    assert _metric(at, "API requests") == "1,234"
    assert _metric(at, "Events ingested") == f"{expected['events_ingested']:,}"
    assert _metric(at, "Leads") == f"{expected['leads']:,}"
    chart = at.get("plotly_chart")[0]
    figure = chart.proto.spec
    assert now.date().isoformat() in figure and "API requests" in figure
