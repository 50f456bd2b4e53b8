"""Segment membership in SQL equals the pure evaluator (core.segments.matches), on every backend: hypothesis
generates leads (profiles with strings, numbers, booleans, nulls, lists, text that folds case unlike SQL's lower()),
accounts, scores, levels, events and rules, and the count from services.targeting equals the brute-force count."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import levels as core_levels
from core import segments as core
from core.scoring import CONDITION_OPERATORS
from db import models
from db.engine import Database
from db.ids import new_id
from services.context import Tenant
from services.scoring.model import live_model
from services.targeting import segments as targeting
from services.tenancy.tenants import create_unit

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
KEYS = ["plan", "country", "n"]
WORDS = ["pro", "PRO", "Pro", "10", "10.0", "1e1", "inf", "NaN", "ß", "SS", "ss", "\u212a", "k", "É", "é", "a,b",
         "", " pro ", "-3", "2.5", "x_y", "Straße"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-20, 20) | st.integers(-2**60, 2**60)
    | st.floats(-100, 100, allow_nan=False, allow_infinity=False) | st.sampled_from(WORDS)
    | st.text(st.sampled_from(list("aPkK0129.e-ßÉ\u212a ")), max_size=5),
    lambda inner: st.lists(inner, max_size=2),
    max_leaves=3,
)
profiles = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3)
rule_values = st.sampled_from(["pro", "PRO", "10", "1e1", "inf", "a,b", "ß", "ss", "k", "É", "2.5", "-3",
                               "pro,10", "true", "false", "x", "5", "0"])


@st.composite
def rules(draw: st.DrawFn) -> core.SegmentRule:
    rule_type = draw(st.sampled_from(core.RULE_TYPES))
    operator = draw(st.sampled_from(CONDITION_OPERATORS))
    value: str | None = draw(rule_values)
    if operator in core.NUMERIC_OPERATORS and core.as_number(value) is None:
        value = "5"
    if operator in core.NO_VALUE_OPERATORS:
        value = None
    field = {
        "lead_metadata": st.sampled_from(KEYS), "event_metadata": st.sampled_from(KEYS),
        "score": st.sampled_from(["", "score", "other_rs"]), "level": st.just("level"),
        "fit_level": st.just("fit_level"), "account": st.sampled_from(["domain", "name", "fit_score", *KEYS]),
    }[rule_type]
    return core.SegmentRule(
        rule_type=rule_type, field_name=draw(field), operator=operator, value=value,
        event_type=draw(st.sampled_from(["visit", "form"])) if rule_type == "event_metadata" else None,
        within_days=draw(st.none() | st.integers(1, 15)) if rule_type == "event_metadata" else None,
        logic_group=draw(st.integers(0, 1)), logic_op=draw(st.sampled_from(core.LOGIC_OPS)),
        order_index=draw(st.integers(0, 3)), active=draw(st.booleans() | st.just(True)),
        id=f"r{draw(st.integers(0, 10**6))}",
    )


events = st.lists(st.tuples(st.sampled_from(["visit", "form"]), st.integers(0, 20), profiles), max_size=3)
leads = st.lists(
    st.fixed_dictionaries({
        "profile": profiles, "score": st.integers(-5, 120), "other": st.none() | st.integers(0, 60),
        "fit_score": st.integers(0, 100), "account": st.none() | st.integers(0, 1), "events": events,
        "merged": st.booleans(),
    }),
    min_size=1, max_size=8,
)
accounts = st.lists(
    st.fixed_dictionaries({"domain": st.none() | st.sampled_from(["acme.com", "ACME.io", "straße.de"]),
                           "name": st.sampled_from(["Acme", "PRO Inc", "Ünited"]), "fit_score": st.integers(0, 50),
                           "profile": profiles}),
    min_size=2, max_size=2,
)


def _store(db: Database, data: list[dict[str, Any]], accts: list[dict[str, Any]]) -> tuple[Tenant, list[str]]:
    """Write the generated unit; returns it and the ids of its leads, in order."""
    with db.write() as session:
        tenant = create_unit(session, org_name="prop", unit_name=f"u {uuid.uuid4().hex[:6]}", now=NOW)
        primary = live_model(session, tenant).primary_ruleset_id
        assert primary is not None
        other = new_id("rs")
        session.add(models.Ruleset(id=other, org_id=tenant.org_id, unit_id=tenant.unit_id, name="other",
                                   is_primary=False, created_at=NOW, updated_at=NOW))
        for name, low, high in (("Cold", -1000, 30), ("Warm", 31, 70), ("Hot", 71, 100)):
            session.add(models.EngagementLevel(id=new_id("lvl"), org_id=tenant.org_id, unit_id=tenant.unit_id,
                                               name=name, min_score=low, max_score=high, created_at=NOW,
                                               updated_at=NOW))
        account_ids = []
        for a in accts:
            aid = new_id("acc")
            account_ids.append(aid)
            session.add(models.Account(id=aid, org_id=tenant.org_id, unit_id=tenant.unit_id, domain=a["domain"],
                                       name=a["name"], name_key=a["name"].lower(), metadata_=a["profile"],
                                       fit_score=a["fit_score"], created_at=NOW, updated_at=NOW))
        session.flush()
        ids = []
        for d in data:
            lid = new_id("lead")
            ids.append(lid)
            session.add(models.Lead(
                id=lid, org_id=tenant.org_id, unit_id=tenant.unit_id, metadata_=d["profile"],
                account_id=None if d["account"] is None else account_ids[d["account"]], fit_score=d["fit_score"],
                created_at=NOW, updated_at=NOW, merged_into=ids[0] if d["merged"] and len(ids) > 1 else None,
            ))
            session.flush()
            session.add(models.LeadScore(lead_id=lid, ruleset_id=primary, org_id=tenant.org_id,
                                         unit_id=tenant.unit_id, score=d["score"]))
            if d["other"] is not None:
                session.add(models.LeadScore(lead_id=lid, ruleset_id=other, org_id=tenant.org_id,
                                             unit_id=tenant.unit_id, score=d["other"]))
            for event_type, days, meta in d["events"]:
                at = NOW - timedelta(days=days, hours=1)
                session.add(models.Event(
                    id=new_id("ev"), org_id=tenant.org_id, unit_id=tenant.unit_id, lead_id=lid,
                    event_type=event_type, channel="web", occurred_at=at, received_at=at, metadata_=meta,
                ))
        session.flush()
        return Tenant(tenant.org_id, tenant.unit_id, actor="prop"), [*ids, other]


def _brute_force(data: list[dict[str, Any]], accts: list[dict[str, Any]], ids: list[str],
                 rules: list[core.SegmentRule]) -> int:
    levels = [core_levels.Level("c", "Cold", -1000, 30), core_levels.Level("w", "Warm", 31, 70),
              core_levels.Level("h", "Hot", 71, 100)]
    other = ids[-1]
    count = 0
    for pos, d in enumerate(data):
        if d["merged"] and pos > 0:
            continue
        level = core_levels.level_for(d["score"], levels)
        account = None if d["account"] is None else accts[d["account"]]
        facts = core.LeadFacts(
            profile=d["profile"],
            attributes={"score": d["score"], "level": level.name if level else None, "fit_score": d["fit_score"],
                        "fit_level": None},
            scores={} if d["other"] is None else {other: d["other"]},
            account=None if account is None else {
                k: account[k] for k in ("domain", "name", "fit_score") if account[k] is not None},
            account_profile=None if account is None else account["profile"],
            events=[core.EventFacts(t, NOW - timedelta(days=days, hours=1), meta) for t, days, meta in d["events"]],
            as_of=NOW,
        )
        count += core.matches(rules, facts)
    return count


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=leads, accts=accounts, segment=st.lists(rules(), max_size=4))
def test_sql_count_equals_the_pure_evaluator(db: Database, data: list[dict[str, Any]],
                                             accts: list[dict[str, Any]], segment: list[core.SegmentRule]) -> None:
    if accts[0]["domain"] is not None and accts[1]["domain"] == accts[0]["domain"]:
        accts[1]["domain"] = None  # domains are unique in a unit
    tenant, ids = _store(db, data, accts)
    other = ids[-1]
    segment = [replace(r, field_name=other) if r.field_name == "other_rs" else r for r in segment]
    expected = _brute_force(data, accts, ids, segment)
    with db.read() as session:
        assert targeting.count_rules(session, tenant, segment, NOW) == expected
        members = set(session.scalars(targeting._membership(session, tenant, segment, NOW).ids_select))
    assert len(members) == expected


def test_sql_decides_plain_values_and_leaves_only_unusual_text_to_python(db: Database) -> None:
    base = {"score": 10, "other": None, "fit_score": 0, "account": None, "events": [], "merged": False}
    data = [{**base, "profile": {"industry": "Software"}}, {**base, "profile": {"industry": "CAFÉ SOFT"}},
            {**base, "profile": {"industry": "Retail"}}, {**base, "profile": {"industry": ["soft"]}}]
    accts = [{"domain": None, "name": "A", "fit_score": 0, "profile": {}}] * 2
    tenant, ids = _store(db, data, accts)
    plain = [core.SegmentRule("lead_metadata", "industry", "in", "software, retail")]
    soft = [core.SegmentRule("lead_metadata", "industry", "contains", "SOFT")]
    with db.read() as session:
        # SQL decides the plain text; "CAFÉ SOFT" (not ASCII) and ["soft"] (a list) go to the pure evaluator
        found = targeting._membership(session, tenant, plain, NOW)
        assert (found.certain_count, found.unsure_count, found.decided) == (2, 2, [])
        found = targeting._membership(session, tenant, soft, NOW)
        assert (found.certain_count, found.unsure_count) == (1, 2)
        assert set(found.decided) == {ids[1], ids[3]}  # str(["soft"]) contains "soft", as condition_holds says
        assert set(session.scalars(found.ids_select)) == {ids[0], ids[1], ids[3]}
        assert targeting.count_rules(session, tenant, soft, NOW) == 3
