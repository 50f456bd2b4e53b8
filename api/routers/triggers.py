"""Milestone, sequence and pattern triggers under /v1/triggers/{milestones|sequences|patterns}.

Each kind: GET (list), POST (create; the response carries the signing secret once), PUT/DELETE /{id},
POST /{id}/simulate, POST /{id}/test (queue a sample to every channel), GET /events (emitted firings) and
/events/export (CSV). Webhook and Slack URLs pass the outbound guard when saved (422 naming the field).
"""

from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, EmailStr, Field

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.destination_schemas import IntegrationTargetsIn, IntegrationTargetsOut
from api.permissions import Reader, TriggerEditor
from api.responses import error_responses as errors
from api.schemas import InModel
from api.segment_schemas import LeadFilterIn, LeadFilterOut
from api.types import OffsetQuery, Timestamp
from services.triggers import triggers

router = APIRouter(tags=["triggers"])

Url = str


class ChannelsIn(IntegrationTargetsIn):
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    active: bool | None = None
    webhook_url: Url | None = Field(default=None, max_length=2048)
    emails: list[EmailStr] | None = Field(default=None, max_length=50)
    email_subject: str | None = Field(default=None, max_length=500)
    email_preheader: str | None = Field(default=None, max_length=500)
    email_message: str | None = Field(default=None, max_length=10_000)
    slack_webhook_url: Url | None = Field(default=None, max_length=2048)
    slack_channel: str | None = Field(default=None, max_length=200)
    segment_id: str | None = Field(default=None, max_length=64,
                                   description="fire only for members of this segment (empty: any lead)")
    profile_filters: list[LeadFilterIn] | None = Field(
        default=None, max_length=20, description="fire only for leads whose profile passes every filter")
    lead_attribute_filters: list[LeadFilterIn] | None = Field(
        default=None, max_length=20, description="fire only for leads passing every filter on score, level, "
        "fit_score, fit_level, email, first_name, last_name, account_id, account_domain or account_name")


class MilestoneIn(ChannelsIn):
    event_type: str = Field(default="", max_length=200)
    score_threshold: int


class MilestoneUpdateIn(ChannelsIn):
    event_type: str | None = Field(default=None, max_length=200)
    score_threshold: int | None = None


class SequenceIn(ChannelsIn):
    event_types: list[str] = Field(min_length=2, max_length=20)
    window_seconds: int = Field(ge=1, le=366 * 86400)
    window_unit: Literal["seconds", "minutes", "hours"] = "seconds"
    ordered: bool = False
    fire_mode: Literal["once", "every"] = "once"


class SequenceUpdateIn(ChannelsIn):
    event_types: list[str] | None = Field(default=None, min_length=2, max_length=20)
    window_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)
    window_unit: Literal["seconds", "minutes", "hours"] | None = None
    ordered: bool | None = None
    fire_mode: Literal["once", "every"] | None = None


class PatternConditionIn(InModel):
    event_type: str = Field(min_length=1, max_length=200)
    min_count: int = Field(default=1, ge=1, le=100_000)


class PatternIn(ChannelsIn):
    trigger_id: str | None = None  # accepted for compatibility; the server assigns ids
    created_at: str | None = None
    updated_at: str | None = None
    window_seconds: int = Field(ge=1, le=366 * 86400)
    conditions: list[PatternConditionIn] = Field(min_length=1, max_length=20)
    scope: Literal["lead", "account"] = "lead"


class PatternUpdateIn(ChannelsIn):
    trigger_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    window_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)
    conditions: list[PatternConditionIn] | None = Field(default=None, min_length=1, max_length=20)
    scope: Literal["lead", "account"] | None = None


class SimulateIn(InModel):
    lead_id: str | None = None
    days: int = Field(default=30, ge=1, le=3650)


