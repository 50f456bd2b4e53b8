"""The research API's pure rules: signal ids as UUIDs, profile and company URLs normalised (LinkedIn's many forms),
country codes, and how a research request is matched to a lead.

Pure: no clock, no database.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

# The reference's patterns (signals-research-api).
DOMAIN_PATTERN = r"^[a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?)*$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
EVENT_PREFIX = "ev_"
_EVENT_ID = re.compile(r"^ev_([0-9a-f]{32})$")

# Lead profile properties that may hold the person's profile URL (besides `social` aliases).
PROFILE_URL_PROPERTIES: tuple[str, ...] = (
    "linkedin_url", "linkedin", "profile_url", "linkedin_profile_url", "sales_navigator_url",
)
# Lead profile properties read as the person's job title and country.
TITLE_PROPERTIES: tuple[str, ...] = ("title", "job_title")
COUNTRY_PROPERTIES: tuple[str, ...] = ("country", "country_code")
# Account profile properties that may hold the company's LinkedIn URL.
COMPANY_URL_PROPERTIES: tuple[str, ...] = ("linkedin_url", "linkedin", "linkedin_company_url")

# ISO 3166-1 alpha-2: the 249 officially assigned codes.
ISO_COUNTRIES: frozenset[str] = frozenset(re.findall(r"[A-Z]{2}", """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS
MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS
RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW
TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""))


# --- signal ids ----------------------------------------------------------------------------------------------------


def signal_uuid(event_id: str) -> str:
    """The UUID form of an event id (`ev_<32 hex>` -> its hex as a UUID); other ids are returned unchanged."""
    found = _EVENT_ID.match(event_id)
    return str(uuid.UUID(hex=found.group(1))) if found else event_id


def event_id_of(signal_id: str) -> str | None:
    """The event id a signal UUID names; None when `signal_id` is not a lower-case hyphenated UUID."""
    if not re.match(UUID_PATTERN, signal_id):
        return None
    return EVENT_PREFIX + uuid.UUID(signal_id).hex


# --- URLs ----------------------------------------------------------------------------------------------------------


def _split(raw: str) -> tuple[str, list[str]] | None:
    """(host without www., decoded non-empty path segments) of a URL, with or without its scheme."""
    text = raw.strip()
    if not text or any(c.isspace() for c in text):
        return None
    if "://" not in text:
        text = "https://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or "." not in host:
        return None
    host = host.removeprefix("www.")
    return host, [unquote(p) for p in parts.path.split("/") if p]


def _is_linkedin(host: str) -> bool:
    return host == "linkedin.com" or host.endswith(".linkedin.com")


def normalize_profile_url(raw: str) -> str | None:
    """One key for every form of the same profile URL, or None when `raw` is not an http(s) URL.

    LinkedIn: scheme, `www.` and country subdomains, a trailing slash, the query and fragment do not matter, and
    `/in/<slug>` is case-insensitive (-> `linkedin.com/in/<slug>`); Sales Navigator URLs (`/sales/lead/<id>,...`,
    `/sales/people/<id>,...`) compare by their member id (-> `linkedin.com/sales/<id>`). Other URLs: the host
    without `www.` and the path, lower case, without a trailing slash.
    """
    split = _split(raw)
    if split is None:
        return None
    host, segments = split
    if _is_linkedin(host):
        if len(segments) >= 2 and segments[0].lower() == "in":
            return f"linkedin.com/in/{segments[1].lower()}"
        if len(segments) >= 3 and segments[0].lower() == "sales" and segments[1].lower() in ("lead", "people"):
            member = segments[2].split(",")[0].strip()
            return f"linkedin.com/sales/{member}" if member else None
        return "/".join(["linkedin.com", *segments]).lower()
    return "/".join([host, *segments]).lower()


def profile_needle(key: str) -> str:
    """A lower-case fragment every stored form of the profile `key` contains (to pre-select candidates in SQL)."""
    last = key.rsplit("/", 1)[-1]
    return (last or key).lower()


