"""Milestone, sequence and pattern triggers: CRUD, evaluation (in the ingest transaction and by the window
sweep), simulation against history, and the list/export of firings. Firing writes outbox rows in the
caller's transaction (services.triggers.deliveries). Surge triggers (kind "surge") are kept and decided in
services.triggers.surge and fired here, at ingest, like the others."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from core import triggers as core
from core.csv_cells import safe_cells
from core.messages import rfc3339
from core.scoring import DECAY_EVENT_TYPE
from db import models, upsert
from db.ids import new_id
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound
from services.insight import stream
from services.integrations import outbound
from services.scoring import levels as levels_service
from services.scoring.model import live_model
from services.targeting import segments as targeting
from services.tenancy import audit
from services.tenancy.policy import Action, require
from services.triggers import deliveries
from services.triggers.destinations import TEST_SUBJECT, check_channel_url, new_signing_secret, slack_app_target

if TYPE_CHECKING:
    from services.ingest.contract import Ingested

_COMMON = ("name", "description", "active", "webhook_url", "emails", "email_subject", "email_preheader",
           "email_message", "slack_webhook_url", "slack_channel", "hubspot_sync")
_CONFIG = {
    "milestone": ("event_type", "score_threshold"),
    "sequence": ("event_types", "window_seconds", "window_unit", "ordered", "fire_mode"),
    "pattern": ("conditions", "window_seconds", "scope"),
}
_REQUIRED = {
    "milestone": ("score_threshold",),
    "sequence": ("event_types", "window_seconds"),
    "pattern": ("conditions", "window_seconds"),
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "milestone": {"event_type": ""},
    "sequence": {"window_unit": "seconds", "ordered": False, "fire_mode": "once"},
    "pattern": {"scope": "lead"},
}
# How far back the window sweep re-evaluates recently received events. Ingest already evaluates late
# arrivals against later events; the sweep is the safety net for anything a crash or race left out.
SWEEP_LOOKBACK = timedelta(minutes=10)
# Every kind may be restricted to leads (services.targeting.segments.lead_passes_filters), kept in the config.
_TARGETING = ("segment_id", "profile_filters", "lead_attribute_filters")
_TARGETING_DEFAULTS: dict[str, Any] = {"segment_id": None, "profile_filters": [], "lead_attribute_filters": []}


# --- CRUD ----------------------------------------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in core.KINDS:
        raise NotFound(f"unknown trigger kind {kind!r}")


def _normalize_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    for name in _REQUIRED[kind]:
        if config.get(name) is None:
            raise InvalidInput(name, "is required")
    out = {**_DEFAULTS[kind], **{k: v for k, v in config.items() if v is not None}}
    if kind == "milestone":
        out["event_type"] = (out.get("event_type") or "").strip()
        out["score_threshold"] = int(out["score_threshold"])
    if kind in ("sequence", "pattern") and int(out["window_seconds"]) < 1:
        raise InvalidInput("window_seconds", "must be at least 1")
    if kind == "sequence":
        types = [str(t).strip() for t in out["event_types"]]
        if len(types) < 2 or any(not t for t in types):
            raise InvalidInput("event_types", "needs at least two non-empty event types")
        if out["window_unit"] not in core.WINDOW_UNITS:
            raise InvalidInput("window_unit", f"must be one of {', '.join(core.WINDOW_UNITS)}")
        if out["fire_mode"] not in core.FIRE_MODES:
            raise InvalidInput("fire_mode", f"must be one of {', '.join(core.FIRE_MODES)}")
        out["event_types"] = types
        out["ordered"] = bool(out["ordered"])
    if kind == "pattern":
        conditions = []
        for pos, c in enumerate(out["conditions"]):
            if not isinstance(c, dict) or not str(c.get("event_type") or "").strip():
                raise InvalidInput(f"conditions[{pos}].event_type", "is required")
            count = c.get("min_count", c.get("count", 1))
            if not isinstance(count, int) or count < 1:
                raise InvalidInput(f"conditions[{pos}].min_count", "must be a positive integer")
            conditions.append({"event_type": str(c["event_type"]).strip(), "min_count": count})
        if not conditions:
            raise InvalidInput("conditions", "needs at least one condition")
        if out["scope"] not in core.SCOPES:
            raise InvalidInput("scope", f"must be one of {', '.join(core.SCOPES)}")
        out["conditions"] = conditions
    return {k: out[k] for k in _CONFIG[kind] if k in out}


URL_FIELDS = ("webhook_url", "slack_webhook_url")


def check_channel_urls(tenant: Tenant, fields: dict[str, Any]) -> frozenset[str]:
    """Resolve and check the outbound URLs among `fields`; raises InvalidInput naming the field.

    Needs no session: callers run it before opening the write transaction, so a slow (or deliberately slow)
    DNS answer never holds the database's writer lock. Pass the result to create/update as `checked`; they
    then skip resolving those URLs again (they still refuse what parsing alone refuses).
    """
    require(tenant, Action.EDIT_TRIGGERS)  # no look-ups on behalf of a caller who may not save
    passed: set[str] = set()
    for name in URL_FIELDS:
        url = fields.get(name)
        if url:
            try:
                outbound.check_url(url)
            except outbound.Refused as exc:
                raise InvalidInput(name, str(exc)) from None
            passed.add(url)
    return frozenset(passed)


def _check_channels(row: models.Trigger, changed: Iterable[str], checked: frozenset[str]) -> None:
    """Emails look like addresses; outbound URLs pass the guard (resolved now, checked again at each send).
    Only URLs being set are resolved, so an unrelated edit never fails on a receiver's DNS hiccup."""
    for pos, email in enumerate(row.emails or []):
        if "@" not in email:
            raise InvalidInput(f"emails[{pos}]", "is not an email address")
    changed = set(changed)
    for name in URL_FIELDS:
        url = getattr(row, name)
        if url and name in changed:
            check_channel_url(name, url, checked)


