"""Two real `serve-api` processes count a unit's API requests apart; stopped, their counts add up in usage."""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import UTC, datetime

import requests

from db.engine import Database
from db.migrate import upgrade
from services.tenancy import usage
from services.tenancy.api_keys import create_api_key
from services.tenancy.tenants import create_unit
from tests.e2e.test_serve_api import running_api


def test_two_processes_counts_add_up_after_an_orderly_stop(database_url: str) -> None:
    upgrade(database_url)
    db = Database(database_url)
    now = datetime.now(UTC)
    with db.write() as session:
        tenant = create_unit(session, org_name="Usage org", unit_name="usage", now=now)
        key = create_api_key(session, tenant, name="e2e", now=now).secret
    auth = {"Authorization": f"Bearer {key}"}
    env = {**os.environ, "DATABASE_URL": database_url}
    with ExitStack() as stack:
        first = stack.enter_context(running_api(env, "--no-scheduler"))
        second = stack.enter_context(running_api(env, "--no-scheduler"))
        for base, n in ((first, 3), (second, 4)):
            for _ in range(n):
                assert requests.get(f"{base}/v1/leads", headers=auth, timeout=30).status_code == 200
        assert requests.get(f"{first}/v1/leads", headers={"Authorization": "Bearer sk_live_nope"},
                            timeout=30).status_code == 401  # unauthenticated: not counted
    # Both stopped (SIGTERM): each wrote what it had counted on the way out, whatever its writer thread had done.
    with db.read() as session:
        counted = usage.month_usage(session, tenant, month=None, now=datetime.now(UTC))
    db.dispose()
    assert counted["api_requests"] == 7
    assert counted["days"][-1]["api_requests"] == 7 or now.date() != datetime.now(UTC).date()
