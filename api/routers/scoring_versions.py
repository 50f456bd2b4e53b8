"""Scoring versions: every published scoring configuration of the unit, what each changed, and rolling back.

GET /v1/scoring/versions, GET /v1/scoring/versions/{version}, GET /v1/scoring/versions/{version}/diff,
POST /v1/scoring/versions/{version}/rollback. Versions are kept forever; a rollback publishes a new version.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, ScoringEditor
from api.schemas import ScoringVersionDetailOut, ScoringVersionDiffOut, ScoringVersionOut
from api.types import INT64_MAX
from services.scoring import versions

router = APIRouter(tags=["scoring versions"])

VersionPath = Annotated[int, Path(ge=1, le=INT64_MAX, description="the version number, from 1")]
AgainstQuery = Annotated[
    int | None, Query(ge=1, le=INT64_MAX, description="the version to compare with; default: the one before")
]


@router.get("/v1/scoring/versions", response_model=list[ScoringVersionOut], summary="List scoring versions")
def list_scoring_versions(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
    """Every published version of the unit's scoring configuration, newest first; `live` marks the version
    whose scores are stored."""
    return [meta.as_dict() for meta in versions.list_versions(session, tenant)]


@router.get(
    "/v1/scoring/versions/{version}", response_model=ScoringVersionDetailOut, summary="Get a scoring version"
)
def get_scoring_version(version: VersionPath, tenant: Reader, session: ReadSession) -> dict[str, Any]:
    """The version's whole configuration as it was published: rulesets, rules, levels, decay rules, settings (with
    the bot filter switch), field mappings, fit rulesets, rules and levels, inorganic filters, event-type processing
    scopes and the surge policy."""
    return versions.get_version(session, tenant, version)


@router.get(
    "/v1/scoring/versions/{version}/diff", response_model=ScoringVersionDiffOut,
    summary="Compare a scoring version with another",
)
def diff_scoring_version(
    version: VersionPath, tenant: Reader, session: ReadSession, against: AgainstQuery = None
) -> dict[str, Any]:
    """What changed from `against` (default: the version before) to `version`, for every part of the model.
    Added and removed items come whole; changed ones name their id (`rule_id`, `ruleset_id`, `level_id`,
    `decay_id`, `mapping_id`, `filter_id`, `event_type`) and each changed field as `{before, after}`; `settings`
    and `surge` (the surge policy) list their changed fields the same way. Version 1 without `against` is compared
    with an empty configuration (`against`: 0)."""
    return versions.diff_versions(session, tenant, version, against)


@router.post(
    "/v1/scoring/versions/{version}/rollback", status_code=201, response_model=ScoringVersionOut,
    summary="Roll the scoring configuration back to a version",
)
def rollback_scoring_version(version: VersionPath, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """Publish version `version`'s configuration again as a new version (201, its meta) and rescore the unit to
    it. 409 when that configuration is the one published now."""
    return run_write(db, lambda s: versions.rollback(s, tenant, version, now).as_dict())