def list_triggers(session: Session, tenant: Tenant, kind: str) -> list[models.Trigger]:
    _check_kind(kind)
    t = models.Trigger
    stmt = select(t).where(t.unit_id == tenant.unit_id, t.kind == kind).order_by(t.created_at, t.id)
    return list(session.scalars(stmt))


def get_trigger(session: Session, tenant: Tenant, kind: str, trigger_id: str) -> models.Trigger:
    row = session.get(models.Trigger, trigger_id)
    if row is None or row.unit_id != tenant.unit_id or row.kind != kind:
        raise NotFound(f"{kind} trigger {trigger_id!r} does not exist")
    return row


def create_trigger(
    session: Session, tenant: Tenant, kind: str, fields: dict[str, Any], now: datetime, actor: str | None = None,
    *, checked: frozenset[str] = frozenset(),
) -> models.Trigger:
    """Create a trigger; its `signing_secret` (whsec_...) is on the returned row, for showing once.
    `checked`: URLs check_channel_urls passed just before the transaction."""
    require(tenant, Action.EDIT_TRIGGERS)
    _check_kind(kind)
    config = _normalize_config(kind, {k: fields.get(k) for k in _CONFIG[kind]})
    config.update(targeting.check_trigger_filters(session, tenant, fields))
    row = models.Trigger(
        id=new_id("trg"), org_id=tenant.org_id, unit_id=tenant.unit_id, kind=kind, config=config,
        signing_secret=new_signing_secret(), created_at=now, updated_at=now, created_by=actor or tenant.actor,
        updated_by=actor or tenant.actor,
        name=(fields.get("name") or "").strip(), active=True if fields.get("active") is None else fields["active"],
        emails=list(fields.get("emails") or []),
    )
    row.slack_target_kind, row.slack_target_id = slack_app_target(fields)
    for name in _COMMON:
        if name not in ("name", "active", "emails") and fields.get(name) is not None:
            setattr(row, name, fields[name])
    _check_channels(row, _COMMON, checked)
    session.add(row)
    session.flush()
    audit.created(session, tenant, f"{kind}_trigger", row, now)
    return row


