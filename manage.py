#!/usr/bin/env python
"""Leadvane's command line: python manage.py <command> --help."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db.engine import Database
from services.tenancy.policy import KEY_ROLES
from services.tenancy.tenants import DEFAULT_TENANT


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_migrate(_args: argparse.Namespace) -> int:
    from db.migrate import upgrade

    upgrade()
    print("database migrated to the latest schema")
    return 0


def cmd_create_api_key(args: argparse.Namespace) -> int:
    from services.errors import ServiceError
    from services.tenancy.api_keys import create_api_key_in_unit

    db = Database()
    try:
        with db.write() as session:
            created = create_api_key_in_unit(session, args.unit, name=args.name, role=args.role, now=_now())
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"API key {created.id} ({created.name}, role {created.role}) created for unit {args.unit}.")
    print("Store it now: it is shown only once.")
    print(created.secret)  # alone on the last line: scripts read it from there
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from services.errors import ServiceError
    from services.tenancy.users import create_user

    db = Database()
    try:
        with db.write() as session:
            user = create_user(
                session, DEFAULT_TENANT, email=args.email, password=args.password, role=args.role, name=args.name,
                now=_now(), first_name=args.first_name, last_name=args.last_name,
            )
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"user {user.email} created with role {user.role}")
    return 0


def _serve_log_config(level: str, log_requests: bool) -> dict[str, Any]:
    """uvicorn's logging setup plus our request log (one line per request with its request_id), in every worker."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["leadvane"] = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    config["handlers"]["leadvane"] = {"class": "logging.StreamHandler", "formatter": "leadvane",
                                      "stream": "ext://sys.stdout"}
    config["loggers"]["leadvane"] = {"handlers": ["leadvane"], "level": level.upper(), "propagate": False}
    if log_requests:
        # The request log replaces uvicorn's access log: it carries the request_id that errors show.
        config["loggers"]["leadvane.requests"] = {"level": "INFO"}
    return config