class TriggerOut(IntegrationTargetsOut):
    """A trigger as listed and returned after an update (never its signing secret)."""

    trigger_id: str
    org_id: str
    unit_id: str
    kind: Literal["milestone", "sequence", "pattern"]
    name: str
    description: str | None
    active: bool
    webhook_url: str | None
    emails: list[str]
    email_subject: str | None
    email_preheader: str | None
    email_message: str | None
    slack_webhook_url: str | None
    slack_channel: str | None
    segment_id: str | None = None
    profile_filters: list[LeadFilterOut] = []
    lead_attribute_filters: list[LeadFilterOut] = []
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
    updated_by: str | None


class MilestoneOut(TriggerOut):
    event_type: str = Field(description="only crossings through this event type fire; empty: any")
    score_threshold: int


class SequenceOut(TriggerOut):
    event_types: list[str]
    event_steps: list[str] = Field(description="the same as event_types (reference name)")
    window_seconds: int
    window_unit: Literal["seconds", "minutes", "hours"]
    ordered: bool
    fire_mode: Literal["once", "every"]


class PatternConditionOut(BaseModel):
    event_type: str
    min_count: int


class PatternOut(TriggerOut):
    conditions: list[PatternConditionOut]
    window_seconds: int
    scope: Literal["lead", "account"]


class SecretOut(BaseModel):
    signing_secret: str = Field(description="whsec_...: verifies webhook signatures; shown only in this response")


class MilestoneCreatedOut(MilestoneOut, SecretOut):
    pass


class SequenceCreatedOut(SequenceOut, SecretOut):
    pass


class PatternCreatedOut(PatternOut, SecretOut):
    pass


class LeadRefOut(BaseModel):
    id: str
    email: str | None
    name: str | None


class AccountRefOut(BaseModel):
    id: str
    domain: str | None
    name: str | None


class FiringOut(BaseModel):
    firing_id: str
    trigger_id: str
    kind: Literal["milestone", "sequence", "pattern"]
    lead_id: str | None
    account_id: str | None
    event_id: str | None
    occurred_at: Timestamp
    fired_at: Timestamp
    data: dict[str, Any] = Field(description="what made it fire: scores for milestones, steps or counts otherwise")
    trigger_name: str | None = None
    lead: LeadRefOut | None = None
    account: AccountRefOut | None = None
    score_before: int | None = None
    score_after: int | None = None
    level: str | None = Field(default=None, description="the lead's level after the event, by name")


class SimulatedMatchOut(BaseModel):
    lead_id: str | None
    lead_email: str | None = None
    account_id: str | None = None
    event_id: str
    event_type: str
    occurred_at: Timestamp
    score_before: int | None = None
    score_after: int | None = None


class SimulationOut(BaseModel):
    would_fire: bool
    matched_leads: list[SimulatedMatchOut]
    total_matches: int
    message: str


class TestSendOut(BaseModel):
    trigger_id: str
    delivery_ids: list[str] = Field(description="one queued delivery per channel; see GET /v1/deliveries")
    message: str


_IGNORED = {"trigger_id", "created_at", "updated_at"}


def _fields(body: BaseModel, *, unset: bool) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=unset)
    return {k: v for k, v in data.items() if k not in _IGNORED}