def update_trigger(
    session: Session, tenant: Tenant, kind: str, trigger_id: str, changes: dict[str, Any], now: datetime,
    actor: str | None = None, *, checked: frozenset[str] = frozenset(),
) -> models.Trigger:
    require(tenant, Action.EDIT_TRIGGERS)
    row = get_trigger(session, tenant, kind, trigger_id)
    before = audit.snapshot(row)
    row.slack_target_kind, row.slack_target_id = slack_app_target(changes, row.slack_target_kind, row.slack_target_id)
    merged = {**row.config, **{k: v for k, v in changes.items() if k in _CONFIG[kind] and v is not None}}
    row.config = {
        **_normalize_config(kind, merged),
        **targeting.check_trigger_filters(session, tenant, {
            **{k: row.config.get(k) for k in _TARGETING}, **{k: changes[k] for k in _TARGETING if k in changes}
        }),
    }
    for name in _COMMON:
        if name in changes and changes[name] is not None:
            setattr(row, name, list(changes[name]) if name == "emails" else changes[name])
    _check_channels(row, [n for n in _COMMON if changes.get(n) is not None], checked)
    row.updated_at, row.updated_by = now, actor or tenant.actor
    session.flush()
    audit.updated(session, tenant, f"{kind}_trigger", before, row, now)
    return row


def delete_trigger(session: Session, tenant: Tenant, kind: str, trigger_id: str) -> None:
    require(tenant, Action.EDIT_TRIGGERS)
    row = get_trigger(session, tenant, kind, trigger_id)
    audit.deleted(session, tenant, f"{kind}_trigger", row)
    session.delete(row)
    session.flush()


def slack_fields(row: models.Trigger) -> dict[str, Any]:
    """The Slack app target, Teams (never supported: always null) and CRM sync fields every trigger kind shows."""
    return {"slack_target_kind": row.slack_target_kind, "slack_target_id": row.slack_target_id,
            "teams_target_kind": None, "teams_target_id": None, "hubspot_sync": bool(row.hubspot_sync)}


def trigger_view(row: models.Trigger) -> dict[str, Any]:
    view: dict[str, Any] = {
        "trigger_id": row.id, "org_id": row.org_id, "unit_id": row.unit_id, "kind": row.kind, "name": row.name,
        "description": row.description, "active": row.active, **_TARGETING_DEFAULTS, **row.config,
        "webhook_url": row.webhook_url, "emails": list(row.emails or []), "email_subject": row.email_subject,
        "email_preheader": row.email_preheader, "email_message": row.email_message,
        "slack_webhook_url": row.slack_webhook_url, "slack_channel": row.slack_channel,
        **slack_fields(row), "created_at": row.created_at, "updated_at": row.updated_at, "created_by": row.created_by,
        "updated_by": row.updated_by,
    }
    if row.kind == "sequence":
        view["event_steps"] = list(row.config.get("event_types", []))
    return view


# --- evaluation ----------------------------------------------------------------------------------------------------


def _milestone(row: models.Trigger) -> core.Milestone:
    return core.Milestone(int(row.config["score_threshold"]), row.config.get("event_type") or "")


def _sequence(row: models.Trigger) -> core.SequenceSpec:
    c = row.config
    return core.SequenceSpec(tuple(c["event_types"]), timedelta(seconds=int(c["window_seconds"])), bool(c["ordered"]))


def _pattern(row: models.Trigger) -> core.Pattern:
    c = row.config
    conds = tuple(core.PatternCondition(x["event_type"], int(x["min_count"])) for x in c["conditions"])
    return core.Pattern(conds, timedelta(seconds=int(c["window_seconds"])))


def _window(row: models.Trigger) -> timedelta:
    return timedelta(seconds=int(row.config.get("window_seconds", 0)))


def _types(row: models.Trigger) -> set[str]:
    if row.kind == "sequence":
        return set(row.config["event_types"])
    if row.kind == "pattern":
        return {c["event_type"] for c in row.config["conditions"]}
    return set()


def _scope(row: models.Trigger) -> str:
    return row.config.get("scope", "lead") if row.kind == "pattern" else "lead"


@dataclass(frozen=True, slots=True)
class Fact:
    """An ingested event as evaluation needs it."""

    event_id: str
    event_type: str
    occurred_at: datetime
    seq: int
    lead_id: str | None
    account_id: str | None
    score_before: int | None = None
    score_after: int | None = None

    @property
    def history_event(self) -> core.HistoryEvent:
        return core.HistoryEvent(self.event_id, self.event_type, self.occurred_at, self.seq)


