"""Tenant isolation, walked over the whole API: unit B's Owner tries every operation of /openapi.json on unit A's
ids and never reaches them.

Generic on purpose: the operations come from /openapi.json and A's ids from every table with a unit_id (or, for
organization rows, an org_id), so a new route or a new table is covered without editing this file. A path
parameter `<kind>_id` is tried with A's ids from the tables whose name mentions the kind (`rule_id`: rules,
rulesets, decay_rules), any other parameter (`id`, ...) with all of them. Bodies are built from the operation's
JSON schema (required fields with plain values), so most reach the service rather than stopping at validation.
Skipped: public routes, routes without path parameters (they act on the caller's own unit; their query
filters are tried separately), and server-sent event streams (they never end).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from api.audit_middleware import auditor_of
from db import models
from tests.conftest import ApiHarness

METHODS = ("get", "post", "put", "patch", "delete")
# What B may get for A's ids: not found, forbidden, or refused input. Never 2xx (it reached A's row), never 409
# (it found A's row in a conflicting state), never 500.
REFUSED = {400, 403, 404, 405, 422}
# Counters written after the fact for A's own setup requests; B's calls cannot reach them either way.
UNSNAPSHOT = {"usage_days"}
PER_TABLE = 4  # ids tried per table and parameter: enough to meet every kind of row, few enough to stay fast

TRIGGERS = {
    "milestones": {"score_threshold": 1, "emails": ["owner@example.com"]},
    "sequences": {"event_types": ["pricing_view", "demo_request"], "window_seconds": 3600},
    "patterns": {"conditions": [{"event_type": "email_open", "min_count": 3}], "window_seconds": 3600},
}


def ok(resp: Any, expected: int = 200) -> Any:
    assert resp.status_code == expected, resp.text
    return resp.json() if resp.content and resp.headers.get("content-type", "").startswith("application/json") \
        else None


def fill(a: ApiHarness) -> None:
    """Unit A with a bit of everything, made through its own API."""
    ok(a.post("/v1/rulesets", {"name": "Fit"}), 201)
    ok(a.post("/v1/rules", {"event_type": "page_view", "weight": 5}), 201)
    ok(a.post("/v1/levels/engagement", {"name": "Hot", "min_score": 1, "max_score": 1000}), 201)
    ok(a.post("/v1/decays", {"inactive_for": 7, "unit": "days", "decrease": 5}), 201)
    segment = ok(a.post("/v1/segments", {"name": "A segment"}), 201)
    ok(a.post(f"/v1/segments/{segment['segment_id']}/rules",
              {"rule_type": "lead_metadata", "field_name": "plan", "operator": "exists"}), 201)
    for kind, body in TRIGGERS.items():
        created = ok(a.post(f"/v1/triggers/{kind}", {**body, "name": f"A {kind}"}), 201)
        if kind == "milestones":
            ok(a.post(f"/v1/triggers/milestones/{created['trigger_id']}/test"), 202)  # a delivery
    ok(a.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "ann@acme.com"}],
                             "event_type": "page_view"}), 201)
    ok(a.post("/v1/crm/events", {"type": "demo_request", "person": {"emails": ["bob@globex.com"]},
                                 "company": {"domain": "globex.com", "name": "Globex"}}), 201)
    ok(a.post("/v1/secrets", {"name": "A's integration", "role": "Viewer"}), 201)
    for kind in ("profile", "account"):  # fit configuration of both kinds, so every fit route has ids to try
        ok(a.post(f"/v1/{kind}/field-mappings", {"source_field": "utm", f"{kind}_property": "src"}), 201)
        fit_set = ok(a.post(f"/v1/{kind}/rulesets", {"name": f"A {kind} fit", "is_primary": True}), 201)
        ok(a.post(f"/v1/{kind}/rulesets/{fit_set['id']}/rules", {
            f"{kind}_property": "src", "condition": "exists", "comparison_value": "", "weight": 3,
        }), 201)
        ok(a.post(f"/v1/levels/{kind}", {"name": "A", "min_score": -1000, "max_score": 1000}), 201)
    imported = a.post("/v1/events/import", files={"file": ("a.csv", b"event_type,email\npage_view,cy@acme.com\n",
                                                          "text/csv")})
    assert imported.status_code in (200, 201), imported.text
    research = ok(a.post("/v1/research/contacts", {"first_name": "Ann", "last_name": "Lee",
                                                   "company_domain": "acme.com", "external_id": "a1",
                                                   "source": "crm"}), 201)
    # The job finishes in a worker thread: wait, so A's rows are still when the snapshot is taken.
    deadline = time.monotonic() + 30
    while ok(a.get(f"/v1/research/contacts/{research['id']}"))["status"] == "pending":
        assert time.monotonic() < deadline, "the research job did not finish"
        time.sleep(0.05)


def settle(a: ApiHarness) -> None:
    """A's own request audit rows and key uses, written after their responses, are in before the snapshot."""
    app = a.client.app
    auditor_of(app).flush()  # type: ignore[arg-type]
    usage = getattr(app.state, "key_usage", None)  # type: ignore[attr-defined]
    if usage is not None:
        usage.flush()


