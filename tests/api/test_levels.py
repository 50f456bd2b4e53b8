"""Engagement levels over the API: CRUD, validation of the whole set, and levels carried by leads."""

from __future__ import annotations

from datetime import datetime

from db.engine import Database
from services.context import Tenant
from services.errors import InvalidInput
from services.scoring import levels as level_service
from tests.conftest import ApiHarness, add_rule

BASE = "/v1/levels/engagement"



def make_levels(api: ApiHarness) -> dict[str, dict]:
    made = {}
    for name, low, high in (("Cold", 0, 29), ("Warm", 30, 79), ("Hot", 80, 100_000)):
        resp = api.post(BASE, {"name": name, "min_score": low, "max_score": high})
        assert resp.status_code == 201, resp.text
        made[name] = resp.json()
    return made


def test_create_list_update_delete(api: ApiHarness) -> None:
    assert api.get(BASE).json() == []
    made = make_levels(api)
    hot = made["Hot"]
    assert hot["stage_id"] == hot["id"] and hot["name"] == "Hot"
    assert (hot["min_score"], hot["max_score"]) == (80, 100_000)
    listed = api.get(BASE).json()
    assert [lv["name"] for lv in listed] == ["Cold", "Warm", "Hot"]
    assert set(listed[0]) >= {"id", "stage_id", "name", "min_score", "max_score"}

    resp = api.put(f"{BASE}/{hot['id']}", {"name": "On fire", "min_score": 80, "max_score": 1000})
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "On fire"
    assert [lv["name"] for lv in api.get(BASE).json()] == ["Cold", "Warm", "On fire"]

    assert api.delete(f"{BASE}/{hot['id']}").status_code == 204
    assert [lv["name"] for lv in api.get(BASE).json()] == ["Cold", "Warm"]


def test_overlap_gap_bounds_and_duplicate_names_are_refused(api: ApiHarness) -> None:
    made = make_levels(api)
    cases = [
        ({"name": "Lukewarm", "min_score": 20, "max_score": 40}, "overlap"),
        ({"name": "Blazing", "min_score": 100_010, "max_score": 200_000}, "gap"),
        ({"name": "cold", "min_score": 100_001, "max_score": 200_000}, "more than once"),
    ]
    for body, words in cases:
        resp = api.post(BASE, body)
        assert resp.status_code == 422, resp.text
        assert words in resp.json()["error"]["message"]
    resp = api.put(f"{BASE}/{made['Warm']['id']}", {"name": "Warm", "min_score": 79, "max_score": 30})
    assert resp.status_code == 422
    assert "min_score" in resp.json()["error"]["message"]
    # Deleting the middle band would leave scores 30..79 without a level.
    resp = api.delete(f"{BASE}/{made['Warm']['id']}")
    assert resp.status_code == 422 and "gap" in resp.json()["error"]["message"]
    assert len(api.get(BASE).json()) == 3


def test_bad_bodies_name_the_field(api: ApiHarness) -> None:
    resp = api.post(BASE, {"name": "X", "min_score": 0})
    assert resp.status_code == 422 and "max_score" in resp.json()["error"]["message"]
    resp = api.post(BASE, {"name": "X", "min_score": "low", "max_score": 3})
    assert resp.status_code == 422 and "min_score" in resp.json()["error"]["message"]
    resp = api.post(BASE, {"name": "X", "min_score": 0, "max_score": 3, "color": "red"})
    assert resp.status_code == 422 and "color" in resp.json()["error"]["message"]
    resp = api.post(BASE, {"name": "", "min_score": 0, "max_score": 3})
    assert resp.status_code == 422 and "name" in resp.json()["error"]["message"]
    # bounds beyond what a 64-bit score column holds
    resp = api.post(BASE, {"name": "X", "min_score": 0, "max_score": 2**63})
    assert resp.status_code == 422 and "max_score" in resp.json()["error"]["message"]
    resp = api.post(BASE, {"name": "X", "min_score": -(2**63) - 1, "max_score": 3})
    assert resp.status_code == 422 and "min_score" in resp.json()["error"]["message"]
    assert api.get(BASE).json() == []


