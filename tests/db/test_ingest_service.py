"""services.ingest.ingest on the real database: identity resolution, accounts, stored scores == replay, tenancy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import InvalidInput, NotFound, ServiceError
from services.ingest.contract import AccountRef, AliasInput, Ingested, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring import rules
from services.scoring.rescore import verify_unit
from services.tenancy.tenants import create_unit


def person(*aliases: tuple[str, str], lead_id: str | None = None, **fields: Any) -> PersonRef:
    return PersonRef(lead_id=lead_id, aliases=[AliasInput(kind, value) for kind, value in aliases], **fields)


def ev(event_type: str, who: PersonRef | None = None, account: AccountRef | None = None, **kwargs: Any) -> NewEvent:
    return NewEvent(event_type=event_type, person=who, account=account, **kwargs)


def run(db: Database, tenant: Tenant, events: list[NewEvent], now: datetime) -> list[Ingested | ServiceError]:
    with db.write() as session:
        return ingest(session, tenant, events, now)


def ok(result: Ingested | ServiceError) -> Ingested:
    assert isinstance(result, Ingested), result
    return result


def add_rule(db: Database, tenant: Tenant, now: datetime, **fields: Any) -> rules.RuleView:
    with db.write() as session:
        return rules.create_rule(session, tenant, fields, now=now, actor="test")


def lead_rows(session: Session, tenant: Tenant) -> list[models.Lead]:
    return list(session.scalars(select(models.Lead).where(models.Lead.unit_id == tenant.unit_id)))


def aliases_of(session: Session, lead_id: str) -> set[tuple[str, str]]:
    rows = session.execute(
        select(models.LeadAlias.kind, models.LeadAlias.value).where(models.LeadAlias.lead_id == lead_id)
    )
    return {(kind, value) for kind, value in rows}


# --- leads -----------------------------------------------------------------------------------------------------------


def test_an_unknown_person_becomes_a_new_lead(db: Database, tenant: Tenant, now: datetime) -> None:
    (result,) = run(db, tenant, [ev("page_view", person(("email", " Ann@Acme.com "), first_name="Ann"))], now)
    item = ok(result)
    assert item.lead_created is True
    assert item.lead is not None and item.lead["email"] == "ann@acme.com"
    with db.read() as session:
        (lead,) = lead_rows(session, tenant)
        assert lead.id == item.lead_id
        assert lead.first_name == "Ann"
        assert lead.last_activity_at == now
        assert aliases_of(session, lead.id) == {("email", "ann@acme.com")}


def test_aliases_of_any_kind_find_the_same_lead(db: Database, tenant: Tenant, now: datetime) -> None:
    first = ok(
        run(db, tenant, [ev("page_view", person(("email", "ann@acme.com"), ("phone", "+1 415 555 2671")))], now)[0]
    )
    by_phone = ok(run(db, tenant, [ev("email_open", person(("phone", "(415) 555-2671")))], now)[0])
    by_email_and_new_id = ok(
        run(db, tenant, [ev("form_submit", person(("external_id", "crm-42"), ("email", "ANN@acme.com")))], now)[0]
    )
    by_new_id = ok(run(db, tenant, [ev("page_view", person(("external_id", "crm-42")))], now)[0])
    assert by_phone.lead_id == by_email_and_new_id.lead_id == by_new_id.lead_id == first.lead_id
    assert not by_phone.lead_created and not by_new_id.lead_created
    with db.read() as session:
        assert len(lead_rows(session, tenant)) == 1
        assert aliases_of(session, first.lead_id or "") == {
            ("email", "ann@acme.com"),
            ("phone", "+14155552671"),
            ("external_id", "crm-42"),
        }


def test_within_one_batch_a_new_person_is_created_once(db: Database, tenant: Tenant, now: datetime) -> None:
    results = run(db, tenant, [ev("page_view", person(("email", "bob@acme.com"))) for _ in range(3)], now)
    assert len({ok(r).lead_id for r in results}) == 1
    assert ok(results[0]).lead_created
    with db.read() as session:
        assert len(lead_rows(session, tenant)) == 1


def test_an_unknown_lead_id_fails_that_item_only(db: Database, tenant: Tenant, now: datetime) -> None:
    known = ok(run(db, tenant, [ev("page_view", person(("email", "ann@acme.com")))], now)[0])
    results = run(
        db,
        tenant,
        [
            ev("page_view", person(lead_id=known.lead_id)),
            ev("page_view", person(lead_id="ld_does_not_exist")),
            ev("page_view", person(("email", "carl@acme.com"))),
        ],
        now,
    )
    assert ok(results[0]).lead_id == known.lead_id
    assert isinstance(results[1], NotFound)
    assert "ld_does_not_exist" in results[1].message
    assert ok(results[2]).lead_created
    with db.read() as session:
        count = session.scalar(
            select(func.count()).select_from(models.Event).where(models.Event.unit_id == tenant.unit_id)
        )
    assert count == 3


def test_invalid_items_name_their_field_and_do_not_sink_the_batch(db: Database, tenant: Tenant, now: datetime) -> None:
    results = run(
        db,
        tenant,
        [
            ev("page_view", person(("email", "not-an-email"), field_name="aliases")),
            ev("", person(("email", "ann@acme.com"))),
            ev("DECAY", person(("email", "ann@acme.com"))),
            ev("page_view", None, AccountRef(domain="not a domain")),
            ev("page_view"),
            ev("page_view", person(("email", "ann@acme.com"))),
        ],
        now,
    )
    assert isinstance(results[0], InvalidInput) and results[0].field == "aliases.aliases[0]"
    assert isinstance(results[1], InvalidInput) and results[1].field == "event_type"
    assert isinstance(results[2], InvalidInput) and "reserved" in results[2].message
    assert isinstance(results[3], InvalidInput) and results[3].field == "account.domain"
    assert isinstance(results[4], InvalidInput)
    assert ok(results[5]).lead_created


def test_the_same_email_in_two_units_is_two_leads(db: Database, tenant: Tenant, now: datetime) -> None:
    with db.write() as session:
        other = create_unit(session, org_name="Other", unit_name="other", now=now)
    mine = ok(
        run(db, tenant, [ev("page_view", person(("email", "ann@acme.com")), AccountRef(domain="acme.com"))], now)[0]
    )
    theirs = ok(
        run(db, other, [ev("page_view", person(("email", "ann@acme.com")), AccountRef(domain="acme.com"))], now)[0]
    )
    assert theirs.lead_created and theirs.account_created
    assert mine.lead_id != theirs.lead_id
    assert mine.account_id != theirs.account_id
    # An id from another unit is unknown here.
    (foreign,) = run(db, tenant, [ev("page_view", person(lead_id=theirs.lead_id))], now)
    assert isinstance(foreign, NotFound)
    (foreign_account,) = run(db, tenant, [ev("page_view", None, AccountRef(account_id=theirs.account_id))], now)
    assert isinstance(foreign_account, NotFound)


# --- accounts --------------------------------------------------------------------------------------------------------


def test_accounts_resolve_by_domain_in_any_form(db: Database, tenant: Tenant, now: datetime) -> None:
    first = ok(
        run(db, tenant, [ev("page_view", None, AccountRef(domain="https://www.Acme.com/pricing", name="Acme"))], now)[0]
    )
    again = ok(run(db, tenant, [ev("page_view", None, AccountRef(domain="app.acme.com"))], now)[0])
    assert first.account_created and not again.account_created
    assert first.account_id == again.account_id
    assert first.account == {"id": first.account_id, "domain": "acme.com", "name": "Acme"}


def test_accounts_resolve_by_name_when_there_is_no_domain(db: Database, tenant: Tenant, now: datetime) -> None:
    first = ok(run(db, tenant, [ev("page_view", None, AccountRef(name="Globex Corp"))], now)[0])
    again = ok(run(db, tenant, [ev("page_view", None, AccountRef(name="  globex   CORP "))], now)[0])
    other = ok(run(db, tenant, [ev("page_view", None, AccountRef(name="Initech"))], now)[0])
    assert first.account_id == again.account_id != other.account_id


def test_a_lead_is_linked_to_the_account_of_its_company_email(db: Database, tenant: Tenant, now: datetime) -> None:
    item = ok(run(db, tenant, [ev("page_view", person(("email", "ann@eu.acme.co.uk")))], now)[0])
    free = ok(run(db, tenant, [ev("page_view", person(("email", "bob@gmail.com")))], now)[0])
    assert item.account_created and item.account is not None and item.account["domain"] == "acme.co.uk"
    assert free.account_id is None
    with db.read() as session:
        lead = session.get(models.Lead, item.lead_id)
        assert lead is not None and lead.account_id == item.account_id
        assert session.get(models.Lead, free.lead_id).account_id is None  # type: ignore[union-attr]


def test_an_explicit_account_links_the_lead(db: Database, tenant: Tenant, now: datetime) -> None:
    item = ok(
        run(db, tenant, [ev("page_view", person(("email", "ann@gmail.com")), AccountRef(domain="initech.com"))], now)[0]
    )
    later = ok(run(db, tenant, [ev("email_open", person(("email", "ann@gmail.com")))], now)[0])
    assert later.account_id == item.account_id
    with db.read() as session:
        assert session.get(models.Lead, item.lead_id).account_id == item.account_id  # type: ignore[union-attr]


# --- scores ----------------------------------------------------------------------------------------------------------


def test_ingest_returns_explained_scores(db: Database, tenant: Tenant, now: datetime) -> None:
    rule = add_rule(db, tenant, now, event_type="page_view", weight=5)
    add_rule(
        db,
        tenant,
        now,
        event_type="page_view",
        weight=10,
        conditions=[{"property": "page", "operator": "equals", "value": "/pricing"}],
    )
    first = ok(
        run(db, tenant, [ev("page_view", person(("email", "ann@acme.com")), properties={"page": "/blog"})], now)[0]
    )
    second = ok(
        run(db, tenant, [ev("page_view", person(("email", "ann@acme.com")), properties={"page": "/pricing"})], now)[0]
    )
    assert first.primary is not None and second.primary is not None
    assert (first.primary.delta, first.primary.lead_before, first.primary.lead_after) == (5, 0, 5)
    assert (second.primary.delta, second.primary.lead_before, second.primary.lead_after) == (15, 5, 20)
    assert first.primary.account_after == 5 and second.primary.account_after == 20
    assert [r.id for r in first.primary.matched] == [rule.id]
    with db.read() as session:
        explanation = session.scalar(select(models.Event.explanation).where(models.Event.id == second.event_id))
        delta = session.scalar(select(models.Event.score_delta).where(models.Event.id == second.event_id))
    assert delta == 15
    assert explanation[second.primary_ruleset_id]["after"] == 20
    assert len(explanation[second.primary_ruleset_id]["rules"]) == 2


@pytest.mark.parametrize("allow_negative", [False, True])
def test_stored_scores_equal_the_replay_after_mixed_batches(
    db: Database, tenant: Tenant, now: datetime, allow_negative: bool
) -> None:
    with db.write() as session:
        extra = rules.create_ruleset(session, tenant, name="Product", now=now)
        session.execute(
            models.ScoringSettings.__table__.update()
            .where(models.ScoringSettings.unit_id == tenant.unit_id)
            .values(allow_negative_scores=allow_negative)
        )
    add_rule(db, tenant, now, event_type="page_view", weight=3)
    add_rule(db, tenant, now, event_type="unsubscribe", weight=-12)
    add_rule(db, tenant, now, event_type="demo_request", weight=40, ruleset_id=extra.id)
    add_rule(db, tenant, now, event_type="page_view", weight=7, start_at=now - timedelta(days=2), end_at=now)
    people = ["ann@acme.com", "bob@acme.com", "cat@initech.com", "dan@gmail.com"]
    kinds = ["page_view", "unsubscribe", "demo_request", "page_view", "email_open"]
    for batch in range(4):
        events = []
        for i in range(15):
            who = people[(i + batch) % len(people)]
            account = AccountRef(name="Umbrella") if i % 7 == 0 else None
            events.append(
                ev(
                    kinds[(i * 3 + batch) % len(kinds)],
                    person(("email", who)),
                    account,
                    occurred_at=now - timedelta(days=3) + timedelta(hours=i * 5 + batch),
                )
            )
        if batch == 2:
            events.append(ev("DECAY", person(("email", "ann@acme.com")), properties={"decrease": 4}, system=True))
        results = run(db, tenant, events, now + timedelta(minutes=batch))
        assert all(isinstance(r, Ingested) for r in results)
        with db.read() as session:
            assert verify_unit(session, tenant) == []
    with db.read() as session:
        scores = list(session.scalars(select(models.LeadScore.score).where(models.LeadScore.unit_id == tenant.unit_id)))
    assert any(s != 0 for s in scores)
    assert allow_negative or all(s >= 0 for s in scores)
