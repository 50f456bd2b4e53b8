"""Profiles as folds of profile changes, and field mappings' update behaviors."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.profile import (
    APPEND_KEEP,
    MappingSpec,
    ProfileChange,
    apply_change,
    apply_mappings,
    change_between,
    fold,
    lookup,
    merge_patch,
)

values = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.booleans())
profiles = st.dictionaries(st.sampled_from("abcdef"), values, max_size=5)


def test_a_change_sets_and_removes_keys_and_replace_starts_over() -> None:
    start = {"title": "CTO", "country": "DE", "plan": "free"}
    assert apply_change(start, ProfileChange(set={"title": "VP"}, unset=("plan",))) == {"title": "VP", "country": "DE"}
    assert apply_change(start, ProfileChange(set={"title": "VP"}, replace=True)) == {"title": "VP"}
    assert start == {"title": "CTO", "country": "DE", "plan": "free"}  # never changed in place


@given(before=profiles, after=profiles)
def test_the_change_between_two_profiles_turns_one_into_the_other(before: dict, after: dict) -> None:
    change = change_between(before, after, via="test")
    if before == after:
        assert change is None
    else:
        assert change is not None and apply_change(before, change) == after


@given(steps=st.lists(profiles, max_size=6))
def test_folding_the_recorded_changes_rebuilds_the_last_profile(steps: list[dict]) -> None:
    changes, current = [], {}
    for nxt in steps:
        change = change_between(current, nxt, via="test")
        if change is not None:
            changes.append(ProfileChange.from_metadata(change.to_metadata()))  # as stored in an event row
        current = nxt
    assert fold(changes) == current


def test_a_patch_sets_keys_and_null_removes_one() -> None:
    assert merge_patch({"a": 1, "b": 2}, {"b": None, "c": 3}) == {"a": 1, "c": 3}


def test_lookup_reaches_into_nested_fields_and_prefers_a_literal_dotted_key() -> None:
    fields = {"company": {"size": 250}, "utm.source": "ads"}
    assert lookup(fields, "company.size") == 250
    assert lookup(fields, "utm.source") == "ads"
    assert lookup(fields, "company.missing") is None


def test_update_behaviors() -> None:
    latest = MappingSpec("m1", "profile", "utm_source", "source")
    once = MappingSpec("m2", "profile", "utm_source", "first_source", "set_once")
    pages = MappingSpec("m3", "profile", "page", "page", "append")
    profile: dict = {}
    for source, page in (("google", "/a"), ("bing", "/b"), (None, "/a"), ("", "/c")):
        profile = apply_mappings(profile, (latest, once, pages), {"utm_source": source, "page": page})
    # Absent, null and empty values copy nothing; append keeps distinct values, newest last.
    assert profile == {"source": "bing", "first_source": "google", "page_list": ["/b", "/a", "/c"]}


def test_append_keeps_the_last_ten_values() -> None:
    mapping = MappingSpec("m", "profile", "page", "page", "append")
    profile: dict = {}
    for n in range(15):
        profile = apply_mappings(profile, (mapping,), {"page": f"/p{n}"})
    assert profile["page_list"] == [f"/p{n}" for n in range(15 - APPEND_KEEP, 15)]
