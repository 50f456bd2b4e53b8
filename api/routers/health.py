from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import DatabaseDep
from api.permissions import Public
from api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, dependencies=[Public])
def healthz(db: DatabaseDep) -> dict[str, str]:
    """Liveness and database reachability; no authentication."""
    with db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}
