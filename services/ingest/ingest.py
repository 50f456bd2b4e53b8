"""Ingest: engagement events in, resolved identities and explained scores out.

Every ingest path (signals, events, batches, CRM events, CSV import, system adjustments) comes
through `ingest`, so there is one event log and one set of people however an event arrived.
The batch is resolved and scored in memory, then written with a handful of set-based statements.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from core import identity, scoring
from core import profile as core_profile
from core.channels import infer_channel
from core.model import ScoringModel
from core.quarantine import DEFAULT_SCOPE
from db import models
from db.bulk import insert_rows, update_rows
from db.ids import new_id
from services.context import Tenant
from services.errors import InvalidInput, NotFound, PayloadTooLarge, ServiceError
from services.ingest.contract import AccountRef, Ingested, NewEvent, PersonRef
from services.insight import daily_counts, stream
from services.operations import metrics
from services.people.profiles import profile_event_row
from services.scoring.adjust import NONE as NO_ADJUSTMENT
from services.scoring.adjust import Adjustment, Incoming, adjust_incoming
from services.scoring.fit import fit_columns
from services.scoring.model import live_and_published, live_model, lock_config, published_model
from services.scoring.rescore import rescore_leads_and_accounts
from services.tenancy import policy
from services.tenancy.policy import Action
from services.triggers.triggers import fire_triggers
from settings import get_settings

_IN_CHUNK = 500
# The system-event fast path reads thousands of known leads by id: fewer, longer IN lists (SQLite allows 32,766
# bound values, PostgreSQL 65,535).
_SYSTEM_CHUNK = 5000
# Pure, and the public-suffix lookup behind them dominated _prepare on batches: memoize per process.
_company_domain = lru_cache(maxsize=16_384)(identity.company_domain_from_email)
_normalize_domain = lru_cache(maxsize=16_384)(identity.normalize_domain)


@dataclass(slots=True)
class _Prepared:
    index: int
    event: NewEvent
    aliases: list[tuple[str, str, str, bool]]  # kind, normalized value, raw, primary
    email: str | None
    account_domain: str | None
    account_name_key: str | None
    inferred_domain: str | None
    occurred_at: datetime
    properties_size_ok: bool = True


@dataclass(slots=True)
class _LeadState:
    id: str
    account_id: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    metadata: dict[str, Any]
    last_activity_at: datetime | None
    created: bool = False
    changed: bool = False
    fit: dict[str, Any] | None = None  # new fit columns when the profile changed in this batch


@dataclass(slots=True)
class _AccountState:
    id: str
    domain: str | None
    name: str
    last_activity_at: datetime | None
    metadata: dict[str, Any] = field(default_factory=dict)
    created: bool = False
    changed: bool = False
    fit: dict[str, Any] | None = None


def ingest(
    session: Session,
    tenant: Tenant,
    events: Sequence[NewEvent],
    now: datetime,
    *,
    context: ScoringModel | None = None,
) -> list[Ingested | ServiceError]:
    """Resolve, score and store `events` in order; one result (or error) per input, same order.

    A bad item yields its ServiceError and does not stop the others. The caller commits.
    """
    policy.require(tenant, Action.INGEST)
    settings = get_settings()
    # Shared with other ingests; a rules or settings change (which rescores) waits for us, and we for it.
    lock_config(session, tenant, exclusive=False)
    ctx, published = (context, None) if context is not None else live_and_published(session, tenant)
    results: list[Ingested | ServiceError | None] = [None] * len(events)
    prepared: list[_Prepared] = []
    for index, ev in enumerate(events):
        try:
            prepared.append(_prepare(index, ev, now, settings.default_phone_region, settings.max_properties_bytes))
        except ServiceError as err:
            results[index] = err

    resolver = _Resolver(session, tenant, now)
    resolver.preload(prepared)
    resolved: list[tuple[_Prepared, _LeadState | None, _AccountState | None]] = []
    for item in prepared:
        try:
            lead, account = resolver.resolve(item)
        except ServiceError as err:
            results[item.index] = err
            continue
        resolved.append((item, lead, account))

    lead_scores, account_scores = resolver.lock_and_load_scores()
    board = scoring.Scoreboard(ctx.book, ctx.policy, lead_scores, account_scores)
    # Quarantine (bot and burst filters), observed-only types and surge, from each lead's events around the new ones.
    adjusted = adjust_incoming(session, tenant, ctx, [
        Incoming(lead.id if lead else None, item.event.event_type, item.occurred_at, item.event.properties)
        for item, lead, _account in resolved
    ])
    profiles = _Profiles(session, tenant, now, published)
    event_rows: list[dict[str, Any]] = []
    for (item, lead, account), adjustment in zip(resolved, adjusted.events, strict=True):
        ev = item.event
        facts = scoring.EventFacts(ev.event_type, item.occurred_at, ev.properties)
        lead_id = lead.id if lead else None
        # System adjustments (decay) move the lead's score only; an account's engagement is its own.
        account_id = account.id if account and not ev.system else None
        outcomes = board.apply(facts, lead_id, account_id, held=adjustment.held, surge_milli=adjustment.surge_milli)
        channel = infer_channel(ev.event_type, ev.properties, ev.default_channel)
        event_id = new_id("ev")
        primary = outcomes.get(ctx.primary_ruleset_id) if ctx.primary_ruleset_id else None
        event_rows.append(
            _event_row(tenant, event_id, ev, lead_id, account_id, channel, item.occurred_at, now, outcomes, primary,
                       adjustment)
        )
        if not ev.system:
            # Contact and company fields, and mapped event fields, change profiles: as events right after this one.
            event_rows += profiles.update(ev, item.occurred_at, lead, account)
        # System adjustments (decay) are not activity: they must not restart the inactivity clock.
        if lead is not None and not ev.system:
            resolver.touch_lead(lead, item.occurred_at)
        if account is not None and not ev.system:
            resolver.touch_account(account, item.occurred_at)
        results[item.index] = Ingested(
            event_id=event_id,
            event_type=ev.event_type,
            source=ev.source,
            channel=channel,
            occurred_at=item.occurred_at,
            received_at=now,
            properties=ev.properties,
            lead_id=lead_id,
            account_id=account.id if account else None,
            lead_created=bool(lead and lead.created),
            account_created=bool(account and account.created),
            outcomes=outcomes,
            primary_ruleset_id=ctx.primary_ruleset_id,
            lead=_lead_view(lead),
            account=_account_view(account),
            fires_triggers=not adjustment.held and ctx.scope_of(ev.event_type) == DEFAULT_SCOPE,
            quarantine_reason=adjustment.quarantine[1] if adjustment.quarantine else None,
        )

    profiles.refit(resolver.leads.values(), resolver.accounts.values())
    resolver.write(board, event_rows)
    # A new event that completes a burst quarantines its lead's earlier ones; one that arrives out of order moves
    # later events' surge: those leads (and their accounts) are replayed from the log, before triggers look.
    rescore_leads_and_accounts(session, tenant, sorted(adjusted.retro), ctx)
    accepted = [r for r in results if isinstance(r, Ingested)]
    _announce(session, tenant, accepted, now, counted=sum(1 for r in resolved if not r[0].event.system))
    return [r for r in results if r is not None]


class _Profiles:
    """Profile changes of one ingest batch: person/company fields and field mappings, recorded as profile events
    (services.people.profiles) in the batch's order; fit is recomputed once per changed lead or account."""

    def __init__(self, session: Session, tenant: Tenant, now: datetime, model: ScoringModel | None = None) -> None:
        self.session, self.tenant, self.now = session, tenant, now
        self._model: ScoringModel | None = model  # the published model, when the caller has it already

    @property
    def model(self) -> ScoringModel:
        # Fit and mappings follow the published model (services.scoring.fit), read once, only when needed.
        if self._model is None:
            self._model = published_model(self.session, self.tenant)
        return self._model

    def update(
        self, ev: NewEvent, occurred_at: datetime, lead: _LeadState | None, account: _AccountState | None
    ) -> list[dict[str, Any]]:
        person_fields = ev.person.attributes if ev.person else {}
        company_fields = ev.account.attributes if ev.account else {}
        if not (person_fields or company_fields or self.model.mappings):
            return []
        fields = {**company_fields, **person_fields, **ev.properties}
        fields.setdefault("contact", person_fields)
        fields.setdefault("company", company_fields)
        rows: list[dict[str, Any]] = []
        for state, own_fields, kind in ((lead, person_fields, "profile"), (account, company_fields, "account")):
            if state is None:
                continue
            mappings = self.model.mappings_for(kind)
            profile = core_profile.apply_mappings({**state.metadata, **own_fields}, mappings, fields)
            change = core_profile.change_between(state.metadata, profile, via="ingest")
            if change is None:
                continue
            state.metadata, state.changed, state.fit = profile, True, {}
            owner = {"lead_id": state.id} if kind == "profile" else {"account_id": state.id}
            rows.append(profile_event_row(self.tenant, change, occurred_at=occurred_at, now=self.now,
                                          source=ev.source, **owner))
        return rows

    def refit(self, leads: Iterable[_LeadState], accounts: Iterable[_AccountState]) -> None:
        for kind, states in (("profile", leads), ("account", accounts)):
            for state in states:
                # A new row needs its fit even with an empty profile (a `not_exists` rule matches that).
                if state.fit is not None or state.created:
                    state.fit = fit_columns(self.model, kind, state.metadata)


