"""Credentials (/v1/secrets): an integration's client id and secret, shown once, used as HTTP Basic with the
credential's role; revoked ones stop working; nothing secret is ever listed, logged or echoed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from api.key_auth import KEY_CACHE_SECONDS, KeyCache
from db import models
from services.tenancy import api_keys
from tests.conftest import ApiHarness

EVENT = {"aliases": [{"alias_kind": "email", "raw_value": "ann@acme.com"}], "event_type": "page_view"}


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()}


def create(api: ApiHarness, **body: Any) -> dict[str, Any]:
    resp = api.post("/v1/secrets", {"name": "zapier", **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def forget_cache(api: ApiHarness) -> None:
    """What KEY_CACHE_SECONDS later looks like (or another API process): no valid pair remembered."""
    api.client.app.state.key_cache = KeyCache()  # type: ignore[attr-defined]


def test_a_credential_is_created_once_and_listed_without_its_secret(api: ApiHarness) -> None:
    created = create(api)
    assert set(created) == {"secret_id", "client_id", "client_secret", "name", "created_at", "role"}
    assert created["client_id"].startswith("ci_") and created["client_secret"].startswith("cs_")
    assert len(created["client_secret"]) >= 40 and created["name"] == "zapier"
    assert created["role"] == "Ingest"  # the least an integration needs, unless asked for more
    listed = api.get("/v1/secrets").json()
    assert [set(item) for item in listed] == [
        {"secret_id", "client_id", "name", "role", "created_at", "last_used_at"}
    ]
    assert listed[0]["secret_id"] == created["secret_id"] and listed[0]["client_id"] == created["client_id"]
    assert listed[0]["last_used_at"] is None
    assert created["client_secret"] not in api.get("/v1/secrets").text
    with api.db.read() as session:
        row = session.get(models.ApiKey, created["secret_id"])
        assert row is not None and row.kind == "credential"
        assert row.key_hash == api_keys.hash_secret(created["client_secret"])  # only the hash is stored
    # Credentials are not API keys: the keys' list (the settings page's) does not show them.
    with api.db.read() as session:
        assert created["secret_id"] not in {k.id for k in api_keys.list_api_keys(session, api.tenant)}


def test_an_ingest_credential_sends_events_and_may_not_read(api: ApiHarness) -> None:
    created = create(api)
    headers = basic(created["client_id"], created["client_secret"])
    sent = api.client.post("/v1/events", json=EVENT, headers=headers)
    assert sent.status_code == 201, sent.text
    read = api.client.get("/v1/leads", headers=headers)
    assert read.status_code == 403 and read.json()["error"]["code"] == "forbidden"
    assert api.client.get("/v1/secrets", headers=headers).status_code == 403
    with api.db.read() as session:
        lead = session.scalar(select(models.Lead).where(models.Lead.unit_id == api.tenant.unit_id))
    assert lead is not None  # the event landed in the credential's unit


def test_a_credential_acts_with_its_role_and_name(api: ApiHarness) -> None:
    viewer = create(api, name="bi tool", role="Viewer")
    headers = basic(viewer["client_id"], viewer["client_secret"])
    assert api.client.get("/v1/leads", headers=headers).status_code == 200
    refused = api.client.post("/v1/rules", json={"event_type": "x", "weight": 1}, headers=headers)
    assert refused.status_code == 403 and "Viewer" in refused.json()["error"]["message"]
    owner = create(api, name="terraform", role="Owner")
    headers = basic(owner["client_id"], owner["client_secret"])
    made = api.client.post("/v1/levels/engagement", json={"name": "Hot", "min_score": 50, "max_score": 1000},
                           headers=headers)
    assert made.status_code == 201, made.text
    with api.db.read() as session:
        actors = set(session.scalars(select(models.AuditLog.user_email).where(
            models.AuditLog.unit_id == api.tenant.unit_id, models.AuditLog.entity_type == "level")))
    assert actors == {"credential terraform"}


def test_wrong_unknown_or_malformed_basic_credentials_are_a_401_naming_nothing_secret(api: ApiHarness) -> None:
    created = create(api)
    good = basic(created["client_id"], created["client_secret"])
    assert api.client.get("/v1/me/rate-limit", headers=good).status_code == 200  # now cached as valid
    wrong_secret = "cs_" + "x" * 43
    attempts = [
        basic(created["client_id"], wrong_secret),  # a wrong secret never finds the cached pair
        basic(created["client_id"], created["client_secret"] + "x"),
        basic("ci_unknown", created["client_secret"]),
        basic(created["client_id"], ""),
        {"Authorization": "Basic not-base64!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon-here").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode()},
        {"Authorization": "Basic "},
    ]
    for headers in attempts:
        resp = api.client.post("/v1/events", json=EVENT, headers=headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.json()["error"]["code"] == "unauthorized"
        assert created["client_secret"] not in resp.text and wrong_secret not in resp.text
        assert created["client_id"] not in resp.text
    with api.db.read() as session:
        assert session.scalar(select(models.Lead.id).where(models.Lead.unit_id == api.tenant.unit_id)) is None


def test_a_revoked_credential_stops_working_and_is_gone_from_the_list(api: ApiHarness) -> None:
    created = create(api)
    headers = basic(created["client_id"], created["client_secret"])
    assert api.client.post("/v1/events", json=EVENT, headers=headers).status_code == 201
    assert api.delete(f"/v1/secrets/{created['secret_id']}").status_code == 204
    assert api.get("/v1/secrets").json() == []
    assert KEY_CACHE_SECONDS <= 5  # how long a process may still accept it
    forget_cache(api)
    refused = api.client.post("/v1/events", json=EVENT, headers=headers)
    assert refused.status_code == 401
    again = api.delete(f"/v1/secrets/{created['secret_id']}")
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"


def test_a_unit_never_sees_or_revokes_another_units_credentials(api: ApiHarness, other_api: ApiHarness) -> None:
    created = create(api)
    assert other_api.get("/v1/secrets").json() == []
    assert other_api.delete(f"/v1/secrets/{created['secret_id']}").status_code == 404
    # An API key's id is not a credential's: DELETE /v1/secrets does not revoke keys.
    with api.db.read() as session:
        key_id = session.scalar(select(models.ApiKey.id).where(
            models.ApiKey.unit_id == api.tenant.unit_id, models.ApiKey.kind == "api_key"))
    assert api.delete(f"/v1/secrets/{key_id}").status_code == 404
    assert api.get("/v1/leads").status_code == 200
    forget_cache(other_api)
    headers = basic(created["client_id"], created["client_secret"])
    assert api.client.post("/v1/events", json=EVENT, headers=headers).status_code == 201


def test_using_a_credential_records_when_it_was_last_used(api: ApiHarness) -> None:
    created = create(api)
    before = datetime.now(UTC)
    assert api.client.post("/v1/events", json=EVENT, headers=basic(created["client_id"], created["client_secret"]))\
        .status_code == 201
    api.client.app.state.key_usage.flush()  # type: ignore[attr-defined]
    listed = api.get("/v1/secrets").json()[0]
    assert listed["last_used_at"] is not None
    assert datetime.fromisoformat(listed["last_used_at"].replace("Z", "+00:00")) >= before.replace(microsecond=0)


def test_only_key_managers_handle_credentials(api: ApiHarness) -> None:
    for role in ("Operator", "Viewer", "Ingest"):
        with api.db.write() as session:
            secret = api_keys.create_api_key(session, api.tenant, name=role, role=role, now=datetime.now(UTC)).secret
        headers = {"Authorization": f"Bearer {secret}"}
        assert api.client.get("/v1/secrets", headers=headers).status_code == 403
        refused = api.client.post("/v1/secrets", json={"name": "x"}, headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert api.get("/v1/secrets").json() == []


def test_invalid_bodies_are_422_naming_the_field(api: ApiHarness) -> None:
    for body, field in [
        ({"name": ""}, "name"), ({"name": "x" * 51}, "name"), ({}, "name"),
        ({"name": "ok", "role": "Admin"}, "role"), ({"name": "ok", "secret": "mine"}, "secret"),
    ]:
        resp = api.post("/v1/secrets", body)
        assert resp.status_code == 422, (body, resp.text)
        assert field in resp.json()["error"]["message"], resp.text
    assert create(api, name="x" * 50)["name"] == "x" * 50
    assert api.get("/v1/secrets").json()[0]["name"] == "x" * 50


def test_the_audit_log_records_credentials_without_their_secret(api: ApiHarness) -> None:
    created = create(api, role="Viewer")
    assert api.delete(f"/v1/secrets/{created['secret_id']}").status_code == 204
    with api.db.read() as session:
        entries = session.execute(select(models.AuditLog.action, models.AuditLog.changes).where(
            models.AuditLog.unit_id == api.tenant.unit_id, models.AuditLog.entity_type == "credential",
            models.AuditLog.entity_id == created["secret_id"]).order_by(models.AuditLog.id)).all()
    assert [action for action, _ in entries] == ["create", "revoke"]
    text = json.dumps([list(entry) for entry in entries])  # (a Row's repr shortens long values)
    assert created["client_secret"] not in text and api_keys.hash_secret(created["client_secret"]) not in text
    assert "Viewer" in text