def test_unknown_and_foreign_levels_are_404(api: ApiHarness, other_api: ApiHarness) -> None:
    made = make_levels(api)
    body = {"name": "Hot", "min_score": 80, "max_score": 1000}
    assert api.put(f"{BASE}/st_nope", body).status_code == 404
    assert api.delete(f"{BASE}/st_nope").status_code == 404
    foreign = made["Hot"]["id"]
    assert other_api.put(f"{BASE}/{foreign}", body).status_code == 404
    assert other_api.delete(f"{BASE}/{foreign}").status_code == 404
    assert other_api.get(BASE).json() == []
    assert len(api.get(BASE).json()) == 3


def test_auth_is_required(api: ApiHarness) -> None:
    assert api.client.get(BASE).status_code == 401
    resp = api.client.post(BASE, json={"name": "X", "min_score": 0, "max_score": 1},
                           headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"


def test_replace_all_is_atomic(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        level_service.replace_all(
            session, tenant,
            [level_service.LevelInput("Cold", 0, 9), level_service.LevelInput("Hot", 10, 99)], now,
        )
    with db.read() as session:
        kept = {lv["name"]: lv["id"] for lv in level_service.list_levels(session, tenant)}
    try:
        with db.write() as session:
            level_service.replace_all(
                session, tenant,
                [level_service.LevelInput("Cold", 0, 9), level_service.LevelInput("Warm", 5, 20)], now,
            )
        raise AssertionError("overlapping set accepted")
    except InvalidInput as exc:
        assert "overlap" in exc.message
    with db.read() as session:
        assert {lv["name"]: lv["id"] for lv in level_service.list_levels(session, tenant)} == kept
    with db.write() as session:
        result = level_service.replace_all(
            session, tenant,
            [
                level_service.LevelInput("Hot", 20, 99, id=kept["Hot"]),
                level_service.LevelInput("Cold", 0, 9, id=kept["Cold"]),
                level_service.LevelInput("Warm", 10, 19),
            ],
            now,
        )
    assert [lv["name"] for lv in result] == ["Cold", "Warm", "Hot"]
    with db.read() as session:
        listed = level_service.list_levels(session, tenant)
    assert [(lv["name"], lv["min_score"], lv["max_score"]) for lv in listed] == [
        ("Cold", 0, 9), ("Warm", 10, 19), ("Hot", 20, 99),
    ]
    assert listed[2]["id"] == kept["Hot"]


def test_leads_carry_their_level(api: ApiHarness) -> None:
    make_levels(api)
    add_rule(api, "demo_request", 50)
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "w@acme.com"}],
                                   "event_type": "demo_request", "timestamp": "2026-11-01T10:00:00Z"})
    assert resp.status_code == 201, resp.text
    lead_id = resp.json()["lead_id"]
    api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": "c@acme.com"}],
                            "event_type": "page_view", "timestamp": "2026-11-01T10:00:00Z"})
    assert api.get(f"/v1/leads/{lead_id}/score").json()["level"]["name"] == "Warm"
    assert api.get(f"/v1/leads/{lead_id}").json()["lead"]["level"]["name"] == "Warm"
    listed = api.get("/v1/leads").json()["leads"]
    assert {ld["email"]: ld["level"]["name"] for ld in listed} == {"w@acme.com": "Warm", "c@acme.com": "Cold"}
    warm = api.get("/v1/leads", params={"level": "warm"}).json()
    assert warm["total"] == 1 and warm["leads"][0]["id"] == lead_id
    resp = api.get("/v1/leads", params={"level": "Lava"})
    assert resp.status_code == 422 and "level" in resp.json()["error"]["message"]
