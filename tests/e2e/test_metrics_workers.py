"""/metrics from a real `serve-api --workers 2`: whichever worker answers a scrape, it reports every worker's counts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_serve_api import manage, running_api

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
EVENT: dict[str, Any] = {"aliases": [{"alias_kind": "email", "raw_value": "ann@acme.com"}], "event_type": "page_view"}


@contextmanager
def two_workers(fresh_database_url: str, metrics_dir: Path | None) -> Iterator[tuple[str, str]]:
    manage(fresh_database_url, "migrate")
    key = manage(fresh_database_url, "create-api-key", "--name", "e2e").stdout.strip().splitlines()[-1]
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["DATABASE_URL"] = fresh_database_url
    if metrics_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    with running_api(env, "--workers", "2") as base:
        yield base, key


def ingest(base: str, key: str, n: int) -> None:
    """`n` events over fresh connections from 8 threads, so both workers take some."""

    def one(_: int) -> int:
        return requests.post(f"{base}/v1/events", json=EVENT, headers={"Authorization": f"Bearer {key}"},
                             timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(n))) == {201}


def scraped_ingested(base: str) -> float:
    resp = requests.get(f"{base}/metrics", timeout=10)  # a new connection each time: any worker may answer
    assert resp.status_code == 200, resp.text
    for family in text_string_to_metric_families(resp.text):
        if family.name == "events_ingested":
            return sum(s.value for s in family.samples if s.name == "events_ingested_total")
    raise AssertionError("no events_ingested on /metrics")


def ingested_per_process(metrics_dir: Path) -> dict[str, float]:
    """events_ingested_total as each worker process wrote it to its own file."""
    counts: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == "events_ingested_total":
                    counts[path.name] = counts.get(path.name, 0.0) + sample.value
    return counts


def test_two_workers_sum_their_counts_in_a_shared_metrics_directory(fresh_database_url: str, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"  # serve-api creates it
    with two_workers(fresh_database_url, metrics_dir) as (base, key):
        total = 0
        # Until both workers have ingested some: then a one-process answer could not show the total.
        while len([c for c in ingested_per_process(metrics_dir).values() if c > 0]) < 2:
            assert total < 400, f"one worker took every request: {ingested_per_process(metrics_dir)}"
            ingest(base, key, 20)
            total += 20
        assert sum(ingested_per_process(metrics_dir).values()) == total
        assert [scraped_ingested(base) for _ in range(10)] == [total] * 10


def test_serve_api_with_workers_and_no_directory_still_sums_every_worker(fresh_database_url: str) -> None:
    with two_workers(fresh_database_url, None) as (base, key):
        ingest(base, key, 40)
        assert [scraped_ingested(base) for _ in range(10)] == [40] * 10


def test_a_scheduler_process_sharing_the_directory_shows_its_job_times_on_the_api(
    fresh_database_url: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "prometheus"
    env = {**os.environ, "DATABASE_URL": fresh_database_url, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with two_workers(fresh_database_url, metrics_dir) as (base, _key):
        scheduler = subprocess.Popen(
            [sys.executable, "manage.py", "run-scheduler"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 30
            jobs_timed: set[str] = set()
            while time.monotonic() < deadline and not jobs_timed >= {"decay", "trigger-windows", "deliveries"}:
                assert scheduler.poll() is None, scheduler.stderr.read() if scheduler.stderr else ""
                resp = requests.get(f"{base}/metrics", timeout=10)
                jobs_timed = {
                    s.labels["job"] for f in text_string_to_metric_families(resp.text)
                    if f.name == "scheduler_job_seconds" for s in f.samples
                    if s.name == "scheduler_job_seconds_count" and s.value >= 1
                }
                time.sleep(0.3)
            assert jobs_timed >= {"decay", "trigger-windows", "deliveries"}
        finally:
            scheduler.terminate()
            scheduler.wait(timeout=15)
