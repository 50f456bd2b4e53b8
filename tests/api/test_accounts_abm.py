"""Accounts and ABM: the account endpoints answer 403 abm_disabled while ABM is off; while on, the list carries
engagement, fit and lead roll-ups and filters by intent level, the detail has the reference's shape, and
batch-delete unlinks and deletes only the caller's unit's accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from services.operations.demo import seed_demo
from services.people.accounts import intent_of
from services.people.profiles import logged_profile, set_account_profile
from services.scoring.scoring_settings import get_settings
from tests.api.fit_helpers import add_fit, audit_rows, send, with_role
from tests.conftest import ApiHarness, add_rule, enable_abm

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def accounts(api: ApiHarness) -> dict[str, Any]:
    """acme (ann 55, bob 5: account 60, High), globex (cat 10: Mid), initech (dan 0: Low)."""
    add_rule(api, "page_view", 5)
    add_rule(api, "demo_request", 50)
    for name, low, high in (("Low", 0, 9), ("Mid", 10, 49), ("High", 50, 100000)):
        assert api.post("/v1/levels/engagement", {"name": name, "min_score": low, "max_score": high}).status_code \
            == 201
    ann = send(api, "ann@acme.com", "demo_request")
    send(api, "ann@acme.com")
    bob = send(api, "bob@acme.com")
    cat = send(api, "cat@globex.com")
    send(api, "cat@globex.com")
    dan = send(api, "dan@initech.com", "newsletter")
    enable_abm(api)
    return {
        "acme": ann["event"]["account_id"], "globex": cat["event"]["account_id"],
        "initech": dan["event"]["account_id"], "ann": ann["lead_id"], "bob": bob["lead_id"], "cat": cat["lead_id"],
    }


# Every account operation of /openapi.json: the account list and detail (/v1/accounts...), the account configuration
# (/v1/account/...: rulesets, their rules, field mappings, properties), the account levels (/v1/levels/account...),
# and the account backfill. The Admin backfill of `accountId` into event metadata is not switched (the reference
# ties only the Account endpoints to abm_enabled; it repairs what engagement rules read).
ACCOUNT_BACKFILL = "/v1/admin/backfill/account-profile"
METHODS = ("get", "post", "put", "patch", "delete")


def is_account_path(path: str) -> bool:
    return path.startswith(("/v1/accounts", "/v1/account/")) or path == "/v1/levels/account" \
        or path.startswith("/v1/levels/account/") or path == ACCOUNT_BACKFILL


# (method, path) -> (request body, status once ABM is on); a new account route fails the walk until it is added.
BODIES: dict[tuple[str, str], tuple[dict[str, Any] | None, int]] = {
    ("get", "/v1/accounts"): (None, 200),
    ("get", "/v1/accounts/{account_id}"): (None, 200),
    ("post", "/v1/accounts/batch-delete"): ({"ids": ["{account_id}"]}, 200),
    ("get", "/v1/account/properties"): (None, 200),
    ("get", "/v1/account/field-mappings"): (None, 200),
    ("post", "/v1/account/field-mappings"): ({"source_field": "size", "account_property": "employees"}, 201),
    ("put", "/v1/account/field-mappings/{mapping_id}"): (
        {"source_field": "sector", "account_property": "industry", "update_behavior": "set_once"}, 200),
    ("delete", "/v1/account/field-mappings/{mapping_id}"): (None, 204),
    ("get", "/v1/account/rulesets"): (None, 200),
    ("post", "/v1/account/rulesets"): ({"name": "Second"}, 201),
    ("put", "/v1/account/rulesets/{ruleset_id}"): ({"name": "ICP v2"}, 200),
    ("delete", "/v1/account/rulesets/{ruleset_id}"): (None, 204),
    ("get", "/v1/account/rulesets/{ruleset_id}/rules"): (None, 200),
    ("post", "/v1/account/rulesets/{ruleset_id}/rules"): (
        {"account_property": "employees", "condition": "gte", "comparison_value": "100", "weight": 5}, 201),
    ("put", "/v1/account/rulesets/{ruleset_id}/rules/{rule_id}"): ({"weight": 20}, 200),
    ("delete", "/v1/account/rulesets/{ruleset_id}/rules/{rule_id}"): (None, 204),
    ("get", "/v1/levels/account"): (None, 200),
    ("post", "/v1/levels/account"): ({"name": "Tier 1", "min_score": 101, "max_score": 200}, 201),
    ("put", "/v1/levels/account/{level_id}"): ({"name": "Tier 2", "min_score": 0, "max_score": 100}, 200),
    ("delete", "/v1/levels/account/{level_id}"): (None, 204),
    ("post", ACCOUNT_BACKFILL): (None, 200),
}


def account_operations(api: ApiHarness) -> list[tuple[str, str]]:
    """Every account operation of the API document, in an order that can run them all with ABM on: reads, then
    creations, updates, deletions (a rule before its ruleset), and batch-delete last."""
    document = api.get("/openapi.json").json()
    found = [(method, path) for path, item in document["paths"].items() if is_account_path(path)
             for method in item if method in METHODS]
    order = {"get": 0, "post": 1, "put": 2, "patch": 2, "delete": 3}
    return sorted(found, key=lambda op: (op[1] == "/v1/accounts/batch-delete", order[op[0]], -len(op[1]), op[1]))


def filled(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        for name, value in ids.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, list):
        return [filled(item, ids) for item in template]
    if isinstance(template, dict):
        return {key: filled(value, ids) for key, value in template.items()}
    return template


def unit_state(api: ApiHarness) -> dict[str, list[str]]:
    """Every row of the unit (its scoring version counters too), but the request log the audit middleware keeps,
    key use and usage counters: what a refused request must leave as it was."""
    t = api.tenant
    state: dict[str, list[str]] = {}
    with api.db.read() as session:
        for table in models.Base.metadata.sorted_tables:
            if table.name in ("usage_days", "api_keys"):
                continue
            if "unit_id" in table.c:
                where = table.c.unit_id == t.unit_id
            elif table.name == "units":
                where = table.c.id == t.unit_id
            else:
                continue
            rows = session.execute(select(table).where(where)).all()
            state[table.name] = sorted(repr(tuple(row)) for row in rows
                                       if not (table.name == "audit_logs" and row.action == "request"))
    return state


def test_while_abm_is_off_every_account_endpoint_is_403_abm_disabled(api: ApiHarness) -> None:
    # An account with a profile, and account configuration made while ABM was on: every route has real ids.
    enable_abm(api)
    account_id = send(api, "ann@acme.com")["event"]["account_id"]
    with api.db.write() as session:
        acme = session.get(models.Account, account_id)
        assert acme is not None
        set_account_profile(session, api.tenant, acme, {"industry": "saas"}, via="api", now=NOW)
    mapping = api.post("/v1/account/field-mappings", {"source_field": "industry", "account_property": "industry"})
    ruleset = api.post("/v1/account/rulesets", {"name": "ICP", "is_primary": True})
    level = api.post("/v1/levels/account", {"name": "Tier 2", "min_score": 0, "max_score": 100})
    assert (mapping.status_code, ruleset.status_code, level.status_code) == (201, 201, 201)
    rule = api.post(f"/v1/account/rulesets/{ruleset.json()['id']}/rules",
                    {"account_property": "industry", "condition": "equals", "comparison_value": "SaaS",
                     "weight": 30})
    assert rule.status_code == 201, rule.text
    ids = {"account_id": account_id, "mapping_id": mapping.json()["id"], "ruleset_id": ruleset.json()["id"],
           "rule_id": rule.json()["id"], "level_id": level.json()["id"]}
    assert api.put("/v1/settings/scoring", {"abm_enabled": False}).status_code == 200
    assert get_abm(api) is False

    operations = account_operations(api)
    paths = {path for _, path in operations}
    assert {"/v1/accounts", "/v1/accounts/{account_id}", "/v1/accounts/batch-delete", "/v1/account/properties",
            "/v1/account/field-mappings", "/v1/account/rulesets/{ruleset_id}/rules/{rule_id}",
            "/v1/levels/account", "/v1/levels/account/{level_id}", ACCOUNT_BACKFILL} <= paths
    assert set(operations) == set(BODIES), "an account route without a case in BODIES (or a case without a route)"
    assert len(operations) == 21
    before = unit_state(api)
    for method, path in operations:
        body, _ = BODIES[(method, path)]
        resp = api.client.request(method.upper(), filled(path, ids), json=filled(body, ids), headers=api.headers)
        assert resp.status_code == 403, (method, path, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "abm_disabled" and "abm_enabled" in error["message"], (method, path)
    assert unit_state(api) == before  # nothing written: no row, no version, no audit entry
    # the engagement side and the event backfill are not switched
    assert api.get("/v1/levels/engagement").status_code == 200
    assert api.post("/v1/admin/backfill/event-account-id").status_code == 200

    enable_abm(api)
    for method, path in operations:
        body, status = BODIES[(method, path)]
        resp = api.client.request(method.upper(), filled(path, ids), json=filled(body, ids), headers=api.headers)
        assert resp.status_code == status, (method, path, resp.text)


def test_a_viewer_is_refused_for_its_role_before_abm_is_asked(api: ApiHarness) -> None:
    viewer = with_role(api, "Viewer")
    resp = viewer.post("/v1/levels/account", {"name": "A", "min_score": 0, "max_score": 10})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    assert viewer.get("/v1/levels/account").json()["error"]["code"] == "abm_disabled"


def test_while_abm_is_off_drafts_of_account_scoring_and_account_mappings_wait(api: ApiHarness) -> None:
    # An account whose event carries a field, and an account mapping of it made afterwards while ABM was on: only
    # applying the mapping to history fills the account's profile.
    enable_abm(api)
    account_id = send(api, "ann@acme.com", metadata={"industry": "saas"})["event"]["account_id"]
    ok = api.post("/v1/account/field-mappings", {"source_field": "industry", "account_property": "industry"})
    assert ok.status_code == 201, ok.text
    assert api.put("/v1/settings/scoring", {"abm_enabled": False}).status_code == 200

    before = unit_state(api)
    account_draft = {"account_levels": [{"name": "A", "min_score": 0, "max_score": 100}]}
    for path in ("/v1/scoring/simulate", "/v1/scoring/publish"):
        resp = api.post(path, {"changes": account_draft})
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "abm_disabled", (path, resp.text)
    assert unit_state(api) == before  # no version, no audit entry
    # A draft without account parts still previews while ABM is off.
    assert api.post("/v1/scoring/simulate", {"changes": {}}).status_code == 200

    applied = api.post("/v1/admin/profile-mappings/apply")
    assert applied.status_code == 200, applied.text
    assert (applied.json()["accounts_processed"], applied.json()["accounts_updated"]) == (0, 0)
    with api.db.read() as session:
        assert (session.get(models.Account, account_id) or models.Account()).metadata_ == {}

    enable_abm(api)
    applied = api.post("/v1/admin/profile-mappings/apply")
    assert applied.json()["accounts_updated"] == 1
    with api.db.read() as session:
        assert (session.get(models.Account, account_id) or models.Account()).metadata_ == {"industry": "saas"}
    assert api.post("/v1/scoring/simulate", {"changes": account_draft}).status_code == 200


def get_abm(api: ApiHarness) -> bool:
    with api.db.read() as session:
        return get_settings(session, api.tenant).abm_enabled


def test_list_carries_rollups_levels_fit_and_owner(api: ApiHarness, accounts: dict[str, Any]) -> None:
    ruleset_id, (rule_id,) = add_fit(api, "account", [("industry", "equals", "SaaS", 30)],
                                     levels=[("Tier 2", 0, 29), ("Tier 1", 30, 100)])
    with api.db.write() as session:
        acme = session.get(models.Account, accounts["acme"])
        assert acme is not None
        set_account_profile(session, api.tenant, acme, {"industry": "saas"}, via="api", now=NOW)
    assert api.client.patch(f"/v1/leads/{accounts['ann']}/metadata", json={"owner_name": "Rita"},
                            headers=api.headers).status_code == 200
    body = api.get("/v1/accounts").json()
    assert body["total"] == 3
    by_id = {a["id"]: a for a in body["accounts"]}
    acme_row = by_id[accounts["acme"]]
    assert (acme_row["score"], acme_row["level"]["name"], acme_row["top_score"], acme_row["leads_count"]) == (
        60, "High", 55, 2)
    assert acme_row["owner_name"] == "Rita" and acme_row["surging"] is False
    assert (acme_row["fit_score"], acme_row["fit_scores"], acme_row["fit_level"]) == (
        30, {ruleset_id: 30}, "Tier 1")
    globex = by_id[accounts["globex"]]
    assert (globex["score"], globex["level"]["name"], globex["owner_name"], globex["fit_level"]) == (
        10, "Mid", None, "Tier 2")

    detail = api.get(f"/v1/accounts/{accounts['acme']}").json()
    assert {"account_id", "org_id", "domain", "name", "metadata", "top_score", "leads", "recent_events"} <= set(
        detail)
    assert (detail["account_id"], detail["org_id"], detail["domain"]) == (
        accounts["acme"], api.tenant.org_id, "acme.com")
    assert detail["metadata"] == {"industry": "saas"} and detail["top_score"] == 55 and detail["score"] == 60
    assert (detail["fit_score"], detail["fit_level"]) == (30, "Tier 1")
    assert detail["fit_reasons"] == [{"rule_id": rule_id, "ruleset_id": ruleset_id, "account_property": "industry",
                                      "condition": "equals", "comparison_value": "SaaS", "weight": 30}]
    assert [(ld["lead_id"], ld["score"], ld["level"]["name"]) for ld in detail["leads"]] == [
        (accounts["ann"], 55, "High"), (accounts["bob"], 5, "Low")]
    keys = {"lead_id", "email", "score", "level", "fit_score", "fit_level"}
    assert all(set(ld) >= keys for ld in detail["leads"])
    # newest first; the profile change is an event of the account's log too (a system event)
    assert [e["event_type"] for e in detail["recent_events"]] == [
        "page_view", "page_view", "demo_request", "ACCOUNT_PROFILE_UPDATE"]
    with api.db.read() as session:
        assert logged_profile(session, api.tenant, account_id=accounts["acme"]) == {"industry": "saas"}


@pytest.mark.parametrize(
    ("intent", "expected"), [("all", ["acme", "globex", "initech"]), ("high", ["acme"]), ("medium", ["globex"]),
                             ("low", ["initech"])],
)
def test_intent_level_filters_on_the_accounts_engagement_level(
    api: ApiHarness, accounts: dict[str, Any], intent: str, expected: list[str]
) -> None:
    body = api.get("/v1/accounts", params={"intent_level": intent}).json()
    assert sorted(a["id"] for a in body["accounts"]) == sorted(accounts[name] for name in expected)
    assert body["total"] == len(expected)


def test_intent_of_splits_levels_into_thirds() -> None:
    def split(count: int) -> list[str]:
        return [intent_of(i, count) for i in range(count)]

    assert split(1) == ["high"]
    assert split(2) == ["low", "high"]
    assert split(3) == ["low", "medium", "high"]
    assert split(4) == ["low", "medium", "medium", "high"]
    assert split(6) == ["low", "low", "medium", "medium", "high", "high"]


def test_bad_intent_level_is_422_naming_it(api: ApiHarness) -> None:
    enable_abm(api)
    resp = api.get("/v1/accounts", params={"intent_level": "hot"})
    assert resp.status_code == 422 and "intent_level" in resp.json()["error"]["message"]


def test_batch_delete_unlinks_and_deletes_only_this_units_accounts(
    api: ApiHarness, other_api: ApiHarness, accounts: dict[str, Any]
) -> None:
    foreign = send(other_api, "zed@umbrella.com")
    enable_abm(other_api)
    viewer = with_role(api, "Viewer")
    assert viewer.post("/v1/accounts/batch-delete", {"ids": [accounts["acme"]]}).status_code == 403
    resp = api.post("/v1/accounts/batch-delete",
                    {"ids": [accounts["acme"], foreign["event"]["account_id"], "acc_nope", accounts["acme"]]})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"unlinked_leads": 2, "deleted_accounts": 1}
    assert api.get(f"/v1/accounts/{accounts['acme']}").status_code == 404
    assert api.get(f"/v1/leads/{accounts['ann']}").json()["lead"]["account_id"] is None
    assert api.get("/v1/accounts").json()["total"] == 2
    # the other unit's account and lead are untouched
    assert other_api.get(f"/v1/accounts/{foreign['event']['account_id']}").status_code == 200
    assert other_api.get(f"/v1/leads/{foreign['lead_id']}").json()["lead"]["account_id"] == \
        foreign["event"]["account_id"]
    deleted = [r for r in audit_rows(api, "account") if r.action == "delete"]
    assert [r.entity_id for r in deleted] == [accounts["acme"]]
    assert audit_rows(api, "lead_accounts")[0].action == "unlink"
    # the lead scores are unchanged; the account's events stay in the log, without the account
    assert api.get(f"/v1/leads/{accounts['ann']}").json()["lead"]["score"] == 55
    with api.db.read() as session:
        events = session.scalars(select(models.Event).where(models.Event.lead_id == accounts["ann"])).all()
        assert events and all(e.account_id is None for e in events)
    again = api.post("/v1/accounts/batch-delete", {"ids": [accounts["acme"]]})
    assert again.json() == {"unlinked_leads": 0, "deleted_accounts": 0}


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": "acc_1"}, {"ids": [""]}, {"ids": ["x"] * 501}])
def test_batch_delete_bad_bodies_are_422_naming_ids(api: ApiHarness, body: dict[str, Any]) -> None:
    enable_abm(api)
    resp = api.post("/v1/accounts/batch-delete", body)
    assert resp.status_code == 422 and "ids" in resp.json()["error"]["message"]


def test_the_demo_turns_abm_on(api: ApiHarness) -> None:
    with api.db.write() as session:
        seed_demo(session, api.tenant, now=NOW, leads=4)
    assert get_abm(api) is True
    assert api.get("/v1/accounts").status_code == 200


def test_lead_reads_carry_the_accounts_scores_as_the_account_detail_has_them(
    api: ApiHarness, accounts: dict[str, Any]
) -> None:
    add_fit(api, "account", [("industry", "equals", "SaaS", 30)], levels=[("Tier 2", 0, 29), ("Tier 1", 30, 100)])
    with api.db.write() as session:
        acme = session.get(models.Account, accounts["acme"])
        assert acme is not None
        set_account_profile(session, api.tenant, acme, {"industry": "saas"}, via="api", now=NOW)
    detail = api.get(f"/v1/accounts/{accounts['acme']}").json()
    expected = {"score": 60, "level": {"id": detail["level"]["id"], "name": "High"}, "fit_score": 30,
                "fit_level": "Tier 1"}
    assert {key: detail[key] for key in expected} == expected
    for url in (f"/v1/leads/{accounts['ann']}", f"/v1/leads/{accounts['ann']}/account"):
        account = api.get(url).json()["account"]
        assert account["id"] == accounts["acme"] and {key: account[key] for key in expected} == expected, url
    assert api.put("/v1/settings/scoring", {"abm_enabled": False}).status_code == 200
    for url in (f"/v1/leads/{accounts['ann']}", f"/v1/leads/{accounts['ann']}/account"):
        account = api.get(url).json()["account"]
        assert account["domain"] == "acme.com" and all(account[key] is None for key in expected), url
