"""What every kind of trigger shares about where its messages go: the signing secret of its webhooks (and the
unit's, for webhooks no trigger sends), the check of a destination URL through the outbound guard, and the subject
of "Send test" samples."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

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


SLACK_TARGET_KINDS = ("channel", "user")
_SLACK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
TEAMS_UNSUPPORTED = "Microsoft Teams targets are not supported"


def slack_app_target(
    fields: Mapping[str, Any], current_kind: str | None = None, current_id: str | None = None,
) -> tuple[str | None, str | None]:
    """A trigger's Slack app target (services.integrations.slack) after `fields`: (kind, id).

    A field absent or null keeps the current value; `slack_target_kind: ""` removes the app target (kind and id);
    `slack_target_id: ""` goes back to the unit's default target. Teams targets are refused (only null is accepted).
    """
    for name in ("teams_target_kind", "teams_target_id"):
        if fields.get(name) is not None:
            raise InvalidInput(name, TEAMS_UNSUPPORTED)
    kind, target = current_kind, current_id
    new_kind = fields.get("slack_target_kind")
    if new_kind is not None:
        new_kind = str(new_kind).strip()
        if new_kind == "":
            return None, None
        if new_kind not in SLACK_TARGET_KINDS:
            raise InvalidInput("slack_target_kind", "must be channel or user (\"\" removes the Slack app target)")
        kind = new_kind
    new_id = fields.get("slack_target_id")
    if new_id is not None:
        new_id = str(new_id).strip()
        if new_id and not _SLACK_ID.match(new_id):
            raise InvalidInput("slack_target_id", "must be a Slack channel or user id, e.g. C0123ABC or U0123ABC")
        target = new_id or None
    if target is not None and kind is None:
        raise InvalidInput("slack_target_id", "needs slack_target_kind (channel or user)")
    return kind, target
