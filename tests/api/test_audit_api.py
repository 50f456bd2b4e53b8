"""GET /v1/admin/audit-logs and the recording of mutating requests, through the real API and database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from api.audit_middleware import auditor_of
from services.tenancy.api_keys import create_api_key
from tests.conftest import ApiHarness


def _flush(api: ApiHarness) -> None:
    app: Any = api.client.app
    auditor_of(app).flush()


def _items(api: ApiHarness, **params: object) -> list[dict[str, Any]]:
    _flush(api)
    resp = api.get("/v1/admin/audit-logs", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"items", "limit", "offset"}
    return body["items"]


def test_a_change_and_its_request_are_recorded_with_one_request_id(api: ApiHarness) -> None:
    resp = api.post("/v1/levels/engagement", {"name": "Hot", "min_score": 50, "max_score": 1000})
    assert resp.status_code == 201, resp.text
    request_id = resp.headers["x-request-id"]
    items = _items(api)
    change = next(i for i in items if i["action"] == "create")
    request = next(i for i in items if i["action"] == "request")
    assert (change["entity_type"], change["entity_id"]) == ("level", resp.json()["id"])
    assert change["user_email"] == "api key tests"
    assert change["changes"]["name"] == {"before": None, "after": "Hot"}
    assert change["request_id"] == request_id
    assert (request["method"], request["path"], request["status"]) == ("POST", "/v1/levels/engagement", 201)
    assert request["request_id"] == request_id and request["user_email"] == "api key tests"
    assert request["latency_ms"] >= 0


def test_failed_and_ingest_requests_are_recorded_reads_are_not(api: ApiHarness) -> None:
    assert api.post("/v1/levels/engagement", {"name": "Bad", "min_score": 10, "max_score": 1}).status_code == 422
    event = {"aliases": [{"alias_kind": "email", "raw_value": "a@acme.io"}], "event_type": "page_visit"}
    assert api.post("/v1/events", event).status_code == 201
    assert api.get("/v1/levels/engagement").status_code == 200
    requests = _items(api, method="POST")
    assert sorted((i["path"], i["status"]) for i in requests) == [("/v1/events", 201), ("/v1/levels/engagement", 422)]
    assert [i["status"] for i in _items(api, status_min=400, status_max=499)] == [422]
    assert not [i for i in _items(api) if i["method"] == "GET"]


def test_filters_search_sort_and_paging(api: ApiHarness) -> None:
    for name in ("A", "B", "C"):
        assert api.post("/v1/levels/engagement", {"name": name, "min_score": ord(name), "max_score": ord(name)}
                        ).status_code == 201
    everything = _items(api)
    times = [i["created_at"] for i in everything]
    assert times == sorted(times, reverse=True)  # newest first
    page = _items(api, limit=2, offset=1)
    assert [i["id"] for i in page] == [i["id"] for i in everything[1:3]]
    assert len(_items(api, search="engagement")) == 3
    assert _items(api, user_email="api key tests") and not _items(api, user_email="someone@else.com")
    statuses = [i["status"] for i in _items(api, method="POST", sort_by="status", sort_order="ASC")]
    assert statuses == sorted(statuses)


def test_another_unit_never_sees_the_entries(api: ApiHarness, other_api: ApiHarness) -> None:
    assert api.post("/v1/levels/engagement", {"name": "Hot", "min_score": 50, "max_score": 1000}).status_code == 201
    assert _items(api)
    seen = _items(other_api)
    assert all(i["path"] != "/v1/levels/engagement" and i["entity_type"] != "level" for i in seen)


def test_a_viewer_may_not_read_the_audit_log(api: ApiHarness, now: datetime) -> None:
    with api.db.write() as session:
        viewer = create_api_key(session, api.tenant, name="viewer", now=now, role="Viewer").secret
    client: TestClient = api.client
    resp = client.get("/v1/admin/audit-logs", headers={"Authorization": f"Bearer {viewer}"})
    assert resp.status_code == 403
    assert resp.json()["error"]["code"]


def test_query_parameters_are_validated(api: ApiHarness) -> None:
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"sort_by": "password"}, {"sort_order": "up"},
                   {"method": "TRACE"}, {"nope": 1}):
        assert api.get("/v1/admin/audit-logs", params=params).status_code == 422, params
