"""DELETE /v1/leads/{id}: a person is erased, and no API read or export can find their email or lead id after."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from db import models
from scheduler import jobs
from services.insight import stream
from services.people import erasure
from services.people.profiles import verify_profiles
from services.scoring.rescore import verify_unit
from services.tenancy import api_keys
from tests.conftest import ApiHarness, add_rule

EMAIL = "erin.erased@acme.io"


def send(api: ApiHarness, address: str, event_type: str = "demo_request", **headers: str) -> str:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": address}],
                                   "event_type": event_type, "metadata": {"form_email": address}}, headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["lead_id"])


def with_role(api: ApiHarness, role: str) -> dict[str, str]:
    with api.db.write() as session:
        key = api_keys.create_api_key(session, api.tenant, name=role, role=role, now=datetime.now(UTC)).secret
    return {"Authorization": f"Bearer {key}"}


def account_scores(api: ApiHarness) -> dict[str, int]:
    with api.db.read() as session:
        return dict(session.execute(select(models.AccountScore.account_id, models.AccountScore.score).where(
            models.AccountScore.unit_id == api.tenant.unit_id)).tuples().all())


def test_after_erasure_no_read_finds_the_person(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    for threshold in (20, 50):
        made = api.post("/v1/triggers/milestones", {"name": f"Hot {threshold}", "score_threshold": threshold,
                                                    "emails": ["ops@example.com"]})
        assert made.status_code == 201, made.text
    lead = send(api, EMAIL, **{"Idempotency-Key": "erase-me-1"})
    duplicate = send(api, "erin.private@gmail.com")  # the same person under a second id, merged below
    send(api, EMAIL)  # crosses 50
    colleague = send(api, "colleague@acme.io")  # same account (acme.io), stays
    assert api.post("/v1/leads/merge", {"targetLeadId": lead, "sourceLeadIds": [duplicate]}).status_code == 200
    with api.db.write() as session:  # one notification already went out: its row stays, redacted
        first = session.scalars(select(models.Delivery).where(models.Delivery.unit_id == api.tenant.unit_id)
                                .order_by(models.Delivery.created_at, models.Delivery.id)).first()
        assert first is not None
        first.status = "delivered"
        sent_id = first.id
    assert api.get(f"/v1/leads/{lead}/deletion-status").status_code == 404

    resp = api.delete(f"/v1/leads/{lead}")
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"lead_id": lead, "status": "pending"}
    assert api.get(f"/v1/leads/{lead}/deletion-status").json() == {"lead_id": lead, "status": "completed"}
    assert api.delete(f"/v1/leads/{lead}").json() == {"lead_id": lead, "status": "completed"}  # idempotent

    needles = (EMAIL, "erin.private", lead, duplicate)

    def clean(text: str) -> bool:
        return not any(n.lower() in text.lower() for n in needles)

    assert api.get(f"/v1/leads/{lead}").status_code == 404
    assert api.get(f"/v1/leads/{duplicate}").status_code == 404
    assert api.get("/v1/leads", params={"q": "erin"}).json()["total"] == 0
    assert [r["id"] for r in api.get("/v1/leads").json()["leads"]] == [colleague]
    assert api.get("/v1/leads/search", params={"q": EMAIL}).json() == []
    assert api.get("/v1/leads/search", params={"q": "erin"}).json() == []
    events = api.get("/v1/events", params={"limit": 500})
    assert events.status_code == 200 and len(events.json()) == 1 and clean(events.text)
    export = api.get("/v1/events/export")
    assert export.status_code == 200 and clean(export.text)
    with api.db.read() as session:
        replayed = stream.read_after(session, api.tenant, (0, -1), 10_000)
        assert replayed and all(clean(str(m.data)) for m in replayed)  # the colleague's messages stay
        assert verify_unit(session, api.tenant) == []
        assert verify_profiles(session, api.tenant) == []
        unit = api.tenant.unit_id
        bodies = list(session.execute(select(models.Delivery.id, models.Delivery.status, models.Delivery.body)
                                      .where(models.Delivery.unit_id == unit)))
        firings = list(session.scalars(select(models.TriggerFiring).where(models.TriggerFiring.unit_id == unit)))
        keys = list(session.scalars(select(models.IdempotencyRecord.key).where(
            models.IdempotencyRecord.unit_id == unit)))
        audit = list(session.scalars(select(models.AuditLog).where(models.AuditLog.unit_id == unit)))
    # Erin's sent notification keeps its row and status, redacted; her unsent one is gone; the colleague's stays.
    assert sorted((s, d == sent_id) for d, s, _b in bodies) == [("delivered", True), ("pending", False)]
    assert all(clean(b) for _d, _s, b in bodies)
    assert sorted((f.lead_id or "", f.subject) for f in firings) == [("", erasure.ERASED), (colleague, colleague)]
    assert all(clean(str(f.payload)) for f in firings)
    assert keys == []
    assert all(clean(str(e.changes or "")) for e in audit)
    erase = [e for e in audit if e.action == "erase"]
    assert [(e.entity_type, e.entity_id, e.changes) for e in erase] == [("lead", lead, {})]
    # The account keeps only the colleague's points.
    assert list(account_scores(api).values()) == [30]


def test_only_an_owner_erases_and_units_stay_apart(api: ApiHarness, other_api: ApiHarness) -> None:
    lead = send(api, EMAIL)
    for role in ("Viewer", "Operator"):
        headers = with_role(api, role)
        assert api.delete(f"/v1/leads/{lead}", headers=headers).status_code == 403
        assert api.get(f"/v1/leads/{lead}/deletion-status", headers=headers).status_code == 403
    assert other_api.delete(f"/v1/leads/{lead}").status_code == 404
    missing = api.delete("/v1/leads/ld_nobody")
    assert missing.status_code == 404 and "leadID" in missing.text
    never = api.get("/v1/leads/ld_nobody/deletion-status")
    assert never.status_code == 404 and "leadID" in never.text
    assert api.delete(f"/v1/leads/{lead}").status_code == 202
    assert other_api.get(f"/v1/leads/{lead}/deletion-status").status_code == 404
    assert api.get(f"/v1/leads/{lead}").status_code == 404


def test_a_request_left_pending_is_finished_by_the_scheduler(api: ApiHarness) -> None:
    """The process died after answering 202: the lead-erasures job erases what is still pending."""
    add_rule(api, "demo_request", 30)
    lead = send(api, EMAIL)
    colleague = send(api, "colleague@acme.io")
    now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    with api.db.write() as session:
        assert erasure.request_erasure(session, api.tenant, lead, now).status == "pending"
    assert api.get(f"/v1/leads/{lead}/deletion-status").json()["status"] == "pending"
    assert jobs.run_erasures(api.db, now) == 1
    assert api.get(f"/v1/leads/{lead}/deletion-status").json()["status"] == "completed"
    assert api.get(f"/v1/leads/{lead}").status_code == 404
    assert api.get(f"/v1/leads/{colleague}").status_code == 200
    assert list(account_scores(api).values()) == [30]
    assert jobs.run_erasures(api.db, now) == 0  # nothing left: running again does nothing
    with api.db.write() as session:  # a completed request stays completed
        session.execute(update(models.LeadErasure).where(models.LeadErasure.lead_id == lead).values(status="pending"))
    assert jobs.run_erasures(api.db, now) == 1  # erasing what is already gone is harmless
    assert api.get(f"/v1/leads/{colleague}/score").json()["score"] == 30




def test_erasing_by_a_merged_id_erases_the_whole_person(api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    target = send(api, EMAIL)
    duplicate = send(api, "erin.private@gmail.com")
    assert api.post("/v1/leads/merge", {"targetLeadId": target, "sourceLeadIds": [duplicate]}).status_code == 200
    assert api.delete(f"/v1/leads/{duplicate}").status_code == 202
    for lead_id in (duplicate, target):
        assert api.get(f"/v1/leads/{lead_id}").status_code == 404
        assert api.get(f"/v1/leads/{lead_id}/deletion-status").json() == {"lead_id": lead_id, "status": "completed"}
    assert api.get("/v1/leads/search", params={"q": "erin"}).json() == []