def _event_row(
    tenant: Tenant,
    event_id: str,
    ev: NewEvent,
    lead_id: str | None,
    account_id: str | None,
    channel: str,
    occurred_at: datetime,
    now: datetime,
    outcomes: dict[str, scoring.RulesetOutcome],
    primary: scoring.RulesetOutcome | None,
    adjustment: Adjustment = NO_ADJUSTMENT,
) -> dict[str, Any]:
    """The events row of one scored event (the log replay and verify-scores read back)."""
    return {
        "id": event_id,
        "org_id": tenant.org_id,
        "unit_id": tenant.unit_id,
        "lead_id": lead_id,
        "account_id": account_id,
        "event_type": ev.event_type,
        "source": ev.source,
        "channel": channel,
        "occurred_at": occurred_at,
        "received_at": now,
        "metadata": ev.properties,
        "score_delta": primary.delta if primary else 0,
        "explanation": {rs: o.as_explanation() for rs, o in outcomes.items()},
        **adjustment.columns,
    }


def _announce(session: Session, tenant: Tenant, accepted: list[Ingested], now: datetime, *, counted: int) -> None:
    """The side effects of stored events: the live stream, the triggers, the ingest metric."""
    # Told to live clients at commit, with the trigger firings below, as one stream batch (services.insight.stream).
    stream.publish(session, tenant, stream.ingest_messages(session, tenant, accepted), now)
    fire_triggers(session, tenant, accepted, now)
    daily_counts.count_events(session, tenant, accepted)  # analytics' per-day counters (profile events skipped)
    # Accepted events (decay's system adjustments are not ingest), counted when the caller commits.
    metrics.count_ingested(session, counted)


