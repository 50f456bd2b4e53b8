"""CRM score sync to HubSpot against a fake HubSpot on loopback (tests/fakes/hubspot_server.py): the settings API
(token write-only and sealed), writes queued by triggers with hubspot_sync and by the scheduled segment sync,
sent by the dispatcher with retries (429 Retry-After, a refused token), other units kept apart, and erasure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from db import models
from db.engine import Database
from notify.dispatcher import dispatch_due
from scheduler.jobs import run_crm_sync
from services.context import Tenant
from services.ingest.contract import AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.integrations import crm, secret_box
from services.people import erasure
from services.scoring import fit_config, levels
from services.targeting import segments
from services.triggers import triggers
from settings import get_settings
from tests.conftest import ApiHarness
from tests.fakes.hubspot_server import FakeHubSpot, running
from tests.notify.receivers import add_rule, send_event

TOKEN = "pat-na1-test-token"


@pytest.fixture(autouse=True)
def secrets_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "secrets_key", Fernet.generate_key().decode())


@pytest.fixture(autouse=True)
def schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_retry_schedule", "5,30,120")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHubSpot]:
    for server in running(TOKEN):
        monkeypatch.setattr(get_settings(), "hubspot_api_base_url", server.url)
        yield server


def _scoring(db: Database, tenant: Tenant, now: datetime) -> None:
    """demo_request scores 100, page_view 10; levels Cold (0-49) and Hot (50+); every profile has fit level C."""
    add_rule(db, tenant, "demo_request", 100, now)
    add_rule(db, tenant, "page_view", 10, now)
    with db.write() as session:
        levels.create_level(session, tenant, name="Cold", min_score=0, max_score=49, now=now)
        levels.create_level(session, tenant, name="Hot", min_score=50, max_score=1_000_000, now=now)
        fit_config.create_fit_level(session, tenant, "profile", name="C", min_score=0, max_score=100, now=now)


def _configure(db: Database, tenant: Tenant, now: datetime, token: str | None = TOKEN, **fields: Any) -> None:
    with db.write() as session:
        crm.put_crm_settings(session, tenant, provider="hubspot", token=token, now=now, **fields)


def _syncing_trigger(db: Database, tenant: Tenant, now: datetime) -> str:
    """A milestone trigger (score >= 50) with no channel but the CRM (set on the row: the API field is the Slack
    helper's)."""
    with db.write() as session:
        row = triggers.create_trigger(session, tenant, "milestone", {"score_threshold": 50}, now)
        row.hubspot_sync = True
        return row.id


def _hubspot_deliveries(db: Database, tenant: Tenant) -> list[models.Delivery]:
    with db.read() as session:
        d = models.Delivery
        return list(session.scalars(select(d).where(d.unit_id == tenant.unit_id, d.channel == "hubspot")
                                    .order_by(d.created_at, d.target)))


def _dispatch(db: Database, at: datetime) -> int:
    return dispatch_due(db, "test", lambda: at)


# --- settings ------------------------------------------------------------------------------------------------------


def _error(response: Any) -> str:
    return str(response.json()["error"]["message"])


def test_settings_round_trip_never_returns_the_token_and_store_it_sealed(
    api: ApiHarness, other_api: ApiHarness
) -> None:
    fresh = api.get("/v1/settings/crm")
    assert fresh.status_code == 200 and fresh.json()["configured"] is False and fresh.json()["token_set"] is False

    saved = api.put("/v1/settings/crm", json={"provider": "hubspot", "token": "pat-na1-secret-123",
                                              "fit_level_property": None})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert "pat-na1-secret-123" not in saved.text and "token" not in body
    assert body["token_set"] is True and body["configured"] is True
    assert (body["score_property"], body["level_property"], body["fit_level_property"]) == (
        "leadvane_score", "leadvane_level", None)
    with api.db.read() as session:
        row = session.get(models.CrmSettings, api.tenant.unit_id)
        assert row is not None and row.token_enc and "pat-na1-secret-123" not in row.token_enc
        assert secret_box.unseal(row.token_enc) == "pat-na1-secret-123"

    # Without a token the stored one stays.
    kept = api.put("/v1/settings/crm", json={"provider": "hubspot", "score_property": "lead_score_2"})
    assert kept.status_code == 200 and kept.json()["token_set"] is True
    assert kept.json()["score_property"] == "lead_score_2" and kept.json()["fit_level_property"] == "leadvane_fit_level"
    with api.db.read() as session:
        row = session.get(models.CrmSettings, api.tenant.unit_id)
        assert row is not None and row.token_enc and secret_box.unseal(row.token_enc) == "pat-na1-secret-123"
    assert "pat-na1-secret-123" not in api.get("/v1/settings/crm").text

    # Audited, the token redacted.
    with api.db.read() as session:
        entries = list(session.scalars(select(models.AuditLog).where(
            models.AuditLog.unit_id == api.tenant.unit_id, models.AuditLog.entity_type == "crm_settings",
        ).order_by(models.AuditLog.id)))
    assert [e.action for e in entries] == ["create", "update"]
    assert all("pat-na1-secret-123" not in str(e.changes) and "token_enc" not in str(e.changes) for e in entries)

    # Other units see nothing of it.
    assert other_api.get("/v1/settings/crm").json()["configured"] is False
    assert other_api.delete("/v1/settings/crm").status_code == 404

    assert api.delete("/v1/settings/crm").status_code == 204
    assert api.get("/v1/settings/crm").json() == {**fresh.json()}
    assert api.delete("/v1/settings/crm").status_code == 404


@pytest.mark.parametrize(("change", "field"), [
    ({"provider": "salesforce"}, "provider"),
    ({"score_property": "Lead Score"}, "score_property"),
    ({"level_property": "9lives"}, "level_property"),
    ({"fit_level_property": "leadvane_score"}, "fit_level_property"),
    ({"sync_interval_minutes": 4, "sync_segment_id": None}, "sync_interval_minutes"),
    ({"sync_interval_minutes": 1441}, "sync_interval_minutes"),
    ({"sync_interval_minutes": 60}, "sync_segment_id"),
    ({"sync_segment_id": "sg_nope"}, "sync_segment_id"),
    ({"token": "  "}, "token"),
])
def test_bad_settings_are_refused_naming_the_field(api: ApiHarness, change: dict[str, Any], field: str) -> None:
    refused = api.put("/v1/settings/crm", json={"provider": "hubspot", "token": TOKEN, **change})
    assert refused.status_code == 422, refused.text
    assert field in _error(refused)
    assert api.get("/v1/settings/crm").json()["configured"] is False


def test_a_segment_of_another_unit_is_unknown(api: ApiHarness, other_api: ApiHarness, now: datetime) -> None:
    with other_api.db.write() as session:
        theirs = segments.create_segment(session, other_api.tenant, name="Theirs", now=now)["segment_id"]
    refused = api.put("/v1/settings/crm", json={"provider": "hubspot", "sync_segment_id": theirs,
                                                "sync_interval_minutes": 30})
    assert refused.status_code == 422 and "sync_segment_id" in _error(refused)


def test_test_connection_checks_the_token(api: ApiHarness, fake: FakeHubSpot) -> None:
    assert api.post("/v1/settings/crm/test").status_code == 409  # no token yet
    api.put("/v1/settings/crm", json={"provider": "hubspot", "token": TOKEN})
    assert api.post("/v1/settings/crm/test").json() == {"ok": True, "message": "HubSpot accepted the token"}
    assert fake.calls[-1].method == "GET" and fake.calls[-1].query == {"limit": ["1"]}
    api.put("/v1/settings/crm", json={"provider": "hubspot", "token": "pat-wrong"})
    answer = api.post("/v1/settings/crm/test").json()
    assert answer["ok"] is False and answer["message"].startswith("HubSpot refused the token (HTTP 401)")
    assert "secret-ish" not in answer["message"]  # never HubSpot's own text


# --- writes from trigger firings -----------------------------------------------------------------------------------


def test_a_firing_updates_an_existing_contact_and_creates_a_missing_one(
    db: Database, tenant: Tenant, now: datetime, fake: FakeHubSpot
) -> None:
    _scoring(db, tenant, now)
    _configure(db, tenant, now)
    trigger_id = _syncing_trigger(db, tenant, now)
    fake.add_contact("ann@acme.io", leadvane_score=3, firstname="Ann")
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    send_event(db, tenant, "bob@acme.io", "demo_request", now)
    queued = _hubspot_deliveries(db, tenant)
    assert sorted(d.target for d in queued) == ["ann@acme.io", "bob@acme.io"]
    assert all(d.trigger_id == trigger_id and d.firing_id for d in queued)

    _dispatch(db, now)
    expected = {"leadvane_score": 100, "leadvane_level": "Hot", "leadvane_fit_level": "C"}
    assert fake.contact("ann@acme.io") == {"email": "ann@acme.io", "firstname": "Ann", **expected}
    assert fake.contact("bob@acme.io") == {"email": "bob@acme.io", **expected}
    calls = [(c.method, c.path) for c in fake.calls]
    assert ("POST", "/crm/v3/objects/contacts") in calls  # bob was created after a 404
    assert all(d.status == "delivered" for d in _hubspot_deliveries(db, tenant))
    with db.read() as session:
        synced = {r.lead_id: (r.score, r.level, r.fit_level) for r in session.scalars(
            select(models.CrmSyncedLead).where(models.CrmSyncedLead.unit_id == tenant.unit_id))}
    assert sorted(synced.values()) == [(100, "Hot", "C"), (100, "Hot", "C")]


def test_no_write_without_an_email_or_without_the_switch(
    db: Database, tenant: Tenant, now: datetime, fake: FakeHubSpot
) -> None:
    _scoring(db, tenant, now)
    _configure(db, tenant, now)
    _syncing_trigger(db, tenant, now)
    with db.write() as session:
        (result,) = ingest(session, tenant, [NewEvent(event_type="demo_request", occurred_at=now, person=PersonRef(
            aliases=[AliasInput("external_id", "crm-123")]))], now)
    assert isinstance(result, Ingested)
    assert _hubspot_deliveries(db, tenant) == []  # fired, but no email: no CRM contact to match
    with db.write() as session:
        off = triggers.create_trigger(session, tenant, "milestone", {"score_threshold": 150}, now)
        assert off.hubspot_sync is False
    send_event(db, tenant, "cat@acme.io", "demo_request", now)
    send_event(db, tenant, "cat@acme.io", "demo_request", now + timedelta(seconds=1))  # 200: `off` fires too
    assert [d.target for d in _hubspot_deliveries(db, tenant)] == ["cat@acme.io"]  # the syncing trigger only


def test_rate_limited_writes_wait_as_hubspot_asks_and_show_in_the_delivery_log(
    api: ApiHarness, db: Database, tenant: Tenant, now: datetime, fake: FakeHubSpot
) -> None:
    _scoring(db, tenant, now)
    _configure(db, tenant, now)
    _syncing_trigger(db, tenant, now)
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    fake.rate_limited, fake.retry_after = 1, "120"
    _dispatch(db, now)
    (row,) = _hubspot_deliveries(db, tenant)
    assert (row.status, row.last_status_code) == ("pending", 429)
    assert row.next_attempt_at == now + timedelta(seconds=120)  # not the schedule's 5 seconds
    (logged,) = [d for d in api.get("/v1/deliveries").json() if d["channel"] == "hubspot"]
    assert logged["target"] == "ann@acme.io" and logged["status"] == "pending"
    assert logged["last_error"] == "HubSpot rate limit (HTTP 429)" and logged["last_status_code"] == 429
    assert logged["next_attempt_at"].startswith((now + timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%S"))

    _dispatch(db, now + timedelta(seconds=119))
    assert _hubspot_deliveries(db, tenant)[0].attempts == 1
    _dispatch(db, now + timedelta(seconds=120))
    assert _hubspot_deliveries(db, tenant)[0].status == "delivered"
    assert fake.contact("ann@acme.io") is not None


def test_a_wrong_token_fails_with_a_clear_reason(
    api: ApiHarness, db: Database, tenant: Tenant, now: datetime, fake: FakeHubSpot
) -> None:
    _scoring(db, tenant, now)
    _configure(db, tenant, now, token="pat-wrong")
    _syncing_trigger(db, tenant, now)
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    _dispatch(db, now)
    (row,) = _hubspot_deliveries(db, tenant)
    assert row.status == "pending" and row.last_status_code == 401
    assert (row.last_error or "").startswith("HubSpot refused the token (HTTP 401)")
    assert "secret-ish" not in (row.last_error or "")
    assert fake.contact("ann@acme.io") is None
    # The right token, and the retry goes through.
    _configure(db, tenant, now, token=TOKEN)
    _dispatch(db, now + timedelta(seconds=5))
    assert _hubspot_deliveries(db, tenant)[0].status == "delivered"


# --- the scheduled sync --------------------------------------------------------------------------------------------


def _segment(db: Database, tenant: Tenant, now: datetime, min_score: int = 50) -> str:
    with db.write() as session:
        segment_id = segments.create_segment(session, tenant, name="Scored leads", now=now)["segment_id"]
        segments.create_rule(session, tenant, segment_id, fields={
            "rule_type": "score", "field_name": "", "operator": "gte", "value": str(min_score)}, now=now)
    return str(segment_id)


def test_the_scheduled_sync_sends_only_changed_leads_of_the_segment(
    api: ApiHarness, db: Database, tenant: Tenant, now: datetime, fake: FakeHubSpot
) -> None:
    _scoring(db, tenant, now)
    segment_id = _segment(db, tenant, now)
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    send_event(db, tenant, "bob@acme.io", "demo_request", now)
    send_event(db, tenant, "cat@acme.io", "page_view", now)  # 10: not in the segment
    _configure(db, tenant, now, sync_segment_id=segment_id, sync_interval_minutes=15)

    run_crm_sync(db, now)
    (batch,) = _hubspot_deliveries(db, tenant)
    assert batch.target == "batch:2 contacts" and batch.firing_id is None and batch.trigger_id is None
    _dispatch(db, now)
    assert fake.calls[-1].path == "/crm/v3/objects/contacts/batch/upsert"
    assert {i["id"] for i in fake.calls[-1].body["inputs"]} == {"ann@acme.io", "bob@acme.io"}
    assert fake.contact("bob@acme.io") == {"email": "bob@acme.io", "leadvane_score": 100, "leadvane_level": "Hot",
                                           "leadvane_fit_level": "C"}
    assert fake.contact("cat@acme.io") is None

    # Not due before the interval; due after it, but nothing changed: nothing is sent.
    run_crm_sync(db, now + timedelta(minutes=5))
    run_crm_sync(db, now + timedelta(minutes=16))
    assert len(_hubspot_deliveries(db, tenant)) == 1
    with db.read() as session:
        row = session.get(models.CrmSettings, tenant.unit_id)
        assert row is not None and row.last_sync_at == now + timedelta(minutes=16)

    # Cat joins the segment, Bob's score changes: only they are sent, now through "sync now".
    send_event(db, tenant, "cat@acme.io", "demo_request", now + timedelta(minutes=17))
    send_event(db, tenant, "bob@acme.io", "page_view", now + timedelta(minutes=17))
    answer = api.post("/v1/settings/crm/sync")
    assert answer.status_code == 200 and answer.json() == {"queued": 2}
    newest = [d for d in _hubspot_deliveries(db, tenant) if d.status == "pending"]
    assert [d.target for d in newest] == ["batch:2 contacts"]
    _dispatch(db, datetime.now(newest[0].created_at.tzinfo))
    assert fake.contact("bob@acme.io")["leadvane_score"] == 110  # type: ignore[index]
    assert fake.contact("cat@acme.io")["leadvane_score"] == 110  # type: ignore[index]
    assert {i["id"] for i in fake.calls[-1].body["inputs"]} == {"bob@acme.io", "cat@acme.io"}
    assert api.post("/v1/settings/crm/sync").json() == {"queued": 0}


def test_units_are_kept_apart(
    api: ApiHarness, other_api: ApiHarness, db: Database, now: datetime, fake: FakeHubSpot
) -> None:
    mine, theirs = api.tenant, other_api.tenant
    for tenant in (mine, theirs):
        _scoring(db, tenant, now)
        _syncing_trigger(db, tenant, now)
    segment_id = _segment(db, mine, now)
    _configure(db, mine, now, sync_segment_id=segment_id, sync_interval_minutes=5)
    send_event(db, theirs, "ann@acme.io", "demo_request", now)  # no CRM settings there: nothing queued
    send_event(db, theirs, "ann@acme.io", "page_view", now)
    assert _hubspot_deliveries(db, theirs) == []
    assert other_api.post("/v1/settings/crm/sync").status_code == 409
    send_event(db, mine, "dan@acme.io", "demo_request", now)
    with db.write() as session:
        assert crm.sync_unit(session, mine, now) == 0  # the firing already sent Dan's values
        assert crm.sync_unit(session, theirs, now) == 0
    _dispatch(db, now)
    assert fake.contact("dan@acme.io") is not None and fake.contact("ann@acme.io") is None
    assert [d["channel"] for d in other_api.get("/v1/deliveries").json()] == []


# --- erasure -------------------------------------------------------------------------------------------------------


def test_erasing_a_lead_removes_its_crm_writes(db: Database, tenant: Tenant, now: datetime, fake: FakeHubSpot) -> None:
    _scoring(db, tenant, now)
    _configure(db, tenant, now)
    _syncing_trigger(db, tenant, now)
    ann = str(send_event(db, tenant, "ann@acme.io", "demo_request", now).lead_id)
    _dispatch(db, now)  # Ann's firing write is delivered
    bob = str(send_event(db, tenant, "bob@acme.io", "page_view", now).lead_id)
    segment_id = _segment(db, tenant, now, min_score=10)
    _configure(db, tenant, now, token=None, sync_segment_id=segment_id, level_property="lead_level_2")
    with db.write() as session:
        assert crm.sync_unit(session, tenant, now) == 2  # property names changed: everyone again, in one batch
    send_event(db, tenant, "bob@acme.io", "demo_request", now)  # Bob's firing write: pending
    with db.write() as session:
        assert erasure.request_erasure(session, tenant, ann, now).status == "pending"
    with db.write() as session:
        assert erasure.erase_lead(session, tenant, ann, now) is not None
    rows = _hubspot_deliveries(db, tenant)
    text = " ".join(f"{d.target} {d.body}" for d in rows)
    assert "ann@acme.io" not in text and ann not in text
    assert [d.target for d in rows if d.status == "delivered"] == ["[erased]"]
    assert sorted(d.target for d in rows if d.status == "pending") == ["batch:1 contacts", "bob@acme.io"]
    batch = next(d for d in rows if d.target.startswith("batch:"))
    assert "bob@acme.io" in batch.body and bob in batch.body
    with db.read() as session:
        assert session.scalars(select(models.CrmSyncedLead.lead_id).where(
            models.CrmSyncedLead.unit_id == tenant.unit_id)).all() == [bob]


def test_hubspot_calls_pass_the_outbound_guard(
    db: Database, tenant: Tenant, now: datetime, fake: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scoring(db, tenant, now)
    _configure(db, tenant, now)
    _syncing_trigger(db, tenant, now)
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    monkeypatch.setattr(get_settings(), "outbound_allow", "")  # loopback refused, as in production
    _dispatch(db, now)
    (row,) = _hubspot_deliveries(db, tenant)
    assert row.status == "pending" and row.last_status_code is None and "refused" in (row.last_error or "")
    assert fake.calls == []
