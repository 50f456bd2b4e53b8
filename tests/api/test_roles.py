"""Key roles through the API: a Viewer key reads everything (200) and every write is a 403 in the error envelope
with nothing changed; an Operator key edits scoring and sends events. Also: keys' last_used_at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from services.ingest.contract import AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import decay, levels, rules
from services.tenancy import api_keys
from tests.conftest import ApiHarness, enable_abm
from tests.db.test_policy import snapshot


def with_key(api: ApiHarness, role: str) -> ApiHarness:
    with api.db.write() as session:
        secret = api_keys.create_api_key(session, api.tenant, name=f"{role} key", role=role,
                                         now=datetime.now(UTC)).secret
    return ApiHarness(api.client, api.tenant, secret, api.db)


@pytest.fixture
def ids(api: ApiHarness, now: datetime) -> dict[str, str]:
    """The unit filled by its Owner: a second ruleset, a rule, a level, a decay rule and a scored event."""
    t = api.tenant
    with api.db.write() as session:
        extra = rules.create_ruleset(session, t, name="Fit", now=now)
        rule = rules.create_rule(session, t, {"event_type": "page_view", "weight": 5}, now=now)
        level = levels.create_level(session, t, name="Hot", min_score=50, max_score=1000, now=now)
        decay_rule = decay.create_decay(session, t, inactive_for=7, unit="days", decrease=5, now=now)
        ingest(session, t, [NewEvent("page_view", person=PersonRef(aliases=[AliasInput("email", "ann@acme.com")]))],
               now)
    enable_abm(api)  # /v1/accounts is among the reads
    return {"ruleset": extra.id, "rule": rule.id, "level": level["id"], "decay": decay_rule.id}


EVENT = {"aliases": [{"alias_kind": "email", "raw_value": "vic@acme.com"}], "event_type": "page_view"}

# (method, path, body): the writes whose services this branch guards (triggers, deliveries and CSV import are
# guarded in their own services).
WRITES: list[tuple[str, str, Any]] = [
    ("post", "/v1/events", EVENT),
    ("post", "/v1/events/batch", {"events": [EVENT]}),
    ("post", "/v1/signals", {"type": "page_view", "contact": {"email": "vic@acme.com"}}),
    ("post", "/v1/crm/events", {"type": "page_view", "person": {"emails": ["vic@acme.com"]}}),
    ("post", "/v1/rulesets", {"name": "Viewer's"}),
    ("put", "/v1/rulesets/{ruleset}", {"name": "Renamed"}),
    ("delete", "/v1/rulesets/{ruleset}", None),
    ("post", "/v1/rules", {"event_type": "demo_request", "weight": 10}),
    ("put", "/v1/rules/{rule}", {"event_type": "page_view", "weight": 50}),
    ("delete", "/v1/rules/{rule}", None),
    ("post", "/v1/levels/engagement", {"name": "Cold", "min_score": 0, "max_score": 49}),
    ("put", "/v1/levels/engagement/{level}", {"name": "Hotter", "min_score": 60, "max_score": 1000}),
    ("delete", "/v1/levels/engagement/{level}", None),
    ("post", "/v1/decays", {"inactive_for": 1, "unit": "weeks", "decrease": 1}),
    ("put", "/v1/decays/{decay}", {"decrease": 9}),
    ("delete", "/v1/decays/{decay}", None),
    ("put", "/v1/settings/scoring", {"allow_negative_scores": True}),
]

READS = [
    "/v1/leads", "/v1/accounts", "/v1/events", "/v1/signals", "/v1/rulesets", "/v1/rules", "/v1/levels/engagement",
    "/v1/decays", "/v1/settings/scoring", "/v1/rules/{rule}", "/v1/rulesets/{ruleset}",
]


def call(harness: ApiHarness, method: str, path: str, body: Any = None) -> Any:
    if method in ("post", "put"):
        return getattr(harness, method)(path, body)
    return getattr(harness, method)(path)


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_a_viewer_key_gets_403_on_every_write_and_nothing_changes(
    api: ApiHarness, ids: dict[str, str], method: str, path: str, body: Any
) -> None:
    viewer = with_key(api, "Viewer")
    with api.db.read() as session:
        before = snapshot(session, api.tenant)
    resp = call(viewer, method, path.format(**ids), body)
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert set(resp.json()) == {"error"} and set(error) == {"code", "message", "request_id"}
    assert error["code"] == "forbidden" and "Viewer" in error["message"]
    assert error["request_id"] == resp.headers["x-request-id"]
    with api.db.read() as session:
        after = snapshot(session, api.tenant)
    after.pop("api_keys"), before.pop("api_keys")  # the key's own last_used_at may be written by the request
    assert after == before


def test_a_viewer_key_reads_everything(api: ApiHarness, ids: dict[str, str]) -> None:
    viewer = with_key(api, "Viewer")
    for path in READS:
        resp = viewer.get(path.format(**ids))
        assert resp.status_code == 200, (path, resp.text)
    with api.db.read() as session:
        lead_id = session.scalar(select(models.Lead.id).where(models.Lead.unit_id == api.tenant.unit_id))
    assert viewer.get(f"/v1/leads/{lead_id}").status_code == 200
    assert viewer.get(f"/v1/leads/{lead_id}/score").status_code == 200


def test_an_operator_key_edits_scoring_and_sends_events(api: ApiHarness, ids: dict[str, str]) -> None:
    operator = with_key(api, "Operator")
    assert operator.post("/v1/rules", {"event_type": "demo_request", "weight": 10}).status_code == 201
    assert operator.put("/v1/settings/scoring", {"allow_negative_scores": True}).status_code == 200
    assert operator.post("/v1/events", {**EVENT, "event_type": "demo_request"}).status_code == 201
    with api.db.read() as session:
        rule = session.scalar(select(models.Rule).where(
            models.Rule.unit_id == api.tenant.unit_id, models.Rule.event_type == "demo_request"))
    assert rule is not None


def test_an_owner_key_can_still_do_everything(api: ApiHarness, ids: dict[str, str]) -> None:
    for method, path, body in WRITES:
        if method == "delete" or "{" in path:
            continue  # the creations and events are enough: the other writes are covered with the Owner elsewhere
        resp = call(api, method, path, body)
        assert resp.status_code in (200, 201), (path, resp.text)


# --- last_used_at ---------------------------------------------------------------------------------------------------


def last_used(api: ApiHarness, secret: str) -> datetime | None:
    with api.db.read() as session:
        return session.scalar(
            select(models.ApiKey.last_used_at).where(models.ApiKey.key_hash == api_keys.hash_secret(secret))
        )


def settle(api: ApiHarness) -> None:
    usage = getattr(api.client.app.state, "key_usage", None)  # type: ignore[attr-defined]
    if usage is not None:
        usage.flush()


def test_a_request_records_when_its_key_was_last_used(api: ApiHarness) -> None:
    fresh = with_key(api, "Viewer")
    assert last_used(api, fresh.key) is None
    before = datetime.now(UTC)
    assert fresh.get("/v1/leads").status_code == 200
    settle(api)
    used = last_used(api, fresh.key)
    assert used is not None and before - timedelta(seconds=1) <= used <= datetime.now(UTC)


def test_last_used_is_written_at_most_once_a_minute_per_key(api: ApiHarness) -> None:
    fresh = with_key(api, "Owner")
    fresh.get("/v1/leads")
    settle(api)
    first = last_used(api, fresh.key)
    assert first is not None
    # Make the stored time old: were every request to write, the next one would overwrite it.
    old = first - timedelta(hours=3)
    with api.db.write() as session:
        session.execute(models.ApiKey.__table__.update().where(
            models.ApiKey.__table__.c.key_hash == api_keys.hash_secret(fresh.key)).values(last_used_at=old))
    for _ in range(3):
        assert fresh.get("/v1/leads").status_code == 200
    settle(api)
    assert last_used(api, fresh.key) == old


def test_recording_a_use_never_holds_up_the_request(api: ApiHarness) -> None:
    """While another transaction holds the key's row (and, on SQLite, the writer lock), requests still answer."""
    fresh = with_key(api, "Viewer")
    with api.db.write() as session:
        session.execute(select(models.ApiKey.id).where(
            models.ApiKey.key_hash == api_keys.hash_secret(fresh.key)).with_for_update())
        for _ in range(2):
            assert fresh.get("/v1/rules").status_code == 200
        assert last_used(api, fresh.key) is None  # the record is waiting for our lock, not the request
    settle(api)
    assert last_used(api, fresh.key) is not None


