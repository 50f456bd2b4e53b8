"""Nothing is lost across a crash: real `manage.py serve-api` / `run-scheduler` processes and a loopback receiver."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from db import models
from db.ids import new_id
from services.tenancy.tenants import DEFAULT_TENANT
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.notify.receivers import HttpReceiver, free_port, start_http_receiver

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _env(database_url: str) -> dict[str, str]:
    # The receiver listens on loopback, which the outbound guard refuses unless allowed.
    return {**os.environ, "DATABASE_URL": database_url, "LEADVANE_WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1,1,1,1,1,1",
            "LEADVANE_OUTBOUND_ALLOW": "127.0.0.1/32,::1/128"}


def _manage(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=_env(database_url),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _start(database_url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=_env(database_url),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert proc.poll() is None, "serve-api exited"
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("serve-api did not become healthy")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'leadvane.db'}" if request.param == "sqlite" else create_postgres_database("lv_dlv")
    _manage(url, "migrate")
    engine = create_engine(url)
    with engine.begin() as conn:
        ruleset_id = conn.execute(select(models.Ruleset.id).where(models.Ruleset.unit_id == DEFAULT_TENANT.unit_id,
                                                                  models.Ruleset.is_primary)).scalar_one()
        now = datetime.now(UTC)
        conn.execute(models.Rule.__table__.insert().values(
            id=new_id("rule"), org_id=DEFAULT_TENANT.org_id, unit_id=DEFAULT_TENANT.unit_id, ruleset_id=ruleset_id,
            event_type="demo_request", weight=100, active=True, conditions=[], created_at=now, updated_at=now))
    engine.dispose()
    yield url
    if request.param == "postgresql":
        drop_postgres_database(url)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    rec = start_http_receiver()
    yield rec
    rec.close()


def _delivery_rows(database_url: str) -> list[tuple[str, str, int]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            d = models.Delivery
            return [tuple(r) for r in conn.execute(select(d.id, d.status, d.attempts))]  # type: ignore[misc]
    finally:
        engine.dispose()


def _fire_through_api(base: str, key: str, hook: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    created = requests.post(f"{base}/v1/triggers/milestones", json={"score_threshold": 50, "webhook_url": hook},
                            headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    event = requests.post(f"{base}/v1/events", json={"aliases": [{"alias_kind": "email", "raw_value": "a@acme.io"}],
                                                      "event_type": "demo_request"}, headers=headers, timeout=10)
    assert event.status_code == 201, event.text


def test_killed_while_the_receiver_is_down_then_delivered_after_restart(
    database_url: str, receiver: HttpReceiver
) -> None:
    key = _manage(database_url, "create-api-key", "--name", "e2e").stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver.failures = 10_000  # down
    api = _start(database_url, "serve-api", "--port", str(port))
    try:
        _wait_healthy(base, api)
        _fire_through_api(base, key, receiver.url + "/hook")
        failed = receiver.wait_for(2)  # the first attempt, then a retry after the 1 s backoff
        assert len(failed) >= 2
    finally:
        _kill(api)
    (delivery_id, status, attempts) = _delivery_rows(database_url)[0]
    assert status in ("pending", "sending") and attempts >= 2

    receiver.failures = 0  # the receiver comes back; a fresh scheduler process picks the delivery up
    seen = len(receiver.requests)
    scheduler = _start(database_url, "run-scheduler")
    try:
        # Killed mid-send, the claim is retaken once its lease (30 s) runs out; otherwise within a second.
        requests_after = receiver.wait_for(seen + 1, timeout=90)
        for _ in range(200):  # the acknowledgement is recorded just after the receipt
            if _delivery_rows(database_url)[0][1] == "delivered":
                break
            time.sleep(0.05)
    finally:
        _kill(scheduler)
    assert len(requests_after) > seen
    assert {r.headers["webhook-id"] for r in requests_after} == {delivery_id}
    assert _delivery_rows(database_url)[0][1] == "delivered"


def test_killed_between_firing_and_delivery_then_run_scheduler_once(
    database_url: str, receiver: HttpReceiver
) -> None:
    key = _manage(database_url, "create-api-key", "--name", "e2e").stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = _start(database_url, "serve-api", "--port", str(port), "--no-scheduler")
    try:
        _wait_healthy(base, api)
        _fire_through_api(base, key, receiver.url + "/hook")
    finally:
        _kill(api)
    assert receiver.requests == []
    ((delivery_id, status, _attempts),) = _delivery_rows(database_url)
    assert status == "pending"
    once = _manage(database_url, "run-scheduler", "--once")
    assert "deliveries: 1" in once.stdout
    (req,) = receiver.wait_for(1)
    assert req.headers["webhook-id"] == delivery_id
    _manage(database_url, "run-scheduler", "--once")  # acknowledged with 2xx: never sent again
    assert len(receiver.requests) == 1 and _delivery_rows(database_url)[0][1] == "delivered"

