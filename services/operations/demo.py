"""A realistic demo unit: default rules, levels, decay, a few hundred people across dozens of accounts, weeks of events.

Every event goes through `services.ingest.ingest.ingest`, so the demo's scores are real, explained and replayable.
Choices come from a seeded random.Random: the same call builds the same people and activity. The activity is
shaped so that levels form a pyramid (about 5% Hot, 20% Warm, the rest Cold); no two people share a name, and
each lead and account is dated from its first event (ingest would date them at seeding time).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db import models
from db.ids import new_id
from services.context import Tenant
from services.errors import ServiceError
from services.ingest.contract import AccountRef, AliasInput, NewEvent, PersonRef
from services.ingest.ingest import ingest
from services.scoring.decay import apply_decay, create_decay
from services.scoring.model import begin_change, live_model
from services.scoring.publish import publish

SEED = 20_240_615
# Every demo event carries this source (the reference's "source=seed"): services.operations.sample_data
# recognises seeded events by it, and so can a user filtering the event log.
SEED_SOURCE = "seed"
DAYS = 42
BATCH = 500

# event type, weight, conditions (property/operator/value dicts as stored on models.Rule)
DEFAULT_RULES: tuple[tuple[str, int, list[dict[str, Any]]], ...] = (
    ("page_visit", 1, []),
    ("page_visit", 10, [{"property": "page", "operator": "equals", "value": "/pricing"}]),
    ("page_visit", 5, [{"property": "page", "operator": "starts_with", "value": "/case-studies"}]),
    ("email_open", 2, []),
    ("email_click", 4, []),
    ("content_download", 8, []),
    ("form_submit", 15, []),
    ("webinar_attended", 12, []),
    ("trial_signup", 25, []),
    ("demo_request", 30, []),
    ("meeting_booked", 20, []),
    ("unsubscribe", -20, []),
)
DEFAULT_LEVELS: tuple[tuple[str, int, int], ...] = (("Cold", 0, 29), ("Warm", 30, 79), ("Hot", 80, 100_000))
# inactive_for, unit, decrease: two quiet weeks cost 10 points, and every further two weeks again.
DEFAULT_DECAYS: tuple[tuple[int, str, int], ...] = ((2, "weeks", 10),)

_COMPANY_WORDS = (
    "Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Pied Piper",
    "Vandelay", "Soylent", "Cyberdyne", "Tyrell", "Aperture", "Black Mesa", "Oscorp", "Massive Dynamic",
    "Blue Harbor", "Silver Pine", "Redwood", "Granite", "Cobalt", "Lumen", "Quantum", "Evergreen", "Bright Peak",
    "Summit", "Atlas", "Beacon", "Keystone", "Meridian", "Orbit", "Pioneer", "Sterling", "Trident",
)
_COMPANY_SUFFIXES = ("Labs", "Systems", "Analytics", "Logistics", "Health", "Software", "Robotics", "Capital", "Foods",
                     "Energy", "Media", "Networks")
_TLDS = ("com", "com", "com", "io", "co", "net", "ai")
_FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me")
_FIRST = ("Ava", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofia", "Lucas", "Mia", "Ethan", "Amara", "Kenji",
          "Priya", "Omar", "Chloe", "Diego", "Hannah", "Ivan", "Julia", "Kwame", "Lena", "Marco", "Nadia", "Oscar",
          "Paula", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Grace")
_LAST = ("Smith", "Garcia", "Nguyen", "Patel", "Kim", "Müller", "Rossi", "Silva", "Johnson", "Brown", "Okafor",
         "Tanaka", "Cohen", "Novak", "Haddad", "Larsen", "Dubois", "Kowalski", "Fernandez", "Chen", "Singh", "Walsh",
         "Ibrahim", "Andersen", "Lopez", "Moreau", "Schmidt", "Ali", "Park", "Reyes")
_PAGES = ("/", "/blog/scoring-101", "/blog/abm-playbook", "/features", "/integrations", "/pricing",
          "/case-studies/northwind", "/case-studies/globex", "/docs/api", "/careers", "/about")
_CAMPAIGNS = ("Q3 newsletter", "Product launch", "Webinar invite", "Nurture #2", "Case study digest")
# Relative frequency of each event type in a lead's activity.
_EVENT_MIX: tuple[tuple[str, int], ...] = (
    ("page_visit", 50), ("email_open", 22), ("email_click", 9), ("content_download", 4), ("form_submit", 3),
    ("webinar_attended", 2), ("trial_signup", 1), ("demo_request", 1), ("meeting_booked", 1), ("unsubscribe", 1),
)


@dataclass(frozen=True, slots=True)
class _Company:
    name: str
    domain: str


@dataclass(frozen=True, slots=True)
class _Person:
    first: str
    last: str
    email: str
    company: _Company | None


def unit_has_events(session: Session, tenant: Tenant) -> bool:
    first = session.execute(select(models.Event.id).where(models.Event.unit_id == tenant.unit_id).limit(1)).first()
    return first is not None


@dataclass(frozen=True, slots=True)
class DemoSeed:
    leads: int
    accounts: int
    events: int
    rejected: int
    rules: int
    levels: int
    decays: int
    decay_drops: int

    def summary(self) -> str:
        return (
            f"demo seeded: {self.leads} leads, {self.accounts} accounts, {self.events} events over {DAYS} days"
            f" ({self.rejected} rejected), {self.rules} rules, {self.levels} levels and {self.decays} decay rules"
            f" added, {self.decay_drops} decay drops"
        )


def seed_demo(session: Session, tenant: Tenant, *, now: datetime, leads: int = 300, force: bool = False) -> str:
    """Fill `tenant` with demo rules, levels, people and ~6 weeks of events, with account scoring (ABM) on so the
    demo shows accounts; skips a unit that has events."""
    if not force and unit_has_events(session, tenant):
        return "demo not seeded: the unit already has events (use --force to add more)"
    return seed_demo_unit(session, tenant, now=now, leads=leads, abm=True).summary()


def seed_demo_unit(
    session: Session, tenant: Tenant, *, now: datetime, leads: int = 300, abm: bool = False
) -> DemoSeed:
    """Seed the demo whatever the unit holds (callers decide whether it may); every event has SEED_SOURCE. With
    `abm`, account scoring is switched on too (the sample data leaves it as it is: its removal restores the unit
    exactly)."""
    rng = random.Random(SEED)
    begin_change(session, tenant, now)
    rules_added = _ensure_rules(session, tenant, now)
    levels_added = _ensure_levels(session, tenant, now)
    if abm:  # the full demo: account scoring, and fit over the profiles its people come with
        _enable_abm(session, tenant, now)
        _ensure_fit(session, tenant, now)
    publish(session, tenant, now=now, summary="demo rules and levels")
    decays_added = _ensure_decays(session, tenant, now)
    people = _people(rng, leads)
    events = _events(rng, people, now)
    if abm:
        _add_profiles(events, people)
    context = live_model(session, tenant)
    stored = rejected = 0
    # Ingest flags every event of a batch that created its lead or account: keep each id once, in order.
    new_leads: dict[str, None] = {}
    new_accounts: dict[str, None] = {}
    for start in range(0, len(events), BATCH):
        for result in ingest(session, tenant, events[start : start + BATCH], now, context=context):
            if isinstance(result, ServiceError):
                rejected += 1
                continue
            stored += 1
            if result.lead_created and result.lead_id:
                new_leads[result.lead_id] = None
            if result.account_created and result.account_id:
                new_accounts[result.account_id] = None
    _date_from_first_event(session, tenant, list(new_leads), list(new_accounts))
    decayed = apply_decay(session, tenant, now)
    return DemoSeed(
        leads=len(new_leads), accounts=len(new_accounts), events=stored, rejected=rejected, rules=rules_added,
        levels=levels_added, decays=decays_added, decay_drops=decayed.drops,
    )


def _date_from_first_event(session: Session, tenant: Tenant, lead_ids: list[str], account_ids: list[str]) -> None:
    """The leads and accounts the seed created exist from their first event on (ingest dated them at seeding time).

    Only those: a lead or account that was there before keeps its date. services.operations.sample_data relies on this
    (a seeded lead's created_at is its first seeded event's occurred_at).
    """
    ev, lead, account, alias = models.Event, models.Lead, models.Account, models.LeadAlias
    first_of_lead = (
        select(func.min(ev.occurred_at)).where(ev.unit_id == tenant.unit_id, ev.lead_id == lead.id).scalar_subquery()
    )
    first_of_account = (
        select(func.min(ev.occurred_at))
        .where(ev.unit_id == tenant.unit_id, ev.account_id == account.id)
        .scalar_subquery()
    )
    for start in range(0, len(lead_ids), BATCH):
        chunk = lead_ids[start : start + BATCH]
        session.execute(
            update(lead)
            .where(lead.unit_id == tenant.unit_id, lead.id.in_(chunk))
            .values(created_at=first_of_lead, updated_at=first_of_lead)
        )
        session.execute(
            update(alias)
            .where(alias.unit_id == tenant.unit_id, alias.lead_id.in_(chunk))
            .values(created_at=select(lead.created_at).where(lead.id == alias.lead_id).scalar_subquery())
        )
    for start in range(0, len(account_ids), BATCH):
        session.execute(
            update(account)
            .where(account.unit_id == tenant.unit_id, account.id.in_(account_ids[start : start + BATCH]))
            .values(created_at=first_of_account, updated_at=first_of_account)
        )
    session.expire_all()  # the ORM's copies of these rows are stale now


def _enable_abm(session: Session, tenant: Tenant, now: datetime) -> None:
    """The demo shows account scoring: ABM on (published with the demo's rules and levels)."""
    row = session.get(models.ScoringSettings, tenant.unit_id)
    if row is None:
        row = models.ScoringSettings(unit_id=tenant.unit_id, org_id=tenant.org_id, allow_negative_scores=False,
                                     session_timeout_minutes=30)
        session.add(row)
    if not row.abm_enabled:
        row.abm_enabled, row.updated_at = True, now
    session.flush()


def _ensure_decays(session: Session, tenant: Tenant, now: datetime) -> int:
    if session.execute(select(models.DecayRule.id).where(models.DecayRule.unit_id == tenant.unit_id).limit(1)).first():
        return 0
    for inactive_for, unit, decrease in DEFAULT_DECAYS:
        create_decay(session, tenant, inactive_for=inactive_for, unit=unit, decrease=decrease, now=now)
    return len(DEFAULT_DECAYS)


def _ensure_rules(session: Session, tenant: Tenant, now: datetime) -> int:
    primary = session.execute(
        select(models.Ruleset.id)
        .where(models.Ruleset.unit_id == tenant.unit_id)
        .order_by(models.Ruleset.is_primary.desc(), models.Ruleset.created_at)
        .limit(1)
    ).scalar_one_or_none()
    if primary is None:
        primary = new_id("rs")
        session.add(
            models.Ruleset(
                id=primary, org_id=tenant.org_id, unit_id=tenant.unit_id, name="Engagement",
                score_column="total_score", is_primary=True, created_at=now, updated_at=now,
            )
        )
        session.flush()
    existing = session.scalar(select(func.count()).select_from(models.Rule).where(models.Rule.ruleset_id == primary))
    if existing:
        return 0
    session.add_all(
        models.Rule(
            id=new_id("rule"), org_id=tenant.org_id, unit_id=tenant.unit_id, ruleset_id=primary, event_type=event_type,
            weight=weight, active=True, conditions=conditions, created_at=now, updated_at=now, created_by="demo",
            updated_by="demo",
        )
        for event_type, weight, conditions in DEFAULT_RULES
    )
    session.flush()
    return len(DEFAULT_RULES)


def _ensure_levels(session: Session, tenant: Tenant, now: datetime) -> int:
    if session.execute(
        select(models.EngagementLevel.id).where(models.EngagementLevel.unit_id == tenant.unit_id).limit(1)
    ).first():
        return 0
    session.add_all(
        models.EngagementLevel(
            id=new_id("lvl"), org_id=tenant.org_id, unit_id=tenant.unit_id, name=name, min_score=low, max_score=high,
            created_at=now, updated_at=now,
        )
        for name, low, high in DEFAULT_LEVELS
    )
    session.flush()
    return len(DEFAULT_LEVELS)


# The demo's fit: an ideal customer profile over the title, seniority and country its people come with, and a
# firmographic one over its companies' industry and size.
_TITLES = (("VP Sales", "exec"), ("VP Marketing", "exec"), ("Head of Growth", "director"), ("CTO", "exec"),
           ("Marketing Manager", "manager"), ("Sales Director", "director"), ("Account Executive", "ic"),
           ("Software Engineer", "ic"), ("Student", "ic"), ("Marketing Intern", "ic"))
_COUNTRIES = ("US", "US", "GB", "DE", "FR", "NL", "IN", "BR", "CA", "AU")
_INDUSTRIES = ("Software", "Software", "Fintech", "Healthcare", "Retail", "Manufacturing", "Media", "Education")
_PROFILE_FIT_RULES = (
    ("title", "contains", "vp", 25), ("title", "starts_with", "head of", 20), ("title", "equals", "cto", 25),
    ("seniority", "in", "exec,director", 10), ("country", "in", "US,GB,DE,CA", 5),
    ("title", "contains", "intern", -20), ("title", "equals", "student", -25), ("email", "ends_with", ".edu", -10),
)
_ACCOUNT_FIT_RULES = (
    ("employees", "gte", "200", 20), ("employees", "lt", "20", -10), ("industry", "in", "Software,Fintech", 15),
    ("industry", "equals", "education", -10),
)
_FIT_LEVELS = (("A", 30, 1_000_000), ("B", 10, 29), ("C", -1_000_000, 9))


def _ensure_fit(session: Session, tenant: Tenant, now: datetime) -> None:
    """A primary fit ruleset with rules and A/B/C fit levels for profiles and accounts, and a field mapping, unless
    the unit has fit rulesets already. Rows only: the caller's publish makes them a version and scores fit."""
    if session.execute(select(models.FitRuleset.id).where(models.FitRuleset.unit_id == tenant.unit_id)).first():
        return
    org, unit = tenant.org_id, tenant.unit_id
    for kind, name, rules in (("profile", "Ideal customer", _PROFILE_FIT_RULES),
                              ("account", "Firmographic", _ACCOUNT_FIT_RULES)):
        ruleset_id = new_id("frs")
        session.add(models.FitRuleset(id=ruleset_id, org_id=org, unit_id=unit, kind=kind, name=name, enabled=True,
                                      is_primary=True, created_at=now, updated_at=now))
        session.flush()
        session.add_all(
            models.FitRule(id=new_id("frl"), org_id=org, unit_id=unit, ruleset_id=ruleset_id, property=prop,
                           condition=condition, comparison_value=value, weight=weight, ui_order=order,
                           created_at=now, updated_at=now)
            for order, (prop, condition, value, weight) in enumerate(rules)
        )
        session.add_all(
            models.FitLevel(id=new_id("flv"), org_id=org, unit_id=unit, kind=kind, name=level, min_score=low,
                            max_score=high, created_at=now, updated_at=now)
            for level, low, high in _FIT_LEVELS
        )
    # Which campaign first reached each person, copied from the email events into the profile.
    session.add(models.FieldMapping(id=new_id("fmp"), org_id=org, unit_id=unit, kind="profile",
                                    source_field="campaign", property="first_campaign", update_behavior="set_once",
                                    created_at=now, updated_at=now))
    session.flush()


def _add_profiles(events: list[NewEvent], people: list[_Person]) -> None:
    """Give each person's first event their profile (title, seniority, country) and their company's (industry,
    employees), as a signal's contact and company fields would. Drawn from their own random stream, so the
    people and activity stay those of the sample data."""
    rng = random.Random(SEED + 1)
    profiles = {p.email: dict(zip(("title", "seniority"), rng.choice(_TITLES), strict=True)) | {
        "country": rng.choice(_COUNTRIES)} for p in people}
    firms: dict[str, dict[str, Any]] = {}
    for p in people:
        if p.company is not None and p.company.domain not in firms:
            firms[p.company.domain] = {"industry": rng.choice(_INDUSTRIES),
                                       "employees": rng.choice((5, 12, 45, 120, 250, 800, 3000))}
    seen: set[str] = set()
    for ev in events:
        person, account = ev.person, ev.account
        if person is None or not person.aliases or person.aliases[0].raw_value in seen:
            continue
        seen.add(person.aliases[0].raw_value)
        person.attributes = profiles[person.aliases[0].raw_value]
        if account is not None and account.domain in firms:
            account.attributes = firms.pop(account.domain)


def _companies(rng: random.Random, count: int) -> list[_Company]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        name = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_SUFFIXES)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return [_Company(n, n.lower().replace(" ", "") + "." + rng.choice(_TLDS)) for n in names]


