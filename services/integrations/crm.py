"""CRM score sync (HubSpot): the unit's settings, checking its token, and the scheduled sync of a segment.

Settings: the provider ("hubspot"), the private app token (sealed with services.integrations.secret_box, never
read back: views say only `token_set`), the contact properties written (HubSpot internal names) and the scheduled
sync (a segment of the unit, every N minutes). Writes reach HubSpot through the outbox (channel "hubspot"), so they
retry like every delivery and show in the delivery log:
- a trigger with `hubspot_sync` queues one write per firing, for the firing's lead (services.triggers.deliveries);
- the scheduled sync (scheduler job `crm-sync`, or POST /v1/settings/crm/sync) queues the segment's leads whose
  score, level or fit level changed since they were last sent, one delivery per batch of up to 100 contacts
  (HubSpot's batch upsert: a hundred times fewer calls against HubSpot's rate limit than one per lead; the log
  shows "batch:<n> contacts").
What was queued is recorded per lead (services.integrations.crm_sync.record_sent) when it is queued. A change of
token or property names forgets it, so the next sync sends every member again. Services never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db import models
from services.context import Tenant
from services.errors import Conflict, InvalidInput, NotFound
from services.integrations import hubspot, outbound, secret_box
from services.integrations.crm_sync import (
    LeadValues,
    PropertyNames,
    changed,
    lead_values,
    properties,
    record_sent,
    settings_row,
)
from services.targeting import segments
from services.tenancy import audit, policy
from services.tenancy.policy import Action
from services.triggers import deliveries
from settings import get_settings

PROVIDERS = ("hubspot",)
DEFAULT_SCORE_PROPERTY = "leadvane_score"
DEFAULT_LEVEL_PROPERTY = "leadvane_level"
DEFAULT_FIT_LEVEL_PROPERTY = "leadvane_fit_level"
MIN_INTERVAL, MAX_INTERVAL = 5, 1440
PROPERTY_MAX = 100
TOKEN_MAX = 500
_PROPERTY = re.compile(r"^[a-z][a-z0-9_]*$")
_UNSET: Any = object()
_ENTITY = "crm_settings"


@dataclass(frozen=True, slots=True)
class CrmSettingsView:
    configured: bool
    provider: str
    token_set: bool
    score_property: str
    level_property: str | None
    fit_level_property: str | None
    sync_segment_id: str | None
    sync_interval_minutes: int | None
    last_sync_at: datetime | None
    updated_at: datetime | None


DEFAULT_VIEW = CrmSettingsView(False, "hubspot", False, DEFAULT_SCORE_PROPERTY, DEFAULT_LEVEL_PROPERTY,
                               DEFAULT_FIT_LEVEL_PROPERTY, None, None, None, None)


def _view(row: models.CrmSettings | None) -> CrmSettingsView:
    if row is None:
        return DEFAULT_VIEW
    return CrmSettingsView(True, row.provider, bool(row.token_enc), row.score_property, row.level_property,
                           row.fit_level_property, row.sync_segment_id, row.sync_interval_minutes, row.last_sync_at,
                           row.updated_at)


def _audited(row: models.CrmSettings | None, credential: str | None = None) -> dict[str, Any]:
    """The audited fields: never the token, only whether one is set (and, after a PUT, whether it was replaced)."""
    if row is None:
        return {}
    view = _view(row)
    fields = {k: getattr(view, k) for k in ("provider", "score_property", "level_property", "fit_level_property",
                                            "sync_segment_id", "sync_interval_minutes")}
    return {**fields, "credential": credential or ("set" if row.token_enc else "not set")}


def get_crm_settings(session: Session, tenant: Tenant) -> CrmSettingsView:
    """The unit's CRM settings (the defaults, `configured` false, when it has none)."""
    policy.require(tenant, Action.READ)
    return _view(settings_row(session, tenant))


