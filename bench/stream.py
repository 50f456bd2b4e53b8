"""Live stream benchmark: `python bench/stream.py [--events N] [--database-url URL]`.

Measured in one run on this machine:
  (a) ingest -> client latency (p50/p99) of GET /v1/stream: a client connected to a real `manage.py serve-api`
      (SQLite, one process) while N single events are posted to POST /v1/events; the clock runs from just before
      the POST is sent to the moment its `event` message is read off the stream;
  (b) the same with two `serve-api` processes on PostgreSQL (client on one, events posted to the other: LISTEN/
      NOTIFY), when --database-url names a PostgreSQL server (a fresh database is made and dropped);
  (c) what the stream's one batch insert per ingest costs: single-event ingest transactions per second in this
      process on SQLite with the stream publish on and off (alternating rounds; the best round of each counts).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.engine import Database  # noqa: E402  (after the path set-up, as a script)
from services.context import Tenant  # noqa: E402
from services.tenancy.api_keys import create_api_key  # noqa: E402
from services.tenancy.tenants import create_unit  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def migrate(url: str) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate"], cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                   check=True, capture_output=True)


def new_unit(url: str) -> tuple[Tenant, str]:
    db = Database(url)
    try:
        with db.write() as session:
            tenant = create_unit(session, org_name="Bench org", unit_name=f"stream {uuid.uuid4().hex[:6]}",
                                 now=datetime.now(UTC))
            key = create_api_key(session, tenant, name="bench", now=datetime.now(UTC)).secret
    finally:
        db.dispose()
    return tenant, key


@contextmanager
def serve_api(url: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve-api", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("serve-api did not come up")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


class StreamReader(threading.Thread):
    """Reads GET /v1/stream and records when each event's email arrived (perf_counter)."""

    def __init__(self, port: int, key: str) -> None:
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", "/v1/stream", headers={"Authorization": f"Bearer {key}"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.read()
        assert self.resp.readline().startswith(b": connected")  # listening from here on
        self.arrived: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        event = None
        try:
            while not self.done.is_set():
                line = self.resp.readline()
                if not line:
                    return
                if line.startswith(b"event: "):
                    event = line[7:].strip()
                elif line.startswith(b"data: ") and event == b"event":
                    email = json.loads(line[6:]).get("email")
                    if email:
                        self.arrived[email] = time.perf_counter()
        except (OSError, ValueError, AttributeError):  # the connection was closed under us: done
            return

    def close(self) -> None:
        self.done.set()
        self.conn.close()


def measure_latency(listen_port: int, post_port: int, key: str, events: int, gap: float) -> list[float]:
    """Milliseconds from sending each POST to reading its event off the stream."""
    reader = StreamReader(listen_port, key)
    reader.start()
    poster = http.client.HTTPConnection("127.0.0.1", post_port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    sent: dict[str, float] = {}
    run = uuid.uuid4().hex[:6]
    for i in range(-5, events):  # five unmeasured first posts warm the servers up
        email = f"lead{i}-{run}@bench.example"
        body = json.dumps({"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": "page_visit"})
        if i >= 0:
            sent[email] = time.perf_counter()
        poster.request("POST", "/v1/events", body=body, headers=headers)
        resp = poster.getresponse()
        resp.read()
        assert resp.status in (200, 201), resp.status
        time.sleep(gap)
    deadline = time.monotonic() + 10
    while sum(e in reader.arrived for e in sent) < events and time.monotonic() < deadline:
        time.sleep(0.05)
    reader.close()
    missing = events - sum(e in reader.arrived for e in sent)
    if missing:
        print(f"  {missing} of {events} events never arrived within 10 s")
    return [(reader.arrived[e] - t) * 1000 for e, t in sent.items() if e in reader.arrived]


def report(label: str, latencies: list[float]) -> None:
    if not latencies:
        print(f"{label}: nothing arrived")
        return
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{label}: {len(ordered)} events, ingest->client p50 {statistics.median(ordered):.1f} ms, "
          f"p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms (target: under 1000 ms)")


def ingest_rate(url: str, publish_on: bool, seconds: float, batch: int = 1) -> float:
    """Events per second ingested in this process in transactions of `batch` events, with the stream's batch insert
    or without."""
    from services.ingest import ingest as ingest_module
    from services.ingest.contract import AliasInput, NewEvent, PersonRef

    tenant, _key = new_unit(url)
    db = Database(url)
    real = ingest_module.stream.publish
    if not publish_on:
        ingest_module.stream.publish = lambda *args, **kwargs: False  # type: ignore[assignment]
    try:
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            events = [
                NewEvent("page_visit", person=PersonRef(aliases=[AliasInput("email", f"p{n % 5000}@rate.example")]))
                for n in range(done, done + batch)
            ]
            with db.write() as session:
                ingest_module.ingest(session, tenant, events, datetime.now(UTC))
            done += batch
        return done / (time.perf_counter() - started)
    finally:
        ingest_module.stream.publish = real  # type: ignore[assignment]
        db.dispose()


def create_pg_database(server_url: str) -> str:
    from sqlalchemy import create_engine, make_url, text

    base = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"leadvane_bench_stream_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    from sqlalchemy import create_engine, make_url, text

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200, help="events posted per latency run")
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between posts")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per ingest-rate round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating on/off rounds of the ingest rate")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"),
                        help="PostgreSQL server for the two-worker run (a fresh database is made)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'stream.db'}"
        migrate(url)
        _tenant, key = new_unit(url)
        with serve_api(url) as port:
            report("(a) SQLite, one serve-api", measure_latency(port, port, key, args.events, args.gap))

        if args.database_url:
            pg = create_pg_database(args.database_url)
            try:
                migrate(pg)
                _tenant, key = new_unit(pg)
                with ExitStack() as stack:
                    first, second = stack.enter_context(serve_api(pg)), stack.enter_context(serve_api(pg))
                    report("(b) PostgreSQL, two serve-api (listen on 1, post to 2)",
                           measure_latency(first, second, key, args.events, args.gap))
            finally:
                drop_pg_database(pg)
        else:
            print("(b) skipped: pass --database-url (or TEST_DATABASE_URL) naming a PostgreSQL server")

        for batch in (1, 500):
            rates: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(args.rounds):
                for publish_on in (False, True):
                    rates[publish_on].append(ingest_rate(url, publish_on, args.seconds, batch))
            off, on = max(rates[False]), max(rates[True])
            off_med, on_med = statistics.median(rates[False]), statistics.median(rates[True])
            print(f"(c) SQLite in-process ingest, {batch}-event transactions: best {off:.0f} events/s without the "
                  f"stream batch, {on:.0f}/s with it ({(on - off) / off * 100:+.1f}%); median {off_med:.0f} vs "
                  f"{on_med:.0f} ({(on_med - off_med) / off_med * 100:+.1f}%); rounds off "
                  f"{[round(r) for r in rates[False]]}, on {[round(r) for r in rates[True]]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

