"""People's API tokens: a JWT (HS256, pyjwt) naming the organization member (`sub`) and organization (`org`),
issued by POST /v1/auth/token and checked on every request (api.person_auth).

The signing key is the `jwt_secret` setting (LEADVANE_JWT_SECRET) or, when unset, a random key generated once
into the data folder as `jwt_secret` (services.tenancy.file_secrets).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import jwt

from services.tenancy.file_secrets import file_secret
from settings import data_dir, get_settings

ALGORITHM = "HS256"
KEY_FILE_NAME = "jwt_secret"


class InvalidToken(Exception):
    """The token is malformed, not signed with our key, or expired."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class TokenClaims:
    member_id: str
    org_id: str


@lru_cache(maxsize=8)
def _file_key(folder: str) -> str:
    return file_secret(Path(folder), KEY_FILE_NAME, lambda: secrets.token_urlsafe(48),
                       "delete it (issued tokens stop working) or set LEADVANE_JWT_SECRET")


def signing_key() -> str:
    configured = get_settings().jwt_secret
    if configured:
        return configured
    return _file_key(str(data_dir()))


def issue(member_id: str, org_id: str, now: datetime) -> IssuedToken:
    ttl = max(1, get_settings().token_ttl_seconds)
    issued_at = int(now.timestamp())
    claims = {"sub": member_id, "org": org_id, "iat": issued_at, "exp": issued_at + ttl}
    return IssuedToken(jwt.encode(claims, signing_key(), algorithm=ALGORITHM), ttl)


def verify(token: str, now: datetime) -> TokenClaims:
    """The token's member and organization; InvalidToken when it is not ours or has expired at `now`."""
    try:
        claims = jwt.decode(
            token, signing_key(), algorithms=[ALGORITHM],
            options={"require": ["sub", "org", "iat", "exp"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    member, org, exp = claims.get("sub"), claims.get("org"), claims.get("exp")
    if not isinstance(member, str) or not isinstance(org, str) or not isinstance(exp, int | float):
        raise InvalidToken("the token's claims are malformed")
    if exp <= now.timestamp():
        raise InvalidToken("the token has expired")
    return TokenClaims(member_id=member, org_id=org)
