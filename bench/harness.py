"""What the HTTP benchmarks share: free ports, fresh databases, `manage.py` and `serve-api` processes, request
bodies and the closed-loop single-signal load (used by bench/ingest.py, bench/rate_limit.py, bench/metrics.py and
bench/import_csv.py)."""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


EMAIL_POOL = 5_000
EVENT_TYPES = ("page_visit", "email_open", "email_click", "form_submit", "demo_request", "webinar_attended")


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not come up")


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[int]:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for(port, process)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def fresh_database(database_url: str | None, workdir: Path) -> Iterator[str]:
    if database_url is None or database_url.startswith("sqlite"):
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(database_url).set(drivername="postgresql+psycopg")
    name = f"leadvane_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- request bodies --------------------------------------------------------------------------------------------------


def email(rng: random.Random) -> str:
    n = rng.randrange(EMAIL_POOL)
    return f"person{n}@company{n % 400}.example.com"


def signal_body(rng: random.Random) -> bytes:
    address = email(rng)
    return json.dumps(
        {
            "type": rng.choice(EVENT_TYPES),
            "source": "bench",
            "contact": {"email": address, "first_name": "Bench"},
            "account": {"domain": address.split("@", 1)[1]},
            "properties": {"page": rng.choice(("/", "/pricing", "/blog")), "campaign": "bench"},
        }
    ).encode()


def batch_body(rng: random.Random, size: int, base_time: datetime) -> bytes:
    events = [
        {
            "aliases": [{"alias_kind": "email", "raw_value": email(rng)}],
            "event_type": rng.choice(EVENT_TYPES),
            "timestamp": (base_time + timedelta(seconds=i)).isoformat(),
            "metadata": {"page": rng.choice(("/", "/pricing", "/blog")), "campaign": "bench"},
        }
        for i in range(size)
    ]
    return json.dumps({"events": events}).encode()


# --- closed-loop throughput ------------------------------------------------------------------------------------------


def _load_process(
    port: int, headers: dict[str, str], seed: int, threads: int, start: float, stop: float, out: Any
) -> None:
    ok = errors = 0
    lock = threading.Lock()

    def one_connection(thread_seed: int) -> None:
        nonlocal ok, errors
        rng = random.Random(thread_seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine_ok = mine_err = 0
        while True:
            body = signal_body(rng)
            conn.request("POST", "/v1/signals", body, headers)
            response = conn.getresponse()
            response.read()
            finished = time.time()
            if finished >= stop:
                break
            if finished >= start:
                if response.status == 201:
                    mine_ok += 1
                else:
                    mine_err += 1
        conn.close()
        with lock:
            ok += mine_ok
            errors += mine_err

    workers = [threading.Thread(target=one_connection, args=(seed * 100 + i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((ok, errors))


def requests_per_second(port: int, headers: dict[str, str], duration: float, connections: int) -> tuple[float, int]:
    """Single-signal requests/s over `connections` keep-alive connections spread over two load processes."""
    processes = 2 if connections >= 2 else 1
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start = time.time() + 1.5  # one second of warm-up is not counted
    stop = start + duration
    procs = [
        ctx.Process(
            target=_load_process,
            args=(port, headers, 1000 + p, connections // processes + (p < connections % processes), start, stop, out),
        )
        for p in range(processes)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return ok / duration, errors
