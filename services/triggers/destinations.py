"""What every kind of trigger shares about where its messages go: the signing secret of its webhooks (and the
unit's, for webhooks no trigger sends), the check of a destination URL through the outbound guard, and the subject
of "Send test" samples."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.outbound import parse_target
from db import models, upsert
from services.context import Tenant
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


def unit_webhook_secret(session: Session, tenant: Tenant, now: datetime) -> str:
    """The unit's secret for webhooks no trigger sends (research completions), created on first use; the
    dispatcher signs those deliveries with it (services.triggers.deliveries)."""
    found = session.scalar(select(models.UnitWebhookSecret.secret)
                           .where(models.UnitWebhookSecret.unit_id == tenant.unit_id))
    if found:
        return found
    table = models.UnitWebhookSecret
    # Two first uses at once (PostgreSQL): one row wins and both sign with it.
    session.execute(upsert.insert(session, table).values(
        unit_id=tenant.unit_id, org_id=tenant.org_id, secret=new_signing_secret(), created_at=now,
    ).on_conflict_do_nothing(index_elements=["unit_id"]))
    return session.scalar(select(table.secret).where(table.unit_id == tenant.unit_id)) or ""