def ingest_system_events(
    session: Session,
    tenant: Tenant,
    events: Sequence[NewEvent],
    now: datetime,
    *,
    context: ScoringModel | None = None,
) -> list[Ingested]:
    """Store system adjustments (decay drops) on KNOWN leads: what `ingest` does for them, without its identity work.

    Every event must be `system=True`, carry `person.lead_id` and no account. The result equals `ingest`'s for the
    same events (rows, explanations, scores, stream messages, trigger firings, metrics): the lead's score moves by
    the core scoring code, its account's score does not (an account's engagement is its own), the inactivity clock
    is not touched. Leads and their scores are read and written with a few set-based statements. The caller commits.
    Each result's `lead` view carries only id, email and account_id, and `account` is None (nothing reads more).
    """
    policy.require(tenant, Action.INGEST)
    lock_config(session, tenant, exclusive=False)
    ctx = context or live_model(session, tenant)
    lead_ids: set[str] = set()
    for pos, ev in enumerate(events):
        if not ev.system or ev.person is None or ev.person.lead_id is None or ev.account is not None:
            raise InvalidInput(f"events[{pos}]", "a system event names a known lead id and no account")
        if ev.occurred_at is None or ev.occurred_at.tzinfo is None:
            raise InvalidInput(f"events[{pos}].occurred_at", "must be a moment with a timezone offset")
        lead_ids.add(ev.person.lead_id)
    if not events:
        return []
    lead_t = _table(models.Lead)
    known: dict[str, tuple[str | None, str | None]] = {}  # lead id -> (account id, email)
    for chunk in _chunks(sorted(lead_ids), _SYSTEM_CHUNK):
        # Locked like ingest locks the leads it re-scores, so concurrent writers on PostgreSQL cannot lose an update.
        # By primary key only: with the unit in the WHERE clause SQLite walks the unit's index instead.
        for lead_id, unit_id, account_id, email in session.execute(
            select(lead_t.c.id, lead_t.c.unit_id, lead_t.c.account_id, lead_t.c.email)
            .where(lead_t.c.id.in_(chunk))
            .order_by(lead_t.c.id)
            .with_for_update()
        ):
            if unit_id == tenant.unit_id:
                known[lead_id] = (account_id, email)
    missing = sorted(lead_ids - known.keys())
    if missing:
        raise NotFound(f"lead_id: lead {missing[0]!r} does not exist in this unit", field="lead_id")
    stored: dict[str, dict[str, int]] = {}
    for chunk in _chunks(sorted(lead_ids), _SYSTEM_CHUNK):
        for lead_id, rs, score in session.execute(
            select(models.LeadScore.lead_id, models.LeadScore.ruleset_id, models.LeadScore.score).where(
                models.LeadScore.lead_id.in_(chunk)
            )
        ):
            stored.setdefault(lead_id, {})[rs] = score
    board = scoring.Scoreboard(ctx.book, ctx.policy, stored)
    event_rows: list[dict[str, Any]] = []
    accepted: list[Ingested] = []
    primary_id = ctx.primary_ruleset_id
    for ev in events:
        lead_id = cast(PersonRef, ev.person).lead_id
        occurred_at = cast(datetime, ev.occurred_at)
        account_id, email = known[cast(str, lead_id)]
        # As in ingest: a system adjustment moves the lead's score only, and its row names no account.
        outcomes = board.apply(scoring.EventFacts(ev.event_type, occurred_at, ev.properties), lead_id, None)
        channel = infer_channel(ev.event_type, ev.properties, ev.default_channel)
        event_id = new_id("ev")
        primary = outcomes.get(primary_id) if primary_id else None
        event_rows.append(_event_row(tenant, event_id, ev, lead_id, None, channel, occurred_at, now, outcomes, primary))
        accepted.append(
            Ingested(
                event_id=event_id, event_type=ev.event_type, source=ev.source, channel=channel,
                occurred_at=occurred_at, received_at=now, properties=ev.properties, lead_id=lead_id,
                account_id=account_id, lead_created=False, account_created=False, outcomes=outcomes,
                primary_ruleset_id=primary_id, lead={"id": lead_id, "email": email, "account_id": account_id},
            )
        )
    insert_rows(session, _table(models.Event), event_rows)
    _write_scores(session, _table(models.LeadScore), "lead_id", tenant.org_id, tenant.unit_id, board.leads, stored)
    _announce(session, tenant, accepted, now, counted=0)
    return accepted


