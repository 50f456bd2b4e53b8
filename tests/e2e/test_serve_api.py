"""The API as a user runs it: a real `manage.py serve-api` process, spoken to over loopback with requests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def manage(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        check=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve-api exited early with {process.returncode}: {process.stderr.read()}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("serve-api did not answer /healthz within 60 s")


@contextmanager
def running_api(env: dict[str, str], *args: str) -> Iterator[str]:
    """A real `manage.py serve-api` on a free loopback port with `env` and extra `args`; yields its base URL once it
    answers /healthz and stops it on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve-api", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def served(fresh_database_url: str) -> Iterator[tuple[str, str]]:
    """(base URL, API key) of a freshly migrated database served by a real process."""
    manage(fresh_database_url, "migrate")
    key = manage(fresh_database_url, "create-api-key", "--name", "e2e").stdout.strip().splitlines()[-1]
    with running_api({**os.environ, "DATABASE_URL": fresh_database_url}, "--no-scheduler") as base:
        yield base, key


def test_signals_and_events_round_trip_through_a_real_server(served: tuple[str, str]) -> None:
    base, key = served
    auth = {"Authorization": f"Bearer {key}"}
    with requests.Session() as http:
        signal = http.post(
            f"{base}/v1/signals",
            json={
                "type": "page_visit",
                "source": "website",
                "contact": {"email": "ada@lovelace-labs.com", "first_name": "Ada"},
                "account": {"domain": "lovelace-labs.com", "name": "Lovelace Labs"},
                "properties": {"page": "/pricing"},
                "occurred_at": "2026-11-01T09:30:00Z",
            },
            headers=auth,
            timeout=10,
        )
        assert signal.status_code == 201, signal.text
        created = signal.json()["data"]
        assert created["type"] == "page_visit"

        event = http.post(
            f"{base}/v1/events",
            json={
                "aliases": [{"alias_kind": "email", "raw_value": "Ada@Lovelace-Labs.com"}],
                "event_type": "demo_request",
                "timestamp": "2026-11-01T10:00:00Z",
                "metadata": {"form": "demo"},
            },
            headers=auth,
            timeout=10,
        )
        assert event.status_code == 201, event.text
        logged = event.json()["event"]
        assert logged["event_type"] == "demo_request"

        listed = http.get(
            f"{base}/v1/signals", params={"contact_email": "ada@lovelace-labs.com"}, headers=auth, timeout=10
        )
        assert listed.status_code == 200, listed.text
        types = sorted(item["type"] for item in listed.json()["data"])
        assert types == ["demo_request", "page_visit"]

        anonymous = http.post(f"{base}/v1/signals", json={"type": "page_visit"}, timeout=10)
        assert anonymous.status_code == 401
        error = anonymous.json()["error"]
        assert error["code"] and error["message"] and error["request_id"]
        wrong = http.get(f"{base}/v1/signals", headers={"Authorization": "Bearer sk_live_nope"}, timeout=10)
        assert wrong.status_code == 401


def test_concurrent_single_events_for_one_new_contact_make_one_lead(served: tuple[str, str]) -> None:
    base, key = served
    auth = {"Authorization": f"Bearer {key}"}

    def send(n: int) -> requests.Response:
        body = {"type": "email_open", "contact": {"email": "grace@hopper.example"}, "properties": {"n": n}}
        return requests.post(f"{base}/v1/signals", json=body, headers=auth, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(24)))
    assert [r.status_code for r in responses] == [201] * 24
    lead_ids = {r.json()["data"]["contact"]["id"] for r in responses}
    assert len(lead_ids) == 1
    listed = requests.get(
        f"{base}/v1/signals", params={"contact_email": "grace@hopper.example", "limit": 50}, headers=auth, timeout=10
    )
    assert sorted(item["properties"]["n"] for item in listed.json()["data"]) == list(range(24))
