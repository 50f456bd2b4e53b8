"""HubSpot writes from the outbox: one lead's properties to its contact (target: the email), or a batch of contacts
(target "batch:<n> contacts", body {"contacts": [...]}) through services.integrations.hubspot."""

from __future__ import annotations

import json

import requests

from notify.webhook import SendResult
from services.integrations import hubspot, outbound
from settings import Settings


def send_hubspot(
    settings: Settings, token: str | None, target: str, body: str, http: requests.Session | None = None
) -> SendResult:
    """Send one outbox row to HubSpot with the unit's token; a unit without a token is a failed (retried) write."""
    if not token:
        return SendResult(False, None, "no HubSpot token is set for this unit (PUT /v1/settings/crm)")
    try:
        data = json.loads(body)
    except ValueError:
        return SendResult(False, None, "the queued HubSpot write is not JSON")
    session = http or outbound.new_session()
    base = settings.hubspot_api_base_url
    try:
        if isinstance(data, dict) and isinstance(data.get("contacts"), list):
            contacts = [hubspot.Contact(c["email"], c["properties"]) for c in data["contacts"]]
            outcome = hubspot.upsert_contacts(session, base, token, contacts)
        else:
            outcome = hubspot.write_contact(session, base, token, hubspot.Contact(target, data["properties"]))
    except (KeyError, TypeError, ValueError):
        return SendResult(False, None, "the queued HubSpot write is malformed")
    finally:
        if http is None:
            session.close()
    return SendResult(outcome.ok, outcome.status_code, outcome.error, outcome.retry_after)
