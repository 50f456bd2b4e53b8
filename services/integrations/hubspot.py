"""The HubSpot CRM v3 objects API, as far as the score sync needs it: write properties to a contact found by email
(created when missing), upsert contacts in batches, and check a token.

Every call goes through the outbound guard (services.integrations.outbound: guarded connections, no redirects) to
the base URL of LEADVANE_HUBSPOT_API_BASE_URL, with the private app token as a Bearer token. An outcome's reason is
always a short one of ours (never HubSpot's answer text: it may quote the data we sent). A 429 carries the seconds
HubSpot asked us to wait (Retry-After), which the outbox's retry schedule honours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from services.integrations import outbound

CONTACTS = "/crm/v3/objects/contacts"
BATCH_MAX = 100  # HubSpot's limit of inputs per batch call
DEFAULT_RETRY_AFTER = 10.0  # HubSpot's rate limits are per 10 seconds
REFUSED_TOKEN = "HubSpot refused the token"

PropertyValue = int | str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What HubSpot answered: ok, the HTTP status (None when nothing answered), our reason, Retry-After seconds."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    email: str
    properties: Mapping[str, PropertyValue]


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "content-type": "application/json", "accept": "application/json"}


def outcome_of(response: requests.Response) -> Outcome:
    """The outcome of a HubSpot answer (its body is read, at most a little, and dropped)."""
    status = response.status_code
    outbound.read_limited(response)
    if status in (200, 201, 204):
        return Outcome(True, status)
    if status == 207:  # a batch where some inputs failed (e.g. an invalid email): retried whole, upserts are safe
        return Outcome(False, status, "HubSpot rejected some contacts of the batch (HTTP 207)")
    if status == 429:
        return Outcome(False, status, "HubSpot rate limit (HTTP 429)",
                       outbound.retry_after_seconds(response.headers.get("retry-after"), DEFAULT_RETRY_AFTER))
    if status in (401, 403):
        return Outcome(False, status, f"{REFUSED_TOKEN} (HTTP {status}): check the private app's token and its "
                                      "crm.objects.contacts.write scope")
    if 300 <= status < 400:
        return Outcome(False, status, f"HTTP {status} from HubSpot (redirect not followed)")
    return Outcome(False, status, f"HTTP {status} from HubSpot")


def _call(
    http: requests.Session, method: str, base_url: str, path: str, token: str, body: Any = None
) -> requests.Response:
    return outbound.request(http, method, _url(base_url, path), json=body, headers=_headers(token))


def _failed(exc: BaseException) -> Outcome:
    return Outcome(False, None, outbound.describe_error(exc))


def write_contact(http: requests.Session, base_url: str, token: str, contact: Contact) -> Outcome:
    """Write the properties to the contact with this email (PATCH ...?idProperty=email); a contact HubSpot does not
    know (404) is created (POST); when someone created it meanwhile (409), the PATCH is tried once more."""
    path = f"{CONTACTS}/{quote(contact.email, safe='@')}?idProperty=email"
    update = {"properties": dict(contact.properties)}
    try:
        response = _call(http, "PATCH", base_url, path, token, update)
        if response.status_code != 404:
            return outcome_of(response)
        outbound.read_limited(response)
        created = _call(http, "POST", base_url, CONTACTS, token,
                        {"properties": {"email": contact.email, **contact.properties}})
        if created.status_code != 409:
            return outcome_of(created)
        outbound.read_limited(created)
        return outcome_of(_call(http, "PATCH", base_url, path, token, update))
    except Exception as exc:  # Refused, requests errors: a short reason of ours
        return _failed(exc)


def upsert_contacts(http: requests.Session, base_url: str, token: str, contacts: Sequence[Contact]) -> Outcome:
    """Create or update up to BATCH_MAX contacts by email in one call (batch/upsert with idProperty email)."""
    if len(contacts) > BATCH_MAX:
        raise ValueError(f"at most {BATCH_MAX} contacts per batch")
    body = {"inputs": [{"idProperty": "email", "id": c.email, "properties": dict(c.properties)} for c in contacts]}
    try:
        return outcome_of(_call(http, "POST", base_url, f"{CONTACTS}/batch/upsert", token, body))
    except Exception as exc:
        return _failed(exc)


def check_token(http: requests.Session, base_url: str, token: str) -> Outcome:
    """A cheap authenticated read (one contact) that tells whether HubSpot accepts the token."""
    try:
        return outcome_of(_call(http, "GET", base_url, f"{CONTACTS}?limit=1", token))
    except Exception as exc:
        return _failed(exc)