def _people(rng: random.Random, count: int) -> list[_Person]:
    companies = _companies(rng, max(3, count // 8))
    # A few big accounts and a long tail of small ones.
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(companies))]
    people: list[_Person] = []
    used: set[str] = set()
    for first, last in _names(rng, count):
        free_mail = rng.random() < 0.12
        company = None if free_mail else rng.choices(companies, weights)[0]
        domain = rng.choice(_FREE_MAIL) if company is None else company.domain
        given, family = _mail_part(first), _mail_part(last)
        local = f"{given}.{family}" if company else f"{given}{family}{rng.randint(1, 99)}"
        email = f"{local}@{domain}"
        while email in used:  # only the free-mail numbers can collide: names are unique
            email = f"{local}{rng.randint(100, 9999)}@{domain}"
        used.add(email)
        people.append(_Person(first, last, email, company))
    return people


def _mail_part(name: str) -> str:
    """'Ava B.' -> 'avab', 'Müller' -> 'mueller'."""
    return "".join(c for c in name.lower().replace("ü", "ue") if c.isascii() and c.isalpha())


def _names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` distinct (first, last) names; beyond the plain combinations, a middle initial keeps them distinct."""
    plain = [(f, la) for f in _FIRST for la in _LAST]
    if count <= len(plain):
        return rng.sample(plain, count)
    initials = [(f"{f} {chr(65 + i)}.", la) for i in range(26) for f, la in plain]
    pool = plain + initials
    if count > len(pool):
        raise ValueError(f"the demo has names for at most {len(pool)} leads")
    return plain + rng.sample(initials, count - len(plain))


def _events(rng: random.Random, people: list[_Person], now: datetime) -> list[NewEvent]:
    kinds = [k for k, _ in _EVENT_MIX]
    kind_weights = [w for _, w in _EVENT_MIX]
    timed: list[tuple[datetime, int, NewEvent]] = []
    start = now - timedelta(days=DAYS)
    for person in people:
        # Long tail: most people do a handful of things, a few do a lot (and become hot).
        activity = min(160, int(rng.paretovariate(1.5) * 2.5))
        # Engaged people lean towards high-intent actions.
        bias = 1.0 + min(activity, 60) / 20
        weights = [w * (bias if k in ("form_submit", "demo_request", "webinar_attended", "trial_signup",
                                      "meeting_booked") else 1.0) for k, w in zip(kinds, kind_weights, strict=True)]
        recency = rng.random()
        for _ in range(max(1, activity)):
            # Active people are more active recently.
            offset = DAYS * 86_400 * (rng.random() ** (1 + recency))
            occurred_at = now - timedelta(seconds=offset) if offset > 60 else now - timedelta(minutes=1)
            occurred_at = max(occurred_at, start)
            kind = rng.choices(kinds, weights)[0]
            timed.append((occurred_at, len(timed), _event(rng, person, kind, occurred_at)))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [ev for _, _, ev in timed]


def _event(rng: random.Random, person: _Person, kind: str, occurred_at: datetime) -> NewEvent:
    properties: dict[str, Any]
    if kind == "page_visit":
        properties = {"page": rng.choices(_PAGES, (20, 8, 6, 10, 5, 9, 3, 3, 4, 2, 2))[0]}
    elif kind in ("email_open", "email_click", "unsubscribe"):
        properties = {"campaign": rng.choice(_CAMPAIGNS)}
    elif kind == "webinar_attended":
        webinar = rng.choice(("Scoring that sales trusts", "ABM in 30 minutes"))
        properties = {"webinar": webinar, "minutes": rng.randint(5, 60)}
    elif kind == "content_download":
        properties = {"asset": rng.choice(("State of RevOps 2026", "Scoring playbook", "ROI calculator"))}
    else:
        properties = {"form": kind}
    account = AccountRef(domain=person.company.domain, name=person.company.name) if person.company else None
    return NewEvent(
        event_type=kind,
        occurred_at=occurred_at,
        properties=properties,
        source=SEED_SOURCE,
        person=PersonRef(
            aliases=[AliasInput("email", person.email, True)], first_name=person.first, last_name=person.last,
            field_name="contact",
        ),
        account=account,
    )
