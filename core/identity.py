"""Identity rules: how raw emails, phones, domains and names become comparable keys.

Pure functions; the services decide which lead or account a key belongs to.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
import tldextract

ALIAS_KINDS: tuple[str, ...] = ("email", "phone", "external_id", "cookie", "social")

# Mail providers whose domain says nothing about the sender's company.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com",
        "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com", "msn.com",
        "aol.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com",
        "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.com", "yandex.ru",
        "zoho.com", "fastmail.com", "hey.com", "qq.com", "163.com", "126.com", "mail.ru",
        "t-online.de", "orange.fr", "free.fr", "libero.it", "comcast.net", "verizon.net",
        "att.net", "tutanota.com", "pm.me",
    }
)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?$")


class InvalidIdentifier(ValueError):
    """A raw identifier that cannot be normalized; the message names what is wrong."""


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # Bundled public-suffix snapshot only: never fetch over the network at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    if not _EMAIL_RE.match(email):
        raise InvalidIdentifier(f"not a valid email address: {raw!r}")
    return email


def normalize_phone(raw: str, default_region: str = "US") -> str:
    """E.164 when the number parses; otherwise its digits (with a leading + kept)."""
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"\D", "", text)
    if len(digits) < 3:
        raise InvalidIdentifier(f"not a valid phone number: {raw!r}")
    return ("+" if text.startswith("+") else "") + digits


def normalize_domain(raw: str) -> str:
    """Registered domain from a bare domain, a host or a URL: 'https://www.Acme.com/x' -> 'acme.com'."""
    text = raw.strip().lower()
    if not text:
        raise InvalidIdentifier("domain is empty")
    if "@" in text and "/" not in text:
        text = text.rsplit("@", 1)[1]
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    except ValueError:  # e.g. an unbalanced "[" reads as a broken IPv6 literal
        raise InvalidIdentifier(f"not a valid domain: {raw!r}") from None
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    labels = host.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL_RE.match(label) for label in labels):
        raise InvalidIdentifier(f"not a valid domain: {raw!r}")
    parts = _extractor()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    return host


def company_domain_from_email(email: str) -> str | None:
    """The company domain an email reveals, or None for free-mail providers."""
    domain = email.rsplit("@", 1)[1].lower()
    if domain in FREE_MAIL_DOMAINS:
        return None
    try:
        normalized = normalize_domain(domain)
    except InvalidIdentifier:
        return None
    return None if normalized in FREE_MAIL_DOMAINS else normalized


def name_key(name: str) -> str:
    """Case- and space-insensitive key for matching account names."""
    return " ".join(name.split()).casefold()


def normalize_alias(kind: str, raw: str, default_region: str = "US") -> str:
    if kind not in ALIAS_KINDS:
        raise InvalidIdentifier(f"unknown alias kind {kind!r}; expected one of {', '.join(ALIAS_KINDS)}")
    if kind == "email":
        return normalize_email(raw)
    if kind == "phone":
        return normalize_phone(raw, default_region)
    value = raw.strip()
    if not value:
        raise InvalidIdentifier(f"{kind} alias is empty")
    return value
