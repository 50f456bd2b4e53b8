"""core.research: signal ids as UUIDs, profile URL normalisation (LinkedIn), company slugs, countries, matching."""

from __future__ import annotations

import uuid

import pytest

from core import research as core


def test_signal_ids_round_trip_through_their_uuid_form() -> None:
    event_id = "ev_" + uuid.uuid4().hex
    as_uuid = core.signal_uuid(event_id)
    assert str(uuid.UUID(as_uuid)) == as_uuid
    assert core.event_id_of(as_uuid) == event_id
    assert core.signal_uuid("custom-id") == "custom-id"
    assert core.event_id_of("not-a-uuid") is None
    assert core.event_id_of(as_uuid.upper()) is None  # the reference's pattern is lower case


@pytest.mark.parametrize("raw", [
    "https://www.linkedin.com/in/JohnDoe/",
    "http://linkedin.com/in/johndoe",
    "linkedin.com/in/johndoe?trk=public_profile",
    "https://uk.linkedin.com/in/johndoe#about",
    "  https://de.linkedin.com/in/JOHNDOE/details/experience  ",
])
def test_linkedin_profile_forms_are_one_key(raw: str) -> None:
    assert core.normalize_profile_url(raw) == "linkedin.com/in/johndoe"


def test_sales_navigator_urls_compare_by_member_id() -> None:
    lead = core.normalize_profile_url("https://www.linkedin.com/sales/lead/ACwAAABcD12,NAME_SEARCH,xY1?x=1")
    people = core.normalize_profile_url("linkedin.com/sales/people/ACwAAABcD12,name")
    assert lead == people == "linkedin.com/sales/ACwAAABcD12"


def test_other_profile_urls_and_junk() -> None:
    assert core.normalize_profile_url("https://www.GitHub.com/Ann/") == "github.com/ann"
    assert core.normalize_profile_url("ftp://linkedin.com/in/x") is None
    assert core.normalize_profile_url("not a url") is None
    assert core.normalize_profile_url("") is None
    assert core.normalize_profile_url("http://[::1") is None


def test_company_slugs() -> None:
    assert core.linkedin_company_slug("https://linkedin.com/company/google") == "google"
    assert core.linkedin_company_slug("www.linkedin.com/company/Acme-Corp/about/?x=1") == "acme-corp"
    assert core.linkedin_company_slug("https://linkedin.com/in/johndoe") is None
    assert core.linkedin_company_slug("https://example.com/company/google") is None
    assert core.linkedin_company_slug("garbage") is None
    assert core.slug_name_key("acme-corp") == "acme corp"
    assert core.domain_label("google.co.uk") == "google"


def test_countries() -> None:
    assert len(core.ISO_COUNTRIES) == 249
    assert core.country_problem(["US", "gb", "DE"]) is None
    assert "XX" in (core.country_problem(["US", "XX"]) or "")
    assert core.country_of({"country": "de"}) == "DE"
    assert core.country_of({"country": "Germany", "country_code": "DE"}) == "DE"
    assert core.country_of({}) is None


def test_best_match_prefers_profile_url_then_name_and_company_by_score() -> None:
    ann = core.Candidate("lead_a", social=("https://linkedin.com/in/ann",), first_name="Ann", last_name="Lee",
                         domains=("acme.com",), score=5)
    ann2 = core.Candidate("lead_b", profile={"linkedin_url": "linkedin.com/in/ANN/"}, score=9)
    other = core.Candidate("lead_c", first_name="ann", last_name="LEE", domains=("acme.com",),
                           companies=("Acme",), score=50)
    wanted = {"linkedin.com/in/ann"}
    assert core.best_match([ann, ann2, other], profile_keys_wanted=wanted, first_name=None, last_name=None,
                           domain=None) == (ann2, "profile_url")
    assert core.best_match([ann, other], profile_keys_wanted=set(), first_name="Ann", last_name="Lee",
                           domain="acme.com") == (other, "name_and_company")
    assert core.best_match([ann, other], profile_keys_wanted=set(), first_name="Ann", last_name="Lee",
                           domain=None, company_name=" acme ") == (other, "name_and_company")
    assert core.best_match([ann], profile_keys_wanted=set(), first_name="Ann", last_name="Lee",
                           domain="globex.com") is None
    assert core.best_match([ann], profile_keys_wanted=set(), first_name="Ann", last_name=None,
                           domain="acme.com") is None