def _routes(
    kind: str, path: str, create_in: type[BaseModel], update_in: type[BaseModel], out: type[TriggerOut],
    created_out: type[TriggerOut],
) -> None:
    base = f"/v1/triggers/{path}"

    @router.get(base, summary=f"List {kind} triggers", name=f"list_{kind}", response_model=list[out],  # type: ignore[valid-type]
                responses=errors(401, 403))
    def list_(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
        return [triggers.trigger_view(r) for r in triggers.list_triggers(session, tenant, kind)]

    @router.post(base, status_code=201, summary=f"Create {kind} trigger", name=f"create_{kind}",
                 response_model=created_out, responses=errors(401, 403, 422))
    def create(body: create_in, tenant: TriggerEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:  # type: ignore[valid-type]
        fields = _fields(body, unset=False)
        checked = triggers.check_channel_urls(tenant, fields)  # DNS before the write transaction, not inside it

        def work(session: Any) -> dict[str, Any]:
            row = triggers.create_trigger(session, tenant, kind, fields, now, checked=checked)
            # The signing secret is shown here, once; later reads never include it.
            return {**triggers.trigger_view(row), "signing_secret": row.signing_secret}

        return run_write(db, work)

    @router.get(f"{base}/events", summary=f"List emitted {kind} events", name=f"events_{kind}",
                response_model=list[FiringOut], responses=errors(401, 403, 422))
    def events(
        tenant: Reader, session: ReadSession, trigger_id: str | None = None,
        limit: int = Query(default=100, ge=1, le=1000), offset: OffsetQuery = 0,
    ) -> list[dict[str, Any]]:
        rows = triggers.list_firings(session, tenant, kind, trigger_id=trigger_id, limit=limit, offset=offset)
        return [triggers.firing_view(r) for r in rows]

    @router.get(f"{base}/events/export", summary=f"Export {kind} events (CSV)", name=f"export_{kind}",
                response_class=StreamingResponse,
                responses={200: {"content": {"text/csv": {}}}, **errors(401, 403)})
    def export(tenant: Reader, session: ReadSession) -> StreamingResponse:
        return StreamingResponse(
            iter([triggers.export_firings_csv(session, tenant, kind)]), media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{kind}-events.csv"'},
        )

    @router.put(f"{base}/{{trigger_id}}", summary=f"Update {kind} trigger", name=f"update_{kind}",
                response_model=out, responses=errors(401, 403, 404, 422))
    def update(trigger_id: str, body: update_in, tenant: TriggerEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:  # type: ignore[valid-type]
        changes = _fields(body, unset=True)
        checked = triggers.check_channel_urls(tenant, changes)  # DNS before the write transaction, not inside it
        return run_write(db, lambda s: triggers.trigger_view(
            triggers.update_trigger(s, tenant, kind, trigger_id, changes, now, checked=checked)))

    @router.delete(f"{base}/{{trigger_id}}", status_code=204, summary=f"Delete {kind} trigger", name=f"delete_{kind}",
                   response_class=Response, responses=errors(401, 403, 404))
    def delete(trigger_id: str, tenant: TriggerEditor, db: DatabaseDep) -> Response:
        run_write(db, lambda s: triggers.delete_trigger(s, tenant, kind, trigger_id))
        return Response(status_code=204)

    @router.post(f"{base}/{{trigger_id}}/simulate", summary=f"Simulate a {kind} trigger", name=f"simulate_{kind}",
                 response_model=SimulationOut, responses=errors(401, 403, 404, 422))
    def simulate(
        trigger_id: str, body: SimulateIn, tenant: Reader, session: ReadSession, now: Now
    ) -> dict[str, Any]:
        return triggers.simulate(session, tenant, kind, trigger_id, lead_id=body.lead_id, days=body.days, now=now)

    @router.post(
        f"{base}/{{trigger_id}}/test", status_code=202, summary=f"Send a test of a {kind} trigger",
        name=f"test_{kind}", response_model=TestSendOut, responses=errors(401, 403, 404, 409),
        description="Queues a sample notification (a sample lead and account, marked \"test\": true) to every "
        "channel of the trigger, through the outbox and signed like a real one.",
    )
    def send_test(trigger_id: str, tenant: TriggerEditor, db: DatabaseDep, now: Now) -> TestSendOut:
        ids = run_write(db, lambda s: triggers.send_test(s, tenant, kind, trigger_id, now))
        return TestSendOut(trigger_id=trigger_id, delivery_ids=ids,
                           message=f"queued {len(ids)} test deliver{'y' if len(ids) == 1 else 'ies'}")


_routes("milestone", "milestones", MilestoneIn, MilestoneUpdateIn, MilestoneOut, MilestoneCreatedOut)
_routes("sequence", "sequences", SequenceIn, SequenceUpdateIn, SequenceOut, SequenceCreatedOut)
_routes("pattern", "patterns", PatternIn, PatternUpdateIn, PatternOut, PatternCreatedOut)
