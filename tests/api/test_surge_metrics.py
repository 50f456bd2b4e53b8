"""Surge reads over the API: GET /v1/ous/{ouId}/surge (totals, peak, channels, the bucketed series, validation,
membership), accounts' `surging` and the lead explanation's surge fields.

Events are ingested through the API; which of them scoring boosted is set on their rows (`surge_milli` and the
primary explanation's `surge_boost`) as the fixture, so these reads are tested apart from the engine (the
end-to-end tests through a surge policy are in test_surge_scoring.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from db import models
from tests.api.test_fit_config import ok
from tests.api.test_surge_triggers import refused
from tests.conftest import ApiHarness, add_rule, enable_abm


def z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def ingest(api: ApiHarness, email: str, event_type: str, at: datetime) -> dict[str, Any]:
    body = {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type,
            "timestamp": at.isoformat()}
    return dict(ok(api.post("/v1/events", body), 201))


def boost(api: ApiHarness, event_id: str, milli: int, points: int) -> None:
    """What scoring writes on an event it boosted: the multiplier and, per ruleset part, the points it added."""
    with api.db.write() as session:
        row = session.scalar(select(models.Event).where(models.Event.id == event_id))
        assert row is not None
        row.surge_milli = milli
        row.explanation = {rs: {**part, "surge_multiplier": milli / 1000, "surge_boost": points}
                           for rs, part in row.explanation.items()}


def test_metrics_count_boosted_events_per_bucket_and_channel(api: ApiHarness) -> None:
    add_rule(api, "page_view", 10)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    ann = [ingest(api, "ann@acme.com", "page_view", day + timedelta(hours=9, minutes=m)) for m in range(5)]
    bob = [ingest(api, "bob@globex.com", "page_view", day + timedelta(hours=11, minutes=m)) for m in range(3)]
    ingest(api, "cy@initech.com", "page_view", day + timedelta(hours=9, minutes=30))  # never boosted
    for e in ann[2:]:
        boost(api, e["event"]["id"], 1250, 2)
    boost(api, bob[2]["event"]["id"], 1500, 5)
    unit = api.tenant.unit_id
    answer = ok(api.get(f"/v1/ous/{unit}/surge", params={"start": z(day), "end": z(day + timedelta(days=1))}))
    assert answer["ou_id"] == unit and answer["interval"] == "1h"
    assert answer["start"] == z(day) and answer["end"] == z(day + timedelta(days=1))
    assert answer["totals"] == {"surge_events": 0, "leads": 2, "boosted_events": 4, "boost_points": 11}
    assert len(answer["series"]) == 24 and answer["series"][0]["at"] == z(day)
    counts = {p["at"]: p["count"] for p in answer["series"]}
    assert counts[z(day + timedelta(hours=9))] == 3 and counts[z(day + timedelta(hours=11))] == 1
    assert sum(counts.values()) == 4
    assert answer["peak"] == {"at": z(day + timedelta(hours=9)), "count": 3}
    channel = ann[0]["event"]["channel"]
    assert answer["channels"] == [{"channel": channel, "count": 4}]

    daily = ok(api.get(f"/v1/ous/{unit}/surge", params={"start": z(day), "end": z(day + timedelta(days=3)),
                                                      "interval": "1d"}))
    assert [p["count"] for p in daily["series"]] == [4, 0, 0]
    quarter = ok(api.get(f"/v1/ous/{unit}/surge", params={
        "start": z(day + timedelta(hours=9)), "end": z(day + timedelta(hours=10)), "interval": "15m"}))
    assert [p["count"] for p in quarter["series"]] == [3, 0, 0, 0] and quarter["totals"]["leads"] == 1
    other = ok(api.get(f"/v1/ous/{unit}/surge", params={"start": z(day), "end": z(day + timedelta(days=1)),
                                                      "channel": "no-such-channel"}))
    assert other["totals"]["boosted_events"] == 0 and other["peak"] == {"at": None, "count": 0}
    assert len(other["series"]) == 24 and other["channels"] == []


def test_metrics_validate_the_range_and_the_unit(api: ApiHarness, other_api: ApiHarness) -> None:
    unit = api.tenant.unit_id
    start = datetime(2026, 1, 1, tzinfo=UTC)
    path = f"/v1/ous/{unit}/surge"
    refused(api.get(path, params={"end": z(start)}), "start")
    refused(api.get(path, params={"start": z(start)}), "end")
    refused(api.get(path, params={"start": "soon", "end": z(start)}), "start")
    refused(api.get(path, params={"start": z(start), "end": z(start)}), "end")
    refused(api.get(path, params={"start": z(start), "end": z(start + timedelta(days=1)), "interval": "5m"}),
            "interval")
    refused(api.get(path, params={"start": z(start), "end": z(start + timedelta(days=30)), "interval": "15m"}),
            "interval")  # 2,880 buckets
    assert ok(api.get(path, params={"start": z(start), "end": z(start + timedelta(days=20)), "interval": "15m"}))
    # Another unit's id, or one that does not exist: 404 (a key acts in its own unit only).
    assert other_api.get(path, params={"start": z(start), "end": z(start + timedelta(days=1))}).status_code == 404
    assert api.get("/v1/ous/unit_nope/surge", params={"start": z(start), "end": z(start + timedelta(days=1))}
                   ).status_code == 404


def test_accounts_surge_while_a_lead_had_a_boosted_event_in_the_last_day(api: ApiHarness) -> None:
    enable_abm(api)
    recent = datetime.now(UTC) - timedelta(hours=2)
    surged = ingest(api, "ann@acme.com", "page_view", recent)
    ingest(api, "bob@globex.com", "page_view", recent)
    old = ingest(api, "cy@initech.com", "page_view", recent - timedelta(days=2))
    boost(api, surged["event"]["id"], 1250, 1)
    boost(api, old["event"]["id"], 1250, 1)  # boosted, but more than 24 hours ago
    rows = ok(api.get("/v1/accounts"))["accounts"]
    assert {r["domain"]: r["surging"] for r in rows} == {"acme.com": True, "globex.com": False,
                                                         "initech.com": False}


def test_accounts_surge_after_a_surge_trigger_fired_for_a_lead(api: ApiHarness) -> None:
    enable_abm(api)
    ok(api.post("/v1/surge/triggers", {"window_seconds": 1, "window_unit": "hours", "threshold_count": 2,
                                       "emails": ["sales@example.com"]}), 201)
    recent = datetime.now(UTC) - timedelta(minutes=30)
    ingest(api, "ann@acme.com", "page_view", recent)
    ingest(api, "bob@globex.com", "page_view", recent)
    ingest(api, "ann@acme.com", "pricing_view", recent + timedelta(minutes=1))
    rows = ok(api.get("/v1/accounts"))["accounts"]
    assert {r["domain"]: r["surging"] for r in rows} == {"acme.com": True, "globex.com": False}


def test_the_explanation_lists_the_boosted_events_of_the_window(api: ApiHarness) -> None:
    add_rule(api, "page_view", 10)
    recent = datetime.now(UTC) - timedelta(hours=1)
    events = [ingest(api, "ann@acme.com", "page_view", recent + timedelta(minutes=m)) for m in range(4)]
    older = ingest(api, "ann@acme.com", "page_view", recent - timedelta(days=3))
    boost(api, events[2]["event"]["id"], 1250, 2)
    boost(api, events[3]["event"]["id"], 1500, 5)
    boost(api, older["event"]["id"], 1500, 5)  # outside the 24-hour window
    lead_id = events[0]["lead_id"]
    answer = ok(api.get(f"/v1/leads/{lead_id}/explanation"))
    assert answer["surge_event_count"] == 2 and answer["surge_total"] == 7
    assert [(b["event_id"], b["event_type"], b["multiplier"], b["boost"]) for b in answer["surge_boost"]] == [
        (events[2]["event"]["id"], "page_view", 1.25, 2), (events[3]["event"]["id"], "page_view", 1.5, 5),
    ]
    week = ok(api.get(f"/v1/leads/{lead_id}/explanation", params={"hours": 24 * 7}))
    assert week["surge_event_count"] == 3 and week["surge_total"] == 12
