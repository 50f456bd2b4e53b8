"""Fit: the sum of the matching rules' weights, in the primary enabled ruleset, with case-insensitive text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.fit import FitBook, FitRulesetSpec, FitRuleSpec
from core.model import FitLevelSpec, ScoringModel, diff, summarize
from core.profile import MappingSpec
from core.scoring import condition_holds

ICP = FitRulesetSpec("fr_icp", "profile", "ICP")
OTHER = FitRulesetSpec("fr_other", "profile", "Other", is_primary=True)


def rule(rule_id: str, prop: str, condition: str, value: str, weight: int, ruleset: str = "fr_icp") -> FitRuleSpec:
    return FitRuleSpec(rule_id, ruleset, prop, condition, value, weight)


RULES = [
    rule("r1", "title", "contains", "vp", 20),
    rule("r2", "employees", "gte", "200", 15),
    rule("r3", "country", "in", "DE, AT,CH", 10),
    rule("r4", "email", "ends_with", "@GMAIL.COM", -30),
    rule("r5", "industry", "not_in", "student,education", 5),
    rule("r6", "industry", "equals", "saas", 7),
    rule("r7", "phone", "not_exists", "", -2),
]


def test_fit_sums_the_weights_of_matching_rules() -> None:
    book = FitBook([ICP], RULES)
    vp = {"title": "VP of Sales", "employees": "250", "country": "de", "industry": "SaaS", "phone": "+49"}
    assert book.fit(vp).score == 20 + 15 + 10 + 5 + 7
    student = {"title": "Student", "employees": 3, "email": "kid@Gmail.com", "industry": "Education"}
    assert book.fit(student).score == -30 - 2
    assert [r.id for r in book.matched(student)] == ["r4", "r7"]


@pytest.mark.parametrize(
    ("condition", "value", "profile", "holds"),
    [
        ("equals", "SaaS", {"p": "saas"}, True),
        ("not_equals", "SaaS", {"p": "SAAS"}, False),
        ("not_equals", "x", {}, True),
        ("starts_with", "vp", {"p": "VP Sales"}, True),
        ("ends_with", ".io", {"p": "acme.IO"}, True),
        ("not_contains", "intern", {"p": "Sales Intern"}, False),
        ("in", "a,b", {"p": "B"}, True),
        ("not_in", "a,b", {"p": "c"}, True),
        ("not_in", "a,b", {}, True),
        ("lt", "10", {"p": "9.5"}, True),
        ("lte", "10", {"p": "ten"}, False),
        ("exists", "", {"p": None}, False),
        ("not_exists", "", {}, True),
    ],
)
def test_conditions(condition: str, value: str, profile: dict, holds: bool) -> None:
    book = FitBook([ICP], [rule("r", "p", condition, value, 1)])
    assert book.fit(profile).score == (1 if holds else 0)


def test_the_primary_enabled_ruleset_decides_and_disabled_ones_score_nothing() -> None:
    rules = [rule("a", "t", "exists", "", 5), rule("b", "t", "exists", "", 9, ruleset="fr_other")]
    assert FitBook([ICP, OTHER], rules).fit({"t": 1}).score == 9
    assert FitBook([ICP, OTHER], rules).fit({"t": 1}).scores == {"fr_icp": 5, "fr_other": 9}
    disabled = FitRulesetSpec("fr_other", "profile", "Other", enabled=False, is_primary=True)
    book = FitBook([ICP, disabled], rules)
    assert book.primary_ruleset_id == "fr_icp" and book.fit({"t": 1}).scores == {"fr_icp": 5}
    assert FitBook([], []).fit({"t": 1}).score == 0


def test_fit_parts_round_trip_through_the_document_and_show_in_the_diff() -> None:
    before = ScoringModel.build()
    after = ScoringModel.build(
        mappings=[MappingSpec("fm_1", "profile", "utm_source", "source", "set_once")],
        fit_rulesets=[ICP, FitRulesetSpec("fr_acc", "account", "Accounts")],
        fit_rules=RULES,
        fit_levels=[FitLevelSpec("fl_a", "profile", "A", 40, 1000), FitLevelSpec("fl_b", "profile", "B", -1000, 39)],
    )
    assert ScoringModel.from_document(after.to_document()) == after
    assert ScoringModel.from_document(before.to_document()) == before  # a document without fit parts
    changes = diff(before, after)
    assert len(changes["fit_rules"]["added"]) == len(RULES) and len(changes["mappings"]["added"]) == 1
    assert "field mapping utm_source → profile.source added" in summarize(before, after, limit=20)
    assert not after.fit_same_as(before, "profile")
    assert not after.fit_same_as(before, "account")  # a new ruleset: every account gains a 0 in it
    relabelled = ScoringModel.build(**{**_parts(after), "fit_levels": [FitLevelSpec("fl_a", "profile", "Top", 0, 9)]})
    assert relabelled.fit_same_as(after, "profile") and relabelled.fit_same_as(after, "account")
    assert [lv.name for lv in after.fit_levels_for("profile")] == ["B", "A"]
    assert after.scores_same_as(before)  # fit never moves an engagement score


def _parts(model: ScoringModel) -> dict:
    return {
        "mappings": model.mappings, "fit_rulesets": model.fit_rulesets, "fit_rules": model.fit_rules,
        "fit_levels": model.fit_levels,
    }


_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=False, width=16),
    st.sampled_from(["VP", "vp sales", "DE", "x", "200", "200.0", "kid@GMAIL.com"]),
    st.lists(st.integers(0, 2), max_size=2),
)


@given(profiles=st.lists(st.dictionaries(st.sampled_from(["title", "employees", "country", "email"]), _values),
                         max_size=12))
def test_remembered_verdicts_equal_evaluating_every_condition(profiles: list[dict]) -> None:
    """The FitBook remembers each condition's verdict per property value: the same book over many profiles (equal
    values, 1 vs 1.0 vs True, unhashable values) must score exactly as evaluating every rule afresh."""
    book = FitBook([ICP], RULES)
    for profile in profiles:
        fresh = sum(r.weight for r in RULES if condition_holds(r.to_condition(), profile, fold_case=True))
        assert book.fit(profile).score == fresh
