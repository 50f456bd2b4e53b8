"""Scoring settings of the API key's unit. Changing allow_negative_scores or session_timeout_minutes (which ends
surge sessions) rescores the unit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import StrictBool, StrictInt
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, ScoringEditor
from api.schemas import InModel, ScoringSettingsOut, iso
from services.scoring import scoring_settings

router = APIRouter(tags=["settings"])


class ScoringSettingsIn(InModel):
    allow_negative_scores: StrictBool | None = None
    abm_enabled: StrictBool | None = None
    session_timeout_minutes: StrictInt | None = None
    bot_filter_enabled: StrictBool | None = None


def settings_out(view: scoring_settings.ScoringSettingsView) -> dict[str, Any]:
    return {
        "allow_negative_scores": view.allow_negative_scores,
        "abm_enabled": view.abm_enabled,
        "session_timeout_minutes": view.session_timeout_minutes,
        "bot_filter_enabled": view.bot_filter_enabled,
        "updated_at": iso(view.updated_at),
    }


@router.get("/v1/settings/scoring", response_model=ScoringSettingsOut, summary="Get scoring settings")
def get_scoring_settings(tenant: Reader, session: ReadSession) -> dict[str, Any]:
    return settings_out(scoring_settings.get_settings(session, tenant))


@router.put("/v1/settings/scoring", response_model=ScoringSettingsOut, summary="Update scoring settings (partial)")
def update_scoring_settings(
    body: ScoringSettingsIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    def work(session: Session) -> scoring_settings.ScoringSettingsView:
        return scoring_settings.update_settings(
            session, tenant, allow_negative_scores=body.allow_negative_scores, abm_enabled=body.abm_enabled,
            session_timeout_minutes=body.session_timeout_minutes, bot_filter_enabled=body.bot_filter_enabled,
            now=now,
        )

    return settings_out(run_write(db, work))
