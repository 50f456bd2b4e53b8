"""What every kind of trigger shares about where its messages go: the signing secret of its webhooks, the check
of a destination URL through the outbound guard, and the subject of "Send test" samples."""

from __future__ import annotations

import base64
import secrets

from core.outbound import parse_target
from services.errors import InvalidInput
from services.integrations import outbound

TEST_SUBJECT = "test"  # the subject of "Send test" firings


def new_signing_secret() -> str:
    """A Standard Webhooks secret (whsec_ + base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_channel_url(name: str, url: str, checked: frozenset[str] = frozenset()) -> None:
    """A trigger's destination URL through the outbound guard (InvalidInput naming `name` when refused). A URL in
    `checked` passed the guard's network checks just before the transaction: only its shape is checked again."""
    try:
        if url in checked:
            parse_target(url)
        else:
            outbound.check_url(url)
    except outbound.Refused as exc:
        raise InvalidInput(name, str(exc)) from None
