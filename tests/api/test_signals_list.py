"""GET /v1/signals (reference: signals-list-api): filters, newest-first keyset paging, meta, errors, tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import ApiHarness, add_rule

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)



def signal(api: ApiHarness, **body: Any) -> dict[str, Any]:
    resp = api.post("/v1/signals", body)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def test_signals_newest_first_with_shape_and_meta(api: ApiHarness) -> None:
    add_rule(api, "page_visit", 5)
    add_rule(api, "form_submit", 20)
    first = signal(api, type="page_visit", source="my-website", occurred_at=at(0), properties={"page": "/pricing"},
                   account={"domain": "acme.com", "name": "Acme Corp"},
                   contact={"email": "alice@acme.com", "first_name": "Alice"})
    second = signal(api, type="form_submit", source="hubspot", occurred_at=at(10),
                    contact={"email": "alice@acme.com"})
    account_only = signal(api, type="page_visit", source="my-website", occurred_at=at(5),
                          account={"domain": "acme.com"})
    resp = api.get("/v1/signals")
    assert resp.status_code == 200
    body = resp.json()
    assert [s["id"] for s in body["data"]] == [second["id"], account_only["id"], first["id"]]
    meta = body["meta"]
    assert meta["total"] == 3 and meta["next_cursor"] is None
    assert meta["request_id"] == resp.headers["x-request-id"] and meta["timestamp"].endswith("Z")
    listed = body["data"][2]
    # Same shape as POST /v1/signals returned, but account/contact scores are the current ones.
    assert set(listed) == set(first)
    assert listed["score"] == 5 and listed["properties"] == {"page": "/pricing"}
    assert listed["occurred_at"] == at(0) and listed["source"] == "my-website"
    assert listed["contact"]["email"] == "alice@acme.com" and listed["contact"]["first_name"] == "Alice"
    assert listed["contact"]["score"] == 25
    assert listed["account"] == {"id": first["account"]["id"], "domain": "acme.com", "name": "Acme Corp", "score": 30}
    assert body["data"][1]["contact"] is None


def test_filters(api: ApiHarness) -> None:
    signal(api, type="page_visit", source="web", occurred_at=at(0), account={"domain": "acme.com"},
           contact={"email": "Bob@Acme.com"})
    signal(api, type="form_submit", source="hubspot", occurred_at=at(60), contact={"email": "carol@globex.com"})
    signal(api, type="page_visit", source="hubspot", occurred_at=at(120), account={"domain": "globex.com"})
    signal(api, type="page_visit", source="web", occurred_at=at(180), contact={"email": "dan@gmail.com"})

    def ids(**params: Any) -> int:
        resp = api.get("/v1/signals", params=params)
        assert resp.status_code == 200, resp.text
        assert resp.json()["meta"]["total"] == len(resp.json()["data"])
        return len(resp.json()["data"])

    assert ids(account_domain="https://www.ACME.com/about") == 1
    assert ids(account_domain="globex.com") == 2  # carol's email domain made her account globex.com
    assert ids(contact_email="  BOB@acme.com ") == 1
    assert ids(type="page_visit") == 3
    assert ids(source="hubspot") == 2
    assert ids(type="page_visit", source="hubspot") == 1
    assert ids(**{"from": at(60), "to": at(120)}) == 2  # both ends inclusive
    assert ids(**{"from": at(61)}) == 2
    assert ids(to=at(59)) == 1
    assert ids(account_domain="nobody.com") == 0
    assert ids(contact_email="nobody@nowhere.com") == 0


def test_cursor_paging_is_stable_when_signals_arrive_between_pages(api: ApiHarness) -> None:
    # Several signals share an occurred_at, so ordering must fall back to ingestion order.
    for i in range(7):
        signal(api, type="page_visit", occurred_at=at(i // 2), contact={"email": f"p{i}@acme.com"})
    seen: list[str] = []
    resp = api.get("/v1/signals", params={"limit": 3}).json()
    assert resp["meta"]["total"] == 7 and resp["meta"]["next_cursor"]
    seen += [s["id"] for s in resp["data"]]
    # New signals, newer and older than the current position, arrive between pages.
    signal(api, type="page_visit", occurred_at=at(100), contact={"email": "late@acme.com"})
    late_old = signal(api, type="page_visit", occurred_at=at(-100), contact={"email": "old@acme.com"})
    cursor = resp["meta"]["next_cursor"]
    pages = 1
    while cursor:
        resp = api.get("/v1/signals", params={"limit": 3, "cursor": cursor}).json()
        seen += [s["id"] for s in resp["data"]]
        cursor = resp["meta"]["next_cursor"]
        pages += 1
    assert len(seen) == len(set(seen)), "a signal was repeated"
    everything = api.get("/v1/signals", params={"limit": 200}).json()
    assert everything["meta"]["total"] == 9 and everything["meta"]["next_cursor"] is None
    all_ids = [s["id"] for s in everything["data"]]
    # Every signal that existed at the first page, plus the backdated one, was seen exactly once, in order.
    expected = [i for i in all_ids if i in set(seen)]
    assert seen == expected
    assert set(all_ids) - set(seen) == {everything["data"][0]["id"]}  # only the newer arrival is ahead of us
    assert late_old["id"] in seen
    assert pages == 3


def test_exact_page_size_ends_with_null_cursor(api: ApiHarness) -> None:
    for i in range(4):
        signal(api, type="t", occurred_at=at(i), contact={"email": f"e{i}@acme.com"})
    page1 = api.get("/v1/signals", params={"limit": 2}).json()
    page2 = api.get("/v1/signals", params={"limit": 2, "cursor": page1["meta"]["next_cursor"]}).json()
    assert len(page2["data"]) == 2 and page2["meta"]["next_cursor"] is None
    assert page2["meta"]["total"] == 4


def test_every_ingest_path_shows_up_as_a_signal(api: ApiHarness) -> None:
    signal(api, type="a", occurred_at=at(0), contact={"email": "x@acme.com"})
    assert api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "x@acme.com"}],
                                   "event_type": "b", "timestamp": at(1)}).status_code == 201
    item = {"aliases": [{"alias_kind": "email", "raw_value": "x@acme.com"}], "event_type": "c", "timestamp": at(2)}
    assert api.post("/v1/events/batch", {"events": [item]}).status_code == 200
    assert api.post("/v1/crm/events", {"type": "d", "person": {"emails": ["x@acme.com"]},
                                       "occurredAt": at(3)}).status_code in (200, 201)
    data = api.get("/v1/signals", params={"contact_email": "x@acme.com"}).json()["data"]
    assert [s["type"] for s in data] == ["d", "c", "b", "a"]
    assert data[0]["source"] == "crm"


def test_bad_parameters_name_the_field(api: ApiHarness) -> None:
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "cur_bm90LWpzb24"}, "cursor"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"account_domain": "not a domain"}, "account_domain"),
        ({"contact_email": "no-at-sign"}, "contact_email"),
    ):
        resp = api.get("/v1/signals", params=params)
        assert resp.status_code in (400, 422), (params, resp.text)
        error = resp.json()["error"]
        assert field in error["message"], (params, error)
        assert error["request_id"]
    assert api.get("/v1/signals", params={"limit": 200}).status_code == 200


def test_auth_and_tenant_isolation(api: ApiHarness, other_api: ApiHarness) -> None:
    signal(api, type="page_visit", occurred_at=at(0), contact={"email": "a@acme.com"}, account={"domain": "acme.com"})
    resp = api.client.get("/v1/signals")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized" and "API key" in resp.json()["error"]["message"]
    assert api.client.get("/v1/signals", headers={"Authorization": "Bearer lv_wrong"}).status_code == 401
    other = other_api.get("/v1/signals", params={"account_domain": "acme.com"}).json()
    assert other["data"] == [] and other["meta"]["total"] == 0
    assert other_api.get("/v1/signals").json()["meta"]["total"] == 0
