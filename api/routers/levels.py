"""Engagement levels (reference: scoring-platform-openapi "Levels")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, ScoringEditor
from api.schemas import InModel, LevelOut
from api.types import Int64
from services.scoring import levels as level_service

router = APIRouter(tags=["levels"])


class LevelIn(InModel):
    name: str = Field(min_length=1, max_length=100)
    min_score: Int64
    max_score: Int64


@router.get("/v1/levels/engagement", response_model=list[LevelOut], summary="List engagement levels")
def list_levels(session: ReadSession, tenant: Reader) -> list[dict[str, Any]]:
    return level_service.list_levels(session, tenant)


@router.post("/v1/levels/engagement", status_code=201, response_model=LevelOut, summary="Create engagement level")
async def create_level(body: LevelIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    return await run_in_threadpool(
        run_write, db,
        lambda s: level_service.create_level(
            s, tenant, name=body.name, min_score=body.min_score, max_score=body.max_score, now=now
        ),
    )


@router.put("/v1/levels/engagement/{level_id}", response_model=LevelOut, summary="Update engagement level")
async def update_level(
    level_id: str, body: LevelIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    return await run_in_threadpool(
        run_write, db,
        lambda s: level_service.update_level(
            s, tenant, level_id, name=body.name, min_score=body.min_score, max_score=body.max_score, now=now
        ),
    )


@router.delete(
    "/v1/levels/engagement/{level_id}", status_code=204, response_class=Response, summary="Delete engagement level"
)
async def delete_level(level_id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
    await run_in_threadpool(run_write, db, lambda s: level_service.delete_level(s, tenant, level_id, now=now))
    return Response(status_code=204)