def fire_triggers(session: Session, tenant: Tenant, results: Sequence[Ingested], now: datetime) -> int:
    """Evaluate the unit's active triggers for events just ingested (same transaction); returns firings written.

    A unit without active triggers costs exactly one indexed query.
    """
    # Quarantined events, and types observed or scored without triggers, fire nothing.
    results = [r for r in results if r.fires_triggers]
    if not results:
        return 0
    active = _active_triggers(session, tenant)
    if not active:
        return 0
    facts = []
    for r in results:
        primary = r.primary
        facts.append(Fact(
            r.event_id, r.event_type, r.occurred_at, 0, r.lead_id, r.account_id,
            primary.lead_before if primary else None, primary.lead_after if primary else None,
        ))
    return _evaluate(session, tenant, active, facts, now) + _fire_surges(session, tenant, active, results, now)


def _fire_surges(session: Session, tenant: Tenant, active: list[models.Trigger], results: Sequence[Ingested],
                 now: datetime) -> int:
    """Surge triggers: services.triggers.surge decides which fire, this module writes and sends them."""
    from services.triggers import surge  # surge builds on this module (secrets, test firings): imported late

    rows = [t for t in active if t.kind == surge.KIND]
    if not rows:
        return 0
    fired = 0
    for due in surge.due_firings(session, tenant, rows, results):
        r, primary = due.result, due.result.primary
        fact = Fact(r.event_id, r.event_type, r.occurred_at, 0, r.lead_id, r.account_id,
                    primary.lead_before if primary else None, primary.lead_after if primary else None)
        fired += _fire(session, tenant, due.trigger, due.dedupe_key, r.lead_id or "", fact, due.data, now)
    return fired


def _active_triggers(session: Session, tenant: Tenant) -> list[models.Trigger]:
    t = models.Trigger
    return list(session.scalars(select(t).where(t.unit_id == tenant.unit_id, t.active.is_(True))))


def _evaluate(
    session: Session, tenant: Tenant, active: list[models.Trigger], facts: list[Fact], now: datetime
) -> int:
    fired = 0
    for row in (t for t in active if t.kind == "milestone"):
        spec = _milestone(row)
        for f in facts:
            if f.lead_id and spec.fires(f.event_type, f.score_before, f.score_after):
                data = {"event_type": f.event_type, "score_before": f.score_before, "score_after": f.score_after,
                        "score_threshold": spec.score_threshold}
                fired += _fire(session, tenant, row, f"ev:{f.event_id}", f.lead_id, f, data, now)
    windowed = [t for t in active if t.kind in ("sequence", "pattern")]
    if not windowed:
        return fired
    wanted = set().union(*(_types(t) for t in windowed))
    relevant = [f for f in facts if f.event_type in wanted and f.event_type != DECAY_EVENT_TYPE]
    if not relevant:
        return fired
    longest = max(_window(t) for t in windowed)
    for scope in ("lead", "account"):
        scoped = [t for t in windowed if _scope(t) == scope]
        if not scoped:
            continue
        by_subject: dict[str, list[Fact]] = defaultdict(list)
        for f in relevant:
            subject = f.lead_id if scope == "lead" else f.account_id
            if subject:
                by_subject[subject].append(f)
        for subject, subject_facts in by_subject.items():
            start = min(f.occurred_at for f in subject_facts) - longest
            # Up to a window past the newest fact: a late arrival can complete a sequence that ended after it.
            end = max(f.occurred_at for f in subject_facts) + longest
            rows = _history(session, tenant, scope, subject, wanted, start, end)
            history = [h for h, _lead, _account in rows]
            seqs = {h.event_id: h.seq for h in history}
            todo = {f.event_id: f for f in subject_facts}
            for h, lead_id, account_id in rows:
                if h.event_id not in todo and any(
                    f.occurred_at < h.occurred_at <= f.occurred_at + longest for f in subject_facts
                ):
                    todo[h.event_id] = Fact(h.event_id, h.event_type, h.occurred_at, h.seq, lead_id, account_id)
            for f in sorted(todo.values(), key=lambda x: (x.occurred_at, seqs.get(x.event_id, x.seq))):
                current = core.HistoryEvent(f.event_id, f.event_type, f.occurred_at, seqs.get(f.event_id, f.seq))
                for row in scoped:
                    fired += _evaluate_windowed(session, tenant, row, subject, current, f, history, now)
    return fired


