"""`manage.py repair`: a unit holding lone surrogates or NUL characters (stored before the input guard) works again."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from services.ingest.repair import repair_text
from services.scoring.rescore import rescore_unit
from tests.conftest import ApiHarness, add_rule, enable_abm

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def seed(api: ApiHarness) -> None:
    add_rule(api, "page_visit", 10)
    resp = api.post("/v1/signals", {
        "type": "page_visit", "account": {"domain": "acme.com", "name": "Acme"},
        "contact": {"email": "ann@acme.com", "first_name": "Ann"}, "properties": {"note": "fine"},
    })
    assert resp.status_code == 201, resp.text


def poison(api: ApiHarness) -> None:
    """Write what SQLite accepted before the guard: JSON with lone surrogate and NUL escapes, raw bad bytes."""
    unit = {"unit": api.tenant.unit_id}
    with api.db.write() as session:
        session.execute(
            text("UPDATE events SET metadata = :m WHERE unit_id = :unit"),
            {**unit, "m": '{"note": "bad \\ud800 x", "k\\u0000ey": ["\\udfff", 1]}'},
        )
        session.execute(
            text("UPDATE leads SET first_name = 'An' || char(0) || 'n', metadata = :m WHERE unit_id = :unit"),
            {**unit, "m": '{"title": "C\\udc00TO"}'},
        )
        # "Acme" followed by the UTF-8 encoding of U+D800, which no Python str decodes.
        session.execute(text("UPDATE accounts SET name = CAST(X'41636D65EDA080' AS TEXT) WHERE unit_id = :unit"), unit)


def test_repair_makes_a_poisoned_unit_work_again(api: ApiHarness, other_api: ApiHarness) -> None:
    if api.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses NUL and lone surrogates: such rows cannot exist there")
    seed(api)
    seed(other_api)
    poison(api)
    # The symptom: the unit's reads and its rescore fail.
    assert api.get("/v1/events").status_code == 500
    with pytest.raises(ValueError), api.db.write() as session:
        rescore_unit(session, api.tenant)

    with api.db.write() as session:
        report = repair_text(session, NOW)
    fixed = {(fix.table, fix.column): fix for fix in report.fixes}
    assert set(fixed) == {("events", "metadata"), ("leads", "first_name"), ("leads", "metadata"), ("accounts", "name")}
    assert fixed["events", "metadata"].surrogates == 2 and fixed["events", "metadata"].nuls == 1
    assert fixed["leads", "first_name"].nuls == 1 and fixed["accounts", "name"].surrogates == 1
    assert report.units == {api.tenant.unit_id}  # the other unit was clean and is untouched
    assert "1 NUL character(s) removed" in fixed["leads", "first_name"].describe()

    events = api.get("/v1/events")
    assert events.status_code == 200, events.text
    assert events.json()[0]["metadata"] == {"note": "bad \ufffd x", "key": ["\ufffd", 1]}
    leads = api.get("/v1/leads")
    assert leads.status_code == 200, leads.text
    (lead,) = leads.json()["leads"]
    assert lead["first_name"] == "Ann"
    detail = api.get(f"/v1/leads/{lead['id']}")
    assert detail.status_code == 200 and detail.json()["lead"]["metadata"]["title"] == "C\ufffdTO"
    enable_abm(api)
    accounts = api.get("/v1/accounts")
    assert accounts.status_code == 200 and accounts.json()["accounts"][0]["name"] == "Acme\ufffd"
    export = api.get("/v1/events/export")
    assert export.status_code == 200 and r"bad \ufffd x" in export.text  # metadata as JSON text in the CSV
    with api.db.write() as session:
        summary = rescore_unit(session, api.tenant)
    assert summary.events == 1
    # A rule change (which rescores the unit) works too.
    resp = api.post("/v1/rules", {"event_type": "page_visit", "weight": 3})
    assert resp.status_code in (200, 201), resp.text

    with api.db.write() as session:
        assert repair_text(session, NOW).fixes == []  # nothing left to repair


def test_repair_of_clean_data_changes_nothing(api: ApiHarness) -> None:
    seed(api)
    with api.db.write() as session:
        report = repair_text(session, NOW, api.tenant)
    assert report.fixes == [] and report.at == NOW
    assert api.get("/v1/events").json()[0]["metadata"] == {"note": "fine"}


def test_manage_py_repair_prints_what_it_fixed(api: ApiHarness) -> None:
    if api.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses NUL and lone surrogates: such rows cannot exist there")
    seed(api)
    poison(api)
    url = api.db.engine.url.render_as_string(hide_password=False)
    run = subprocess.run(
        [sys.executable, "manage.py", "repair"], cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "events.metadata" in run.stdout and "lone surrogate(s) replaced with U+FFFD" in run.stdout
    assert "accounts.name" in run.stdout and "leads.first_name" in run.stdout
    assert api.get("/v1/events").status_code == 200
