"""Rulesets, rules and scoring settings over HTTP: every path, every error, and that rule changes move scores."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from db import models
from services.scoring.rescore import verify_unit
from tests.conftest import ApiHarness

PATHS = [
    ("get", "/v1/rulesets"),
    ("post", "/v1/rulesets"),
    ("get", "/v1/rulesets/rs_x"),
    ("put", "/v1/rulesets/rs_x"),
    ("delete", "/v1/rulesets/rs_x"),
    ("get", "/v1/rulesets/rs_x/rules"),
    ("get", "/v1/rules"),
    ("post", "/v1/rules"),
    ("get", "/v1/rules/rl_x"),
    ("put", "/v1/rules/rl_x"),
    ("delete", "/v1/rules/rl_x"),
    ("get", "/v1/settings/scoring"),
    ("put", "/v1/settings/scoring"),
]


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    return body["error"]


def primary_ruleset(api: ApiHarness) -> dict[str, Any]:
    response = api.get("/v1/rulesets")
    assert response.status_code == 200
    (primary,) = [r for r in response.json() if r["is_primary"]]
    return primary


def create_rule(api: ApiHarness, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/rules", {"event_type": "page_view", "weight": 10, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def visit(api: ApiHarness, email: str, event_type: str = "page_view", **extra: Any) -> dict[str, Any]:
    body = {"event_type": event_type, "aliases": [{"alias_kind": "email", "raw_value": email}], **extra}
    response = api.post("/v1/events", body)
    assert response.status_code == 201, response.text
    return response.json()


def stored_lead_score(api: ApiHarness, lead_id: str, ruleset_id: str) -> int:
    with api.db.read() as session:
        score = session.scalar(
            select(models.LeadScore.score).where(
                models.LeadScore.unit_id == api.tenant.unit_id,
                models.LeadScore.lead_id == lead_id,
                models.LeadScore.ruleset_id == ruleset_id,
            )
        )
    return int(score or 0)


def assert_consistent(api: ApiHarness) -> None:
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []


# --- authentication -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_every_path_needs_an_api_key(api: ApiHarness, method: str, path: str) -> None:
    client: TestClient = api.client
    kwargs: dict[str, Any] = {} if method in ("get", "delete") else {"json": {}}
    error = error_of(getattr(client, method)(path, **kwargs), 401)
    assert error["code"] == "unauthorized"
    error = error_of(getattr(client, method)(path, headers={"Authorization": "Bearer lv_wrong"}, **kwargs), 401)
    assert error["code"] == "unauthorized"


# --- rulesets --------------------------------------------------------------------------------------------------------


def test_a_new_unit_has_one_primary_ruleset(api: ApiHarness) -> None:
    rulesets = api.get("/v1/rulesets").json()
    assert len(rulesets) == 1
    assert rulesets[0]["is_primary"] is True
    assert rulesets[0]["score_column"] == "total_score"
    assert rulesets[0]["id"] == rulesets[0]["ruleset_id"]


def test_create_ruleset_with_defaults_and_read_it_back(api: ApiHarness) -> None:
    response = api.post("/v1/rulesets", {"name": "Marketing"})
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "Marketing"
    assert created["score_column"] == "total_score"
    assert created["is_primary"] is False
    assert created["ruleset_id"].startswith("rs_")
    assert api.get(f"/v1/rulesets/{created['id']}").json() == created
    assert {r["name"] for r in api.get("/v1/rulesets").json()} == {"Engagement", "Marketing"}


def test_duplicate_ruleset_name_is_409(api: ApiHarness) -> None:
    assert api.post("/v1/rulesets", {"name": "Marketing"}).status_code == 201
    error = error_of(api.post("/v1/rulesets", {"name": "Marketing"}), 409)
    assert "Marketing" in error["message"]
    error_of(api.post("/v1/rulesets", {"name": "  marketing "}), 409)


def test_the_same_ruleset_name_in_another_unit_is_fine(api: ApiHarness, other_api: ApiHarness) -> None:
    assert api.post("/v1/rulesets", {"name": "Sales"}).status_code == 201
    assert other_api.post("/v1/rulesets", {"name": "Sales"}).status_code == 201


def test_creating_a_primary_ruleset_unprimaries_the_others(api: ApiHarness) -> None:
    old = primary_ruleset(api)
    created = api.post("/v1/rulesets", {"name": "Product", "score_column": "product_score", "is_primary": True}).json()
    assert created["is_primary"] is True
    assert created["score_column"] == "product_score"
    assert primary_ruleset(api)["id"] == created["id"]
    assert api.get(f"/v1/rulesets/{old['id']}").json()["is_primary"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Ok", "score_column": ""}, "score_column"),
        ({"name": "Ok", "is_primary": "perhaps"}, "is_primary"),
        ({"name": "Ok", "org_id": "org_other"}, "org_id"),
        ({"name": "Ok", "unit_id": "unit_other"}, "unit_id"),
    ],
)
def test_invalid_ruleset_is_422_naming_the_field(api: ApiHarness, body: dict[str, Any], field: str) -> None:
    error = error_of(api.post("/v1/rulesets", body), 422)
    assert error["code"] == "validation_error"
    assert error["message"].startswith(field), error["message"]


def test_rename_a_ruleset_and_choose_the_primary(api: ApiHarness) -> None:
    old = primary_ruleset(api)
    other = api.post("/v1/rulesets", {"name": "Marketing"}).json()
    renamed = api.put(f"/v1/rulesets/{other['id']}", {"name": "Demand gen"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Demand gen"
    assert renamed.json()["is_primary"] is False
    made_primary = api.put(f"/v1/rulesets/{other['id']}", {"is_primary": True}).json()
    assert made_primary["is_primary"] is True
    assert made_primary["name"] == "Demand gen"
    assert api.get(f"/v1/rulesets/{old['id']}").json()["is_primary"] is False


def test_ruleset_update_errors(api: ApiHarness, other_api: ApiHarness) -> None:
    primary = primary_ruleset(api)
    other = api.post("/v1/rulesets", {"name": "Marketing"}).json()
    error = error_of(api.put(f"/v1/rulesets/{other['id']}", {"name": "Engagement"}), 409)
    assert "Engagement" in error["message"]
    error = error_of(api.put(f"/v1/rulesets/{primary['id']}", {"is_primary": False}), 409)
    assert "primary" in error["message"]
    assert error_of(api.put(f"/v1/rulesets/{other['id']}", {"name": ""}), 422)["message"].startswith("name")
    assert error_of(api.put(f"/v1/rulesets/{other['id']}", {"colour": "red"}), 422)["message"].startswith("colour")
    error_of(api.put("/v1/rulesets/rs_missing", {"name": "X"}), 404)
    foreign = primary_ruleset(other_api)
    error_of(api.put(f"/v1/rulesets/{foreign['id']}", {"name": "Mine now"}), 404)
    assert other_api.get(f"/v1/rulesets/{foreign['id']}").json()["name"] == "Engagement"


def test_delete_ruleset_takes_its_rules_and_scores(api: ApiHarness) -> None:
    extra = api.post("/v1/rulesets", {"name": "Marketing"}).json()
    rule = create_rule(api, ruleset_id=extra["id"], weight=7)
    result = visit(api, "ann@acme.com")
    assert result["scores"][extra["id"]] == 7
    assert api.delete(f"/v1/rulesets/{extra['id']}").status_code == 204
    error_of(api.get(f"/v1/rulesets/{extra['id']}"), 404)
    error_of(api.get(f"/v1/rules/{rule['id']}"), 404)
    error_of(api.get("/v1/rules", params={"ruleset_id": extra["id"]}), 404)
    with api.db.read() as session:
        left = session.scalars(select(models.LeadScore.ruleset_id).where(models.LeadScore.ruleset_id == extra["id"]))
        assert list(left) == []
        explanation = session.scalar(
            select(models.Event.explanation).where(models.Event.unit_id == api.tenant.unit_id)
        )
    assert extra["id"] not in explanation
    assert_consistent(api)


def test_cannot_delete_the_primary_or_the_last_ruleset(api: ApiHarness) -> None:
    primary = primary_ruleset(api)
    error = error_of(api.delete(f"/v1/rulesets/{primary['id']}"), 409)
    assert "last ruleset" in error["message"]
    api.post("/v1/rulesets", {"name": "Marketing"})
    error = error_of(api.delete(f"/v1/rulesets/{primary['id']}"), 409)
    assert "primary" in error["message"]
    assert api.get(f"/v1/rulesets/{primary['id']}").status_code == 200


def test_delete_unknown_or_foreign_ruleset_is_404(api: ApiHarness, other_api: ApiHarness) -> None:
    error_of(api.delete("/v1/rulesets/rs_missing"), 404)
    other_api.post("/v1/rulesets", {"name": "Theirs"})
    theirs = next(r for r in other_api.get("/v1/rulesets").json() if r["name"] == "Theirs")
    error_of(api.delete(f"/v1/rulesets/{theirs['id']}"), 404)
    error_of(api.get(f"/v1/rulesets/{theirs['id']}"), 404)
    error_of(api.get(f"/v1/rulesets/{theirs['id']}/rules"), 404)
    assert other_api.get(f"/v1/rulesets/{theirs['id']}").status_code == 200


# --- rules -----------------------------------------------------------------------------------------------------------


def test_create_rule_defaults_to_the_primary_ruleset(api: ApiHarness) -> None:
    primary = primary_ruleset(api)
    rule = create_rule(api, event_type="email_open", weight=5)
    assert rule["ruleset_id"] == primary["id"]
    assert rule["rule_id"] == rule["id"]
    assert rule["active"] is True
    assert rule["conditions"] == []
    assert rule["start_at"] is None and rule["end_at"] is None
    assert rule["created_at"] and rule["updated_at"]
    assert set(rule) >= {
        "rule_id", "ruleset_id", "event_type", "weight", "icon", "active", "start_at", "end_at", "created_at",
        "updated_at", "created_by", "updated_by", "id", "conditions",
    }
    assert "org_id" not in rule and "unit_id" not in rule
    assert api.get(f"/v1/rules/{rule['id']}").json() == rule


def test_create_rule_with_every_field(api: ApiHarness) -> None:
    extra = api.post("/v1/rulesets", {"name": "Marketing"}).json()
    rule = create_rule(
        api,
        ruleset_id=extra["id"],
        event_type="page_view",
        weight=-3,
        icon="eye",
        active=False,
        start_at="2026-01-01T00:00:00Z",
        end_at="2026-02-01T00:00:00+01:00",
        conditions=[
            {"property": "page", "operator": "equals", "value": "/pricing"},
            {"property": "seconds", "operator": "gt", "value": 30},
            {"property": "utm", "operator": "exists"},
            {"property": "plan", "operator": "in", "value": ["pro", "team"]},
        ],
    )
    assert rule["ruleset_id"] == extra["id"]
    assert rule["weight"] == -3
    assert rule["icon"] == "eye"
    assert rule["active"] is False
    assert rule["start_at"] == "2026-01-01T00:00:00Z"
    assert rule["end_at"] == "2026-01-31T23:00:00Z"
    assert rule["conditions"][0] == {"property": "page", "operator": "equals", "value": "/pricing"}
    assert rule["conditions"][3]["value"] == ["pro", "team"]


def test_list_rules_with_and_without_ruleset_filter(api: ApiHarness, other_api: ApiHarness) -> None:
    primary = primary_ruleset(api)
    extra = api.post("/v1/rulesets", {"name": "Marketing"}).json()
    a = create_rule(api, event_type="a")
    b = create_rule(api, event_type="b", ruleset_id=extra["id"])
    create_rule(other_api, event_type="theirs")
    assert {r["id"] for r in api.get("/v1/rules").json()} == {a["id"], b["id"]}
    assert [r["id"] for r in api.get("/v1/rules", params={"ruleset_id": primary["id"]}).json()] == [a["id"]]
    assert [r["id"] for r in api.get(f"/v1/rulesets/{extra['id']}/rules").json()] == [b["id"]]
    error_of(api.get("/v1/rules", params={"ruleset_id": "rs_missing"}), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weight": 5}, "event_type"),
        ({"event_type": "", "weight": 5}, "event_type"),
        ({"event_type": "   ", "weight": 5}, "event_type"),
        ({"event_type": "DECAY", "weight": 5}, "event_type"),
        ({"event_type": "x"}, "weight"),
        ({"event_type": "x", "weight": "five"}, "weight"),
        ({"event_type": "x", "weight": "5"}, "weight"),
        ({"event_type": "x", "weight": 1.5}, "weight"),
        ({"event_type": "x", "weight": True}, "weight"),
        ({"event_type": "x", "weight": 10**9}, "weight"),
        ({"event_type": "x", "weight": 1, "active": "maybe"}, "active"),
        ({"event_type": "x", "weight": 1, "start_at": "yesterday"}, "start_at"),
        ({"event_type": "x", "weight": 1, "start_at": "0001-01-01T00:00:00+01:00"}, "start_at"),
        ({"event_type": "x", "weight": 1, "start_at": "2026-02-01T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"},
         "end_at"),
        ({"event_type": "x", "weight": 1, "start_at": "2026-02-01T00:00:00Z", "end_at": "2026-02-01T00:00:00Z"},
         "end_at"),
        ({"event_type": "x", "weight": 1, "conditions": {"page": "/pricing"}}, "conditions"),
        ({"event_type": "x", "weight": 1, "conditions": ["page=/pricing"]}, "conditions[0]"),
        ({"event_type": "x", "weight": 1, "conditions": [{"property": "page", "operator": "like", "value": "/p"}]},
         "conditions[0].operator"),
        ({"event_type": "x", "weight": 1, "conditions": [{"property": "page", "value": "/p"}]},
         "conditions[0].operator"),
        ({"event_type": "x", "weight": 1, "conditions": [
            {"property": "page", "operator": "equals", "value": "/p"},
            {"property": "", "operator": "equals", "value": "/p"},
        ]}, "conditions[1].property"),
        ({"event_type": "x", "weight": 1, "conditions": [{"property": "n", "operator": "gt", "value": "many"}]},
         "conditions[0].value"),
        ({"event_type": "x", "weight": 1, "conditions": [{"property": "n", "operator": "equals", "value": {"a": 1}}]},
         "conditions[0].value"),
        ({"event_type": "x", "weight": 1, "conditions": [{"property": "n", "operator": "equals"}]},
         "conditions[0].value"),
        ({"event_type": "x", "weight": 1, "conditions": [{"property": "n", "operator": "equals", "value": 1, "x": 2}]},
         "conditions[0].x"),
        ({"event_type": "x", "weight": 1, "org_id": "org_other"}, "org_id"),
        ({"event_type": "x", "weight": 1, "unit_id": "unit_other"}, "unit_id"),
        ({"event_type": "x", "weight": 1, "rule_id": "rl_mine"}, "rule_id"),
        ({"event_type": "x", "weight": 1, "colour": "red"}, "colour"),
        ({"event_type": "x" * 201, "weight": 1}, "event_type"),
    ],
)
def test_invalid_rule_is_422_naming_the_field(api: ApiHarness, body: dict[str, Any], field: str) -> None:
    error = error_of(api.post("/v1/rules", body), 422)
    assert error["code"] == "validation_error"
    assert error["message"].startswith(f"{field}:") or error["message"].startswith(f"{field} "), error["message"]
    assert api.get("/v1/rules").json() == []


def test_invalid_json_is_400(api: ApiHarness) -> None:
    response = api.client.post(
        "/v1/rules", content=b"{not json", headers={**api.headers, "Content-Type": "application/json"}
    )
    assert error_of(response, 400)["code"] == "invalid_json"


def test_rule_in_another_units_ruleset_is_404(api: ApiHarness, other_api: ApiHarness) -> None:
    foreign = primary_ruleset(other_api)
    error = error_of(api.post("/v1/rules", {"event_type": "x", "weight": 1, "ruleset_id": foreign["id"]}), 404)
    assert foreign["id"] in error["message"]
    assert other_api.get("/v1/rules").json() == []


def test_update_rule_is_partial(api: ApiHarness) -> None:
    conditions = [{"property": "page", "operator": "equals", "value": "/pricing"}]
    rule = create_rule(api, event_type="page_view", weight=10, icon="eye", conditions=conditions)
    response = api.put(f"/v1/rules/{rule['id']}", {"weight": -2})
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["id"] == rule["id"]
    assert updated["event_type"] == "page_view" and updated["weight"] == -2
    assert updated["icon"] == "eye" and updated["conditions"] == rule["conditions"]
    assert updated["ruleset_id"] == rule["ruleset_id"]
    assert updated["created_at"] == rule["created_at"]
    assert api.get(f"/v1/rules/{rule['id']}").json() == updated
    # fields that are sent replace the stored ones, null clears the optional ones
    cleared = api.put(f"/v1/rules/{rule['id']}", {"event_type": "form_submit", "icon": None, "conditions": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["event_type"] == "form_submit" and cleared.json()["weight"] == -2
    assert cleared.json()["icon"] is None and cleared.json()["conditions"] == []
    for body, field in (({"weight": None}, "weight"), ({"event_type": None}, "event_type"), ({"colour": 1}, "colour")):
        error = error_of(api.put(f"/v1/rules/{rule['id']}", body), 422)
        assert field in error["message"]


def test_update_rule_accepts_the_reference_shape_and_moves_between_rulesets(api: ApiHarness) -> None:
    extra = api.post("/v1/rulesets", {"name": "Marketing"}).json()
    rule = create_rule(api)
    body = {**rule, "ruleset_id": extra["id"], "weight": 4}
    body.pop("id")
    updated = api.put(f"/v1/rules/{rule['id']}", body).json()
    assert updated["ruleset_id"] == extra["id"]
    assert updated["weight"] == 4


def test_update_rule_errors(api: ApiHarness, other_api: ApiHarness) -> None:
    rule = create_rule(api)
    error_of(api.put("/v1/rules/rl_missing", {"event_type": "x", "weight": 1}), 404)
    theirs = create_rule(other_api)
    error_of(api.put(f"/v1/rules/{theirs['id']}", {"event_type": "x", "weight": 1}), 404)
    error_of(api.get(f"/v1/rules/{theirs['id']}"), 404)
    assert other_api.get(f"/v1/rules/{theirs['id']}").json()["weight"] == 10
    error = error_of(api.put(f"/v1/rules/{rule['id']}", {"event_type": "x", "weight": 1, "rule_id": "rl_other"}), 422)
    assert error["message"].startswith("rule_id")
    error = error_of(api.put(f"/v1/rules/{rule['id']}", {"event_type": "x", "weight": "heavy"}), 422)
    assert error["message"].startswith("weight")
    error = error_of(api.put(f"/v1/rules/{rule['id']}", {"event_type": "x", "weight": 1, "org_id": "o"}), 422)
    assert error["message"].startswith("org_id")
    foreign_rs = primary_ruleset(other_api)
    error_of(api.put(f"/v1/rules/{rule['id']}", {"event_type": "x", "weight": 1, "ruleset_id": foreign_rs["id"]}), 404)
    assert api.get(f"/v1/rules/{rule['id']}").json() == rule


def test_delete_rule(api: ApiHarness, other_api: ApiHarness) -> None:
    rule = create_rule(api)
    theirs = create_rule(other_api)
    error_of(api.delete(f"/v1/rules/{theirs['id']}"), 404)
    assert other_api.get(f"/v1/rules/{theirs['id']}").status_code == 200
    response = api.delete(f"/v1/rules/{rule['id']}")
    assert response.status_code == 204
    assert response.content == b""
    error_of(api.get(f"/v1/rules/{rule['id']}"), 404)
    error_of(api.delete(f"/v1/rules/{rule['id']}"), 404)


# --- rule changes move scores ---------------------------------------------------------------------------------------


def test_changing_a_weight_rescores_existing_leads_and_the_next_ingest(api: ApiHarness) -> None:
    primary = primary_ruleset(api)
    rule = create_rule(api, event_type="page_view", weight=10)
    first = visit(api, "ann@acme.com")
    visit(api, "ann@acme.com")
    bob = visit(api, "bob@acme.com")
    assert first["score"] == 10
    lead_ann = first["lead_id"]
    assert stored_lead_score(api, lead_ann, primary["id"]) == 20
    assert stored_lead_score(api, bob["lead_id"], primary["id"]) == 10

    response = api.put(f"/v1/rules/{rule['id']}", {"event_type": "page_view", "weight": 3})
    assert response.status_code == 200
    assert stored_lead_score(api, lead_ann, primary["id"]) == 6
    assert stored_lead_score(api, bob["lead_id"], primary["id"]) == 3
    read = api.get(f"/v1/leads/{lead_ann}/score")
    assert read.status_code == 200, read.text
    assert read.json()["score"] == 6
    assert read.json()["scores"][primary["id"]] == 6
    assert_consistent(api)
    nxt = visit(api, "ann@acme.com")
    assert nxt["score"] == 9
    assert nxt["event"]["score_delta"] == 3

    api.delete(f"/v1/rules/{rule['id']}")
    assert stored_lead_score(api, lead_ann, primary["id"]) == 0
    assert visit(api, "ann@acme.com")["score"] == 0
    assert_consistent(api)


def test_new_rule_and_condition_apply_to_past_events(api: ApiHarness) -> None:
    primary = primary_ruleset(api)
    lead = visit(api, "ann@acme.com", metadata={"page": "/pricing"})["lead_id"]
    visit(api, "ann@acme.com", metadata={"page": "/blog"})
    assert stored_lead_score(api, lead, primary["id"]) == 0
    create_rule(api, weight=25, conditions=[{"property": "page", "operator": "equals", "value": "/pricing"}])
    assert stored_lead_score(api, lead, primary["id"]) == 25
    assert_consistent(api)


def test_changing_the_primary_ruleset_changes_the_reported_score(api: ApiHarness) -> None:
    create_rule(api, weight=10)
    extra = api.post("/v1/rulesets", {"name": "Marketing"}).json()
    create_rule(api, weight=2, ruleset_id=extra["id"])
    assert visit(api, "ann@acme.com")["score"] == 10
    api.put(f"/v1/rulesets/{extra['id']}", {"is_primary": True})
    result = visit(api, "ann@acme.com")
    assert result["primary_ruleset_id"] == extra["id"]
    assert result["score"] == 4
    assert_consistent(api)


def test_rule_changes_do_not_touch_another_unit(api: ApiHarness, other_api: ApiHarness) -> None:
    theirs_rs = primary_ruleset(other_api)
    create_rule(other_api, weight=10)
    their_lead = visit(other_api, "ann@acme.com")["lead_id"]
    rule = create_rule(api, weight=1)
    api.put(f"/v1/rules/{rule['id']}", {"event_type": "page_view", "weight": 50})
    assert stored_lead_score(other_api, their_lead, theirs_rs["id"]) == 10


# --- scoring settings ------------------------------------------------------------------------------------------------


def test_scoring_settings_defaults_and_partial_update(api: ApiHarness) -> None:
    settings = api.get("/v1/settings/scoring").json()
    assert settings["allow_negative_scores"] is False
    assert settings["abm_enabled"] is False
    assert settings["session_timeout_minutes"] == 30
    updated = api.put("/v1/settings/scoring", {"session_timeout_minutes": 45}).json()
    assert updated["session_timeout_minutes"] == 45
    assert updated["abm_enabled"] is False
    updated = api.put("/v1/settings/scoring", {"abm_enabled": True}).json()
    assert updated["abm_enabled"] is True
    assert updated["session_timeout_minutes"] == 45
    assert api.get("/v1/settings/scoring").json() == updated


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"allow_negative_scores": "yes"}, "allow_negative_scores"),
        ({"abm_enabled": 1}, "abm_enabled"),
        ({"session_timeout_minutes": "30"}, "session_timeout_minutes"),
        ({"session_timeout_minutes": 0}, "session_timeout_minutes"),
        ({"session_timeout_minutes": 100000}, "session_timeout_minutes"),
        ({"timezone": "UTC"}, "timezone"),
    ],
)
def test_invalid_scoring_settings_are_422(api: ApiHarness, body: dict[str, Any], field: str) -> None:
    error = error_of(api.put("/v1/settings/scoring", body), 422)
    assert error["message"].startswith(field), error["message"]


def test_settings_are_per_unit(api: ApiHarness, other_api: ApiHarness) -> None:
    api.put("/v1/settings/scoring", {"abm_enabled": True})
    assert other_api.get("/v1/settings/scoring").json()["abm_enabled"] is False


def test_allowing_negative_scores_rescores(api: ApiHarness) -> None:
    primary = primary_ruleset(api)
    create_rule(api, event_type="unsubscribe", weight=-10)
    create_rule(api, event_type="page_view", weight=5)
    lead = visit(api, "ann@acme.com", event_type="unsubscribe")["lead_id"]
    visit(api, "ann@acme.com")
    assert stored_lead_score(api, lead, primary["id"]) == 5  # floored at 0, then +5
    api.put("/v1/settings/scoring", {"allow_negative_scores": True})
    assert stored_lead_score(api, lead, primary["id"]) == -5
    assert_consistent(api)
    assert visit(api, "ann@acme.com", event_type="unsubscribe")["score"] == -15
    api.put("/v1/settings/scoring", {"allow_negative_scores": False})
    assert stored_lead_score(api, lead, primary["id"]) == 0
    assert_consistent(api)


def test_ruleset_names_with_non_ascii_capitals_conflict_instead_of_failing(api: ApiHarness) -> None:
    assert api.post("/v1/rulesets", {"name": "Ärger"}).status_code == 201
    error = error_of(api.post("/v1/rulesets", {"name": "Ärger"}), 409)
    assert "Ärger" in error["message"]
    other = api.post("/v1/rulesets", {"name": "Other"}).json()
    assert error_of(api.put(f"/v1/rulesets/{other['id']}", {"name": "Ärger"}), 409)["code"] == "conflict"


def test_rules_record_which_api_key_wrote_them(api: ApiHarness) -> None:
    rule = create_rule(api)
    assert rule["created_by"] == rule["updated_by"] == "api key tests"
    updated = api.put(f"/v1/rules/{rule['id']}", {"weight": 3}).json()
    assert updated["created_by"] == "api key tests" and updated["updated_by"] == "api key tests"