def _history(
    session: Session, tenant: Tenant, scope: str, subject: str, types: Iterable[str], start: datetime, end: datetime
) -> list[tuple[core.HistoryEvent, str | None, str | None]]:
    e = models.Event
    owner = e.lead_id if scope == "lead" else e.account_id
    rows = session.execute(
        select(e.id, e.event_type, e.occurred_at, e.seq, e.lead_id, e.account_id).where(
            e.unit_id == tenant.unit_id, owner == subject, e.event_type.in_(sorted(types)),
            e.occurred_at >= start, e.occurred_at <= end, e.quarantine_filter_id.is_(None),  # bots complete nothing
        )
    )
    return [(core.HistoryEvent(i, t, o, q), lead, acc) for i, t, o, q, lead, acc in rows]


def _evaluate_windowed(
    session: Session, tenant: Tenant, row: models.Trigger, subject: str, current: core.HistoryEvent, fact: Fact,
    history: list[core.HistoryEvent], now: datetime,
) -> int:
    if row.kind == "sequence":
        steps = _sequence(row).completed_by(current, history)
        if steps is None:
            return 0
        key = f"lead:{subject}" if row.config.get("fire_mode") == "once" else f"ev:{current.event_id}"
        data = {"event_types": row.config["event_types"], "ordered": row.config["ordered"],
                "steps": [{"event_id": s.event_id, "event_type": s.event_type, "occurred_at": s.occurred_at}
                          for s in steps]}
        return _fire(session, tenant, row, key, subject, fact, data, now)
    counts = _pattern(row).reached_by(current, history)
    if counts is None or _in_cooldown(session, row, subject, current.occurred_at):
        return 0
    data = {"scope": _scope(row), "counts": counts, "window_seconds": row.config["window_seconds"]}
    return _fire(session, tenant, row, f"ev:{current.event_id}", subject, fact, data, now)


def _in_cooldown(session: Session, row: models.Trigger, subject: str, at: datetime) -> bool:
    """A pattern fires once per window for a subject: not again while its last firing is inside the window."""
    f = models.TriggerFiring
    found = session.scalar(
        select(func.count()).select_from(f).where(
            f.trigger_id == row.id, f.subject == subject, f.occurred_at > at - _window(row), f.occurred_at <= at
        )
    )
    return bool(found)


def _fire(
    session: Session, tenant: Tenant, row: models.Trigger, dedupe_key: str, subject: str, fact: Fact,
    data: dict[str, Any], now: datetime,
) -> int:
    if not targeting.lead_passes_filters(session, tenant, row.config, fact.lead_id, now):
        return 0  # the lead is not in the trigger's segment or fails its filters
    firing_id = new_id("fir")
    before, after = fact.score_before, fact.score_after
    if after is None and fact.event_id:
        before, after = _event_scores(session, tenant, fact.event_id)
    payload = notification_payload(
        session, tenant, row, firing_id=firing_id, lead_id=fact.lead_id, account_id=fact.account_id,
        event_id=fact.event_id, event_type=fact.event_type, occurred_at=fact.occurred_at, fired_at=now,
        score_before=before, score_after=after, data=data,
    )
    stored = deliveries.json_safe(payload)
    values: dict[str, Any] = {
        "id": firing_id, "org_id": tenant.org_id, "unit_id": tenant.unit_id, "trigger_id": row.id, "kind": row.kind,
        "dedupe_key": dedupe_key, "subject": subject, "lead_id": fact.lead_id, "account_id": fact.account_id,
        "event_id": fact.event_id, "occurred_at": fact.occurred_at, "fired_at": now, "payload": stored,
    }
    table = cast(Table, models.TriggerFiring.__table__)
    stmt = (
        upsert.insert(session, table).values(**values)
        .on_conflict_do_nothing(index_elements=["trigger_id", "dedupe_key"]).returning(table.c.id)
    )
    if session.execute(stmt).scalar_one_or_none() is None:
        return 0  # this trigger already fired for these facts
    deliveries.enqueue_for_firing(session, tenant, row, firing_id, stored, now)
    stream.publish(session, tenant, [stream.trigger_fired(row.id, row.name, fact.lead_id, firing_id)], now)
    return 1


