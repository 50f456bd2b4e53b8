"""POST /v1/leads/merge: one person known under several lead ids becomes one lead, and no point is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from db import models
from db.engine import Database
from services.people.profiles import verify_profiles
from services.scoring.rescore import verify_unit
from services.tenancy import api_keys
from services.tenancy.tenants import create_unit
from tests.conftest import ApiHarness, add_rule, make_harness


def send(api: ApiHarness, address: str, event_type: str = "demo_request", **extra: Any) -> str:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": address}],
                                   "event_type": event_type, **extra})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["lead_id"])


def with_role(api: ApiHarness, role: str) -> dict[str, str]:
    with api.db.write() as session:
        key = api_keys.create_api_key(session, api.tenant, name=role, role=role, now=datetime.now(UTC)).secret
    return {"Authorization": f"Bearer {key}"}


def test_merge_moves_events_and_aliases_replays_the_target_and_reads_follow(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    add_rule(api, "page_view", 5)
    target = send(api, "ann@acme.io", "page_view")
    source = send(api, "ann.lee@gmail.com")
    send(api, "ann@acme.io", "page_view")
    other = send(api, "bob@acme.io")

    resp = api.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": [source]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["mergedSources"] == [source] and body["movedEvents"] == 1 and body["truncatedEvents"] == 0
    assert body["rescore"] == {"leads": 2, "events": 3, "score": 40}
    assert body["target"]["id"] == target and body["target"]["score"] == 40
    assert {a["raw_value"] for a in body["target"]["aliases"]} == {"ann@acme.io", "ann.lee@gmail.com"}

    # A merged id reads as the target, on every lead read.
    assert api.get(f"/v1/leads/{source}").json()["lead"] == api.get(f"/v1/leads/{target}").json()["lead"]
    assert api.get(f"/v1/leads/{source}/score").json()["score"] == 40
    assert len(api.get(f"/v1/leads/{source}/aliases").json()) == 2
    assert api.get(f"/v1/leads/{source}/account").json()["lead_id"] == target
    assert api.get(f"/v1/leads/{target}/events").json()[0]["lead_id"] == target
    listed = [row["id"] for row in api.get("/v1/leads").json()["leads"]]
    assert source not in listed and target in listed and other in listed
    # New events for the source's alias land on the target.
    assert send(api, "ann.lee@gmail.com") == target
    assert api.get(f"/v1/leads/{target}/score").json()["score"] == 70
    # So do events that name the source by its id.
    resp = api.post("/v1/events", {"lead_id": source, "event_type": "page_view"})
    assert resp.status_code == 201 and resp.json()["lead_id"] == target, resp.text
    assert api.get(f"/v1/leads/{target}/score").json()["score"] == 75
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []
        entry = session.scalars(select(models.AuditLog).where(
            models.AuditLog.unit_id == api.tenant.unit_id, models.AuditLog.action == "merge")).one()
    assert entry.entity_id == target and entry.changes is not None
    assert entry.changes["sources"]["after"] == [source] and entry.changes["moved_events"]["after"] == 1


def test_merge_keeps_account_scores_and_rewrites_explanations_as_a_rescore_would(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    add_rule(api, "unsubscribe", -50)
    target = send(api, "ann@acme.io")  # acme.io becomes the account of both
    source = send(api, "ann2@acme.io")
    send(api, "ann@acme.io", "unsubscribe")  # floors the target at 0 before the source's 30 in the merged log
    send(api, "ann2@acme.io")
    before = api.get(f"/v1/leads/{target}").json()["account"]
    with api.db.read() as session:
        account_scores = set(session.execute(select(models.AccountScore.account_id, models.AccountScore.score).where(
            models.AccountScore.unit_id == api.tenant.unit_id)))
    resp = api.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": [source], "truncate": False})
    # 30 (ann) + 30 (ann2) - 50 -> 10, then + 30 = 40: the log's order, the floor applied along it.
    assert resp.json()["rescore"]["score"] == 40
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []
        assert set(session.execute(select(models.AccountScore.account_id, models.AccountScore.score).where(
            models.AccountScore.unit_id == api.tenant.unit_id))) == account_scores
        stored = [e for (e,) in session.execute(select(models.Event.explanation).where(
            models.Event.unit_id == api.tenant.unit_id).order_by(models.Event.seq))]
    primary = next(iter(stored[0]))
    assert [(e[primary]["before"], e[primary]["after"]) for e in stored] == [(0, 30), (30, 60), (60, 10), (10, 40)]
    assert api.get(f"/v1/leads/{target}").json()["account"] == before


def test_truncate_removes_the_source_records(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    target, s1, s2 = send(api, "t@acme.io"), send(api, "s1@acme.io"), send(api, "s2@acme.io")
    resp = api.post("/v1/leads/merge",
                    {"targetLeadId": target, "sourceLeadIds": [s1], "truncate": {"policy": "sources"}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["truncatedEvents"] == 0 and resp.json()["rescore"]["score"] == 60
    assert api.get(f"/v1/leads/{s1}").status_code == 404
    resp = api.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": [s2], "truncate": True})
    assert resp.status_code == 200 and resp.json()["target"]["score"] == 90
    assert api.get(f"/v1/leads/{s2}").status_code == 404
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []
        leads = set(session.scalars(select(models.Lead.id).where(models.Lead.unit_id == api.tenant.unit_id)))
    assert leads == {target}


def test_merge_refuses_bad_requests_naming_the_field(api: ApiHarness, other_api: ApiHarness) -> None:
    a, b, c = send(api, "a@acme.io"), send(api, "b@acme.io"), send(api, "c@acme.io")
    stranger = send(other_api, "x@other.io")

    def merge(body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return api.post("/v1/leads/merge", body, headers=headers or {})

    missing = merge({"targetLeadId": a, "sourceLeadIds": [b, stranger]})
    assert missing.status_code == 404 and "sourceLeadIds[1]" in missing.text
    assert merge({"targetLeadId": stranger, "sourceLeadIds": [b]}).status_code == 404
    itself = merge({"targetLeadId": a, "sourceLeadIds": [b, a]})
    assert itself.status_code == 422 and "sourceLeadIds[1]" in itself.text
    assert merge({"targetLeadId": a, "sourceLeadIds": []}).status_code == 422
    assert merge({"targetLeadId": a, "sourceLeadIds": [b, b]}).status_code == 422
    assert merge({"targetLeadId": a, "sourceLeadIds": [b], "truncate": {"policy": "all"}}).status_code == 422
    assert merge({"targetLeadId": a, "sourceLeadIds": [b]}, with_role(api, "Viewer")).status_code == 403
    assert merge({"targetLeadId": a, "sourceLeadIds": [b]}, with_role(api, "Operator")).status_code == 200
    again = merge({"targetLeadId": c, "sourceLeadIds": [b]})
    assert again.status_code == 409 and "sourceLeadIds[0]" in again.text
    into_merged = merge({"targetLeadId": b, "sourceLeadIds": [c]})
    assert into_merged.status_code == 409
    # Chains: a merged into c -> b (merged into a) now reads as c.
    assert merge({"targetLeadId": c, "sourceLeadIds": [a]}).status_code == 200
    assert api.get(f"/v1/leads/{b}").json()["lead"]["id"] == c
    assert other_api.get(f"/v1/leads/{b}").status_code == 404


def test_a_trigger_that_fired_for_either_lead_does_not_fire_again(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    created = api.post("/v1/triggers/milestones", {"name": "Hot", "score_threshold": 50, "emails": ["ops@example.com"]})
    assert created.status_code == 201, created.text
    target = send(api, "t@acme.io")
    source = send(api, "s@acme.io")
    send(api, "s@acme.io")  # the source crosses 50: fires once

    def firings() -> list[tuple[str | None, str]]:
        with api.db.read() as session:
            return list(session.execute(select(models.TriggerFiring.lead_id, models.TriggerFiring.subject).where(
                models.TriggerFiring.unit_id == api.tenant.unit_id)).tuples())

    assert firings() == [(source, source)]
    resp = api.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": [source]})
    assert resp.json()["rescore"]["score"] == 90
    assert firings() == [(target, target)]  # moved, and the merge fired nothing
    send(api, "t@acme.io")
    assert len(firings()) == 1


# --- no point lost: the merged lead scores as one lead that received every event -----------------------------------

TYPES = {"demo_request": 30, "page_view": 5, "unsubscribe": -40, "email_open": 2}
EVENTS = st.lists(st.tuples(st.sampled_from(sorted(TYPES)), st.integers(0, 2)), min_size=1, max_size=25)


def _unit(api_app: Any, db: Database, now: datetime) -> ApiHarness:
    with db.write() as session:
        tenant = create_unit(session, org_name="Merge property", unit_name="p", now=now)
    api = make_harness(api_app, db, tenant, now)
    for event_type, weight in TYPES.items():
        add_rule(api, event_type, weight)
    return api


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_scores_after_merge_equal_one_lead_with_all_the_events(
    api_app: Any, db: Database, events: list[tuple[str, int]]
) -> None:
    now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    merged, single = _unit(api_app, db, now), _unit(api_app, db, now)
    people = ["p0@merge.io", "p1@merge.io", "p2@merge.io"]
    ids: dict[int, str] = {}
    for i, (event_type, who) in enumerate(events):
        at = (now - timedelta(minutes=len(events) - i)).isoformat()
        ids[who] = send(merged, people[who], event_type, timestamp=at)
        alone = send(single, "one@merge.io", event_type, timestamp=at)
    target, *sources = sorted(ids.values())
    if sources:
        resp = merged.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": sources})
        assert resp.status_code == 200, resp.text
    got = merged.get(f"/v1/leads/{target}").json()["lead"]
    want = single.get(f"/v1/leads/{alone}").json()["lead"]
    assert list(got["scores"].values()) == list(want["scores"].values())
    assert got["score"] == want["score"]
    with db.read() as session:
        assert verify_unit(session, merged.tenant) == []


def test_the_target_profile_is_the_fold_of_both_leads_profile_events(api: ApiHarness) -> None:
    def signal(address: str, **fields: Any) -> str:
        resp = api.post("/v1/signals", {"type": "page_view", "contact": {"email": address, **fields}})
        assert resp.status_code in (200, 201), resp.text
        return str(resp.json()["data"]["contact"]["id"])

    target = signal("ann@acme.io", title="CTO", city="Paris")
    source = signal("ann.lee@gmail.com", title="VP Sales", phone_ext="12")  # later in the log: wins for title
    resp = api.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": [source]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["target"]["metadata"] == {"title": "VP Sales", "city": "Paris", "phone_ext": "12"}
    with api.db.read() as session:
        assert verify_profiles(session, api.tenant) == []
        assert verify_unit(session, api.tenant) == []
