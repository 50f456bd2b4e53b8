"""Every route declares its permission (x-permission in /openapi.json, from api.permissions), and the declared
permission is what a key's or credential's role meets before the route runs."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from fastapi.routing import APIRoute

from api.app import create_api
from api.permissions import PUBLIC, _api_routes, route_permission
from db.engine import Database
from services.tenancy import api_keys
from services.tenancy.policy import Action
from tests.conftest import ApiHarness

METHODS = {"get", "post", "put", "patch", "delete"}
KNOWN = {action.value for action in Action} | {PUBLIC}


def test_every_operation_in_the_openapi_document_declares_a_permission(api: ApiHarness) -> None:
    document = api.client.get("/openapi.json").json()
    operations = [(method, path, op) for path, item in document["paths"].items()
                  for method, op in item.items() if method in METHODS]
    assert operations
    undeclared = [f"{method.upper()} {path}" for method, path, op in operations if "x-permission" not in op]
    assert undeclared == [], "routes without a typed tenant or dependencies=[Public]: " + ", ".join(undeclared)
    unknown = {op["x-permission"] for _, _, op in operations} - KNOWN
    assert unknown == set()


def test_routes_left_out_of_the_document_declare_one_too(db: Database) -> None:
    """/metrics is not in the OpenAPI document (it answers Prometheus text) but still says it is public."""
    app = create_api(db)
    ours = [route for route in _api_routes(app.routes) if route.endpoint.__module__.startswith("api.routers.")]
    assert len(ours) > 50  # (the documentation pages, /docs and /redoc, come from fastapi_offline)
    missing = [route.path for route in ours if route_permission(route) is None]
    assert missing == []
    metrics = [route for route in _api_routes(app.routes) if isinstance(route, APIRoute) and route.path == "/metrics"]
    assert [route_permission(route) for route in metrics] == [PUBLIC]


def test_what_each_kind_of_route_asks_for(api: ApiHarness) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    expected = {
        ("get", "/healthz"): PUBLIC,
        ("get", "/v1/leads"): "read",
        ("post", "/v1/events"): "ingest",
        ("post", "/v1/events/batch"): "ingest",
        ("post", "/v1/signals"): "ingest",
        ("post", "/v1/crm/events"): "ingest",
        ("post", "/v1/rules"): "scoring.edit",
        ("put", "/v1/settings/scoring"): "scoring.edit",
        ("post", "/v1/triggers/milestones"): "triggers.edit",
        ("post", "/v1/events/import"): "import",
        ("get", "/v1/events/export"): "read",
        ("put", "/v1/settings/rate-limit"): "unit.manage",
        ("get", "/v1/me/rate-limit"): "self",
        ("get", "/v1/admin/audit-logs"): "audit.read",
        ("post", "/v1/secrets"): "keys.manage",
        ("get", "/v1/secrets"): "keys.manage",
    }
    assert {key: paths[key[1]][key[0]]["x-permission"] for key in expected} == expected


def test_an_ingest_credential_sends_events_but_may_not_read(api: ApiHarness) -> None:
    with api.db.write() as session:
        created = api_keys.create_credential(session, api.tenant, name="pipe", role="Ingest", now=datetime.now(UTC))
    pair = base64.b64encode(f"{created.client_id}:{created.client_secret}".encode()).decode()
    headers = {"Authorization": f"Basic {pair}"}
    read = api.client.get("/v1/leads", headers=headers)
    assert read.status_code == 403 and read.json()["error"]["code"] == "forbidden"
    assert api.client.get("/v1/rules", headers=headers).status_code == 403
    event = {"aliases": [{"alias_kind": "email", "raw_value": "ann@acme.com"}], "event_type": "page_view"}
    assert api.client.post("/v1/events", json=event, headers=headers).status_code == 201
    assert api.client.get("/v1/me/rate-limit", headers=headers).status_code == 200  # about itself: allowed


def test_a_viewer_key_may_not_write(api: ApiHarness) -> None:
    with api.db.write() as session:
        secret = api_keys.create_api_key(session, api.tenant, name="viewer", role="Viewer",
                                         now=datetime.now(UTC)).secret
    headers = {"Authorization": f"Bearer {secret}"}
    for method, path, body in [
        ("post", "/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "a@b.co"}], "event_type": "x"}),
        ("post", "/v1/triggers/milestones", {}),
        ("put", "/v1/settings/rate-limit", {}),
        ("post", "/v1/secrets", {"name": "mine"}),
        ("post", "/v1/admin/sample-data", None),
    ]:
        resp = api.client.request(method, path, json=body, headers=headers)
        assert resp.status_code == 403, (path, resp.text)
        assert resp.json()["error"]["code"] == "forbidden"
    assert api.client.get("/v1/leads", headers=headers).status_code == 200