def a_rows(a: ApiHarness) -> Iterator[tuple[str, Any]]:
    """(table, row) for every row of A's unit, A's organization rows and the unit and organization themselves."""
    t = a.tenant
    with a.db.read() as session:
        for table in models.Base.metadata.sorted_tables:
            if "unit_id" in table.c:
                where = table.c.unit_id == t.unit_id
            elif table.name == "units":
                where = table.c.id == t.unit_id
            elif "org_id" in table.c:
                where = table.c.org_id == t.org_id
            elif table.name == "organizations":
                where = table.c.id == t.org_id
            else:
                continue
            for row in session.execute(select(table).where(where)).all():
                yield table.name, row


def snapshot(a: ApiHarness) -> dict[str, list[str]]:
    state: dict[str, list[str]] = {}
    for table, row in a_rows(a):
        if table not in UNSNAPSHOT:
            state.setdefault(table, []).append(repr(tuple(row)))
    return {table: sorted(rows) for table, rows in state.items()}


def ids_by_table(a: ApiHarness) -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for table, row in a_rows(a):
        column = models.Base.metadata.tables[table].c.get("id")
        if column is not None and len(ids.get(table, [])) < PER_TABLE:
            ids.setdefault(table, []).append(str(row.id))
    for table, column in (("units", a.tenant.unit_id), ("organizations", a.tenant.org_id)):
        ids.setdefault(table, [column])
    return ids


# Path parameters that number or name things within each unit (scoring versions 1, 2, ...; event types): every unit
# has its own version 1 and its own setting of event type "x", so B reaching "its" version 1 or type "x" is no leak.
# Their isolation is tested in tests/api/test_scoring_versions.py and tests/api/test_filters.py.
PER_UNIT_NUMBERS = frozenset({"version", "event_type"})


def candidates(name: str, ids: dict[str, list[str]]) -> list[str]:
    """A's ids worth trying for a parameter: `lead_id` -> leads, lead_aliases, ...; anything else -> all."""
    if name in PER_UNIT_NUMBERS:
        return []
    kind = name.lower().removesuffix("_id").removesuffix("id").rstrip("_")
    if kind == "signal":  # the research API names events by the UUID form of their id
        return sorted(str(uuid.UUID(hex=i.removeprefix("ev_"))) for i in ids.get("events", []))
    stems = {kind, kind[:-1]} if kind.endswith("y") else {kind}
    tables = [table for table in ids if kind and any(stem in table for stem in stems)] or list(ids)
    return sorted({value for table in tables for value in ids[table]})