def _event_scores(session: Session, tenant: Tenant, event_id: str) -> tuple[int | None, int | None]:
    """The lead's primary score before and after an event, from the event's stored explanation."""
    explanation = session.scalar(select(models.Event.explanation).where(models.Event.id == event_id))
    part = (explanation or {}).get(live_model(session, tenant).primary_ruleset_id or "") or {}
    return part.get("before"), part.get("after")


def _person_name(lead: models.Lead) -> str | None:
    return " ".join(p for p in (lead.first_name, lead.last_name) if p) or None


def notification_payload(
    session: Session, tenant: Tenant, row: models.Trigger, *, firing_id: str, lead_id: str | None,
    account_id: str | None, event_id: str | None, event_type: str | None, occurred_at: datetime, fired_at: datetime,
    score_before: int | None, score_after: int | None, data: dict[str, Any],
    lead: dict[str, Any] | None = None, account: dict[str, Any] | None = None, test: bool = False,
) -> dict[str, Any]:
    """What every channel sends: the older flat fields integrators rely on, plus the lead, the account, the
    score before and after, the level and the trigger, so a message is useful without a look-up."""
    if lead is None and lead_id:
        found = session.get(models.Lead, lead_id)
        lead = {"id": lead_id, "email": found.email if found else None, "name": _person_name(found) if found else None}
        account_id = account_id or (found.account_id if found else None)
    if account is None and account_id:
        acc = session.get(models.Account, account_id)
        account = {"id": account_id, "domain": acc.domain if acc else None, "name": acc.name if acc else None}
    level = None
    if score_after is not None:
        found_level = levels_service.level_for_score(score_after, levels_service.load_levels(session, tenant))
        level = found_level["name"] if found_level else None
    payload: dict[str, Any] = {
        "type": f"trigger.{row.kind}", "firing_id": firing_id, "trigger_id": row.id, "trigger_name": row.name,
        "lead_id": lead_id, "account_id": account_id, "event_id": event_id, "event_type": event_type,
        "occurred_at": rfc3339(occurred_at), "fired_at": rfc3339(fired_at),
        "trigger": {"id": row.id, "name": row.name, "kind": row.kind},
        "lead": lead, "account": account, "score_before": score_before, "score_after": score_after, "level": level,
        "data": data,
    }
    if test:
        payload["test"] = True
    return payload


def send_test(session: Session, tenant: Tenant, kind: str, trigger_id: str, now: datetime) -> list[str]:
    """Queue a sample notification to every channel of the trigger, through the outbox and signed like a real
    firing (marked "test": true). Returns the delivery ids; a trigger without any channel is a Conflict."""
    require(tenant, Action.EDIT_TRIGGERS)
    row = get_trigger(session, tenant, kind, trigger_id)
    if not deliveries.channels_of(row):
        raise Conflict("this trigger has no webhook, email or Slack channel to send a test to")
    threshold = int(row.config.get("score_threshold", 80)) if kind == "milestone" else 80
    firing_id = new_id("fir")
    sample_event = (row.config.get("event_type") or "demo_request") if kind == "milestone" else (
        sorted(_types(row))[0] if _types(row) else "demo_request")
    payload = notification_payload(
        session, tenant, row, firing_id=firing_id, lead_id="lead_sample", account_id="acct_sample",
        event_id="evt_sample", event_type=sample_event, occurred_at=now, fired_at=now,
        score_before=max(threshold - 10, 0), score_after=threshold + 10, data={"sample": True},
        lead={"id": "lead_sample", "email": "jane.doe@example.com", "name": "Jane Doe"},
        account={"id": "acct_sample", "domain": "example.com", "name": "Example Inc"}, test=True,
    )
    # A firing row of its own (deliveries reference one); "test:" keys keep it out of firing lists and cool-downs.
    session.add(models.TriggerFiring(
        id=firing_id, org_id=tenant.org_id, unit_id=tenant.unit_id, trigger_id=row.id, kind=row.kind,
        dedupe_key=f"test:{firing_id}", subject=TEST_SUBJECT, lead_id=None, account_id=None, event_id=None,
        occurred_at=now, fired_at=now, payload=deliveries.json_safe(payload),
    ))
    session.flush()
    rows = deliveries.enqueue_for_firing(session, tenant, row, firing_id, deliveries.json_safe(payload), now)
    audit.record(session, tenant, action="test", entity_type=f"{kind}_trigger", entity_id=row.id, before=None,
                 after={"deliveries": [r["id"] for r in rows]}, now=now)
    return [r["id"] for r in rows]


