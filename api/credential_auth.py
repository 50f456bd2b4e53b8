"""Integrations on the API: HTTP Basic `client_id:client_secret` of a credential created with POST /v1/secrets."""

from __future__ import annotations

from fastapi import HTTPException, Request

from db.engine import Database
from services.context import Tenant


async def authenticate_credential(request: Request, db: Database, encoded: str) -> Tenant:
    raise HTTPException(401, "Invalid or missing API key.", headers={"WWW-Authenticate": "Bearer"})
