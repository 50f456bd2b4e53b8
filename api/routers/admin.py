"""Admin operations on the caller's unit: seed the demo as sample data, and remove it again (Owner only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, run_write
from api.permissions import UnitManager
from services.operations import demo, sample_data

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
