"""The outbox: deliveries written with a firing, claimed with a lease, sent by the dispatcher, retried with backoff.

Status flow: pending -> sending (claimed, leased) -> delivered | pending (retry later) | dead.
A claim is a short transaction of its own, committed before anything is sent; a claim whose lease
ran out (the sender died) is claimed again, with the same id, which is the webhook-id receivers dedupe on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from core import slack_blocks
from core.messages import one_line, render, rfc3339, summary_lines, who
from db import models
from db.ids import new_id
from services.after_commit import on_commit, on_rollback
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound
from services.integrations import crm_sync
from services.integrations.outbound import MAX_RETRY_AFTER
from services.tenancy import audit
from services.tenancy.policy import Action, require
from services.triggers.outbox_signal import OUTBOX
from settings import get_settings

STATUSES = ("pending", "sending", "delivered", "dead")
_DELIVERIES = cast(Table, models.Delivery.__table__)
# Longer than any single send may take (webhook 10 s, SMTP 15 s timeouts).
CLAIM_LEASE = timedelta(seconds=30)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value)


def dumps(payload: dict[str, Any]) -> str:
    """Compact JSON with timestamps as RFC 3339 with Z."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=_json_default)


def channels_of(trigger: models.Trigger) -> list[str]:
    """The channels a trigger sends to, in the order its deliveries are written."""
    slack = trigger.slack_webhook_url or trigger.slack_channel or trigger.slack_target_kind
    return [c for c, on in (("webhook", trigger.webhook_url), ("email", trigger.emails), ("slack", slack)) if on]


