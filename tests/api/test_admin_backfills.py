"""Admin backfills (Owner): account links re-derived from the log (or the email domain) with fit recomputed, and
`accountId` written into event metadata (rescored when a rule reads it). Idempotent, audited, unit-scoped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from db import models
from db.ids import new_id
from services.people.leads import score_as_of, scores_by_lead
from services.scoring.publish import publish
from tests.api.fit_helpers import add_fit, audit_rows, send, with_role
from tests.conftest import ApiHarness, add_rule, enable_abm

ACCOUNT_PROFILE = "/v1/admin/backfill/account-profile"
EVENT_ACCOUNT_ID = "/v1/admin/backfill/event-account-id"


def lead_account(api: ApiHarness, lead_id: str) -> str | None:
    with api.db.read() as session:
        lead = session.get(models.Lead, lead_id)
        assert lead is not None
        return lead.account_id


def test_account_profile_backfill_relinks_from_the_log_or_the_email_domain(
    api: ApiHarness, other_api: ApiHarness
) -> None:
    add_fit(api, "profile", [("plan", "equals", "pro", 10)])
    ann = send(api, "ann@acme.com")
    bob = send(api, "bob@acme.com")
    dan = send(api, "dan@initech.com")
    eve = send(api, "eve@gmail.com")  # free mail: no account either way
    theirs = send(other_api, "zed@umbrella.com")
    enable_abm(api)
    # acme is deleted (ann and bob unlinked, their events lose the account); dan loses his link by hand; ann's
    # stored fit is stale.
    assert api.post("/v1/accounts/batch-delete", {"ids": [ann["event"]["account_id"]]}).json()["deleted_accounts"] == 1
    assert api.client.patch(f"/v1/leads/{ann['lead_id']}/metadata", json={"plan": "pro"},
                            headers=api.headers).status_code == 200
    with api.db.write() as session:
        session.execute(update(models.Lead).where(models.Lead.id == dan["lead_id"]).values(account_id=None))
        session.execute(update(models.Lead).where(models.Lead.id == ann["lead_id"]).values(fit_score=999))

    resp = api.post(ACCOUNT_PROFILE)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"leads_processed": 4, "accounts_linked": 3, "accounts_created": 1,
                           "profile_scores_updated": 1}
    new_acme = lead_account(api, ann["lead_id"])
    assert new_acme is not None and new_acme == lead_account(api, bob["lead_id"])
    assert api.get(f"/v1/accounts/{new_acme}").json()["domain"] == "acme.com"
    assert lead_account(api, dan["lead_id"]) == dan["event"]["account_id"]
    assert lead_account(api, eve["lead_id"]) is None
    assert api.get(f"/v1/leads/{ann['lead_id']}").json()["lead"]["fit_score"] == 10
    assert lead_account(other_api, theirs["lead_id"]) == theirs["event"]["account_id"]

    again = api.post(ACCOUNT_PROFILE).json()
    assert again == {"leads_processed": 4, "accounts_linked": 0, "accounts_created": 0, "profile_scores_updated": 0}
    entries = audit_rows(api, "account_profile")
    assert [e.action for e in entries] == ["backfill", "backfill"]
    assert entries[0].changes["accounts_linked"] == {"before": None, "after": 3}


def test_a_link_set_through_the_api_is_what_the_log_says(api: ApiHarness) -> None:
    """PUT /v1/leads/{id} with account_id records the link in the log: the backfill keeps it."""
    ann = send(api, "ann@acme.com")
    globex = send(api, "cat@globex.com")["event"]["account_id"]
    resp = api.put(f"/v1/leads/{ann['lead_id']}", {"metadata": {}, "account_id": globex})
    assert resp.status_code == 200, resp.text
    enable_abm(api)  # account scoring: 403 abm_disabled while off (tests/api/test_accounts_abm.py)
    assert api.post(ACCOUNT_PROFILE).json()["accounts_linked"] == 0
    assert lead_account(api, ann["lead_id"]) == globex


def add_rule_on_account_id(api: ApiHarness, weight: int) -> None:
    t, at = api.tenant, datetime(2026, 1, 1, tzinfo=UTC)
    with api.db.write() as session:
        primary = session.scalar(select(models.Ruleset.id).where(
            models.Ruleset.unit_id == t.unit_id, models.Ruleset.is_primary.is_(True)))
        session.add(models.Rule(id=new_id("rule"), org_id=t.org_id, unit_id=t.unit_id, ruleset_id=primary,
                                event_type="page_view", weight=weight, active=True,
                                conditions=[{"property": "accountId", "operator": "exists", "value": None}],
                                created_at=at, updated_at=at))
        session.flush()
        publish(session, t, now=at)


def event_metadata(api: ApiHarness, lead_id: str) -> list[tuple[str, dict[str, Any]]]:
    with api.db.read() as session:
        return [(e.event_type, dict(e.metadata_)) for e in session.scalars(
            select(models.Event).where(models.Event.lead_id == lead_id).order_by(models.Event.seq))]


def test_event_account_id_backfill_writes_missing_ids_and_rescores(api: ApiHarness, other_api: ApiHarness) -> None:
    """With ABM off, as it is here: the reference lists this backfill under Admin, not under the Account endpoints
    that require abm_enabled, and it repairs the metadata engagement rules read."""
    add_rule(api, "page_view", 5)
    add_rule_on_account_id(api, 7)  # matches only once accountId is in the metadata
    ann = send(api, "ann@acme.com")
    acme = ann["event"]["account_id"]
    send(api, "ann@acme.com", metadata={"accountId": "crm-acme"})  # already has one: left alone
    send(api, "eve@gmail.com")  # no account
    theirs = send(other_api, "zed@umbrella.com")
    assert api.client.patch(f"/v1/leads/{ann['lead_id']}/metadata", json={"plan": "pro"},
                            headers=api.headers).status_code == 200  # a system event: skipped
    assert api.get(f"/v1/leads/{ann['lead_id']}").json()["lead"]["score"] == 5 + 12

    resp = api.post(EVENT_ACCOUNT_ID)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"events_scanned": 3, "events_updated": 1, "leads_without_account": 1}
    assert event_metadata(api, ann["lead_id"]) == [
        ("page_view", {"accountId": acme}), ("page_view", {"accountId": "crm-acme"}),
        ("PROFILE_UPDATE", {"set": {"plan": "pro"}, "via": "api"}),
    ]
    # the rule reading accountId now matches the first event too: stored scores are the replay of the changed log
    assert api.get(f"/v1/leads/{ann['lead_id']}").json()["lead"]["score"] == 24
    with api.db.read() as session:
        for lead_id in (ann["lead_id"],):
            assert score_as_of(session, api.tenant, lead_id, None) == scores_by_lead(
                session, api.tenant, [lead_id])[lead_id]
    assert event_metadata(other_api, theirs["lead_id"]) == [("page_view", {})]

    assert api.post(EVENT_ACCOUNT_ID).json() == {"events_scanned": 3, "events_updated": 0,
                                                 "leads_without_account": 1}
    assert [e.action for e in audit_rows(api, "event_account_id")] == ["backfill", "backfill"]


def test_backfills_are_owner_only(api: ApiHarness) -> None:
    for role in ("Viewer", "Operator"):
        caller = with_role(api, role)
        for path in (ACCOUNT_PROFILE, EVENT_ACCOUNT_ID):
            resp = caller.post(path)
            assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden", (role, path)
    assert audit_rows(api, "account_profile") == [] and audit_rows(api, "event_account_id") == []
