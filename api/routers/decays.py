"""Score decay rules: GET|POST /v1/decays, PUT|DELETE /v1/decays/{id}."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import Field

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, ScoringEditor
from api.schemas import DecayOut, InModel
from services.scoring import decay

router = APIRouter(tags=["decays"])

Unit = Literal["days", "hours", "weeks"]


class DecayIn(InModel):
    inactive_for: int = Field(ge=1, le=100_000)
    unit: Unit
    decrease: int = Field(ge=1, le=1_000_000)


class DecayUpdateIn(InModel):
    inactive_for: int | None = Field(default=None, ge=1, le=100_000)
    unit: Unit | None = None
    decrease: int | None = Field(default=None, ge=1, le=1_000_000)


@router.get("/v1/decays", response_model=list[DecayOut], summary="List score decay rules")
def list_decays(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
    return [decay.decay_view(r) for r in decay.list_decays(session, tenant)]


@router.post("/v1/decays", status_code=201, response_model=DecayOut, summary="Create score decay rule")
def create_decay(body: DecayIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    return run_write(db, lambda s: decay.decay_view(decay.create_decay(s, tenant, **body.model_dump(), now=now)))


@router.put("/v1/decays/{decay_id}", response_model=DecayOut, summary="Update score decay rule")
def update_decay(
    decay_id: str, body: DecayUpdateIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return run_write(db, lambda s: decay.decay_view(decay.update_decay(s, tenant, decay_id, changes, now)))


@router.delete(
    "/v1/decays/{decay_id}", status_code=204, response_class=Response, summary="Delete score decay rule"
)
def delete_decay(decay_id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda s: decay.delete_decay(s, tenant, decay_id, now=now))
    return Response(status_code=204)
