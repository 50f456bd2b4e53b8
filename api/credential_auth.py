"""Integrations on the API: HTTP Basic `client_id:client_secret` of a credential created with POST /v1/secrets."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from api import key_auth
from db.engine import Database
from services.context import Tenant

_MALFORMED = "Malformed Basic credentials: send base64 of client_id:client_secret."


async def authenticate_credential(request: Request, db: Database, encoded: str) -> Tenant:
    """The credential's unit and role; 401 for a malformed header or an unknown, wrong or revoked pair (the
    message never repeats what was sent). Valid pairs are cached for at most a few seconds (api.key_auth), so
    a revoked credential stops working everywhere within that time."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise key_auth.unauthorized(_MALFORMED) from None
    client_id, separator, client_secret = decoded.partition(":")
    if not separator or not client_id or not client_secret:
        raise key_auth.unauthorized(_MALFORMED)
    return await key_auth.authenticate_credential(request, db, client_id, client_secret)