def _lead_view(lead: _LeadState | None) -> dict[str, Any] | None:
    if lead is None:
        return None
    return {
        "id": lead.id,
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "account_id": lead.account_id,
        "metadata": lead.metadata,
    }


def _account_view(account: _AccountState | None) -> dict[str, Any] | None:
    if account is None:
        return None
    return {"id": account.id, "domain": account.domain, "name": account.name}


def _prepare(index: int, ev: NewEvent, now: datetime, region: str, max_bytes: int) -> _Prepared:
    event_type = (ev.event_type or "").strip()
    if not event_type:
        raise InvalidInput("event_type", "must be a non-empty string")
    if event_type == scoring.DECAY_EVENT_TYPE and not ev.system:
        raise InvalidInput("event_type", f"{scoring.DECAY_EVENT_TYPE!r} is reserved for system adjustments")
    if event_type in core_profile.PROFILE_EVENT_TYPES:
        raise InvalidInput("event_type", f"{event_type!r} is reserved for profile changes (edit the lead's metadata)")
    ev.event_type = event_type
    if not isinstance(ev.properties, dict):
        raise InvalidInput(ev.properties_field, "must be a JSON object")
    _check_size(ev, max_bytes)
    occurred_at = ev.occurred_at or now
    if occurred_at.tzinfo is None:
        raise InvalidInput("timestamp", "must include a timezone offset (e.g. 2024-06-15T14:23:00Z)")

    aliases: list[tuple[str, str, str, bool]] = []
    email: str | None = None
    inferred_domain: str | None = None
    person = ev.person
    if person is not None:
        seen: set[tuple[str, str]] = set()
        for pos, alias in enumerate(person.aliases):
            try:
                value = identity.normalize_alias(alias.kind, alias.raw_value, region)
            except identity.InvalidIdentifier as exc:
                raise InvalidInput(f"{person.field_name}.aliases[{pos}]", str(exc)) from None
            if (alias.kind, value) in seen:
                continue
            seen.add((alias.kind, value))
            aliases.append((alias.kind, value, alias.raw_value.strip(), alias.is_primary))
            if alias.kind == "email" and (email is None or alias.is_primary):
                email = value
        if email is not None:
            inferred_domain = _company_domain(email)
        if person.lead_id is None and not aliases:
            raise InvalidInput(person.field_name, "needs a lead id or at least one alias (email, phone, ...)")

    domain = name_key = None
    account = ev.account
    if account is not None:
        if account.domain:
            try:
                domain = _normalize_domain(account.domain)
            except identity.InvalidIdentifier as exc:
                raise InvalidInput(f"{account.field_name}.domain", str(exc)) from None
        if account.name is not None and account.name.strip():
            name_key = identity.name_key(account.name)
        if account.account_id is None and domain is None and name_key is None:
            raise InvalidInput(account.field_name, "needs an id, a domain or a name")
    if person is None and account is None:
        raise InvalidInput("contact", "an event needs a contact (lead) or an account")
    return _Prepared(index, ev, aliases, email, domain, name_key, inferred_domain, occurred_at)


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def _check_size(ev: NewEvent, max_bytes: int) -> None:
    """The event's properties and the profile fields of its person and account share one size limit.

    Profile fields (a CRM person's or company's extra fields, a contact's attributes) are stored on the lead and
    the account, so they are capped like metadata; otherwise they would be a way around the limit.
    """
    parts: list[tuple[str, int]] = [(ev.properties_field, _json_size(ev.properties))]
    person, account = ev.person, ev.account
    if person is not None and (person.attributes or person.first_name or person.last_name):
        parts.append((person.field_name, _json_size([person.first_name, person.last_name, person.attributes])))
    if account is not None and (account.attributes or account.name):
        parts.append((account.field_name, _json_size([account.name, account.attributes])))
    total = sum(size for _name, size in parts)
    if total <= max_bytes:
        return
    name, size = max(parts, key=lambda part: part[1])
    together = f" ({' + '.join(n for n, _s in parts)}: {total} bytes together)" if len(parts) > 1 else ""
    raise PayloadTooLarge(f"{name} is {size} bytes{together}; the limit is {max_bytes} bytes", field=name)


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _table(model: type[models.Base]) -> Table:
    """A model's table, typed for Core inserts and updates (the hot path skips the ORM's object building)."""
    return cast(Table, model.__table__)