def enqueue_for_firing(
    session: Session, tenant: Tenant, trigger: models.Trigger, firing_id: str, payload: dict[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """Outbox rows for every channel the trigger sends to; the caller's transaction writes them with the firing."""
    messages: list[Message] = []
    if trigger.webhook_url:
        messages.append(Message("webhook", trigger.webhook_url, dumps(payload)))
    if trigger.emails:
        # Names come from ingested data: a line break in one must not break (or inject) a header.
        subject = one_line(render(trigger.email_subject or "", payload) or (
            f"Leadvane: {trigger.name or trigger.kind + ' trigger'} fired for {who(payload)}"))
        body = {"subject": subject, "preheader": one_line(render(trigger.email_preheader or "", payload)),
                "message": render(trigger.email_message or "", payload), "summary": summary_lines(payload),
                "payload": payload}
        messages.append(Message("email", ",".join(trigger.emails), dumps(body)))
    slack_target = trigger.slack_webhook_url or (f"channel:{trigger.slack_channel}" if trigger.slack_channel else None)
    slack_targets = [t for t in (slack_target, slack_app_target(trigger)) if t]
    if slack_targets:
        slack_body = dumps({**slack_blocks.slack_message(
            payload, trigger_name=trigger.name, trigger_kind=trigger.kind, dashboard_url=get_settings().dashboard_url,
            message_template=trigger.email_message), "payload": payload})
        messages.extend(Message("slack", target, slack_body) for target in slack_targets)
    if trigger.hubspot_sync and not payload.get("test"):
        # The lead's score, level and fit level now, to its CRM contact (none without an email or a CRM token).
        crm_write = crm_sync.firing_write(session, tenant, payload.get("lead_id"), now)
        if crm_write is not None:
            messages.append(Message("hubspot", crm_write[0], dumps(crm_write[1])))
    return enqueue(session, tenant, messages, now, firing_id=firing_id, trigger_id=trigger.id)


@dataclass(frozen=True, slots=True)
class Message:
    """One message for the outbox: its channel, where it goes (URL, addresses, Slack or CRM target) and its body."""

    channel: str
    target: str
    body: str


def enqueue(
    session: Session, tenant: Tenant, messages: list[Message], now: datetime, *, firing_id: str | None = None,
    trigger_id: str | None = None,
) -> list[dict[str, Any]]:
    """Write outbox rows in the caller's transaction; the dispatcher sends them (at once when this process runs
    one) and retries failures. Messages of no trigger (firing_id None) are webhooks signed with the unit's
    secret (services.triggers.destinations.unit_webhook_secret) or CRM writes."""
    base = {
        "org_id": tenant.org_id, "unit_id": tenant.unit_id, "firing_id": firing_id, "trigger_id": trigger_id,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    }
    rows = [{**base, "id": new_id("msg"), "channel": m.channel, "target": m.target, "body": m.body}
            for m in messages]
    if not rows:
        return rows
    claimant = OUTBOX.claimant
    if claimant is None:
        session.execute(_DELIVERIES.insert(), rows)
        wake_after_commit(session)
        return rows
    # This process runs a dispatcher: claim the rows now and hand them over after the commit.
    claim = f"{claimant}:{new_id('c')[-12:]}"
    for row in rows:
        row.update(status="sending", lease_holder=claim, lease_until=now + CLAIM_LEASE, attempts=1)
    session.execute(_DELIVERIES.insert(), rows)
    handed = session.info.setdefault("_outbox_handoff", [])
    handed.extend((claim, row["id"]) for row in rows)
    wake_after_commit(session)
    return rows


APP_TARGET_PREFIX = "app:"  # a Slack delivery through the unit's app: app:channel:C123, app:user:U123, app:default


def slack_app_target(trigger: models.Trigger) -> str | None:
    """The outbox target of a trigger's Slack app destination; the token (and the default) are read when sending."""
    if not trigger.slack_target_kind:
        return None
    if not trigger.slack_target_id:
        return APP_TARGET_PREFIX + "default"
    return f"{APP_TARGET_PREFIX}{trigger.slack_target_kind}:{trigger.slack_target_id}"


def wake_after_commit(session: Session) -> None:
    """Tell this process's dispatcher to look at the outbox as soon as the transaction commits."""
    if not session.info.get("_outbox_wake"):
        session.info["_outbox_wake"] = True

        def _wake() -> None:
            session.info.pop("_outbox_wake", None)
            by_claim: dict[str, list[str]] = {}
            for claim, delivery_id in session.info.pop("_outbox_handoff", []):
                by_claim.setdefault(claim, []).append(delivery_id)
            for claim, ids in by_claim.items():
                OUTBOX.hand_off(claim, ids)
            OUTBOX.set()

        def _forget() -> None:
            session.info.pop("_outbox_wake", None)
            session.info.pop("_outbox_handoff", None)

        on_rollback(session, _forget)
        on_commit(session, _wake)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    unit_id: str
    channel: str
    target: str
    body: str
    attempts: int
    signing_secret: str | None  # the trigger's, else the unit's webhook secret (None: no webhook secret yet)
    claim: str  # the lease holder token of this claim; recording the outcome needs it


def _due(now: datetime) -> Any:
    d = models.Delivery
    return or_(
        and_(d.status == "pending", d.next_attempt_at <= now),
        and_(d.status == "sending", d.lease_until <= now),
    )


def has_due(session: Session, now: datetime) -> bool:
    """A cheap read (no write lock) to skip the claim transaction when nothing is due."""
    return session.scalar(select(models.Delivery.id).where(_due(now)).limit(1)) is not None


def claim_due(session: Session, holder: str, now: datetime, limit: int = 100) -> list[Claimed]:
    """Claim up to `limit` due deliveries in one atomic UPDATE: they move to 'sending', leased to this claim.

    A concurrent claimer's UPDATE re-checks the due condition on rows it waited for (PostgreSQL) or runs
    after ours (SQLite's single writer), so a row is never claimed twice while its lease holds.
    """
    d = models.Delivery
    claim = f"{holder}:{new_id('c')[-12:]}"
    due_ids = select(d.id).where(_due(now)).order_by(d.next_attempt_at, d.id).limit(limit).scalar_subquery()
    taken = cast(CursorResult[Any], session.execute(
        update(d)
        .where(d.id.in_(due_ids), _due(now))
        .values(status="sending", lease_holder=claim, lease_until=now + CLAIM_LEASE, attempts=d.attempts + 1)
        .execution_options(synchronize_session=False)
    )).rowcount
    if not taken:
        return []
    rows = session.execute(
        _claimed_columns()
        .where(d.lease_holder == claim, d.status == "sending")
    )
    return [Claimed(i, u, ch, t, b, a, secret, claim) for i, u, ch, t, b, a, secret in rows]


def _claimed_columns() -> Any:
    d, t, u = models.Delivery, models.Trigger, models.UnitWebhookSecret
    return (
        select(d.id, d.unit_id, d.channel, d.target, d.body, d.attempts, func.coalesce(t.signing_secret, u.secret))
        .outerjoin(t, t.id == d.trigger_id)
        .outerjoin(u, u.unit_id == d.unit_id)
    )


def load_claimed(session: Session, claim: str, delivery_ids: list[str]) -> list[Claimed]:
    """Rows claimed at enqueue time (see services.triggers.outbox_signal), still held by `claim`."""
    d = models.Delivery
    rows = session.execute(
        _claimed_columns()
        .where(d.id.in_(delivery_ids), d.lease_holder == claim, d.status == "sending")
    )
    return [Claimed(i, u, ch, t, b, a, secret, claim) for i, u, ch, t, b, a, secret in rows]


def record_success(session: Session, delivery_id: str, holder: str, status_code: int | None, now: datetime) -> None:
    d = models.Delivery
    session.execute(
        update(d)
        .where(d.id == delivery_id, d.lease_holder == holder, d.status == "sending")
        .values(status="delivered", delivered_at=now, last_status_code=status_code, last_error=None,
                lease_until=None, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


def record_failure(
    session: Session, delivery_id: str, holder: str, attempts: int, error: str, status_code: int | None, now: datetime,
    retry_after: float | None = None,
) -> str:
    """Schedule the next attempt from the retry schedule, or mark the delivery dead after the last one. A receiver
    that asked us to wait (429 with Retry-After) is not tried again sooner than it asked."""
    schedule = get_settings().retry_schedule_seconds
    if attempts <= len(schedule):
        wait = max(schedule[attempts - 1], min(retry_after or 0.0, MAX_RETRY_AFTER))
        status, next_at = "pending", now + timedelta(seconds=wait)
    else:
        status, next_at = "dead", None
    d = models.Delivery
    session.execute(
        update(d)
        .where(d.id == delivery_id, d.lease_holder == holder, d.status == "sending")
        .values(status=status, next_attempt_at=next_at, last_error=error[:2000], last_status_code=status_code,
                lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return status


_OLD_HTTP_ERROR = re.compile(r"^HTTP (\d{3}):")


def short_reason(error: str | None) -> str | None:
    """The delivery log shows our own short reasons; rows written by older versions carried the receiver's
    answer after 'HTTP 503:', which is cut here rather than shown."""
    if error is None:
        return None
    old = _OLD_HTTP_ERROR.match(error)
    return f"HTTP {old.group(1)} from receiver" if old else error[:200]


def delivery_view(row: models.Delivery) -> dict[str, Any]:
    return {
        "delivery_id": row.id,
        "webhook_id": row.id,
        "firing_id": row.firing_id,
        "trigger_id": row.trigger_id,
        "channel": row.channel,
        "target": row.target,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": short_reason(row.last_error),
        "last_status_code": row.last_status_code,
        "next_attempt_at": row.next_attempt_at,
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
    }


def list_deliveries(
    session: Session, tenant: Tenant, *, status: str | None = None, trigger_id: str | None = None,
    limit: int = 100, offset: int = 0,
) -> list[models.Delivery]:
    d = models.Delivery
    stmt = select(d).where(d.unit_id == tenant.unit_id)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
        stmt = stmt.where(d.status == status)
    if trigger_id is not None:
        stmt = stmt.where(d.trigger_id == trigger_id)
    return list(session.scalars(stmt.order_by(d.created_at.desc(), d.id.desc()).limit(limit).offset(offset)))


def retry_delivery(session: Session, tenant: Tenant, delivery_id: str, now: datetime) -> models.Delivery:
    """Send a pending or dead delivery again now, with a fresh retry schedule; a delivered one never is."""
    require(tenant, Action.EDIT_TRIGGERS)
    row = session.get(models.Delivery, delivery_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"delivery {delivery_id!r} does not exist")
    if row.status == "delivered":
        raise Conflict("this delivery was acknowledged by the receiver; it is never sent again")
    if row.status == "sending":
        raise Conflict("this delivery is being sent right now")
    before = audit.snapshot(row)
    row.status, row.attempts, row.next_attempt_at, row.lease_until = "pending", 0, now, None
    session.flush()
    audit.record(session, tenant, action="retry", entity_type="delivery", entity_id=row.id, before=before, after=row,
                 now=now)
    wake_after_commit(session)
    return row


def json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON values (datetimes as ISO strings), exactly as it will be sent."""
    return json.loads(dumps(payload))
