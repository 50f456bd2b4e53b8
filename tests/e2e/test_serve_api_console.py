"""What `manage.py serve-api` tells its operator: where it listens, and one log line per request with its id."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.test_serve_api import ROOT, free_port, manage

pytestmark = pytest.mark.e2e


def test_serve_api_prints_its_address_and_logs_each_request(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'leadvane.db'}"
    manage(database_url, "migrate")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve-api", "--port", str(port), "--no-scheduler"], cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert f"listening on {base}" in first and f"{base}/docs" in first
        deadline = time.monotonic() + 60
        while True:
            try:
                ok = requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "serve-api did not answer within 60 s"
                time.sleep(0.2)
        refused = requests.get(f"{base}/v1/leads", headers={"Authorization": "Bearer sk_live_nope"}, timeout=5)
        assert refused.status_code == 401
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    for response, line in ((ok, "GET /healthz 200 "), (refused, "GET /v1/leads 401 ")):
        assert f"{response.headers['x-request-id']} {line}" in output, output
