"""Integration secrets at rest (Slack client and signing secrets, bot tokens, CRM tokens): Fernet (cryptography).

Keys: LEADVANE_SECRETS_KEY, one or more comma-separated Fernet keys (the first encrypts, every one decrypts, so a
key is rotated by putting the new one first), or else a key generated once into the data folder as `secrets_key`
(services.tenancy.file_secrets). Losing the key loses the stored secrets, not the data: reconnect Slack, re-enter
the CRM token.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.errors import Conflict
from services.tenancy.file_secrets import file_secret
from settings import data_dir, get_settings

KEY_FILE_NAME = "secrets_key"


class UnreadableSecret(Conflict):
    """A stored secret that none of the configured keys decrypts (the key was changed or lost): a 409 telling people
    to enter it again (or restore the key), never a 500."""

    code = "unreadable_secret"


@lru_cache(maxsize=8)
def _box(keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
    except (ValueError, TypeError):
        raise RuntimeError(
            "LEADVANE_SECRETS_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated") from None


def _keys() -> str:
    configured = get_settings().secrets_key
    if configured:
        return configured
    return file_secret(data_dir(), KEY_FILE_NAME, lambda: Fernet.generate_key().decode(),
                       "delete it (stored integration secrets become unreadable) or set LEADVANE_SECRETS_KEY")


def seal(secret: str) -> str:
    """The secret encrypted (and authenticated) for storing."""
    return _box(_keys()).encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _box(_keys()).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret(
            "a stored secret cannot be decrypted with the configured key (LEADVANE_SECRETS_KEY or data/secrets_key "
            "changed): enter it again, or restore the key") from None