def sweep_windows(session: Session, tenant: Tenant, now: datetime, lookback: timedelta = SWEEP_LOOKBACK) -> int:
    """Re-evaluate sequence and pattern triggers over events received recently (late arrivals complete
    sequences after the fact). Idempotent: a firing's dedupe key stops a second one."""
    active = [t for t in _active_triggers(session, tenant) if t.kind in ("sequence", "pattern")]
    if not active:
        return 0
    e = models.Event
    wanted = sorted(set().union(*(_types(t) for t in active)))
    rows = session.execute(
        select(e.id, e.event_type, e.occurred_at, e.seq, e.lead_id, e.account_id)
        .where(e.unit_id == tenant.unit_id, e.event_type.in_(wanted), e.received_at >= now - lookback)
        .order_by(e.seq)
    )
    facts = [Fact(*r) for r in rows]
    return _evaluate(session, tenant, active, facts, now) if facts else 0


def units_with_windowed_triggers(session: Session) -> list[Tenant]:
    t = models.Trigger
    rows = session.execute(
        select(t.org_id, t.unit_id).where(t.active.is_(True), t.kind.in_(("sequence", "pattern"))).distinct()
    )
    return [Tenant(o, u) for o, u in rows]


# --- simulation ----------------------------------------------------------------------------------------------------


def simulate(
    session: Session, tenant: Tenant, kind: str, trigger_id: str, *, lead_id: str | None, days: int, now: datetime
) -> dict[str, Any]:
    """Would the trigger have fired, and for whom, over the last `days` days (or one lead's history)?"""
    row = get_trigger(session, tenant, kind, trigger_id)
    if days < 1:
        raise InvalidInput("days", "must be at least 1")
    if lead_id is not None:
        lead = session.get(models.Lead, lead_id)
        if lead is None or lead.unit_id != tenant.unit_id:
            raise NotFound(f"lead {lead_id!r} does not exist", field="lead_id")
    since = now - timedelta(days=days)
    e = models.Event
    stmt = select(e.id, e.event_type, e.occurred_at, e.seq, e.lead_id, e.account_id, e.explanation).where(
        e.unit_id == tenant.unit_id
    )
    if lead_id is not None:
        stmt = stmt.where(e.lead_id == lead_id)
    matches: list[dict[str, Any]] = []
    if kind == "milestone":
        spec = _milestone(row)
        primary = live_model(session, tenant).primary_ruleset_id
        for ev_id, ev_type, occurred, _seq, lid, _acc, expl in session.execute(
            stmt.where(e.occurred_at >= since).order_by(e.seq)
        ):
            part = (expl or {}).get(primary) or {}
            if lid and spec.fires(ev_type, part.get("before"), part.get("after")):
                matches.append({"lead_id": lid, "event_id": ev_id, "event_type": ev_type, "occurred_at": occurred,
                                "score_before": part.get("before"), "score_after": part.get("after")})
    else:
        window = _window(row)
        types = sorted(_types(row))
        scope = _scope(row)
        history: dict[str, list[core.HistoryEvent]] = defaultdict(list)
        owners: dict[str, tuple[str | None, str | None]] = {}
        for ev_id, ev_type, occurred, seq, lid, acc, _expl in session.execute(
            stmt.where(e.occurred_at >= since - window, e.event_type.in_(types), e.quarantine_filter_id.is_(None))
            .order_by(e.occurred_at, e.seq)  # as at ingest: quarantined events complete nothing
        ):
            subject = lid if scope == "lead" else acc
            if subject:
                history[subject].append(core.HistoryEvent(ev_id, ev_type, occurred, seq))
                owners[ev_id] = (lid, acc)
        for events in history.values():
            fired_once = False
            last_fire: datetime | None = None
            for current in events:
                if current.occurred_at < since:
                    continue
                if kind == "sequence":
                    if fired_once and row.config.get("fire_mode") == "once":
                        break
                    if _sequence(row).completed_by(current, events) is None:
                        continue
                    fired_once = True
                else:
                    if _pattern(row).reached_by(current, events) is None:
                        continue
                    if last_fire is not None and current.occurred_at - last_fire < window:
                        continue
                    last_fire = current.occurred_at
                lid, acc = owners[current.event_id]
                matches.append({"lead_id": lid, "account_id": acc, "event_id": current.event_id,
                                "event_type": current.event_type, "occurred_at": current.occurred_at})
    # As when firing: only leads that pass the trigger's segment and filters (decided once per lead).
    passes: dict[str | None, bool] = {}
    for m in matches:
        if m.get("lead_id") not in passes:
            passes[m.get("lead_id")] = targeting.lead_passes_filters(session, tenant, row.config, m.get("lead_id"), now)
    matches = [m for m in matches if passes[m.get("lead_id")]]
    leads = sorted({m["lead_id"] for m in matches if m.get("lead_id")})
    emails: dict[str, str | None] = {}
    for start in range(0, len(leads), 500):  # bounded IN lists (SQLite's variable limit)
        chunk = leads[start:start + 500]
        emails.update(session.execute(select(models.Lead.id, models.Lead.email).where(models.Lead.id.in_(chunk))).all())
    for m in matches:
        m["lead_email"] = emails.get(m.get("lead_id") or "")
    where = f"lead {lead_id}" if lead_id else f"the last {days} days"
    return {
        "would_fire": bool(matches),
        "matched_leads": matches,
        "total_matches": len(matches),
        "message": f"would have fired {len(matches)} time(s) for {len(leads)} lead(s) in {where}",
    }


