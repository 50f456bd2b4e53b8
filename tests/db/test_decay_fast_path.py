"""Decay's fast path for system events gives exactly what the full ingest path gave for the same drops.

Two units are filled alike; one is decayed through `ingest` (the old path), the other through `apply_decay`
(services.ingest.ingest.ingest_system_events). Ids differ between units, so everything is compared with ids
replaced by stable labels (a lead by its email, an event by its lead and position, ...).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.ingest.contract import NewEvent, PersonRef
from services.ingest.ingest import ingest, ingest_system_events
from services.scoring import decay
from services.scoring.levels import create_level
from services.scoring.rescore import verify_unit
from services.tenancy.tenants import create_unit
from services.triggers import triggers
from tests.notify.receivers import add_rule, send_event

PEOPLE = [("ann@acme.io", "demo_request"), ("bob@acme.io", "demo_request"), ("cy@globex.com", "page_view"),
          ("dee@initech.com", "pricing_view")]


def _unit(db: Database, now: datetime) -> Tenant:
    with db.write() as session:
        tenant = create_unit(session, org_name="Decay org", unit_name=f"unit {uuid.uuid4().hex[:6]}", now=now)
    add_rule(db, tenant, "demo_request", 50, now)
    add_rule(db, tenant, "pricing_view", 15, now)
    with db.write() as session:
        for name, low, high in (("cold", -1000, 19), ("warm", 20, 44), ("hot", 45, 100000)):
            create_level(session, tenant, name=name, min_score=low, max_score=high, now=now)
        decay.create_decay(session, tenant, inactive_for=7, unit="days", decrease=30, now=now)
        decay.create_decay(session, tenant, inactive_for=5, unit="days", decrease=5, now=now)
        triggers.create_trigger(session, tenant, "milestone", {
            "name": "hot", "score_threshold": 40, "channels": [{"type": "webhook", "url": "https://example.com/h"}],
        }, now, checked=frozenset({"https://example.com/h"}))
    for pos, (email, event_type) in enumerate(PEOPLE):
        send_event(db, tenant, email, event_type, now + timedelta(hours=pos))
    send_event(db, tenant, "ann@acme.io", "demo_request", now + timedelta(hours=5))
    return tenant


def _snapshot(db: Database, tenant: Tenant) -> dict[str, Any]:
    """The unit's events, scores, firings, stream messages and activity clocks with ids replaced by labels."""
    labels: dict[str, str] = {}
    with db.read() as session:
        unit = tenant.unit_id
        for lead in session.scalars(select(models.Lead).where(models.Lead.unit_id == unit)):
            labels[lead.id] = f"lead:{lead.email}"
        for acc in session.scalars(select(models.Account).where(models.Account.unit_id == unit)):
            labels[acc.id] = f"account:{acc.domain}"
        for rs in session.scalars(select(models.Ruleset).where(models.Ruleset.unit_id == unit)):
            labels[rs.id] = f"ruleset:{rs.name}"
        for rule in session.scalars(select(models.Rule).where(models.Rule.unit_id == unit)):
            labels[rule.id] = f"rule:{rule.event_type}"
        for dc in session.scalars(select(models.DecayRule).where(models.DecayRule.unit_id == unit)):
            labels[dc.id] = f"decay:{dc.inactive_for}{dc.unit}"
        for trig in session.scalars(select(models.Trigger).where(models.Trigger.unit_id == unit)):
            labels[trig.id] = f"trigger:{trig.name}"
        for lvl in session.scalars(select(models.EngagementLevel).where(models.EngagementLevel.unit_id == unit)):
            labels[lvl.id] = f"level:{lvl.name}"
        events = list(
            session.scalars(select(models.Event).where(models.Event.unit_id == unit).order_by(models.Event.seq))
        )
        for pos, ev in enumerate(events):
            labels[ev.id] = f"event:{pos}"
        firings = list(session.scalars(
            select(models.TriggerFiring).where(models.TriggerFiring.unit_id == unit).order_by(models.TriggerFiring.id)
        ))
        for f in firings:
            moment = labels.get(f.event_id or "", f.occurred_at.isoformat())
            labels[f.id] = f"firing:{labels[f.trigger_id]}:{moment}"
        labels[tenant.org_id], labels[tenant.unit_id] = "org", "unit"
        data = {
            "events": [
                [ev.lead_id, ev.account_id, ev.event_type, ev.source, ev.channel, ev.occurred_at.isoformat(),
                 ev.metadata_, ev.score_delta, ev.explanation]
                for ev in events
            ],
            "lead_scores": [
                [s.lead_id, s.ruleset_id, s.score]
                for s in session.scalars(select(models.LeadScore).where(models.LeadScore.unit_id == unit))
            ],
            "account_scores": [
                [s.account_id, s.ruleset_id, s.score]
                for s in session.scalars(select(models.AccountScore).where(models.AccountScore.unit_id == unit))
            ],
            "activity": [
                [lead.id, lead.last_activity_at.isoformat() if lead.last_activity_at else None]
                for lead in session.scalars(select(models.Lead).where(models.Lead.unit_id == unit))
            ],
            "firings": [[f.trigger_id, f.kind, f.dedupe_key, f.lead_id, f.event_id, f.payload] for f in firings],
            "stream": [
                b.messages for b in session.scalars(
                    select(models.StreamBatch).where(models.StreamBatch.unit_id == unit).order_by(models.StreamBatch.id)
                )
            ],
            "verify": verify_unit(session, tenant),
        }
    text = json.dumps(data, sort_keys=True, default=str)
    for raw, label in sorted(labels.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(raw, label)
    result: dict[str, Any] = json.loads(text)
    for key in ("lead_scores", "account_scores", "activity", "firings"):  # row order follows the random ids
        result[key] = sorted(result[key], key=lambda row: json.dumps(row, sort_keys=True))
    return result


def test_the_fast_path_equals_the_ingest_path(db: Database, now: datetime) -> None:
    old_unit, new_unit = _unit(db, now), _unit(db, now)
    before = _snapshot(db, new_unit)
    assert before == _snapshot(db, old_unit)  # the two units start alike
    # Up to day 33 no two rules drop at one moment (a tie is ordered by the rules' random ids).
    for later in (now + timedelta(days=8), now + timedelta(days=8), now + timedelta(days=33)):
        with db.write() as session:
            plan = decay.plan_decay(session, old_unit, later)
            results = ingest(session, old_unit, plan.events, later, context=plan.context)
            assert all(not isinstance(r, Exception) for r in results)
        with db.write() as session:
            run = decay.apply_decay(session, new_unit, later)
        assert run.drops == len(plan.events) and run.leads == plan.leads
    after = _snapshot(db, new_unit)
    assert after == _snapshot(db, old_unit)

    # What was decayed, and that it is what a user relies on: no activity moved, replay agrees, ...
    drops = [ev for ev in after["events"] if ev[2] == "DECAY"]
    assert len(drops) > 4
    assert {ev[0] for ev in drops} == {"lead:ann@acme.io", "lead:bob@acme.io", "lead:dee@initech.com"}
    assert all(ev[1] is None and ev[4] == "system" and ev[3] == "decay" for ev in drops)
    assert after["activity"] == before["activity"]
    assert after["account_scores"] == before["account_scores"]  # an account's engagement is its own
    assert after["verify"] == []
    assert all(score >= 0 for _lead, _rs, score in after["lead_scores"])
    # ... and the live stream told the drops, the score updates and the level changes.
    told = [m for batch in after["stream"][len(before["stream"]):] for m in batch]
    kinds = {m["type"] for m in told}
    assert {"event", "score_update", "level_change"} <= kinds
    assert {"lead_id": "lead:ann@acme.io", "from": "hot", "to": "warm"} in [
        m["data"] for m in told if m["type"] == "level_change"
    ]


def test_the_fast_path_takes_only_system_events_on_known_leads(db: Database, tenant: Tenant, now: datetime) -> None:
    lead_id = send_event(db, tenant, "ann@acme.io", "demo_request", now).lead_id
    drop = {"decrease": 5, "decay_id": "dc_x", "channel": "system"}
    with db.write() as session:
        with pytest.raises(InvalidInput):
            ingest_system_events(session, tenant, [
                NewEvent("DECAY", now, dict(drop), "decay", PersonRef(lead_id=lead_id), system=False)
            ], now)
        with pytest.raises(NotFound):
            ingest_system_events(session, tenant, [
                NewEvent("DECAY", now, dict(drop), "decay", PersonRef(lead_id="ld_nobody"), system=True)
            ], now)
        assert ingest_system_events(session, tenant, [], now) == []
