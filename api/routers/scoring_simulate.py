"""What-if before publishing: simulate a draft of scoring changes over the event log, then publish it as one
version (services.scoring.simulate)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool, StrictInt
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.filter_schemas import EventTypeScopeDraftIn, FiltersChangesIn
from api.fit_schemas import AccountRulesChangesIn, FitSimulationsOut, ProfileRulesChangesIn
from api.permissions import ScoringEditor
from api.routers.rules import RuleIn
from api.schemas import DistributionOut, InModel, LevelChangeOut, OutModel
from api.surge_schemas import SurgePolicyIn
from api.types import Int64, Timestamp, UtcDatetime
from services.errors import InvalidInput
from services.scoring import simulate as what_if
from services.scoring.model import heads
from services.scoring.publish import Published

router = APIRouter(tags=["rules"])

MAX_DAYS = 36_500  # a hundred years: "all history" is days left out


class RuleChangeIn(InModel):
    """A rule's fields to change; fields left out keep their current value."""

    rule_id: str = Field(max_length=200)
    ruleset_id: str | None = Field(default=None, max_length=200)
    event_type: str | None = Field(default=None, max_length=200)
    weight: StrictInt | None = None
    icon: str | None = Field(default=None, max_length=64)
    active: bool | None = None
    start_at: UtcDatetime | None = None
    end_at: UtcDatetime | None = None
    conditions: list[Any] | None = None

    def change(self) -> dict[str, Any]:
        sent = self.model_dump(exclude_unset=True)
        if sent.get("conditions", []) is None:
            sent["conditions"] = []
        return sent


class RulesChangesIn(InModel):
    add: list[RuleIn] = Field(default_factory=list, description="new rules, bodies as for POST /v1/rules")
    update: list[RuleChangeIn] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list, description="ids of rules to remove")


class LevelDraftIn(InModel):
    id: str | None = Field(default=None, max_length=200, description="keep an existing level's id")
    name: str = Field(max_length=100)
    min_score: Int64
    max_score: Int64


class ChangesIn(InModel):
    """A draft of scoring changes; every part optional."""

    rules: RulesChangesIn | None = None
    levels: list[LevelDraftIn] | None = Field(default=None, description="the full engagement level list")
    profile_rules: ProfileRulesChangesIn | None = Field(default=None, description="profile (fit) rule changes")
    account_rules: AccountRulesChangesIn | None = Field(default=None, description="account (fit) rule changes")
    profile_levels: list[LevelDraftIn] | None = Field(default=None, description="the full profile level list")
    account_levels: list[LevelDraftIn] | None = Field(default=None, description="the full account level list")
    filters: FiltersChangesIn | None = Field(default=None, description="inorganic (burst) filter changes")
    event_types: list[EventTypeScopeDraftIn] | None = Field(default=None,
                                                           description="event types' processing scopes to set")
    bot_filter_enabled: StrictBool | None = Field(default=None, description="turn the bot filter on or off")
    surge_policy: SurgePolicyIn | None = Field(default=None, description="the surge policy to use")

    def as_draft(self) -> dict[str, Any]:
        draft: dict[str, Any] = {}
        if self.rules is not None:
            draft["rules"] = {
                "add": [_new_rule(index, r) for index, r in enumerate(self.rules.add)],
                "update": [u.change() for u in self.rules.update],
                "remove": list(self.rules.remove),
            }
        if self.levels is not None:
            draft["levels"] = [lv.model_dump() for lv in self.levels]
        if self.profile_rules is not None:
            draft["profile_rules"] = self.profile_rules.as_draft()
        if self.account_rules is not None:
            draft["account_rules"] = self.account_rules.as_draft()
        for name in ("profile_levels", "account_levels"):
            fit_levels: list[LevelDraftIn] | None = getattr(self, name)
            if fit_levels is not None:
                draft[name] = [lv.model_dump() for lv in fit_levels]
        if self.filters is not None:
            draft["filters"] = self.filters.as_draft()
        if self.event_types is not None:
            draft["event_types"] = [item.model_dump() for item in self.event_types]
        if self.bot_filter_enabled is not None:
            draft["bot_filter_enabled"] = self.bot_filter_enabled
        if self.surge_policy is not None:
            draft["surge_policy"] = self.surge_policy.model_dump(exclude_none=True)
        return draft


def _new_rule(index: int, body: RuleIn) -> dict[str, Any]:
    where = f"changes.rules.add[{index}]"
    if body.rule_id is not None:
        raise InvalidInput(f"{where}.rule_id", "is assigned by the server and must not be sent")
    try:
        return body.editable()
    except InvalidInput as exc:
        raise InvalidInput(f"{where}.{exc.field}", exc.message.split(": ", 1)[-1]) from None


class SimulateIn(InModel):
    changes: ChangesIn = Field(default_factory=ChangesIn)
    days: StrictInt | None = Field(default=None, ge=1, le=MAX_DAYS, description="window in days; left out: all history")


class PublishDraftIn(InModel):
    changes: ChangesIn = Field(default_factory=ChangesIn)
    summary: str | None = Field(default=None, max_length=500, description="the version's summary; default: derived")


class MoverOut(OutModel):
    lead_id: str
    email: str | None
    before: int
    after: int


class SimulationOut(BaseModel):
    leads_evaluated: int = Field(description="leads with events in the window")
    leads_changed: int = Field(description="leads whose primary score would change")
    level_changes: list[LevelChangeOut]
    distribution_before: DistributionOut
    distribution_after: DistributionOut = Field(description="same bins as distribution_before")
    top_movers: list[MoverOut]
    trigger_firings: dict[str, int] = Field(description="milestone trigger id: firings under the draft in the window")
    events: int = Field(description="events replayed")
    since: Timestamp | None = Field(description="start of the window (null: all history)")
    fit: FitSimulationsOut = Field(
        description="fit of the stored lead profiles (profile) and accounts (account) now and under the draft; "
        "independent of the window"
    )


class PublishedOut(OutModel):
    version: int
    published_at: Timestamp | None = Field(description="null when the draft changed nothing")
    summary: str
    rescored: bool = Field(description="stored scores were rebuilt before this answer")
    pending: bool = Field(
        description="a large unit's scores are being rebuilt aside; they switch to this version when done (its "
        "`live` flag in GET /v1/scoring/versions turns true) while ingest keeps flowing"
    )


@router.post("/v1/scoring/simulate", response_model=SimulationOut, summary="Simulate a draft of scoring changes")
def simulate(body: SimulateIn, tenant: ScoringEditor, session: ReadSession, now: Now) -> dict[str, Any]:
    """Replays the unit's events of the last `days` days (all of them when left out) under the live scoring model
    and under the draft, and says what would change. Nothing is stored."""
    return what_if.simulate(session, tenant, body.changes.as_draft(), body.days, now).as_dict()


@router.post("/v1/scoring/publish", response_model=PublishedOut, summary="Publish a draft of scoring changes")
def publish(body: PublishDraftIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """Applies the draft and publishes it as one version (stored scores become the simulation's `after`)."""

    def work(session: Session) -> tuple[Published | None, int]:
        published = what_if.publish_draft(session, tenant, body.changes.as_draft(), now, summary=body.summary)
        return published, heads(session, tenant).published

    published, version = run_write(db, work)
    if published is None:
        return {"version": version, "published_at": None, "summary": "no changes", "rescored": False, "pending": False}
    return {"version": published.version, "published_at": now, "summary": published.summary,
            "rescored": published.rescored, "pending": published.pending}
