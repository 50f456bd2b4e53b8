"""Sample data through the API: POST /v1/admin/sample-data seeds the demo into an empty unit (409 otherwise);
DELETE removes exactly what was seeded, keeps what users and real sources added, and leaves scores replayable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.operations import demo
from services.scoring.rescore import verify_unit
from services.triggers import triggers
from tests.api.test_roles import with_key
from tests.conftest import ApiHarness

# Every table that holds a unit's data (API keys aside: their last use changes with each request).
TABLES = (
    models.Ruleset, models.Rule, models.EngagementLevel, models.DecayRule, models.ScoringSettings, models.Event,
    models.Lead, models.LeadAlias, models.LeadScore, models.Account, models.AccountScore, models.Trigger,
    models.TriggerFiring, models.Delivery, models.UnitMembership,
)
URL = "/v1/admin/sample-data"


def snapshot(session: Session, tenant: Tenant) -> dict[str, list[tuple[Any, ...]]]:
    state: dict[str, list[tuple[Any, ...]]] = {}
    for model in TABLES:
        table: Any = model.__table__
        columns = [c for c in table.c if c.name != "id" or model is not models.LeadAlias]  # alias ids are serial
        rows = session.execute(select(*columns).where(table.c.unit_id == tenant.unit_id)).all()
        state[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return state


def counts(api: ApiHarness) -> dict[str, int]:
    with api.db.read() as session:
        return {
            model.__tablename__: int(session.scalar(
                select(func.count()).select_from(model).where(model.unit_id == api.tenant.unit_id)) or 0)
            for model in TABLES
        }


def event(email: str, event_type: str = "demo_request") -> dict[str, Any]:
    return {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type}


def lead_id_of(api: ApiHarness, email: str) -> str:
    with api.db.read() as session:
        lead_id = session.scalar(select(models.LeadAlias.lead_id).where(
            models.LeadAlias.unit_id == api.tenant.unit_id, models.LeadAlias.value == email))
    assert lead_id is not None
    return lead_id


def score_of(api: ApiHarness, lead_id: str) -> int:
    with api.db.read() as session:
        return int(session.scalar(select(func.sum(models.LeadScore.score)).where(
            models.LeadScore.lead_id == lead_id)) or 0)


def test_seed_fills_the_unit_like_the_demo_and_a_second_seed_is_a_409(api: ApiHarness) -> None:
    response = api.post(URL)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"message", "output"} and body["output"].startswith("demo seeded: 300 leads")
    seeded = counts(api)
    assert seeded["leads"] == 300 and seeded["events"] >= 5 * 300
    assert seeded["rules"] == len(demo.DEFAULT_RULES) and seeded["decay_rules"] == len(demo.DEFAULT_DECAYS)
    assert 12 <= seeded["accounts"] <= 60
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []
        hot = session.scalar(select(func.count()).select_from(models.LeadScore).where(
            models.LeadScore.unit_id == api.tenant.unit_id, models.LeadScore.score >= 80))
    assert hot and hot >= 5  # the demo's pyramid has hot leads

    again = api.post(URL)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert counts(api) == seeded  # nothing doubled


def test_delete_returns_an_untouched_unit_to_exactly_what_it_was(
    api: ApiHarness, other_api: ApiHarness, now: datetime
) -> None:
    assert other_api.post(URL).status_code == 200  # the other unit has sample data of its own
    with api.db.write() as session:  # a trigger the seeded activity fires (firings and deliveries)
        triggers.create_trigger(
            session, api.tenant, "milestone", {"score_threshold": 80, "emails": ["sales@example.com"]}, now
        )
    with api.db.read() as session:
        before, other_before = snapshot(session, api.tenant), snapshot(session, other_api.tenant)

    assert api.post(URL).status_code == 200
    fired = counts(api)
    assert fired["trigger_firings"] > 0 and fired["deliveries"] > 0
    response = api.delete(URL)
    assert response.status_code == 200, response.text
    removed = response.json()
    assert removed["leads"] == 300 and removed["events"] > 1500 and removed["leads_kept"] == 0
    assert removed["rules"] == len(demo.DEFAULT_RULES) and removed["decay_rules"] == len(demo.DEFAULT_DECAYS)
    assert removed["accounts"] >= 12 and removed["aliases"] == 300
    assert removed["levels"] == len(demo.DEFAULT_LEVELS) and removed["trigger_firings"] == fired["trigger_firings"]

    with api.db.read() as session:
        assert snapshot(session, api.tenant) == before
        assert snapshot(session, other_api.tenant) == other_before  # tenant isolation
        assert verify_unit(session, other_api.tenant) == []
    assert api.post(URL).status_code == 200  # empty again: it can be seeded again


def test_delete_keeps_real_leads_real_events_and_what_users_changed(api: ApiHarness) -> None:
    assert api.post(URL).status_code == 200
    rules = {(r["event_type"], r["weight"]): r for r in api.get("/v1/rules").json() if not r["conditions"]}
    edited = rules[("demo_request", 30)]["id"]
    assert api.put(f"/v1/rules/{edited}", {"event_type": "demo_request", "weight": 35}).status_code == 200
    hot = next(lv for lv in api.get("/v1/levels/engagement").json() if lv["name"] == "Hot")
    assert api.put(f"/v1/levels/engagement/{hot['id']}", {"name": "On fire", "min_score": 80,
                                                            "max_score": 100_000}).status_code == 200
    decay_id = api.get("/v1/decays").json()[0]["decay_id"]
    assert api.put(f"/v1/decays/{decay_id}", {"decrease": 5}).status_code == 200
    mine = api.post("/v1/rules", {"event_type": "newsletter_signup", "weight": 7})
    assert mine.status_code == 201, mine.text
    # A real lead after the seed, and a real event for a seeded lead.
    assert api.post("/v1/events", event("real.person@example.org")).status_code in (200, 201, 202)
    with api.db.read() as session:
        seeded_lead, seeded_email = session.execute(
            select(models.LeadAlias.lead_id, models.LeadAlias.value)
            .where(models.LeadAlias.unit_id == api.tenant.unit_id).order_by(models.LeadAlias.value).limit(1)
        ).one()
    assert api.post("/v1/events", event(seeded_email, "newsletter_signup")).status_code in (200, 201, 202)
    real_lead = lead_id_of(api, "real.person@example.org")

    response = api.delete(URL)
    assert response.status_code == 200, response.text
    assert response.json()["leads"] == 299 and response.json()["leads_kept"] == 1

    with api.db.read() as session:
        unit = api.tenant.unit_id
        leads = set(session.scalars(select(models.Lead.id).where(models.Lead.unit_id == unit)))
        events = session.execute(select(models.Event.lead_id, models.Event.event_type, models.Event.source).where(
            models.Event.unit_id == unit)).all()
        left_rules = {(r.event_type, r.weight) for r in session.scalars(
            select(models.Rule).where(models.Rule.unit_id == unit))}
        left_levels = set(session.scalars(select(models.EngagementLevel.name).where(
            models.EngagementLevel.unit_id == unit)))
        left_decays = list(session.scalars(select(models.DecayRule.decrease).where(models.DecayRule.unit_id == unit)))
        kept = session.get(models.Lead, seeded_lead)
        real_at = session.scalar(select(models.Event.occurred_at).where(models.Event.lead_id == seeded_lead))
        problems = verify_unit(session, api.tenant)
    assert leads == {real_lead, seeded_lead}
    assert kept is not None and kept.last_activity_at == real_at  # active when its real event says, not the seed
    assert left_levels == {"On fire"} and left_decays == [5]  # changed by a user: kept
    assert sorted((lead, kind) for lead, kind, _ in events) == sorted(
        [(real_lead, "demo_request"), (seeded_lead, "newsletter_signup")])
    assert all(source != demo.SEED_SOURCE for _, _, source in events)
    assert left_rules == {("demo_request", 35), ("newsletter_signup", 7)}  # edited and user-made rules stay
    assert problems == []  # stored scores equal a replay of what is left
    assert score_of(api, real_lead) == 35 and score_of(api, seeded_lead) == 7
    assert api.get(f"/v1/leads/{seeded_lead}").status_code == 200


def test_delete_with_nothing_seeded_removes_nothing(api: ApiHarness) -> None:
    assert api.post("/v1/events", event("someone@example.org")).status_code in (200, 201, 202)
    with api.db.read() as session:
        before = snapshot(session, api.tenant)
    response = api.delete(URL)
    assert response.status_code == 200
    assert set(response.json().values()) == {0}
    with api.db.read() as session:
        assert snapshot(session, api.tenant) == before


def test_only_an_owner_may_seed_or_remove_sample_data(api: ApiHarness) -> None:
    for role in ("Viewer", "Operator"):
        harness = with_key(api, role)
        for response in (harness.post(URL), harness.delete(URL)):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "forbidden"
    assert counts(api)["events"] == 0
    assert api.post(URL).status_code == 200
    seeded = counts(api)
    assert with_key(api, "Operator").delete(URL).status_code == 403
    assert counts(api) == seeded