def lead_id_for(session: Session, tenant: Tenant, text: str) -> str | None:
    """A lead named by its email or its id (the dashboard's simulate box), or None if there is no such lead."""
    text = text.strip()
    lead = models.Lead
    return session.scalar(
        select(lead.id).where(lead.unit_id == tenant.unit_id, (lead.email == text.lower()) | (lead.id == text))
        .limit(1)
    )


# --- firings -------------------------------------------------------------------------------------------------------


def list_firings(
    session: Session, tenant: Tenant, kind: str | None, *, trigger_id: str | None = None, limit: int = 100,
    offset: int = 0,
) -> list[models.TriggerFiring]:
    f = models.TriggerFiring
    stmt = select(f).where(f.unit_id == tenant.unit_id)
    if kind is not None:
        _check_kind(kind)
        stmt = stmt.where(f.kind == kind)
    if trigger_id is not None:
        stmt = stmt.where(f.trigger_id == trigger_id)
    stmt = stmt.where(f.subject != TEST_SUBJECT)  # "Send test" samples are deliveries, not firings
    return list(session.scalars(stmt.order_by(f.fired_at.desc(), f.id.desc()).limit(limit).offset(offset)))


def firing_view(row: models.TriggerFiring) -> dict[str, Any]:
    payload = row.payload or {}
    return {
        "firing_id": row.id, "trigger_id": row.trigger_id, "kind": row.kind, "lead_id": row.lead_id,
        "account_id": row.account_id, "event_id": row.event_id, "occurred_at": row.occurred_at,
        "fired_at": row.fired_at, "data": payload.get("data", {}),
        # What the notification said (absent on firings written before notifications carried it).
        "trigger_name": payload.get("trigger_name"), "lead": payload.get("lead"), "account": payload.get("account"),
        "score_before": payload.get("score_before"), "score_after": payload.get("score_after"),
        "level": payload.get("level"),
    }


_CSV_COLUMNS = ("firing_id", "trigger_id", "kind", "lead_id", "account_id", "event_id", "occurred_at", "fired_at")


def export_firings_csv(session: Session, tenant: Tenant, kind: str, limit: int = 100_000) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for row in list_firings(session, tenant, kind, limit=limit):
        view = firing_view(row)
        writer.writerow(safe_cells(
            v.isoformat() if isinstance(v, datetime) else ("" if v is None else v)
            for v in (view[c] for c in _CSV_COLUMNS)
        ))
    return out.getvalue()
