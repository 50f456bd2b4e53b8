"""Identity normalization on plain data: emails, phones, domains, account names."""

from __future__ import annotations

import pytest

from core.identity import (
    InvalidIdentifier,
    company_domain_from_email,
    name_key,
    normalize_alias,
    normalize_domain,
    normalize_email,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@acme.com", "ann@acme.com"),
        ("  Ann.Lee@ACME.com \n", "ann.lee@acme.com"),
        ("BOB+news@Example.CO.UK", "bob+news@example.co.uk"),
    ],
)
def test_email_is_trimmed_and_lowercased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "ann", "ann@", "@acme.com", "ann@acme", "ann lee@acme.com", "a@b@c.com"])
def test_invalid_emails_raise(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_email(raw)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (415) 555-2671", "US", "+14155552671"),
        ("+14155552671", "GB", "+14155552671"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 20 7946 0018", "US", "+442079460018"),
        ("030 123456", "DE", "+4930123456"),
    ],
)
def test_phone_becomes_e164(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


def test_the_same_number_written_differently_normalizes_the_same() -> None:
    forms = ["+1 415 555 2671", "(415) 555-2671", "415-555-2671", " 4155552671 "]
    assert {normalize_phone(f, "US") for f in forms} == {"+14155552671"}


@pytest.mark.parametrize("raw", ["", "  ", "ab", "--", "+1"])
def test_invalid_phones_raise(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_phone(raw, "US")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("ACME.com", "acme.com"),
        ("www.acme.com", "acme.com"),
        ("https://www.Acme.com/pricing?x=1", "acme.com"),
        ("http://acme.com:8080", "acme.com"),
        ("app.eu.acme.com", "acme.com"),
        ("shop.acme.co.uk", "acme.co.uk"),
        ("https://www.acme.co.uk/", "acme.co.uk"),
        ("acme.com.", "acme.com"),
        ("ann@acme.com", "acme.com"),
    ],
)
def test_domain_becomes_the_registered_domain(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "acme", "not a domain", "https://", "acme..com", "-acme.com", "ac_me.com"])
def test_invalid_domains_raise(raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalize_domain(raw)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("ann@acme.com", "acme.com"),
        ("ann@eu.acme.co.uk", "acme.co.uk"),
        ("ann@gmail.com", None),
        ("ann@googlemail.com", None),
        ("ann@outlook.com", None),
        ("ann@yahoo.co.uk", None),
        ("ann@proton.me", None),
    ],
)
def test_free_mail_domains_give_no_company(email: str, expected: str | None) -> None:
    assert company_domain_from_email(email) == expected


def test_account_name_key_ignores_case_and_spacing() -> None:
    assert name_key("  Acme   Corp ") == name_key("acme corp") == "acme corp"
    assert name_key("Acme Corp") != name_key("Acme Corporation")


def test_alias_normalization_by_kind() -> None:
    assert normalize_alias("email", " Ann@Acme.com ") == "ann@acme.com"
    assert normalize_alias("phone", "(415) 555-2671", "US") == "+14155552671"
    assert normalize_alias("external_id", "  crm-42 ") == "crm-42"
    assert normalize_alias("cookie", "abc") == "abc"
    with pytest.raises(InvalidIdentifier):
        normalize_alias("fax", "123")
    with pytest.raises(InvalidIdentifier):
        normalize_alias("external_id", "   ")
    with pytest.raises(InvalidIdentifier):
        normalize_alias("email", "nope")