def test_the_conditional_update_writes_a_key_once_per_minute_across_processes(api: ApiHarness, now: datetime) -> None:
    fresh = with_key(api, "Owner")
    key_hash = api_keys.hash_secret(fresh.key)
    writes = []
    for offset in (0, 20, 59, 60, 90, 121):
        with api.db.write() as session:
            writes.append(api_keys.record_use(session, key_hash, now + timedelta(seconds=offset)))
    assert writes == [True, False, False, True, False, True]
    assert last_used(api, fresh.key) == now + timedelta(seconds=121)


def test_create_api_key_command_takes_a_role(db_url_for_manage: str) -> None:
    from tests.e2e.test_manage import run

    created = run(db_url_for_manage, "create-api-key", "--name", "reader", "--role", "Viewer")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk_live_") and " " not in secret
    assert "Viewer" in created.stdout
    default = run(db_url_for_manage, "create-api-key", "--name", "writer")
    assert "role Owner" in default.stdout
    refused = run(db_url_for_manage, "create-api-key", "--name", "x", "--role", "Admin")
    assert refused.returncode != 0
    from db.engine import Database

    database = Database(db_url_for_manage)
    try:
        with database.read() as session:
            tenant = api_keys.authenticate(session, secret)
        assert tenant is not None and tenant.role == "Viewer"
    finally:
        database.dispose()


@pytest.fixture
def db_url_for_manage(db: Any) -> str:
    """The test database (migrated, so it has the default unit manage.py writes to)."""
    return str(db.engine.url.render_as_string(hide_password=False))