def linkedin_company_slug(raw: str) -> str | None:
    """The company's slug of a LinkedIn company URL (`linkedin.com/company/<slug>`, also `school`/`showcase`
    pages), lower case; None when `raw` is not one."""
    split = _split(raw)
    if split is None:
        return None
    host, segments = split
    if not _is_linkedin(host) or len(segments) < 2 or segments[0].lower() not in ("company", "school", "showcase"):
        return None
    slug = segments[1].strip().lower()
    return slug or None


def company_slug_of(url: Any) -> str | None:
    return linkedin_company_slug(url) if isinstance(url, str) else None


def slug_name_key(slug: str) -> str:
    """The account name key a company slug stands for: `acme-corp` -> `acme corp`."""
    return " ".join(slug.replace("-", " ").replace("_", " ").split()).casefold()


def domain_label(domain: str | None) -> str | None:
    """The first label of a domain (`google` of `google.co.uk`)."""
    return domain.split(".", 1)[0].lower() if domain else None


# --- countries -----------------------------------------------------------------------------------------------------


def country_problem(codes: Iterable[str]) -> str | None:
    """Why `codes` are not ISO 3166-1 alpha-2 country codes (None when they all are)."""
    bad = [c for c in codes if c.upper() not in ISO_COUNTRIES or len(c) != 2]
    if bad:
        return f"not ISO 3166-1 alpha-2 country codes: {', '.join(repr(c) for c in bad[:5])}"
    return None


def country_of(profile: Mapping[str, Any] | None) -> str | None:
    """The profile's country as an alpha-2 code, when a country property holds one."""
    for key in COUNTRY_PROPERTIES:
        value = (profile or {}).get(key)
        if isinstance(value, str) and value.strip().upper() in ISO_COUNTRIES:
            return value.strip().upper()
    return None


def first_text(profile: Mapping[str, Any] | None, keys: Iterable[str]) -> str | None:
    for key in keys:
        value = (profile or {}).get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# --- matching a research request to a lead -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a lead offers for matching: its social aliases and profile, name and the domains it is known by."""

    lead_id: str
    social: tuple[str, ...] = ()
    profile: Mapping[str, Any] | None = None
    first_name: str | None = None
    last_name: str | None = None
    domains: tuple[str, ...] = ()
    companies: tuple[str, ...] = ()  # account names
    score: int = 0


def profile_keys(candidate: Candidate) -> set[str]:
    urls = [*candidate.social, *(str(v) for k in PROFILE_URL_PROPERTIES
                                 if isinstance(v := (candidate.profile or {}).get(k), str))]
    return {key for url in urls if (key := normalize_profile_url(url)) is not None}


def _name(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def best_match(
    candidates: Iterable[Candidate], *, profile_keys_wanted: set[str], first_name: str | None,
    last_name: str | None, domain: str | None, company_name: str | None = None,
) -> tuple[Candidate, str] | None:
    """The lead a research request names and how it was found: `profile_url` (a social alias or profile URL
    property), then `name_and_company` (first and last name, case-insensitive, and the company's domain, which
    the lead's account or email domain must be; without a domain, the account's name). Among several, the
    highest score (then the smallest id, so the answer is stable)."""
    pool = sorted(candidates, key=lambda c: (-c.score, c.lead_id))
    if profile_keys_wanted:
        for candidate in pool:
            if profile_keys(candidate) & profile_keys_wanted:
                return candidate, "profile_url"
    if not (_name(first_name) and _name(last_name) and (domain or _name(company_name))):
        return None
    for candidate in pool:
        if (_name(candidate.first_name), _name(candidate.last_name)) != (_name(first_name), _name(last_name)):
            continue
        if domain:
            if domain.lower() in {d.lower() for d in candidate.domains}:
                return candidate, "name_and_company"
        elif _name(company_name) in {_name(c) for c in candidate.companies}:
            return candidate, "name_and_company"
    return None