def _property(field: str, value: Any, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(field, "must not be empty")
        return None
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    name = value.strip()
    if len(name) > PROPERTY_MAX or not _PROPERTY.match(name):
        raise InvalidInput(field, "must be a HubSpot property internal name: lowercase letters, digits and "
                                  f"underscores, starting with a letter, at most {PROPERTY_MAX} characters")
    if name == "email":
        raise InvalidInput(field, "must not be email (contacts are matched by it)")
    return name


def _interval(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise InvalidInput("sync_interval_minutes", f"must be null (no scheduled sync) or between {MIN_INTERVAL} "
                                                    f"and {MAX_INTERVAL} minutes")
    return value


def _segment(session: Session, tenant: Tenant, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("sync_segment_id", "must be a segment id")
    try:
        return segments.segment_row(session, tenant, value).id
    except NotFound:
        raise InvalidInput("sync_segment_id", f"segment {value!r} does not exist in this unit") from None


def put_crm_settings(
    session: Session, tenant: Tenant, *, provider: Any, token: Any = None,
    score_property: Any = DEFAULT_SCORE_PROPERTY, level_property: Any = DEFAULT_LEVEL_PROPERTY,
    fit_level_property: Any = DEFAULT_FIT_LEVEL_PROPERTY, sync_segment_id: Any = None,
    sync_interval_minutes: Any = None, now: datetime,
) -> CrmSettingsView:
    """Create or replace the unit's CRM settings (as PUT does). `token` None keeps the stored one; a level or fit
    level property None (or empty) is not written. A scheduled sync needs a segment."""
    policy.require(tenant, Action.MANAGE_INTEGRATIONS)
    if provider not in PROVIDERS:
        raise InvalidInput("provider", f"must be one of {', '.join(PROVIDERS)}")
    if token is not None and (not isinstance(token, str) or not token.strip() or len(token.strip()) > TOKEN_MAX
                              or any(c.isspace() for c in token.strip())):
        raise InvalidInput("token", f"must be the private app's access token (no spaces, at most {TOKEN_MAX} "
                                    "characters); leave it out to keep the stored one")
    score = str(_property("score_property", score_property, required=True))
    level = _property("level_property", level_property, required=False)
    fit = _property("fit_level_property", fit_level_property, required=False)
    names = [n for n in (score, level, fit) if n]
    if len(set(names)) != len(names):
        raise InvalidInput("fit_level_property" if fit and fit in (score, level) else "level_property",
                           "each property must be a different one")
    interval = _interval(sync_interval_minutes)
    segment_id = _segment(session, tenant, sync_segment_id)
    if interval is not None and segment_id is None:
        raise InvalidInput("sync_segment_id", "a scheduled sync needs the segment whose leads it sends")
    row = session.get(models.CrmSettings, tenant.unit_id, with_for_update=True)
    before = _audited(row)
    credential = None
    if row is None:
        row = models.CrmSettings(unit_id=tenant.unit_id, org_id=tenant.org_id, token_enc=None)
        session.add(row)
    elif token is not None:
        credential = "replaced" if row.token_enc else None
    old_names = (row.score_property, row.level_property, row.fit_level_property)
    if token is not None:
        row.token_enc = secret_box.seal(token.strip())
    row.provider, row.score_property, row.level_property, row.fit_level_property = provider, score, level, fit
    row.sync_segment_id, row.sync_interval_minutes = segment_id, interval
    row.updated_at, row.updated_by = now, tenant.actor
    if token is not None or old_names != (score, level, fit):
        _forget_synced(session, tenant)  # another portal or other properties: the next sync sends everyone
    session.flush()
    audit.record(session, tenant, action="create" if not before else "update", entity_type=_ENTITY,
                 entity_id=tenant.unit_id, before=before or None, after=_audited(row, credential), now=now)
    return _view(row)


def delete_crm_settings(session: Session, tenant: Tenant, now: datetime) -> None:
    """Remove the unit's CRM settings and token; queued writes not yet sent fail (no token) in the delivery log."""
    policy.require(tenant, Action.MANAGE_INTEGRATIONS)
    row = settings_row(session, tenant)
    if row is None:
        raise NotFound("this unit has no CRM settings")
    before = _audited(row)
    session.delete(row)
    _forget_synced(session, tenant)
    session.flush()
    audit.record(session, tenant, action="delete", entity_type=_ENTITY, entity_id=tenant.unit_id, before=before,
                 after=None, now=now)


def _forget_synced(session: Session, tenant: Tenant) -> None:
    s = models.CrmSyncedLead
    session.execute(delete(s).where(s.unit_id == tenant.unit_id).execution_options(synchronize_session=False))


def unit_token(session: Session, unit_id: str) -> str | None:
    """The unit's HubSpot token, unsealed, for sending (None without settings or token); raises
    secret_box.UnreadableSecret when the configured key cannot decrypt it."""
    sealed = session.scalar(select(models.CrmSettings.token_enc).where(models.CrmSettings.unit_id == unit_id))
    return secret_box.unseal(sealed) if sealed else None


def _token_of(session: Session, tenant: Tenant) -> str:
    try:
        token = unit_token(session, tenant.unit_id)
    except secret_box.UnreadableSecret:
        raise Conflict("the stored HubSpot token cannot be decrypted with the configured key: enter it again",
                       field="token") from None
    if not token:
        raise Conflict("no HubSpot token is set for this unit: PUT /v1/settings/crm with a token first",
                       field="token")
    return token


@dataclass(frozen=True, slots=True)
class TestResult:
    ok: bool
    message: str


def test_connection(session: Session, tenant: Tenant) -> TestResult:
    """Ask HubSpot for one contact with the stored token: does it accept the token?"""
    policy.require(tenant, Action.MANAGE_INTEGRATIONS)
    token = _token_of(session, tenant)
    http = outbound.new_session()
    try:
        outcome = hubspot.check_token(http, get_settings().hubspot_api_base_url, token)
    finally:
        http.close()
    if outcome.ok:
        return TestResult(True, "HubSpot accepted the token")
    return TestResult(False, outcome.error or "HubSpot did not answer")


# --- the scheduled sync --------------------------------------------------------------------------------------------


def units_due(session: Session, now: datetime) -> list[Tenant]:
    """Units whose scheduled sync is on and whose interval has passed since the last one."""
    c = models.CrmSettings
    rows = session.execute(
        select(c.org_id, c.unit_id, c.sync_interval_minutes, c.last_sync_at).where(
            c.sync_interval_minutes.is_not(None), c.sync_segment_id.is_not(None), c.token_enc.is_not(None)
        ).order_by(c.unit_id)
    )
    return [Tenant(org_id, unit_id, actor="scheduler") for org_id, unit_id, minutes, last in rows
            if minutes is not None and (last is None or last + timedelta(minutes=int(minutes)) <= now)]


def sync_now(session: Session, tenant: Tenant, now: datetime) -> int:
    """POST /v1/settings/crm/sync: queue the segment's changed leads now; returns how many contacts."""
    policy.require(tenant, Action.MANAGE_INTEGRATIONS)
    row = settings_row(session, tenant)
    if row is None or not row.token_enc:
        raise Conflict("no HubSpot token is set for this unit: PUT /v1/settings/crm with a token first",
                       field="token")
    if row.sync_segment_id is None:
        raise Conflict("no segment is chosen for the sync: PUT /v1/settings/crm with sync_segment_id",
                       field="sync_segment_id")
    queued = sync_unit(session, tenant, now)
    audit.record(session, tenant, action="sync", entity_type=_ENTITY, entity_id=tenant.unit_id, before=None,
                 after={"queued": queued}, now=now)
    return queued


def sync_unit(session: Session, tenant: Tenant, now: datetime) -> int:
    """Queue HubSpot writes for the members of the unit's sync segment (with an email) whose score, level or fit
    level differ from what was last sent, in batches of up to 100 contacts; returns how many contacts."""
    row = session.get(models.CrmSettings, tenant.unit_id, with_for_update=True)
    if row is None or not row.token_enc or row.sync_segment_id is None:
        return 0
    lead = models.Lead
    members = segments.member_ids_select(session, tenant, row.sync_segment_id, now)
    ids = list(session.scalars(
        select(lead.id).where(lead.unit_id == tenant.unit_id, lead.email.is_not(None), lead.id.in_(members))
        .order_by(lead.id)
    ))
    names = PropertyNames.of(row)
    seen: set[str] = set()
    pending: list[LeadValues] = []
    queued = 0
    for start in range(0, len(ids), 2000):
        for values in changed(session, tenant, lead_values(session, tenant, ids[start:start + 2000], now)):
            email = values.email.lower()
            if email in seen:  # two leads with one email: one contact, written once
                continue
            seen.add(email)
            pending.append(values)
            if len(pending) == hubspot.BATCH_MAX:
                queued += _queue_batch(session, tenant, names, pending, now)
                pending = []
    queued += _queue_batch(session, tenant, names, pending, now)
    row.last_sync_at = now
    session.flush()
    return queued


def _queue_batch(
    session: Session, tenant: Tenant, names: PropertyNames, batch: list[LeadValues], now: datetime
) -> int:
    if not batch:
        return 0
    body = {"contacts": [{"lead_id": v.lead_id, "email": v.email, "properties": properties(names, v)}
                         for v in batch]}
    deliveries.enqueue(session, tenant, [deliveries.Message("hubspot", f"batch:{len(batch)} contacts",
                                                            deliveries.dumps(body))], now)
    record_sent(session, tenant, batch, now)
    return len(batch)
