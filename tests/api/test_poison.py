"""Poison input (lone surrogates, NUL, deep nesting, integers beyond 64 bits) is a 422 naming the field, and
nothing is stored, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from db import models
from tests.conftest import ApiHarness

JSON = {"Content-Type": "application/json"}


def count(api: ApiHarness, model: Any) -> int:
    with api.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.unit_id == api.tenant.unit_id)) or 0


def refusal(resp: Any) -> str:
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == "validation_error", body
    assert body["error"]["request_id"] == resp.headers["x-request-id"]
    return str(body["error"]["message"])


def event_body(metadata_json: str) -> bytes:
    """An /v1/events body whose metadata is given as raw JSON text (so it can hold escapes json.dumps won't write)."""
    return (
        '{"event_type": "page_visit", "aliases": [{"alias_kind": "email", "raw_value": "p@acme.com"}], '
        f'"metadata": {metadata_json}}}'
    ).encode()


def nested(depth: int) -> str:
    """`depth` nested JSON objects: nested(2) == '{"a": {"a": 1}}'."""
    return '{"a": ' * depth + "1" + "}" * depth


POISON = [
    pytest.param('{"note": "ok \\ud800 there"}', "metadata.note: lone surrogate", id="lone-high-surrogate"),
    pytest.param('{"note": "\\udfff"}', "metadata.note: lone surrogate", id="lone-low-surrogate"),
    pytest.param('{"tags": ["a", "b\\u0000c"]}', "metadata.tags[1]: NUL character", id="nul-in-string"),
    pytest.param('{"bad\\u0000key": 1}', "metadata.bad\\u0000key: NUL character in a key", id="nul-in-key"),
    pytest.param('{"k\\ud800": 1}', "metadata.k\\ud800: lone surrogate in a key", id="surrogate-in-key"),
    pytest.param('{"x": 9223372036854775808}', "metadata.x: integer out of 64-bit range", id="int-above-int64"),
    pytest.param('{"x": -9223372036854775809}', "metadata.x: integer out of 64-bit range", id="int-below-int64"),
    pytest.param('{"x": 123456789012345678901234567890}', "metadata.x: integer out of 64-bit range", id="int-huge"),
    pytest.param('{"x": ' + "9" * 5000 + "}", "integer out of 64-bit range", id="int-5000-digits"),
    # The body object is level 1 and metadata's object level 2: 32 objects from metadata down make 33 levels.
    pytest.param(nested(32), "nesting deeper than 32 levels", id="nesting-33"),
    pytest.param("[" * 5000 + "]" * 5000, "nesting deeper than 32 levels", id="nesting-5000"),
]


@pytest.mark.parametrize(("metadata", "expected"), POISON)
def test_poisoned_event_is_refused_and_nothing_stored(api: ApiHarness, metadata: str, expected: str) -> None:
    resp = api.client.post("/v1/events", content=event_body(metadata), headers={**api.headers, **JSON})
    assert expected in refusal(resp)
    assert count(api, models.Event) == 0 and count(api, models.Lead) == 0


def test_limits_themselves_pass(api: ApiHarness) -> None:
    # body (1) > metadata (2) > deep (3) ... 30 objects from deep down: exactly 32 levels.
    metadata = (
        '{"max": 9223372036854775807, "min": -9223372036854775808, "emoji": "\\ud83d\\ude00", '
        f'"deep": {nested(30)}, "digits": "123456789012345678901234567890"}}'
    )
    resp = api.client.post("/v1/events", content=event_body(metadata), headers={**api.headers, **JSON})
    assert resp.status_code == 201, resp.text
    stored = resp.json()["metadata"]
    assert stored["max"] == 2**63 - 1 and stored["min"] == -(2**63) and stored["emoji"] == "\U0001f600"
    listed = api.get("/v1/events")
    assert listed.status_code == 200 and listed.json()[0]["metadata"]["max"] == 2**63 - 1


def test_batch_names_the_item(api: ApiHarness) -> None:
    good = {"event_type": "a", "aliases": [{"alias_kind": "email", "raw_value": "b@acme.com"}]}
    events = [orjson.dumps(good).decode()] * 3 + [
        '{"event_type": "a", "aliases": [{"alias_kind": "email", "raw_value": "b@acme.com"}], '
        '"metadata": {"x": 99999999999999999999}}'
    ]
    resp = api.client.post(
        "/v1/events/batch", content=('{"events": [' + ",".join(events) + "]}").encode(), headers={**api.headers, **JSON}
    )
    assert "events[3].metadata.x: integer out of 64-bit range" in refusal(resp)
    assert count(api, models.Event) == 0  # the whole request is refused, the good items too


def test_other_ingest_formats(api: ApiHarness) -> None:
    signal = b'{"type": "a", "contact": {"email": "s@acme.com", "first_name": "Ann\\u0000"}}'
    resp = api.client.post("/v1/signals", content=signal, headers={**api.headers, **JSON})
    assert "contact.first_name: NUL character" in refusal(resp)
    crm = b'{"type": "a", "person": {"emails": ["c@acme.com"]}, "company": {"name": "\\ud800Acme"}}'
    resp = api.client.post("/v1/crm/events", content=crm, headers={**api.headers, **JSON})
    assert "company.name: lone surrogate" in refusal(resp)
    assert count(api, models.Event) == 0 and count(api, models.Account) == 0


def test_poison_is_refused_before_authentication(api: ApiHarness) -> None:
    resp = api.client.post("/v1/events", content=event_body('{"n": "\\u0000"}'), headers=JSON)
    assert "metadata.n: NUL character" in refusal(resp)


def test_a_body_sent_without_content_type_is_checked_too(api: ApiHarness) -> None:
    # FastAPI reads a body without a content type as JSON, so the guard must as well.
    resp = api.client.post("/v1/events", content=event_body('{"n": "\\ud800"}'), headers=api.headers)
    assert "metadata.n: lone surrogate" in refusal(resp)


def test_rules_and_triggers_bodies_too(api: ApiHarness) -> None:
    resp = api.client.post(
        "/v1/rules", content=b'{"event_type": "page\\u0000visit", "weight": 5}', headers={**api.headers, **JSON}
    )
    assert "event_type: NUL character" in refusal(resp)
    assert count(api, models.Rule) == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=%00", "query parameter q: NUL character"),
        ("q=abc%ED%A0%80", "query parameter q: not valid UTF-8"),
        ("page=1&event_type=a%00b", "query parameter event_type: NUL character"),
        ("q%00=1", "NUL character in the name"),
    ],
)
def test_poisoned_query_parameters(api: ApiHarness, query: str, expected: str) -> None:
    resp = api.get(f"/v1/leads?{query}")
    assert expected in refusal(resp)


def test_poisoned_metadata_filter_query(api: ApiHarness) -> None:
    resp = api.get("/v1/events?metadata=utm%00:x")
    assert "query parameter metadata: NUL character" in refusal(resp)


@pytest.mark.parametrize("segment", ["%00", "ld_%ED%A0%80", "a%00b"])
def test_poisoned_path_parameters(api: ApiHarness, segment: str) -> None:
    resp = api.get(f"/v1/leads/{segment}")
    assert "path parameter lead_id" in refusal(resp)
    resp = api.get(f"/v1/leads/{segment}/events")
    assert "path parameter lead_id" in refusal(resp)


def test_plain_unicode_in_query_and_path_is_fine(api: ApiHarness) -> None:
    assert api.get("/v1/leads?q=J%C3%BCrgen%20%F0%9F%98%80").status_code == 200
    assert api.get("/v1/leads/ld_%C3%BC").status_code == 404
