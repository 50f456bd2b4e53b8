"""Admin operations on the caller's unit (Owner only): seed the demo as sample data and remove it again; the account
backfills (account links from the log, `accountId` in event metadata)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, run_write
from api.permissions import UnitManager
from api.routers.accounts import ABM_NOTE
from services.operations import demo, sample_data
from services.people import account_backfills

router = APIRouter(tags=["admin"])


class SampleDataSeededOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str
    output: str


class SampleDataRemovedOut(BaseModel):
    """Rows removed per table; `leads_kept` counts seeded leads kept because they received real events."""

    model_config = ConfigDict(extra="forbid")
    events: int
    leads: int
    accounts: int
    aliases: int
    lead_scores: int
    account_scores: int
    rules: int
    levels: int
    decay_rules: int
    trigger_firings: int
    leads_kept: int


@router.post(
    "/v1/admin/sample-data", response_model=SampleDataSeededOut,
    summary="Seed sample data into the unit",
)
def seed_sample_data(tenant: UnitManager, db: DatabaseDep, now: Now) -> dict[str, Any]:
    def work(session: Session) -> demo.DemoSeed:
        return sample_data.seed_sample_data(session, tenant, now)

    return {"message": "sample data seeded", "output": run_write(db, work).summary()}


@router.delete(
    "/v1/admin/sample-data", response_model=SampleDataRemovedOut, summary="Remove the sample data from the unit"
)
def remove_sample_data(tenant: UnitManager, db: DatabaseDep, now: Now) -> dict[str, Any]:
    def work(session: Session) -> sample_data.SampleDataRemoved:
        return sample_data.remove_sample_data(session, tenant, now)

    removed = run_write(db, work)
    return {field: getattr(removed, field) for field in SampleDataRemovedOut.model_fields}


class AccountProfileBackfillOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    leads_processed: int
    accounts_linked: int = Field(description="leads whose account link changed")
    accounts_created: int = Field(description="accounts created from leads' email domains")
    profile_scores_updated: int = Field(description="leads and accounts whose stored fit changed")


class EventAccountIdBackfillOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events_scanned: int = Field(description="engagement events of the unit's leads (system events aside)")
    events_updated: int = Field(description="events that got `accountId` in their metadata")
    leads_without_account: int = Field(description="leads with events but no account")


@router.post(
    "/v1/admin/backfill/account-profile", response_model=AccountProfileBackfillOut,
    summary="Backfill account mapping and profile scoring",
    description="Re-derives each lead's account from the log (the account of its most recent event that names "
    "one; without one, its email's company domain, as ingest does) and recomputes lead and account fit scores. "
    "Idempotent: a second run reports no change." + ABM_NOTE,
)
def backfill_account_profile(tenant: UnitManager, db: DatabaseDep, now: Now) -> dict[str, Any]:
    def work(session: Session) -> account_backfills.AccountProfileBackfill:
        return account_backfills.backfill_account_profile(session, tenant, now=now)

    return asdict(run_write(db, work))


@router.post(
    "/v1/admin/backfill/event-account-id", response_model=EventAccountIdBackfillOut,
    summary="Backfill event metadata accountId",
    description="Writes `accountId` (the event's lead's account) into the metadata of engagement events that lack "
    "it; events that have one are left alone. Rescored from the log when a rule's condition reads `accountId`. "
    "Idempotent: a second run updates nothing.",
)
def backfill_event_account_id(tenant: UnitManager, db: DatabaseDep, now: Now) -> dict[str, Any]:
    def work(session: Session) -> account_backfills.EventAccountIdBackfill:
        return account_backfills.backfill_event_account_id(session, tenant, now=now)

    return asdict(run_write(db, work))