class _Resolver:
    """Finds or creates the leads and accounts of a batch with a few bulk queries."""

    def __init__(self, session: Session, tenant: Tenant, now: datetime) -> None:
        self.session = session
        self.tenant = tenant
        self.now = now
        self.alias_owner: dict[tuple[str, str], str] = {}
        self.leads: dict[str, _LeadState] = {}
        self.accounts: dict[str, _AccountState] = {}
        self.account_by_domain: dict[str, str] = {}
        self.account_by_name: dict[str, str] = {}
        self.new_aliases: list[dict[str, Any]] = []
        self.stored_lead_scores: dict[str, dict[str, int]] = {}
        self.merged_into: dict[str, str] = {}
        self.stored_account_scores: dict[str, dict[str, int]] = {}

    def preload(self, items: Sequence[_Prepared]) -> None:
        unit = self.tenant.unit_id
        values = sorted({a[1] for it in items for a in it.aliases})
        for chunk in _chunks(values):
            rows = self.session.execute(
                select(models.LeadAlias.kind, models.LeadAlias.value, models.LeadAlias.lead_id).where(
                    models.LeadAlias.unit_id == unit, models.LeadAlias.value.in_(chunk)
                )
            )
            for kind, value, lead_id in rows:
                self.alias_owner[(kind, value)] = lead_id
        lead_ids = {it.event.person.lead_id for it in items if it.event.person and it.event.person.lead_id}
        lead_ids |= set(self.alias_owner.values())
        self._load_leads(sorted(lead_ids))

        domains = {d for it in items for d in (it.account_domain, it.inferred_domain) if d}
        for chunk in _chunks(sorted(domains)):
            for acc_id, domain in self.session.execute(
                select(models.Account.id, models.Account.domain).where(
                    models.Account.unit_id == unit, models.Account.domain.in_(chunk)
                )
            ):
                if domain is not None:  # matched by IN, so never None; keeps the types honest
                    self.account_by_domain[domain] = acc_id
        names = sorted({it.account_name_key for it in items if it.account_name_key})
        for chunk in _chunks(names):
            for acc_id, key in self.session.execute(
                select(models.Account.id, models.Account.name_key)
                .where(models.Account.unit_id == unit, models.Account.name_key.in_(chunk))
                .order_by(models.Account.created_at)
            ):
                self.account_by_name.setdefault(key, acc_id)
        account_ids = {it.event.account.account_id for it in items if it.event.account and it.event.account.account_id}
        account_ids |= set(self.account_by_domain.values()) | set(self.account_by_name.values())
        account_ids |= {lead.account_id for lead in self.leads.values() if lead.account_id}
        self._load_accounts(sorted(account_ids))

    def _load_leads(self, ids: Sequence[str]) -> None:
        while ids:
            merged: set[str] = set()
            for chunk in _chunks(ids):
                stmt = select(models.Lead).where(models.Lead.unit_id == self.tenant.unit_id, models.Lead.id.in_(chunk))
                # Lock the leads we will re-score so concurrent writers on PostgreSQL cannot lose an update.
                for row in self.session.scalars(stmt.order_by(models.Lead.id).with_for_update()):
                    if row.merged_into is not None:
                        # A merged lead's events go to the lead it was merged into (services.people.merge).
                        self.merged_into[row.id] = row.merged_into
                        merged.add(row.merged_into)
                        continue
                    self.leads[row.id] = _LeadState(
                        row.id, row.account_id, row.email, row.first_name, row.last_name,
                        dict(row.metadata_ or {}), row.last_activity_at,
                    )
            ids = sorted(merged - self.leads.keys() - self.merged_into.keys())

    def _current(self, lead_id: str) -> str:
        """The lead that `lead_id` is now: itself, or the end of its chain of merges."""
        seen: set[str] = set()
        while lead_id in self.merged_into and lead_id not in seen:
            seen.add(lead_id)
            lead_id = self.merged_into[lead_id]
        return lead_id

    def _load_accounts(self, ids: Sequence[str]) -> None:
        for chunk in _chunks(ids):
            stmt = select(models.Account).where(
                models.Account.unit_id == self.tenant.unit_id, models.Account.id.in_(chunk)
            )
            for row in self.session.scalars(stmt.order_by(models.Account.id).with_for_update()):
                self.accounts[row.id] = _AccountState(
                    row.id, row.domain, row.name, row.last_activity_at, dict(row.metadata_ or {})
                )

    def resolve(self, item: _Prepared) -> tuple[_LeadState | None, _AccountState | None]:
        ev = item.event
        account = self._resolve_account(ev.account, item) if ev.account else None
        lead = self._resolve_lead(ev.person, item) if ev.person else None
        if lead is not None:
            if account is None and item.inferred_domain and lead.account_id is None:
                account = self._account_for_domain(item.inferred_domain, None)
            if account is not None and lead.account_id != account.id and (ev.account or lead.account_id is None):
                lead.account_id = account.id
                lead.changed = True
            if account is None and lead.account_id:
                account = self.accounts.get(lead.account_id)
        return lead, account

    def _resolve_lead(self, person: PersonRef, item: _Prepared) -> _LeadState:
        lead: _LeadState | None = None
        if person.lead_id is not None:
            lead = self.leads.get(self._current(person.lead_id))
            if lead is None:
                where = {"contact": "contact.id", "person": "personId", "personId": "personId"}.get(
                    person.field_name, "lead_id"
                )
                raise NotFound(f"{where}: lead {person.lead_id!r} does not exist in this unit", field=where)
        else:
            for kind, value, _raw, _primary in item.aliases:
                owner = self.alias_owner.get((kind, value))
                if owner is not None and self._current(owner) in self.leads:
                    lead = self.leads[self._current(owner)]
                    break
        if lead is None:
            lead = _LeadState(new_id("ld"), None, None, None, None, {}, None, created=True, changed=True)
            self.leads[lead.id] = lead
        for kind, value, raw, primary in item.aliases:
            if (kind, value) not in self.alias_owner:
                # An alias owned by another lead stays there: merging people is an explicit act.
                self.alias_owner[(kind, value)] = lead.id
                self.new_aliases.append(
                    {
                        "org_id": self.tenant.org_id, "unit_id": self.tenant.unit_id, "lead_id": lead.id,
                        "kind": kind, "value": value, "raw_value": raw, "is_primary": primary,
                        "created_at": self.now,
                    }
                )
        if item.email and (lead.email is None or lead.created):
            lead.email = item.email
            lead.changed = True
        for attr in ("first_name", "last_name"):
            value = getattr(person, attr)
            if value and value.strip() and getattr(lead, attr) != value.strip():
                setattr(lead, attr, value.strip())
                lead.changed = True
        return lead

    def _resolve_account(self, ref: AccountRef, item: _Prepared) -> _AccountState:
        if ref.account_id is not None:
            account = self.accounts.get(ref.account_id)
            if account is None:
                where = f"{ref.field_name}.id"
                raise NotFound(f"{where}: account {ref.account_id!r} does not exist in this unit", field=where)
            return account
        acc_id = None
        if item.account_domain:
            acc_id = self.account_by_domain.get(item.account_domain)
        if acc_id is None and item.account_name_key and not item.account_domain:
            acc_id = self.account_by_name.get(item.account_name_key)
        if acc_id is not None:
            return self.accounts[acc_id]
        return self._create_account(item.account_domain, ref.name)

    def _account_for_domain(self, domain: str, name: str | None) -> _AccountState:
        acc_id = self.account_by_domain.get(domain)
        if acc_id is not None:
            return self.accounts[acc_id]
        return self._create_account(domain, name)

    def _create_account(self, domain: str | None, name: str | None) -> _AccountState:
        display = (name or "").strip() or domain or "Unnamed account"
        account = _AccountState(new_id("acc"), domain, display, None, created=True, changed=True)
        self.accounts[account.id] = account
        if domain:
            self.account_by_domain[domain] = account.id
        self.account_by_name.setdefault(identity.name_key(display), account.id)
        return account

    def touch_lead(self, lead: _LeadState, occurred_at: datetime) -> None:
        if lead.last_activity_at is None or occurred_at > lead.last_activity_at:
            lead.last_activity_at = occurred_at
            lead.changed = True

    def touch_account(self, account: _AccountState, occurred_at: datetime) -> None:
        if account.last_activity_at is None or occurred_at > account.last_activity_at:
            account.last_activity_at = occurred_at
            account.changed = True

    def lock_and_load_scores(self) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        lead_scores: dict[str, dict[str, int]] = {}
        existing = sorted(lid for lid, lead in self.leads.items() if not lead.created)
        for chunk in _chunks(existing):
            for lead_id, rs, score in self.session.execute(
                select(models.LeadScore.lead_id, models.LeadScore.ruleset_id, models.LeadScore.score).where(
                    models.LeadScore.lead_id.in_(chunk)
                )
            ):
                lead_scores.setdefault(lead_id, {})[rs] = score
        account_scores: dict[str, dict[str, int]] = {}
        existing = sorted(aid for aid, acc in self.accounts.items() if not acc.created)
        for chunk in _chunks(existing):
            for acc_id, rs, score in self.session.execute(
                select(models.AccountScore.account_id, models.AccountScore.ruleset_id, models.AccountScore.score).where(
                    models.AccountScore.account_id.in_(chunk)
                )
            ):
                account_scores.setdefault(acc_id, {})[rs] = score
        self.stored_lead_scores = {k: dict(v) for k, v in lead_scores.items()}
        self.stored_account_scores = {k: dict(v) for k, v in account_scores.items()}
        return lead_scores, account_scores

    def write(self, board: scoring.Scoreboard, event_rows: list[dict[str, Any]]) -> None:
        session, org, unit, now = self.session, self.tenant.org_id, self.tenant.unit_id, self.now
        new_accounts = [a for a in self.accounts.values() if a.created]
        if new_accounts:
            session.execute(
                _table(models.Account).insert(),
                [
                    {
                        "id": a.id, "org_id": org, "unit_id": unit, "domain": a.domain, "name": a.name,
                        "name_key": identity.name_key(a.name), "metadata": a.metadata, **_fit_values(a.fit),
                        "created_at": now, "updated_at": now, "last_activity_at": a.last_activity_at,
                    }
                    for a in new_accounts
                ],
            )
        new_leads = [lead for lead in self.leads.values() if lead.created]
        if new_leads:
            session.execute(
                _table(models.Lead).insert(),
                [
                    {
                        "id": ld.id, "org_id": org, "unit_id": unit, "account_id": ld.account_id, "email": ld.email,
                        "first_name": ld.first_name, "last_name": ld.last_name, "metadata": ld.metadata,
                        **_fit_values(ld.fit), "created_at": now, "updated_at": now,
                        "last_activity_at": ld.last_activity_at,
                        "merged_into": None,
                    }
                    for ld in new_leads
                ],
            )
        if self.new_aliases:
            session.execute(_table(models.LeadAlias).insert(), self.new_aliases)
        changed_leads = [lead for lead in self.leads.values() if lead.changed and not lead.created]
        table = _table(models.Lead)
        for refit in (False, True):  # leads whose profile changed also get their new fit
            group = [ld for ld in changed_leads if (ld.fit is not None) == refit]
            if not group:
                continue
            session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    account_id=bindparam("b_account_id"), email=bindparam("b_email"),
                    first_name=bindparam("b_first_name"), last_name=bindparam("b_last_name"),
                    metadata=bindparam("b_metadata", type_=table.c.metadata.type),
                    last_activity_at=bindparam("b_last_activity_at", type_=table.c.last_activity_at.type),
                    updated_at=bindparam("b_updated_at", type_=table.c.updated_at.type),
                    **(_fit_params(table) if refit else {}),
                ),
                [
                    {
                        "b_id": ld.id, "b_account_id": ld.account_id, "b_email": ld.email,
                        "b_first_name": ld.first_name, "b_last_name": ld.last_name, "b_metadata": ld.metadata,
                        "b_last_activity_at": ld.last_activity_at, "b_updated_at": now, **_fit_binds(ld.fit),
                    }
                    for ld in group
                ],
            )
        changed_accounts = [a for a in self.accounts.values() if a.changed and not a.created]
        table = _table(models.Account)
        for refit in (False, True):
            accounts = [a for a in changed_accounts if (a.fit is not None) == refit]
            if not accounts:
                continue
            extra: dict[str, Any] = (
                {"metadata": bindparam("b_metadata", type_=table.c.metadata.type), **_fit_params(table)}
                if refit else {}
            )
            session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    last_activity_at=bindparam("b_last_activity_at", type_=table.c.last_activity_at.type),
                    updated_at=bindparam("b_updated_at", type_=table.c.updated_at.type),
                    **extra,
                ),
                [
                    {
                        "b_id": a.id, "b_last_activity_at": a.last_activity_at, "b_updated_at": now,
                        **({"b_metadata": a.metadata, **_fit_binds(a.fit)} if refit else {}),
                    }
                    for a in accounts
                ],
            )
        if event_rows:
            session.execute(_table(models.Event).insert(), event_rows)
        _write_scores(
            session, _table(models.LeadScore), "lead_id", org, unit, board.leads, self.stored_lead_scores
        )
        _write_scores(
            session, _table(models.AccountScore), "account_id", org, unit, board.accounts,
            self.stored_account_scores,
        )


