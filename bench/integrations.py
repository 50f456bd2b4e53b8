#!/usr/bin/env python
"""Integrations benchmarks, one section each (add a section: a function(args, workdir) in SECTIONS).

slack: a real `manage.py serve-api` (with its dispatcher) on a fresh SQLite database, a Slack Web API on loopback
(tests.fakes.slack_server) and a unit connected to it through the OAuth flow; a milestone trigger posts through the
unit's Slack app to its default channel and, as the baseline measured in the same run, to a plain webhook receiver
on loopback. Events that cross it are sent at --rate events/s for --seconds; reported: p50/p99 from sending the
ingest request to chat.postMessage arriving at Slack (target p99 < 1 s, as webhooks) and to the webhook arriving.

research: research request -> signed completion webhook received, no provider (bench/research.py; target p99 < 2 s).
search: contact search over --leads leads (bench/research.py; target < 500 ms), against a plain top-25-by-score
query on the same data; with --database-url also on PostgreSQL.

    python bench/integrations.py [--rate 100] [--seconds 10] [--leads 100000] [--database-url URL] [--only slack]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from bench.harness import free_port, manage, pct, server  # noqa: E402
from bench.notify import add_rule  # noqa: E402
from db.engine import Database  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from tests.fakes.slack_server import start_slack_server  # noqa: E402
from tests.notify.receivers import LOOPBACK_ALLOW, start_http_receiver  # noqa: E402

Section = Callable[[argparse.Namespace, Path], None]
_LEAD = re.compile(r"bench(\d+)@acme\.io")


def _connect_unit(db: Database, code: str) -> None:
    """The default unit connected to the loopback Slack through the real install flow, default channel C0000."""
    from services.integrations import slack
    from services.tenancy.tenants import DEFAULT_TENANT

    owner = replace(DEFAULT_TENANT, role="Owner", org_role="Owner", member_id="bench", actor="bench")
    now = datetime.now(UTC)
    with db.write() as session:
        slack.set_app(session, owner, client_id="bench.app", client_secret="bench-secret", signing_secret=None,
                      now=now)
        url = slack.begin_install(session, owner, now)
    state = parse_qs(urlsplit(url).query)["state"][0]
    outcome = slack.complete_install(db, code, state, lambda: datetime.now(UTC))
    if not outcome.endswith("slack=connected"):
        raise SystemExit(f"slack: install failed: {outcome}")
    with db.write() as session:
        slack.set_default_target(session, owner, "channel", "C0000", datetime.now(UTC))


def bench_slack(args: argparse.Namespace, workdir: Path) -> None:
    from settings import get_settings

    rate, seconds = float(args.rate), float(args.seconds)
    url = f"sqlite:///{workdir / 'slack.db'}"
    fake = start_slack_server(client_id="bench.app", client_secret="bench-secret", channels=3, users=3)
    hooks = start_http_receiver()
    env = {**os.environ, "DATABASE_URL": url, "LEADVANE_OUTBOUND_ALLOW": LOOPBACK_ALLOW,
           "LEADVANE_SLACK_API_BASE_URL": fake.api_url, "LEADVANE_SECRETS_KEY": Fernet.generate_key().decode(),
           "LEADVANE_DATA_DIR": str(workdir)}
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "LEADVANE_OUTBOUND_ALLOW", "LEADVANE_SLACK_API_BASE_URL",
                                           "LEADVANE_SECRETS_KEY", "LEADVANE_DATA_DIR")})
    get_settings.cache_clear()
    upgrade(url)
    db = Database(url)
    from services.tenancy.tenants import DEFAULT_TENANT

    add_rule(db, DEFAULT_TENANT, "demo_request", 100)
    _connect_unit(db, fake.new_code())
    key = manage(url, "create-api-key", "--name", "bench").strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sent_at: dict[str, float] = {}
    lock = threading.Lock()
    total = int(rate * seconds)
    try:
        with server([sys.executable, "manage.py", "serve-api", "--port", str(port)], env, port):
            headers = {"Authorization": f"Bearer {key}"}
            created = requests.post(f"{base}/v1/triggers/milestones", headers=headers, timeout=10,
                                    json={"name": "Hot lead", "score_threshold": 50, "slack_target_kind": "channel",
                                          "webhook_url": hooks.url + "/hook"})
            created.raise_for_status()
            local = threading.local()

            def send(i: int) -> None:
                session = getattr(local, "s", None) or requests.Session()
                local.s = session
                start = time.monotonic()  # the fake Slack stamps calls with time.monotonic() too
                resp = session.post(f"{base}/v1/events", headers=headers, timeout=30, json={
                    "aliases": [{"alias_kind": "email", "raw_value": f"bench{i}@acme.io"}],
                    "event_type": "demo_request"})
                resp.raise_for_status()
                with lock:
                    sent_at[str(i)] = start

            begin = time.monotonic()
            with ThreadPoolExecutor(max_workers=16) as pool:
                for i in range(total):
                    delay = begin + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(send, i)
            fake.wait_for("chat.postMessage", total, timeout=60)
            hooks.wait_for(total, timeout=60)
    finally:
        fake.close()
        hooks.close()
        db.dispose()
    received: dict[str, float] = {}
    channels: set[str] = set()
    for call in fake.calls_to("chat.postMessage"):
        found = _LEAD.search(str(call.args.get("text") or ""))
        if found:
            received.setdefault(found.group(1), call.at)
            channels.add(str(call.args.get("channel")))
    latencies = [received[k] - sent_at[k] for k in sent_at if k in received]
    hooked: dict[str, float] = {}
    for req in hooks.requests:
        found = _LEAD.search(req.body)
        if found:
            hooked.setdefault(found.group(1), req.at)
    baseline = [hooked[k] - sent_at[k] for k in sent_at if k in hooked]
    print(f"slack: {len(sent_at)} milestone crossings at {rate:.0f} events/s over {seconds:.0f} s, through the unit's "
          f"Slack app to its default channel ({', '.join(sorted(channels)) or 'none'})")
    if latencies:
        print(f"slack: ingest -> chat.postMessage received p50 {pct(latencies, 50) * 1000:.0f} ms, "
              f"p99 {pct(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; "
              f"not received: {len(sent_at) - len(latencies)}")
    if latencies and baseline:
        ratio50, ratio99 = pct(latencies, 50) / pct(baseline, 50), pct(latencies, 99) / pct(baseline, 99)
        print(f"slack: baseline, the same firings' webhook received p50 {pct(baseline, 50) * 1000:.0f} ms, "
              f"p99 {pct(baseline, 99) * 1000:.0f} ms; Slack/webhook p50 {ratio50:.2f}x, p99 {ratio99:.2f}x")


def bench_research(args: argparse.Namespace, workdir: Path) -> None:
    from bench.research import completion_latency

    completion_latency(args.requests)


def bench_search(args: argparse.Namespace, workdir: Path) -> None:
    from bench.research import contact_search

    contact_search(args.leads)
    if args.database_url:
        contact_search(args.leads, args.database_url)


SECTIONS: list[tuple[str, Section]] = [("slack", bench_slack), ("research", bench_research), ("search", bench_search)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100, help="events per second (slack)")
    parser.add_argument("--seconds", type=float, default=10, help="how long to send (slack)")
    parser.add_argument("--requests", type=int, default=200, help="research requests (research)")
    parser.add_argument("--leads", type=int, default=100_000, help="leads to search (search)")
    parser.add_argument("--database-url", default=None, help="also search on this PostgreSQL server (search)")
    parser.add_argument("--only", choices=[name for name, _ in SECTIONS], action="append",
                        help="run only these sections (repeatable)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="leadvane-bench-integrations-") as folder:
        for name, section in SECTIONS:
            if args.only and name not in args.only:
                continue
            workdir = Path(folder) / name
            workdir.mkdir()
            section(args, workdir)


if __name__ == "__main__":
    main()
