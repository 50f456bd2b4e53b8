"""People's API tokens: a JWT (HS256, pyjwt) naming the organization member (`sub`) and organization (`org`),
issued by POST /v1/auth/token and checked on every request (api.person_auth).

The signing key is the `jwt_secret` setting (LEADVANE_JWT_SECRET) or, when unset, a random key generated once
into the data folder (LEADVANE_DATA_DIR, default data/) as `jwt_secret`, mode 0600. Processes starting together
agree on one key: each writes its candidate to a private temporary file and hard-links it into place, which
succeeds for exactly one of them; the others read the winner's file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import jwt

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
    path = Path(folder) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, candidate = tempfile.mkstemp(prefix=".jwt_secret-", dir=path.parent)  # created with mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(candidate, path)  # atomic, and only ever one winner: the file appears complete
        finally:
            os.unlink(candidate)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it (issued tokens stop working) or set LEADVANE_JWT_SECRET")
    return key


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
