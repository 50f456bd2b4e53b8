"""People on the API: a bearer token from POST /v1/auth/token, acting in the active unit (X-Active-OU header or
the activeOu cookie set by POST /v1/org-units/active)."""

from __future__ import annotations

from fastapi import HTTPException, Request

from db.engine import Database
from services.context import Tenant


async def authenticate_person(request: Request, db: Database, token: str) -> Tenant:
    raise HTTPException(401, "Invalid or missing API key.", headers={"WWW-Authenticate": "Bearer"})