def _fit_values(fit: dict[str, Any] | None) -> dict[str, Any]:
    """A new row's fit columns: its computed fit, or none yet (no profile)."""
    return fit if fit else {"fit_score": 0, "fit_scores": {}}


def _fit_params(table: Table) -> dict[str, Any]:
    return {
        "fit_score": bindparam("b_fit_score"),
        "fit_scores": bindparam("b_fit_scores", type_=table.c.fit_scores.type),
    }


def _fit_binds(fit: dict[str, Any] | None) -> dict[str, Any]:
    return {"b_fit_score": fit["fit_score"], "b_fit_scores": fit["fit_scores"]} if fit else {}


def _write_scores(
    session: Session,
    table: Any,
    key: str,
    org_id: str,
    unit_id: str,
    current: dict[str, dict[str, int]],
    stored: dict[str, dict[str, int]],
) -> None:
    """Insert score rows that do not exist yet and update the ones that moved."""
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[int, str, str]] = []
    for owner, scores in current.items():
        before = stored.get(owner, {})
        for rs, score in scores.items():
            if rs not in before:
                inserts.append({key: owner, "ruleset_id": rs, "score": score, "org_id": org_id, "unit_id": unit_id})
            elif before[rs] != score:
                updates.append((score, owner, rs))
    insert_rows(session, table, inserts)
    update_rows(session, table, ["score"], [key, "ruleset_id"], updates)