def _metrics_dir() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR, created if missing: prometheus_client opens its files there when first imported,
    so this runs before anything imports it. Processes sharing it (API workers, a scheduler) share /metrics."""
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        Path(metrics_dir).mkdir(parents=True, exist_ok=True)
    return metrics_dir


def cmd_serve_api(args: argparse.Namespace) -> int:
    metrics_dir = _metrics_dir()
    import uvicorn

    base = f"http://{args.host}:{args.port}"
    log_config = _serve_log_config(args.log_level, not args.no_request_log)
    print(f"Leadvane API listening on {base} (docs at {base}/docs, OpenAPI at {base}/openapi.json)", flush=True)
    if args.workers > 1:
        # Several worker processes: each builds its own app; the scheduler must run elsewhere.
        # /metrics must sum every worker's counts: without a chosen directory, use a fresh one for this run.
        own_dir = None if metrics_dir else tempfile.mkdtemp(prefix="leadvane-metrics-")
        if own_dir:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir  # the spawned workers inherit it
        try:
            uvicorn.run(
                "api.app:create_api", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=args.log_level, log_config=log_config, access_log=False,
            )
        finally:
            if own_dir:
                shutil.rmtree(own_dir, ignore_errors=True)
        return 0
    from api.app import create_api

    db = Database()
    scheduler = None
    if not args.no_scheduler:
        from scheduler.runner import start_scheduler

        scheduler = start_scheduler(db)
    try:
        uvicorn.run(
            create_api(db), host=args.host, port=args.port, log_level=args.log_level, log_config=log_config,
            access_log=False,
        )
    finally:
        if scheduler is not None:
            from scheduler.runner import stop_scheduler

            stop_scheduler(scheduler)
    return 0


def cmd_run_scheduler(args: argparse.Namespace) -> int:
    import signal
    import threading

    _metrics_dir()
    from scheduler import jobs

    db = Database()
    if args.once:
        for job_id, result in jobs.run_all_once(db).items():
            print(f"{job_id}: {'skipped (another process holds its lease)' if result is None else result}")
        return 0
    from scheduler.runner import start_scheduler, stop_scheduler

    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    scheduler = start_scheduler(db)
    print("scheduler running (decay, trigger windows, deliveries); Ctrl-C stops it", flush=True)
    stopped.wait()
    stop_scheduler(scheduler)
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from services.operations.demo import seed_demo

    db = Database()
    with db.write() as session:
        summary = seed_demo(session, DEFAULT_TENANT, now=_now(), leads=args.leads, force=args.force)
    print(summary)
    return 0


def cmd_rescore(_args: argparse.Namespace) -> int:
    from services.people.profiles import rebuild_profiles
    from services.scoring.publisher import rescore_now

    db = Database()
    summary = rescore_now(db, DEFAULT_TENANT)  # under the newest published version, which it makes live
    print(f"rescored {summary.events} events, {summary.leads} leads, {summary.accounts} accounts")
    with db.write() as session:
        profiles = rebuild_profiles(session, DEFAULT_TENANT, _now())
    print(f"rebuilt profiles from the log ({profiles} changed) and recomputed fit")
    return 0


def cmd_verify_scores(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from db import models
    from services.context import Tenant
    from services.people.profiles import verify_profiles
    from services.scoring.fit import verify_fit
    from services.scoring.model import published_model
    from services.scoring.rescore import verify_unit

    db = Database()
    failed = 0
    with db.read() as session:
        units = (
            [Tenant(org_id=o, unit_id=u) for u, o in session.execute(select(models.Unit.id, models.Unit.org_id))]
            if args.all
            else [DEFAULT_TENANT]
        )
        for tenant in units:
            events = session.scalar(
                select(func.count()).select_from(models.Event).where(models.Event.unit_id == tenant.unit_id)
            )
            problems = verify_unit(session, tenant) + verify_profiles(session, tenant)
            problems += verify_fit(session, tenant, published_model(session, tenant))
            for line in problems[:50]:
                print(f"{tenant.unit_id}: {line}")
            verdict = (
                "stored scores, profiles and fit equal the replayed event log"
                if not problems else f"{len(problems)} differences"
            )
            print(f"unit {tenant.unit_id} ({events} events): {verdict}")
            failed += bool(problems)
    return 1 if failed else 0


def cmd_repair(_args: argparse.Namespace) -> int:
    from services.ingest.repair import repair_text

    db = Database()
    with db.write() as session:
        report = repair_text(session, _now())
    for fix in report.fixes:
        print(fix.describe())
    if not report.fixes:
        print("nothing to repair: no lone surrogates or NUL characters in stored text")
    else:
        print(f"repaired {report.rows_fixed} value(s) in {len(report.units)} unit(s)")
        print("scores may depend on the repaired text: run `manage.py verify-scores` (and `rescore` if it differs)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manage.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-api-key", help="create an API key; prints the secret alone on the last line")
    p.add_argument("--name", required=True)
    p.add_argument("--unit", default=DEFAULT_TENANT.unit_id, help=f"the unit's id (default {DEFAULT_TENANT.unit_id})")
    p.add_argument("--role", default="Owner", choices=list(KEY_ROLES),
                   help="what the key may do (default Owner; Viewer keys only read, Ingest keys only send events)")
    p.set_defaults(func=cmd_create_api_key)

    p = sub.add_parser(
        "create-user", help="create an organization member with this role in it and in the default unit"
    )
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--role", required=True, choices=["Owner", "Operator", "Viewer"])
    p.add_argument("--name")
    p.add_argument("--first-name")
    p.add_argument("--last-name")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("serve-api", help="serve the REST API with uvicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--no-scheduler", action="store_true", help="do not run the scheduler in this process")
    p.add_argument("--log-level", default="warning", help="uvicorn's and Leadvane's log level")
    p.add_argument("--no-request-log", action="store_true", help="do not log one line per request")
    p.set_defaults(func=cmd_serve_api)

    p = sub.add_parser("run-scheduler", help="run the scheduler (decay, trigger windows, deliveries) alone")
    p.add_argument("--once", action="store_true", help="run every job once and exit")
    p.set_defaults(func=cmd_run_scheduler)

    p = sub.add_parser("seed-demo", help="fill the default unit with a realistic demo")
    p.add_argument("--leads", type=int, default=300)
    p.add_argument("--force", action="store_true", help="seed even if the unit already has events")
    p.set_defaults(func=cmd_seed_demo)

    sub.add_parser("rescore", help="rebuild stored scores from the event log").set_defaults(func=cmd_rescore)
    p = sub.add_parser("verify-scores", help="check stored scores equal a replay of the event log")
    p.add_argument("--all", action="store_true", help="every unit of the database, not only the default one")
    p.set_defaults(func=cmd_verify_scores)
    sub.add_parser(
        "repair", help="replace lone surrogates (U+FFFD) and remove NUL characters in stored text"
    ).set_defaults(func=cmd_repair)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
