"""Webhook delivery to a real receiver on loopback: signed, retried with backoff, dead, retried by hand, leased."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from db import models
from db.engine import Database
from notify.dispatcher import dispatch_due
from services.context import Tenant
from services.operations import leases
from services.triggers import deliveries, triggers
from settings import get_settings
from tests.notify.receivers import HttpReceiver, add_rule, send_event


@pytest.fixture
def schedule(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    monkeypatch.setattr(get_settings(), "webhook_retry_schedule", "5,30,120")
    return get_settings().retry_schedule_seconds


def _fire(db: Database, tenant: Tenant, now: datetime, url: str) -> tuple[str, str]:
    """A milestone trigger that fires once; returns (signing secret, delivery id)."""
    add_rule(db, tenant, "demo_request", 100, now)
    with db.write() as session:
        trig = triggers.create_trigger(session, tenant, "milestone", {"score_threshold": 50, "webhook_url": url}, now)
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    with db.read() as session:
        (delivery_id,) = session.scalars(select(models.Delivery.id).where(models.Delivery.trigger_id == trig.id))
    return trig.signing_secret, delivery_id


def _delivery(db: Database, delivery_id: str) -> models.Delivery:
    with db.read() as session:
        row = session.get(models.Delivery, delivery_id)
        assert row is not None
        return row


def _dispatch_at(db: Database, at: datetime, holder: str = "test") -> int:
    # Other tests' leftovers live in other units; only count what this test's receiver sees.
    return dispatch_due(db, holder, lambda: at)


def test_delivers_a_signed_webhook_that_verifies(db: Database, tenant: Tenant, receiver: HttpReceiver) -> None:
    now = datetime.now(UTC)  # receivers check the signed timestamp against their own clock
    secret, delivery_id = _fire(db, tenant, now, receiver.url + "/hooks/leadvane")
    _dispatch_at(db, now)
    (req,) = receiver.wait_for(1)
    assert req.path == "/hooks/leadvane" and req.headers["webhook-id"] == delivery_id
    assert req.headers["webhook-signature"].startswith("v1,")
    payload = Webhook(secret).verify(req.body, {k: req.headers[k] for k in
                                                ("webhook-id", "webhook-timestamp", "webhook-signature")})
    assert payload["type"] == "trigger.milestone" and payload["data"]["score_after"] == 100
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(req.body.replace("100", "999"), req.headers)
    row = _delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    # Acknowledged with 2xx: never sent again, not even by hand.
    _dispatch_at(db, now + timedelta(hours=1))
    assert len(receiver.wait_for(2, timeout=0.3)) == 1


def test_receiver_down_then_up_gets_the_same_webhook_id(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, schedule: list[float]
) -> None:
    receiver.failures = 3
    _secret, delivery_id = _fire(db, tenant, now, receiver.url)
    t = now
    _dispatch_at(db, t)
    row = _delivery(db, delivery_id)
    assert (row.status, row.attempts) == ("pending", 1) and "503" in (row.last_error or "")
    assert row.next_attempt_at == t + timedelta(seconds=5)
    _dispatch_at(db, t + timedelta(seconds=4))  # not due yet
    assert _delivery(db, delivery_id).attempts == 1
    t += timedelta(seconds=5)
    _dispatch_at(db, t)
    assert _delivery(db, delivery_id).next_attempt_at == t + timedelta(seconds=30)
    t += timedelta(seconds=30)
    _dispatch_at(db, t)
    t += timedelta(seconds=120)
    _dispatch_at(db, t)
    row = _delivery(db, delivery_id)
    assert (row.status, row.attempts) == ("delivered", 4)
    requests = receiver.wait_for(4)
    assert len(requests) == 4 and {r.headers["webhook-id"] for r in requests} == {delivery_id}


def test_dead_after_the_last_attempt_and_retry_by_hand(
    api, now: datetime, receiver: HttpReceiver, schedule: list[float]  # type: ignore[no-untyped-def]
) -> None:
    db: Database = api.db
    receiver.failures = 100
    _secret, delivery_id = _fire(db, api.tenant, now, receiver.url)
    t = now
    for wait in [0.0, *schedule]:
        t += timedelta(seconds=wait)
        _dispatch_at(db, t)
    row = _delivery(db, delivery_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("dead", 4, None)
    listed = api.get("/v1/deliveries", params={"status": "dead"}).json()
    assert [(d["delivery_id"], d["attempts"], d["next_attempt_at"]) for d in listed] == [(delivery_id, 4, None)]
    assert "503" in listed[0]["last_error"]

    receiver.failures = 0
    retried = api.post(f"/v1/deliveries/{delivery_id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    _dispatch_at(db, datetime.now(now.tzinfo))
    assert _delivery(db, delivery_id).status == "delivered"
    requests = receiver.wait_for(5)
    assert {r.headers["webhook-id"] for r in requests} == {delivery_id}
    again = api.post(f"/v1/deliveries/{delivery_id}/retry")
    assert again.status_code == 409
    assert api.post("/v1/deliveries/msg_nope/retry").status_code == 404
    assert api.get("/v1/deliveries", params={"status": "bogus"}).status_code == 422


def test_other_tenants_never_see_deliveries(api, other_api, now: datetime, receiver: HttpReceiver) -> None:  # type: ignore[no-untyped-def]
    _secret, delivery_id = _fire(api.db, api.tenant, now, receiver.url)
    assert other_api.get("/v1/deliveries").json() == []
    assert other_api.post(f"/v1/deliveries/{delivery_id}/retry").status_code == 404


def test_two_dispatchers_never_send_one_delivery_twice(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver
) -> None:
    add_rule(db, tenant, "demo_request", 100, now)
    with db.write() as session:
        triggers.create_trigger(session, tenant, "milestone", {"score_threshold": 50, "webhook_url": receiver.url}, now)
    for i in range(20):
        send_event(db, tenant, f"p{i}@acme.io", "demo_request", now)
    barrier = threading.Barrier(2)

    def run(holder: str) -> None:
        barrier.wait()
        dispatch_due(db, holder, lambda: now)

    threads = [threading.Thread(target=run, args=(h,)) for h in ("one", "two")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ids = [r.headers["webhook-id"] for r in receiver.wait_for(20)]
    assert len(ids) == 20 and len(set(ids)) == 20


def test_a_claim_whose_sender_died_is_claimed_again(db: Database, tenant: Tenant, now: datetime) -> None:
    _secret, delivery_id = _fire(db, tenant, now, "http://127.0.0.1:9/unused")
    with db.write() as session:
        claimed = deliveries.claim_due(session, "crashed", now)
    assert delivery_id in [c.id for c in claimed]
    with db.write() as session:
        assert delivery_id not in [c.id for c in deliveries.claim_due(session, "other", now)]
    later = now + deliveries.CLAIM_LEASE
    with db.write() as session:
        again = [c for c in deliveries.claim_due(session, "other", later) if c.id == delivery_id]
    assert again and again[0].attempts == 2


def test_leases_exclude_a_second_holder_until_expiry(db: Database, now: datetime) -> None:
    name = f"job-{now.timestamp()}-{id(db)}"
    ttl = timedelta(seconds=30)
    with db.write() as session:
        assert leases.acquire(session, name, "a", now, ttl)
    with db.write() as session:
        assert not leases.acquire(session, name, "b", now + timedelta(seconds=10), ttl)
    with db.write() as session:
        assert leases.acquire(session, name, "a", now + timedelta(seconds=10), ttl)  # renew
    with db.write() as session:
        assert leases.acquire(session, name, "b", now + timedelta(seconds=41), ttl)
    with db.write() as session:
        leases.release(session, name, "b")
    with db.write() as session:
        assert leases.acquire(session, name, "c", now, ttl)
