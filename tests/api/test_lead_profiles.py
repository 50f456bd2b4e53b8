"""Lead create and edit (POST/PUT /v1/leads, PATCH /v1/leads/{id}/metadata, GET /v1/leads/{id}/profile) and the fit
that every lead read carries: each profile change is a log event, recomputes fit, and is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.profile import LEAD_PROFILE_EVENT
from db import models
from services.people.profiles import logged_profile
from tests.api.fit_helpers import add_fit, audit_rows, send, with_role
from tests.conftest import ApiHarness

LEAD_KEYS = {"id", "org_id", "unit_id", "account_id", "owner_id", "owner_name", "created_at", "updated_at",
             "merged_into", "metadata", "fit_score", "fit_scores", "fit_level"}


def stored(api: ApiHarness, lead_id: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    """(stored profile, fold of its profile events, number of profile events)."""
    with api.db.read() as session:
        lead = session.get(models.Lead, lead_id)
        assert lead is not None
        events = session.scalar(select(func.count()).select_from(models.Event).where(
            models.Event.lead_id == lead_id, models.Event.event_type == LEAD_PROFILE_EVENT))
        return dict(lead.metadata_), logged_profile(session, api.tenant, lead_id=lead_id), int(events or 0)


def test_create_lead_with_given_or_new_id_profile_and_account(api: ApiHarness, other_api: ApiHarness) -> None:
    account_id = send(api, "ann@acme.com")["event"]["account_id"]
    assert account_id
    resp = api.post("/v1/leads", {"metadata": {"title": "CTO", "owner_name": "Rita", "owner_id": "u1"},
                                  "account_id": account_id})
    assert resp.status_code == 201, resp.text
    lead = resp.json()
    assert set(lead) == LEAD_KEYS and lead["id"].startswith("ld_")
    assert (lead["unit_id"], lead["org_id"]) == (api.tenant.unit_id, api.tenant.org_id)
    assert lead["account_id"] == account_id and lead["merged_into"] is None
    assert (lead["owner_name"], lead["owner_id"]) == ("Rita", "u1")
    assert lead["metadata"] == {"title": "CTO", "owner_name": "Rita", "owner_id": "u1"}
    assert (lead["fit_score"], lead["fit_scores"], lead["fit_level"]) == (0, {}, None)
    profile, folded, _ = stored(api, lead["id"])
    assert profile == folded == lead["metadata"]  # the profile is the replay of its log events
    assert api.get(f"/v1/leads/{lead['id']}").json()["lead"]["account_id"] == account_id

    given = api.post("/v1/leads", {"id": "crm-42", "metadata": {}})
    assert given.status_code == 201 and given.json()["id"] == "crm-42" and given.json()["account_id"] is None
    again = api.post("/v1/leads", {"id": "crm-42", "metadata": {"x": 1}})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict" and "id" in again.text
    assert api.get("/v1/leads/crm-42").json()["lead"]["metadata"] == {}
    # another unit can neither reuse the id nor link to this unit's account
    assert other_api.post("/v1/leads", {"id": "crm-42"}).status_code == 409
    foreign = other_api.post("/v1/leads", {"metadata": {}, "account_id": account_id})
    assert foreign.status_code == 404 and "account_id" in foreign.json()["error"]["message"]
    assert other_api.get("/v1/leads").json()["total"] == 0


def test_put_replaces_the_profile_and_sets_or_clears_the_account(api: ApiHarness) -> None:
    acme = send(api, "ann@acme.com")["event"]["account_id"]
    lead_id = api.post("/v1/leads", {"metadata": {"title": "CTO", "plan": "pro"}}).json()["id"]
    resp = api.put(f"/v1/leads/{lead_id}", {"metadata": {"title": "CEO"}, "account_id": acme})
    assert resp.status_code == 200, resp.text
    assert resp.json()["metadata"] == {"title": "CEO"} and resp.json()["account_id"] == acme
    kept = api.put(f"/v1/leads/{lead_id}", {"metadata": {"title": "CEO", "seats": 5}})  # account omitted: kept
    assert kept.json()["account_id"] == acme and kept.json()["metadata"] == {"title": "CEO", "seats": 5}
    cleared = api.put(f"/v1/leads/{lead_id}", {"metadata": {}, "account_id": None})
    assert cleared.json()["account_id"] is None and cleared.json()["metadata"] == {}
    profile, folded, count = stored(api, lead_id)
    assert profile == folded == {} and count >= 4
    missing = api.put(f"/v1/leads/{lead_id}", {"metadata": {}, "account_id": "acc_nope"})
    assert missing.status_code == 404 and "account_id" in missing.json()["error"]["message"]
    assert api.put("/v1/leads/ld_nope", {"metadata": {}}).status_code == 404


def test_patch_merges_keys_null_removes_and_fit_follows(api: ApiHarness) -> None:
    ruleset_id, (vp_rule, big_rule) = add_fit(
        api, "profile", [("title", "contains", "vp", 20), ("employees", "gte", "200", 15)],
        levels=[("C", 0, 19), ("B", 20, 29), ("A", 30, 1000)],
    )
    lead_id = api.post("/v1/leads", {"metadata": {"plan": "pro"}}).json()["id"]
    assert api.get(f"/v1/leads/{lead_id}/profile").json()["fit_level"] == "C"

    resp = api.client.patch(f"/v1/leads/{lead_id}/metadata", json={"title": "VP Sales", "employees": 250},
                            headers=api.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"id": lead_id, "org_id": api.tenant.org_id, "unit_id": api.tenant.unit_id,
                           "metadata": {"plan": "pro", "title": "VP Sales", "employees": 250}}
    profile = api.get(f"/v1/leads/{lead_id}/profile").json()
    assert (profile["lead_id"], profile["fit_score"], profile["fit_scores"], profile["fit_level"]) == (
        lead_id, 35, {ruleset_id: 35}, "A")
    assert [r["rule_id"] for r in profile["fit_reasons"]] == [vp_rule, big_rule]
    assert profile["fit_reasons"][0] == {"rule_id": vp_rule, "ruleset_id": ruleset_id, "profile_property": "title",
                                         "condition": "contains", "comparison_value": "vp", "weight": 20}
    detail = api.get(f"/v1/leads/{lead_id}").json()["lead"]
    assert (detail["fit_score"], detail["fit_level"], len(detail["fit_reasons"])) == (35, "A", 2)
    score = api.get(f"/v1/leads/{lead_id}/score").json()
    assert (score["fit_score"], score["fit_scores"], score["fit_level"]) == (35, {ruleset_id: 35}, "A")
    listed = {ld["id"]: ld for ld in api.get("/v1/leads").json()["leads"]}
    assert (listed[lead_id]["fit_score"], listed[lead_id]["fit_level"]) == (35, "A")
    assert [ld["id"] for ld in api.get("/v1/leads", params={"fit_level": "a"}).json()["leads"]] == [lead_id]

    removed = api.client.patch(f"/v1/leads/{lead_id}/metadata", json={"title": None, "missing": None},
                               headers=api.headers)
    assert removed.json()["metadata"] == {"plan": "pro", "employees": 250}
    profile = api.get(f"/v1/leads/{lead_id}/profile").json()
    assert (profile["fit_score"], profile["fit_level"]) == (15, "C")
    assert api.get("/v1/leads", params={"fit_level": "A"}).json()["total"] == 0
    assert api.get("/v1/leads", params={"fit_level": "C"}).json()["total"] == 1
    stored_profile, folded, _ = stored(api, lead_id)
    assert stored_profile == folded == {"plan": "pro", "employees": 250}

    unknown = api.get("/v1/leads", params={"fit_level": "Platinum"})
    assert unknown.status_code == 422 and "fit_level" in unknown.json()["error"]["message"]


def test_a_patch_that_changes_nothing_writes_no_profile_event(api: ApiHarness) -> None:
    lead_id = api.post("/v1/leads", {"metadata": {"plan": "pro"}}).json()["id"]
    _, _, before = stored(api, lead_id)
    assert api.client.patch(f"/v1/leads/{lead_id}/metadata", json={"plan": "pro"}, headers=api.headers).status_code \
        == 200
    assert stored(api, lead_id)[2] == before


def test_roles_viewer_reads_operator_edits(api: ApiHarness) -> None:
    lead_id = api.post("/v1/leads", {"metadata": {"plan": "pro"}}).json()["id"]
    viewer, operator = with_role(api, "Viewer"), with_role(api, "Operator")
    for resp in (
        viewer.post("/v1/leads", {"metadata": {}}),
        viewer.put(f"/v1/leads/{lead_id}", {"metadata": {}}),
        viewer.client.patch(f"/v1/leads/{lead_id}/metadata", json={"plan": None}, headers=viewer.headers),
    ):
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    assert viewer.get(f"/v1/leads/{lead_id}/profile").json()["metadata"] == {"plan": "pro"}
    assert operator.client.patch(f"/v1/leads/{lead_id}/metadata", json={"plan": "team"},
                                 headers=operator.headers).status_code == 200
    assert operator.post("/v1/leads", {"metadata": {}}).status_code == 201


def test_every_change_is_audited_with_before_and_after(api: ApiHarness) -> None:
    lead_id = api.post("/v1/leads", {"metadata": {"plan": "pro"}}).json()["id"]
    api.put(f"/v1/leads/{lead_id}", {"metadata": {"plan": "team"}})
    api.client.patch(f"/v1/leads/{lead_id}/metadata", json={"seats": 3}, headers=api.headers)
    rows = [r for r in audit_rows(api, "lead") if r.entity_id == lead_id]
    assert [r.action for r in rows] == ["create", "update", "update"]
    assert rows[0].changes["metadata"] == {"before": None, "after": {"plan": "pro"}}
    assert rows[1].changes["metadata"] == {"before": {"plan": "pro"}, "after": {"plan": "team"}}
    assert rows[2].changes["metadata"] == {"before": {"plan": "team"}, "after": {"plan": "team", "seats": 3}}


def test_another_units_leads_are_not_found_and_untouched(api: ApiHarness, other_api: ApiHarness) -> None:
    lead_id = api.post("/v1/leads", {"metadata": {"plan": "pro"}}).json()["id"]
    for resp in (
        other_api.put(f"/v1/leads/{lead_id}", {"metadata": {"plan": "stolen"}}),
        other_api.client.patch(f"/v1/leads/{lead_id}/metadata", json={"plan": "stolen"}, headers=other_api.headers),
        other_api.get(f"/v1/leads/{lead_id}/profile"),
    ):
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
        assert "pro" not in resp.text
    assert api.get(f"/v1/leads/{lead_id}/profile").json()["metadata"] == {"plan": "pro"}


def test_bad_input_is_422_naming_the_field(api: ApiHarness) -> None:
    lead_id = api.post("/v1/leads", {"metadata": {}}).json()["id"]
    cases: list[tuple[Any, str]] = [
        (api.post("/v1/leads", {"metadata": "x"}), "metadata"),
        (api.post("/v1/leads", {"id": "has space"}), "id"),
        (api.post("/v1/leads", {"id": ""}), "id"),
        (api.post("/v1/leads", {"metadata": {}, "owner": "x"}), "owner"),
        (api.post("/v1/leads", {"metadata": {"": 1}}), "metadata"),
        (api.put(f"/v1/leads/{lead_id}", {"account_id": None}), "metadata"),
        (api.client.patch(f"/v1/leads/{lead_id}/metadata", json=["a"], headers=api.headers), "body"),
    ]
    for resp, field in cases:
        assert resp.status_code == 422, resp.text
        assert field in resp.json()["error"]["message"]
