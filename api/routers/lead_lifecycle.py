"""The lead lifecycle's merge and erasure: POST /v1/leads/merge, DELETE /v1/leads/{id} and its deletion status.

Registered before the leads router so `/v1/leads/merge` is never taken for a lead id.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks
from pydantic import Field
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, run_write
from api.permissions import LeadEraser, LeadMerger
from api.schemas import InModel, LeadOut, OutModel
from db.engine import Database
from services.context import Tenant
from services.people import erasure, merge
from services.people import leads as lead_service

router = APIRouter(tags=["leads"])
log = logging.getLogger("leadvane.erasure")

LeadId = Annotated[str, Field(min_length=1, max_length=64)]


class TruncateIn(InModel):
    policy: Literal["none", "sources"] = Field(
        default="none", description="`sources`: delete the source leads' records once everything has moved"
    )


class MergeIn(InModel):
    targetLeadId: LeadId = Field(description="the lead that remains")
    sourceLeadIds: list[LeadId] = Field(
        min_length=1, max_length=merge.MAX_SOURCES, description="leads merged into the target (not the target)"
    )
    truncate: bool | TruncateIn | None = Field(
        default=None, description="`true` or `{\"policy\": \"sources\"}` deletes the source records; default none"
    )

    def truncates(self) -> bool:
        if isinstance(self.truncate, TruncateIn):
            return self.truncate.policy == "sources"
        return bool(self.truncate)


class MergeRescoreOut(OutModel):
    leads: int = Field(description="leads whose scores were replayed (the target and the sources)")
    events: int = Field(description="events replayed")
    score: int = Field(description="the target's primary score after the merge")


class MergeOut(OutModel):
    target: LeadOut
    mergedSources: list[str]
    movedEvents: int
    truncatedEvents: int
    rescore: MergeRescoreOut


class ErasureOut(OutModel):
    lead_id: str
    status: Literal["pending", "completed"]


@router.post(
    "/v1/leads/merge", response_model=MergeOut, summary="Merge leads (OU-scoped)",
    description="Moves every event and alias of the source leads to the target, marks the sources merged (reads of "
    "a merged id answer with the target), and replays the target's score from all its events in the log's order. "
    "Fires no trigger; a trigger that fired for a source counts as fired for the target. Operator or Owner.",
)
def merge_leads(body: MergeIn, tenant: LeadMerger, db: DatabaseDep, now: Now) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        result = merge.merge_leads(
            session, tenant, target_id=body.targetLeadId, source_ids=body.sourceLeadIds,
            truncate=body.truncates(), now=now,
        )
        session.flush()
        return {
            "target": lead_service.get_lead(session, tenant, result.target_id)["lead"],
            "mergedSources": result.merged_sources,
            "movedEvents": result.moved_events,
            "truncatedEvents": result.truncated_events,
            "rescore": {"leads": result.rescored_leads, "events": result.rescored_events, "score": result.score},
        }

    return run_write(db, work)


def _erase_after_response(db: Database, tenant: Tenant, lead_id: str, now: datetime) -> None:
    """The erasure, in its own transaction once the 202 is sent; on failure the scheduler's job finishes it."""
    try:
        run_write(db, lambda session: erasure.erase_lead(session, tenant, lead_id, now))
    except Exception:
        log.exception("erasure of %s failed; the lead-erasures job will retry it", lead_id)


@router.delete(
    "/v1/leads/{lead_id}", status_code=202, response_model=ErasureOut, summary="Delete a lead",
    description="Erases a person: the lead (and leads merged into it), events, aliases, scores, profile, trigger "
    "firings naming them and their data in deliveries. Answers 202 once the request is recorded; the erasure runs "
    "right after (GET /v1/leads/{lead_id}/deletion-status). Owner only.",
)
def delete_lead(
    lead_id: str, tenant: LeadEraser, db: DatabaseDep, now: Now, background: BackgroundTasks
) -> dict[str, Any]:
    status = run_write(db, lambda session: erasure.request_erasure(session, tenant, lead_id, now))
    if status.status == erasure.PENDING:
        background.add_task(_erase_after_response, db, tenant, lead_id, now)
    return {"lead_id": status.lead_id, "status": status.status}


@router.get(
    "/v1/leads/{lead_id}/deletion-status", response_model=ErasureOut, summary="Lead deletion status",
    description="`pending` until every trace of the lead is gone, then `completed`. Owner only.",
)
def deletion_status(lead_id: str, tenant: LeadEraser, db: DatabaseDep) -> dict[str, Any]:
    with db.read() as session:
        status = erasure.erasure_status(session, tenant, lead_id)
    return {"lead_id": status.lead_id, "status": status.status}