def all_a_ids(ids: dict[str, list[str]]) -> set[str]:
    return {value for values in ids.values() for value in values if not value.isdigit()}


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def sample(schema: dict[str, Any], document: dict[str, Any], depth: int = 0) -> Any:
    """A plain value that satisfies the schema's basic constraints (required fields, types, enums, minimums)."""
    schema = resolve(schema, document)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if resolve(o, document).get("type") != "null"] or schema[key]
            return sample(options[0], document, depth + 1)
    if "allOf" in schema:
        return sample(schema["allOf"][0], document, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "string":
        fmt = schema.get("format", "")
        if fmt == "email":
            return "someone@example.com"
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        if fmt == "uri":
            return "https://example.com/"
        return "x" * max(int(schema.get("minLength", 1)), 1)
    if kind in ("integer", "number"):
        return max(int(schema.get("minimum", 1)), int(schema.get("exclusiveMinimum", 0)) + 1, 1)
    if kind == "boolean":
        return True
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [sample(schema.get("items", {}), document, depth + 1) for _ in range(count)] if depth < 6 else []
    if kind == "object" or "properties" in schema:
        if depth >= 6:
            return {}
        properties = schema.get("properties", {})
        return {name: sample(properties[name], document, depth + 1)
                for name in schema.get("required", []) if name in properties}
    return "x"


def body_for(operation: dict[str, Any], document: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return sample(content["application/json"].get("schema", {}), document)


def is_stream(operation: dict[str, Any]) -> bool:
    return any("text/event-stream" in (response.get("content") or {})
               for response in operation.get("responses", {}).values())


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None or operation.get("x-permission") == "public" or is_stream(operation):
                continue
            yield method, path, operation


def parameters(operation: dict[str, Any], where: str) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p.get("in") == where]


@pytest.fixture
def units(api: ApiHarness, other_api: ApiHarness) -> tuple[ApiHarness, ApiHarness, dict[str, list[str]]]:
    for unit in (api, other_api):  # account routes answer 403 abm_disabled while ABM is off: walk them for real
        ok(unit.put("/v1/settings/scoring", {"abm_enabled": True}))
    fill(api)
    settle(api)
    ids = ids_by_table(api)
    for table in ("rulesets", "rules", "engagement_levels", "decay_rules", "triggers", "deliveries", "leads",
                  "accounts", "events", "api_keys", "import_jobs"):
        assert ids.get(table), f"unit A has no {table}: the walk would not try them"
    return api, other_api, ids


def test_unit_b_reaches_none_of_unit_as_rows_through_any_path(
    units: tuple[ApiHarness, ApiHarness, dict[str, list[str]]],
) -> None:
    a, b, ids = units
    document = b.client.get("/openapi.json").json()
    before = snapshot(a)
    secret_ids = all_a_ids(ids)
    tried, leaks = 0, []
    for method, path, operation in operations(document):
        names = parameters(operation, "path")
        if not names:
            continue
        body = body_for(operation, document)
        for value in sorted({v for name in names for v in candidates(name, ids)}):
            url = path
            for name in names:
                url = url.replace("{" + name + "}", value)
            resp = b.client.request(method.upper(), url, json=body, headers=b.headers)
            tried += 1
            leaked = [other for other in secret_ids - {value} if other in resp.text]
            if resp.status_code not in REFUSED or leaked:
                leaks.append(f"{method.upper()} {url} -> {resp.status_code} {resp.text[:200]}")
    assert tried > 100
    assert leaks == [], "\n".join(leaks)
    settle(a)
    assert snapshot(a) == before


def empty(value: Any) -> bool:
    """No rows in an answer: every list in it (at any depth) is empty."""
    if isinstance(value, list):
        return not value
    if isinstance(value, dict):
        return all(empty(item) for item in value.values() if isinstance(item, list | dict))
    return True


def test_unit_as_ids_in_query_filters_find_nothing(
    units: tuple[ApiHarness, ApiHarness, dict[str, list[str]]],
) -> None:
    _, b, ids = units
    document = b.client.get("/openapi.json").json()
    secret_ids = all_a_ids(ids)
    tried, leaks = 0, []
    for method, path, operation in operations(document):
        if method != "get" or parameters(operation, "path"):
            continue
        for name in parameters(operation, "query"):
            if not name.lower().endswith("id"):
                continue
            for value in candidates(name, ids):
                resp = b.client.get(path, params={name: value}, headers=b.headers)
                tried += 1
                if resp.status_code in REFUSED:
                    continue
                is_json = resp.headers.get("content-type", "").startswith("application/json")
                rows_empty = empty(resp.json()) if is_json else len(resp.text.strip().splitlines()) <= 1
                leaked = [other for other in secret_ids - {value} if other in resp.text]
                if resp.status_code != 200 or not rows_empty or leaked:
                    leaks.append(f"GET {path}?{name}={value} -> {resp.status_code} {resp.text[:200]}")
    assert tried > 10
    assert leaks == [], "\n".join(leaks)


def test_unit_b_still_works_on_its_own_rows(units: tuple[ApiHarness, ApiHarness, dict[str, list[str]]]) -> None:
    """The walk's refusals are about A's ids, not a broken B: B's own rule answers."""
    _, b, _ = units
    rule = ok(b.post("/v1/rules", {"event_type": "page_view", "weight": 1}), 201)
    assert ok(b.get(f"/v1/rules/{rule['id']}"))["id"] == rule["id"]
