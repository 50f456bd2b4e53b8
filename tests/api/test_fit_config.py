"""Fit configuration over the API: field mappings, fit rulesets and rules, fit levels for profiles and accounts,
and the Owner's backfill of mappings over history. CRUD, validation naming the field, roles, audit, versions
(and a rollback), tenancy, and fit on leads after a change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from services.scoring.fit import verify_fit
from services.scoring.model import published_model
from services.tenancy import api_keys
from tests.api.fit_helpers import add_fit
from tests.conftest import ApiHarness, enable_abm

KINDS = ("profile", "account")


@pytest.fixture(autouse=True)
def abm_on(api: ApiHarness) -> None:
    """The account configuration answers 403 abm_disabled while ABM is off (tests/api/test_accounts_abm.py walks
    that); here it is on, so both kinds are tested alike."""
    enable_abm(api)


def with_key(api: ApiHarness, role: str) -> ApiHarness:
    with api.db.write() as session:
        secret = api_keys.create_api_key(session, api.tenant, name=f"{role} key", role=role,
                                         now=datetime.now(UTC)).secret
    return ApiHarness(api.client, api.tenant, secret, api.db)


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


def error(resp: Any, status: int) -> str:
    assert resp.status_code == status, resp.text
    return str(resp.json()["error"]["message"])


def versions(api: ApiHarness) -> list[dict[str, Any]]:
    return list(ok(api.get("/v1/scoring/versions")))


def visit(api: ApiHarness, email: str, **metadata: Any) -> str:
    body = {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": "page_view",
            "metadata": metadata}
    return str(ok(api.post("/v1/events", body), 201)["lead_id"])


def lead_profile(api: ApiHarness, lead_id: str) -> tuple[dict[str, Any], int]:
    with api.db.read() as session:
        lead = session.get(models.Lead, lead_id)
        assert lead is not None
        return dict(lead.metadata_), int(lead.fit_score)


# --- field mappings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_field_mapping_crud(api: ApiHarness, kind: str) -> None:
    prop = f"{kind}_property"
    base = f"/v1/{kind}/field-mappings"
    assert ok(api.get(base)) == []
    made = ok(api.post(base, {"source_field": "utm_source", prop: "acquisition_source"}), 201)
    assert made["update_behavior"] == "always_latest" and made[prop] == "acquisition_source"
    assert set(made) == {"id", "source_field", prop, "update_behavior", "created_at"}
    assert made["created_at"].endswith("Z")
    changed = ok(api.put(f"{base}/{made['id']}", {"source_field": "utm_medium", prop: "medium",
                                                  "update_behavior": "set_once"}))
    assert (changed["source_field"], changed[prop], changed["update_behavior"]) == ("utm_medium", "medium", "set_once")
    # update_behavior left out keeps the current one
    kept = ok(api.put(f"{base}/{made['id']}", {"source_field": "utm_medium", prop: "channel"}))
    assert kept["update_behavior"] == "set_once"
    assert ok(api.get(base)) == [kept]
    other = "account" if kind == "profile" else "profile"
    assert ok(api.get(f"/v1/{other}/field-mappings")) == []
    assert api.delete(f"/v1/{other}/field-mappings/{made['id']}").status_code == 404  # another kind's
    assert api.delete(f"{base}/{made['id']}").status_code == 204
    assert ok(api.get(base)) == []
    assert api.delete(f"{base}/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source_field": "utm_source", "profile_property": "src", "update_behavior": "sometimes"},
         "update_behavior"),
        ({"source_field": "utm_source"}, "profile_property"),
        ({"source_field": "", "profile_property": "src"}, "source_field"),
        ({"source_field": "a", "profile_property": "src", "account_property": "x"}, "account_property"),
    ],
)
def test_invalid_mapping_is_422_naming_the_field(api: ApiHarness, body: dict[str, Any], field: str) -> None:
    assert field in error(api.post("/v1/profile/field-mappings", body), 422)


# --- rulesets and rules --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_ruleset_and_rule_crud(api: ApiHarness, kind: str) -> None:
    prop = f"{kind}_property"
    base = f"/v1/{kind}/rulesets"
    icp = ok(api.post(base, {"name": "ICP"}), 201)
    assert set(icp) == {"id", "org_id", "name", "enabled", "is_primary", "created_at", "updated_at"}
    assert icp["org_id"] == api.tenant.org_id and icp["enabled"] and icp["is_primary"]  # the kind's first
    persona = ok(api.post(base, {"name": "Persona", "enabled": False}), 201)
    assert not persona["is_primary"] and not persona["enabled"]
    assert "name" in error(api.post(base, {"name": "icp"}), 409)
    persona = ok(api.put(f"{base}/{persona['id']}", {"name": "Persona 2", "is_primary": True}))
    assert persona["is_primary"] and not persona["enabled"]  # enabled left out: unchanged
    assert {rs["name"]: rs["is_primary"] for rs in ok(api.get(base))} == {"ICP": False, "Persona 2": True}

    rules = f"{base}/{icp['id']}/rules"
    rule = ok(api.post(rules, {prop: "employees", "condition": "gte", "comparison_value": "200", "weight": 15}), 201)
    assert set(rule) == {"id", "ruleset_id", prop, "condition", "comparison_value", "weight", "ui_order",
                         "created_at", "updated_at"}
    assert (rule["ruleset_id"], rule["weight"], rule["ui_order"]) == (icp["id"], 15, 0)
    numeric = ok(api.post(rules, {prop: "revenue", "condition": "gt", "comparison_value": 1000000, "weight": 5,
                                  "ui_order": 2}), 201)
    assert numeric["comparison_value"] == "1000000"
    changed = ok(api.put(f"{rules}/{rule['id']}", {"weight": 25}))  # partial
    assert (changed[prop], changed["condition"], changed["comparison_value"], changed["weight"]) == (
        "employees", "gte", "200", 25)
    assert [r["id"] for r in ok(api.get(rules))] == [rule["id"], numeric["id"]]
    assert ok(api.get(f"{base}/{persona['id']}/rules")) == []
    # a rule is reached through its own ruleset only
    assert api.put(f"{base}/{persona['id']}/rules/{rule['id']}", {"weight": 1}).status_code == 404
    assert api.delete(f"{rules}/{rule['id']}").status_code == 204
    assert [r["id"] for r in ok(api.get(rules))] == [numeric["id"]]
    assert api.delete(f"{base}/{icp['id']}").status_code == 204
    assert api.get(rules).status_code == 404
    assert [rs["name"] for rs in ok(api.get(base))] == ["Persona 2"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"condition": "bigger"}, "condition"),
        ({"condition": "gt", "comparison_value": "lots"}, "comparison_value"),
        ({"condition": "lte", "comparison_value": ""}, "comparison_value"),
        ({"condition": "equals", "comparison_value": ""}, "comparison_value"),
        ({"comparison_value": True}, "comparison_value"),
        ({"weight": "5"}, "weight"),
        ({"weight": 5_000_000}, "weight"),
        ({"profile_property": ""}, "profile_property"),
        ({"ui_order": 2**40}, "ui_order"),
        ({"score_column": "x"}, "score_column"),
    ],
)
def test_invalid_rule_is_422_naming_the_field(api: ApiHarness, change: dict[str, Any], field: str) -> None:
    rs = ok(api.post("/v1/profile/rulesets", {"name": "ICP"}), 201)
    body = {"profile_property": "employees", "condition": "gte", "comparison_value": "10", "weight": 5, **change}
    assert field in error(api.post(f"/v1/profile/rulesets/{rs['id']}/rules", body), 422)
    assert ok(api.get(f"/v1/profile/rulesets/{rs['id']}/rules")) == []


def test_invalid_rule_update_is_422_and_changes_nothing(api: ApiHarness) -> None:
    rs = ok(api.post("/v1/account/rulesets", {"name": "ICP"}), 201)
    path = f"/v1/account/rulesets/{rs['id']}/rules"
    rule = ok(api.post(path, {"account_property": "employees", "condition": "gte", "comparison_value": "10",
                              "weight": 5}), 201)
    assert "comparison_value" in error(api.put(f"{path}/{rule['id']}", {"comparison_value": "ten"}), 422)
    assert "condition" in error(api.put(f"{path}/{rule['id']}", {"condition": "near"}), 422)
    assert "weight" in error(api.put(f"{path}/{rule['id']}", {"weight": None}), 422)
    assert "profile_property" in error(api.put(f"{path}/{rule['id']}", {"profile_property": "x"}), 422)
    assert ok(api.get(path)) == [rule]


# --- levels --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_levels_crud_and_validation(api: ApiHarness, kind: str) -> None:
    base = f"/v1/levels/{kind}"
    made = {}
    for name, low, high in (("C", -1000, 19), ("B", 20, 49), ("A", 50, 1000)):
        made[name] = ok(api.post(base, {"name": name, "min_score": low, "max_score": high}), 201)
    assert set(made["A"]) == {"id", "level_id", "name", "min_score", "max_score", "org_id", "created_by",
                              "updated_by"}
    assert made["A"]["level_id"] == made["A"]["id"]
    owner = made["A"]["created_by"]
    assert owner and made["A"]["updated_by"] == owner  # the caller's credential name
    assert [lv["name"] for lv in ok(api.get(base))] == ["C", "B", "A"]
    assert "overlap" in error(api.post(base, {"name": "A+", "min_score": 900, "max_score": 2000}), 422)
    assert "gap" in error(api.post(base, {"name": "S", "min_score": 1100, "max_score": 2000}), 422)
    assert "max_score" in error(api.post(base, {"name": "S", "min_score": 1001}), 422)
    assert "gap" in error(api.delete(f"{base}/{made['B']['id']}"), 422)
    operator = with_key(api, "Operator")
    changed = ok(operator.put(f"{base}/{made['A']['id']}", {"name": "A", "min_score": 50, "max_score": 100}))
    assert changed["max_score"] == 100
    assert (changed["created_by"], changed["updated_by"]) == (owner, "api key Operator key")
    listed = {lv["name"]: lv for lv in ok(api.get(base))}
    assert (listed["A"]["updated_by"], listed["B"]["updated_by"]) == ("api key Operator key", owner)
    assert api.delete(f"{base}/{made['A']['id']}").status_code == 204
    other = "account" if kind == "profile" else "profile"
    assert ok(api.get(f"/v1/levels/{other}")) == []
    assert ok(api.get("/v1/levels/engagement")) == []
    assert api.delete(f"/v1/levels/{other}/{made['C']['id']}").status_code == 404


def test_level_authors_survive_a_rollback_and_older_levels_have_none(api: ApiHarness) -> None:
    add_fit(api, "profile", [], levels=[("Old", 0, 9)])  # written straight to the table, as before authors were kept
    (old,) = ok(api.get("/v1/levels/profile"))
    assert (old["created_by"], old["updated_by"]) == (None, None)
    new = ok(api.post("/v1/levels/profile", {"name": "New", "min_score": 10, "max_score": 100}), 201)
    assert (new["created_by"], new["updated_by"]) == ("api key tests", "api key tests")
    before = versions(api)[0]["version"]
    operator = with_key(api, "Operator")
    ok(operator.put(f"/v1/levels/profile/{old['id']}", {"name": "Older", "min_score": 0, "max_score": 9}))
    ok(operator.post(f"/v1/scoring/versions/{before}/rollback"), 201)
    restored = {lv["name"]: lv for lv in ok(api.get("/v1/levels/profile"))}
    # Old is back (the rollback changed it: the operator's name); New did not move and keeps its author.
    assert (restored["Old"]["created_by"], restored["Old"]["updated_by"]) == (None, "api key Operator key")
    assert (restored["New"]["created_by"], restored["New"]["updated_by"]) == ("api key tests", "api key tests")


# --- roles, audit, versions, tenancy -------------------------------------------------------------------------------


def test_a_viewer_cannot_change_fit(api: ApiHarness) -> None:
    rs = ok(api.post("/v1/profile/rulesets", {"name": "ICP"}), 201)
    mapping = ok(api.post("/v1/profile/field-mappings", {"source_field": "a", "profile_property": "b"}), 201)
    level = ok(api.post("/v1/levels/profile", {"name": "A", "min_score": 0, "max_score": 10}), 201)
    viewer = with_key(api, "Viewer")
    rule_body = {"profile_property": "a", "condition": "exists", "comparison_value": "", "weight": 1}
    writes: list[tuple[str, str, Any]] = [
        ("post", "/v1/profile/field-mappings", {"source_field": "a", "profile_property": "c"}),
        ("put", f"/v1/profile/field-mappings/{mapping['id']}", {"source_field": "a", "profile_property": "c"}),
        ("delete", f"/v1/profile/field-mappings/{mapping['id']}", None),
        ("post", "/v1/account/rulesets", {"name": "X"}),
        ("put", f"/v1/profile/rulesets/{rs['id']}", {"name": "Y"}),
        ("delete", f"/v1/profile/rulesets/{rs['id']}", None),
        ("post", f"/v1/profile/rulesets/{rs['id']}/rules", rule_body),
        ("post", "/v1/levels/account", {"name": "A", "min_score": 0, "max_score": 10}),
        ("put", f"/v1/levels/profile/{level['id']}", {"name": "B", "min_score": 0, "max_score": 10}),
        ("delete", f"/v1/levels/profile/{level['id']}", None),
        ("post", "/v1/admin/profile-mappings/apply", None),
    ]
    before = len(versions(api))
    for method, path, body in writes:
        call = getattr(viewer, method)
        resp = call(path, body) if body is not None else call(path)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "forbidden"
    assert ok(viewer.get("/v1/profile/rulesets")) == ok(api.get("/v1/profile/rulesets"))
    assert ok(viewer.get(f"/v1/profile/rulesets/{rs['id']}/rules")) == []
    assert len(ok(viewer.get("/v1/levels/profile"))) == 1
    assert len(versions(api)) == before
    # An Operator edits fit, but the backfill is the Owner's.
    operator = with_key(api, "Operator")
    ok(operator.post("/v1/account/rulesets", {"name": "X"}), 201)
    assert operator.post("/v1/admin/profile-mappings/apply").status_code == 403


def test_changes_are_audited_and_versioned(api: ApiHarness) -> None:
    start = len(versions(api))
    rs = ok(api.post("/v1/profile/rulesets", {"name": "ICP"}), 201)
    rule = ok(api.post(f"/v1/profile/rulesets/{rs['id']}/rules", {
        "profile_property": "title", "condition": "contains", "comparison_value": "VP", "weight": 20}), 201)
    ok(api.post("/v1/account/field-mappings", {"source_field": "industry", "account_property": "industry"}), 201)
    ok(api.post("/v1/levels/account", {"name": "A", "min_score": 0, "max_score": 10}), 201)
    listed = versions(api)
    assert len(listed) == max(start, 1) + 4
    summaries = " | ".join(v["summary"] for v in listed)
    assert "fit ruleset profile ICP added" in summaries and "fit rule title contains VP added" in summaries
    with api.db.read() as session:
        entries = session.execute(
            select(models.AuditLog.action, models.AuditLog.entity_type, models.AuditLog.entity_id)
            .where(models.AuditLog.unit_id == api.tenant.unit_id)
        ).all()
    kinds = {(a, t) for a, t, _i in entries}
    assert {("create", "fit_ruleset"), ("create", "fit_rule"), ("create", "field_mapping"),
            ("create", "fit_level")} <= kinds
    assert ("create", "fit_rule", rule["id"]) in entries


def test_fit_on_leads_follows_rule_changes_and_rollback(api: ApiHarness) -> None:
    ok(api.post("/v1/profile/field-mappings", {"source_field": "title", "profile_property": "title"}), 201)
    ok(api.post("/v1/profile/field-mappings", {"source_field": "employees", "profile_property": "employees"}), 201)
    vp = visit(api, "ann@acme.com", title="VP Sales", employees=500)
    student = visit(api, "bob@acme.com", title="Student", employees=1)
    rs = ok(api.post("/v1/profile/rulesets", {"name": "ICP"}), 201)
    rules = f"/v1/profile/rulesets/{rs['id']}/rules"
    title_rule = ok(api.post(rules, {"profile_property": "title", "condition": "starts_with",
                                     "comparison_value": "vp", "weight": 20}), 201)
    ok(api.post(rules, {"profile_property": "employees", "condition": "gte", "comparison_value": "200",
                        "weight": 15}), 201)
    assert lead_profile(api, vp)[1] == 35 and lead_profile(api, student)[1] == 0
    before = versions(api)[0]["version"]
    ok(api.put(f"{rules}/{title_rule['id']}", {"comparison_value": "student"}))
    assert lead_profile(api, vp)[1] == 15 and lead_profile(api, student)[1] == 20
    with api.db.read() as session:
        assert verify_fit(session, api.tenant, published_model(session, api.tenant)) == []
    ok(api.post(f"/v1/scoring/versions/{before}/rollback"), 201)
    assert lead_profile(api, vp)[1] == 35 and lead_profile(api, student)[1] == 0
    with api.db.read() as session:
        assert verify_fit(session, api.tenant, published_model(session, api.tenant)) == []


def test_another_unit_reaches_nothing(api: ApiHarness, other_api: ApiHarness) -> None:
    rs = ok(api.post("/v1/profile/rulesets", {"name": "ICP"}), 201)
    rule = ok(api.post(f"/v1/profile/rulesets/{rs['id']}/rules", {
        "profile_property": "a", "condition": "exists", "comparison_value": "", "weight": 1}), 201)
    mapping = ok(api.post("/v1/profile/field-mappings", {"source_field": "a", "profile_property": "b"}), 201)
    level = ok(api.post("/v1/levels/profile", {"name": "A", "min_score": 0, "max_score": 10}), 201)
    assert ok(other_api.post("/v1/profile/rulesets", {"name": "ICP"}), 201)["id"] != rs["id"]  # names per unit
    for method, path, body in (
        ("get", f"/v1/profile/rulesets/{rs['id']}/rules", None),
        ("put", f"/v1/profile/rulesets/{rs['id']}", {"name": "Mine"}),
        ("delete", f"/v1/profile/rulesets/{rs['id']}", None),
        ("put", f"/v1/profile/rulesets/{rs['id']}/rules/{rule['id']}", {"weight": 9}),
        ("delete", f"/v1/profile/rulesets/{rs['id']}/rules/{rule['id']}", None),
        ("put", f"/v1/profile/field-mappings/{mapping['id']}", {"source_field": "x", "profile_property": "y"}),
        ("delete", f"/v1/profile/field-mappings/{mapping['id']}", None),
        ("put", f"/v1/levels/profile/{level['id']}", {"name": "B", "min_score": 0, "max_score": 10}),
        ("delete", f"/v1/levels/profile/{level['id']}", None),
    ):
        call = getattr(other_api, method)
        resp = call(path, body) if body is not None else call(path)
        assert resp.status_code == 404, (method, path, resp.text)
    assert ok(other_api.get("/v1/profile/field-mappings")) == []
    assert ok(other_api.get("/v1/levels/profile")) == []
    assert ok(api.get(f"/v1/profile/rulesets/{rs['id']}/rules")) == [rule]


# --- mappings at ingest and over history ---------------------------------------------------------------------------


def test_mappings_apply_at_ingest(api: ApiHarness) -> None:
    base = "/v1/profile/field-mappings"
    ok(api.post(base, {"source_field": "utm_source", "profile_property": "acquisition_source"}), 201)
    ok(api.post(base, {"source_field": "utm_source", "profile_property": "first_touch",
                       "update_behavior": "set_once"}), 201)
    ok(api.post(base, {"source_field": "utm_source", "profile_property": "acquisition_source",
                       "update_behavior": "append"}), 201)
    sources = [f"source{i}" for i in range(11)] + ["google"]
    lead_id = ""
    for source in sources:
        lead_id = visit(api, "ann@acme.com", utm_source=source)
    profile, _fit = lead_profile(api, lead_id)
    assert profile["acquisition_source"] == "google"
    assert profile["first_touch"] == "source0"
    assert profile["acquisition_source_list"] == sources[-10:]
    visit(api, "ann@acme.com", page="/pricing")  # no utm_source: nothing changes
    assert lead_profile(api, lead_id)[0] == profile


def test_apply_mappings_to_history(api: ApiHarness) -> None:
    ann = visit(api, "ann@acme.com", utm_source="google")
    visit(api, "ann@acme.com", utm_source="newsletter")
    bob = visit(api, "bob@acme.com")
    ok(api.post("/v1/profile/field-mappings", {"source_field": "utm_source", "profile_property": "source",
                                               "update_behavior": "set_once"}), 201)
    rs = ok(api.post("/v1/profile/rulesets", {"name": "ICP"}), 201)
    ok(api.post(f"/v1/profile/rulesets/{rs['id']}/rules", {"profile_property": "source", "condition": "in",
                                                           "comparison_value": "google,bing", "weight": 12}), 201)
    assert "source" not in lead_profile(api, ann)[0]
    first = ok(api.post("/v1/admin/profile-mappings/apply"))
    assert first == {"leads_processed": 2, "leads_updated": 1, "accounts_processed": 1, "accounts_updated": 0}
    assert lead_profile(api, ann) == ({"source": "google"}, 12)
    assert lead_profile(api, bob)[0] == {}
    second = ok(api.post("/v1/admin/profile-mappings/apply"))
    assert second["leads_updated"] == 0 and second["leads_processed"] == 2


# --- what-if -------------------------------------------------------------------------------------------------------


def test_simulate_and_publish_fit_changes(api: ApiHarness) -> None:
    ok(api.post("/v1/profile/field-mappings", {"source_field": "title", "profile_property": "title"}), 201)
    vp = visit(api, "ann@acme.com", title="VP Sales")
    cto = visit(api, "bob@acme.com", title="CTO")
    rs = ok(api.post("/v1/profile/rulesets", {"name": "ICP"}), 201)
    rules = f"/v1/profile/rulesets/{rs['id']}/rules"
    vp_rule = ok(api.post(rules, {"profile_property": "title", "condition": "contains", "comparison_value": "vp",
                                  "weight": 20}), 201)
    for name, low, high in (("C", -100, 19), ("A", 20, 100)):
        ok(api.post("/v1/levels/profile", {"name": name, "min_score": low, "max_score": high}), 201)
    changes = {
        "profile_rules": {"add": [{"ruleset_id": rs["id"], "profile_property": "title", "condition": "equals",
                                   "comparison_value": "cto", "weight": 25}],
                          "update": [{"rule_id": vp_rule["id"], "weight": 10}]},
    }
    before_versions = len(versions(api))
    preview = ok(api.post("/v1/scoring/simulate", {"changes": changes}))
    fit = preview["fit"]
    assert set(fit) == {"profile", "account"}
    assert (fit["profile"]["leads_evaluated"], fit["profile"]["leads_changed"]) == (2, 2)
    movers = {m["id"]: (m["label"], m["before"], m["after"]) for m in fit["profile"]["top_movers"]}
    assert movers == {cto: ("bob@acme.com", 0, 25), vp: ("ann@acme.com", 20, 10)}
    assert sorted((c["from"], c["to"], c["count"]) for c in fit["profile"]["level_changes"]) == [
        ("A", "C", 1), ("C", "A", 1)]
    assert fit["account"]["leads_changed"] == 0
    assert len(versions(api)) == before_versions and lead_profile(api, vp)[1] == 20  # nothing stored

    published = ok(api.post("/v1/scoring/publish", {"changes": changes}))
    assert published["version"] == before_versions + 1
    for lead_id, (_label, _before, after) in movers.items():
        assert lead_profile(api, lead_id)[1] == after
    assert len(ok(api.get(rules))) == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"profile_rules": {"add": [{"ruleset_id": "frs_nope", "profile_property": "t", "condition": "exists",
                                     "comparison_value": "", "weight": 1}]}},
         "changes.profile_rules.add[0].ruleset_id"),
        ({"account_rules": {"remove": ["fr_nope"]}}, "changes.account_rules.remove[0]"),
        ({"profile_levels": [{"name": "A", "min_score": 10, "max_score": 0}]}, "changes.profile_levels[0].min_score"),
        ({"profile_rules": {"add": [{"profile_property": "t", "condition": "exists", "comparison_value": "",
                                     "weight": 1}]}}, "ruleset_id"),
    ],
)
def test_bad_fit_drafts_are_422_naming_the_path(api: ApiHarness, changes: dict[str, Any], field: str) -> None:
    assert field in error(api.post("/v1/scoring/simulate", {"changes": changes}), 422)
    assert field in error(api.post("/v1/scoring/publish", {"changes": changes}), 422)
