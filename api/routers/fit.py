"""Fit scoring configuration (reference: scoring-platform-openapi "Profile", "Account", "Levels", "Admin"):
field mappings, fit rulesets and their rules, fit levels, for lead profiles (`/v1/profile/...`,
`/v1/levels/profile`) and accounts (`/v1/account/...`, `/v1/levels/account`), and the Owner's backfill that applies
the mappings to history. Every change is a published version of the scoring model (services.scoring.fit_config).

Profile and account routes are the same routes, registered once per kind; only the name of the property field
differs (`profile_property`, `account_property`).
"""

# No `from __future__ import annotations` here: the routes are made per kind, and FastAPI must see each body's model
# as an evaluated annotation (a string annotation naming a closure variable would not resolve).
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.fit_schemas import (
    AccountMappingIn,
    AccountMappingOut,
    AccountRuleIn,
    AccountRuleOut,
    AccountRuleUpdateIn,
    FitLevelOut,
    FitRulesetIn,
    FitRulesetOut,
    MappingsAppliedOut,
    ProfileMappingIn,
    ProfileMappingOut,
    ProfileRuleIn,
    ProfileRuleOut,
    ProfileRuleUpdateIn,
)
from api.permissions import Reader, ScoringEditor, UnitManager
from api.routers.accounts import ABM_NOTE
from api.routers.levels import LevelIn
from services.errors import InvalidInput
from services.scoring import fit_config

router = APIRouter()

_NOT_NULL = ("condition", "comparison_value", "weight")


def _register(
    kind: str,
    mapping_in: type[ProfileMappingIn] | type[AccountMappingIn],
    mapping_out: type[BaseModel],
    rule_in: type[ProfileRuleIn] | type[AccountRuleIn],
    rule_update_in: type[ProfileRuleUpdateIn] | type[AccountRuleUpdateIn],
    rule_out: type[BaseModel],
) -> None:
    """The routes of one kind: field mappings, rulesets, rules and levels."""
    prop = fit_config.property_field(kind)
    label = "profile" if kind == "profile" else "account"
    tags: list[str | Any] = [label]
    base = f"/v1/{kind}"
    abm: dict[str, Any] = {"description": ABM_NOTE.strip()} if kind == "account" else {}  # account routes need ABM

    # --- field mappings ---

    def list_mappings(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
        return fit_config.list_mappings(session, tenant, kind)

    def create_mapping(body: mapping_in, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:  # type: ignore[valid-type]
        fields = body.model_dump()  # type: ignore[attr-defined]
        return run_write(db, lambda s: fit_config.create_mapping(
            s, tenant, kind, source_field=fields["source_field"], property=fields[prop],
            update_behavior=fields["update_behavior"] or "always_latest", now=now,
        ))

    def update_mapping(
        mapping_id: str, body: mapping_in, tenant: ScoringEditor, db: DatabaseDep, now: Now  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        fields = body.model_dump()  # type: ignore[attr-defined]
        return run_write(db, lambda s: fit_config.update_mapping(
            s, tenant, kind, mapping_id, source_field=fields["source_field"], property=fields[prop],
            update_behavior=fields["update_behavior"], now=now,
        ))

    def delete_mapping(mapping_id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
        run_write(db, lambda s: fit_config.delete_mapping(s, tenant, kind, mapping_id, now=now))
        return Response(status_code=204)

    path = f"{base}/field-mappings"
    router.add_api_route(path, list_mappings, methods=["GET"], response_model=list[mapping_out], tags=tags,  # type: ignore[valid-type]
                         summary=f"List {label} field mappings", operation_id=f"list_{kind}_field_mappings", **abm)
    router.add_api_route(path, create_mapping, methods=["POST"], status_code=201, response_model=mapping_out,
                         tags=tags, summary=f"Create {label} field mapping",
                         operation_id=f"create_{kind}_field_mapping", **abm)
    router.add_api_route(f"{path}/{{mapping_id}}", update_mapping, methods=["PUT"], response_model=mapping_out,
                         tags=tags, summary=f"Update {label} field mapping",
                         operation_id=f"update_{kind}_field_mapping", **abm)
    router.add_api_route(f"{path}/{{mapping_id}}", delete_mapping, methods=["DELETE"], status_code=204,
                         response_class=Response, tags=tags, summary=f"Delete {label} field mapping",
                         operation_id=f"delete_{kind}_field_mapping", **abm)

    # --- rulesets ---

    def list_rulesets(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
        return fit_config.list_fit_rulesets(session, tenant, kind)

    def create_ruleset(body: FitRulesetIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
        return run_write(db, lambda s: fit_config.create_fit_ruleset(
            s, tenant, kind, name=body.name, enabled=True if body.enabled is None else body.enabled,
            is_primary=bool(body.is_primary), now=now,
        ))

    def update_ruleset(
        ruleset_id: str, body: FitRulesetIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
    ) -> dict[str, Any]:
        return run_write(db, lambda s: fit_config.update_fit_ruleset(
            s, tenant, kind, ruleset_id, name=body.name, enabled=body.enabled, is_primary=body.is_primary, now=now,
        ))

    def delete_ruleset(ruleset_id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
        run_write(db, lambda s: fit_config.delete_fit_ruleset(s, tenant, kind, ruleset_id, now=now))
        return Response(status_code=204)

    path = f"{base}/rulesets"
    router.add_api_route(path, list_rulesets, methods=["GET"], response_model=list[FitRulesetOut], tags=tags,
                         summary=f"List {label} rule sets", operation_id=f"list_{kind}_rulesets", **abm)
    router.add_api_route(path, create_ruleset, methods=["POST"], status_code=201, response_model=FitRulesetOut,
                         tags=tags, summary=f"Create {label} rule set", operation_id=f"create_{kind}_ruleset", **abm)
    router.add_api_route(f"{path}/{{ruleset_id}}", update_ruleset, methods=["PUT"], response_model=FitRulesetOut,
                         tags=tags, summary=f"Update {label} rule set", operation_id=f"update_{kind}_ruleset", **abm)
    router.add_api_route(f"{path}/{{ruleset_id}}", delete_ruleset, methods=["DELETE"], status_code=204,
                         response_class=Response, tags=tags, summary=f"Delete {label} rule set (with its rules)",
                         operation_id=f"delete_{kind}_ruleset", **abm)

    # --- rules ---

    def list_rules(ruleset_id: str, tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
        return fit_config.list_fit_rules(session, tenant, kind, ruleset_id)

    def create_rule(
        ruleset_id: str, body: rule_in, tenant: ScoringEditor, db: DatabaseDep, now: Now  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        fields = body.model_dump()  # type: ignore[attr-defined]
        return run_write(db, lambda s: fit_config.create_fit_rule(
            s, tenant, kind, ruleset_id, property=fields[prop], condition=fields["condition"],
            comparison_value=fields["comparison_value"], weight=fields["weight"],
            ui_order=fields["ui_order"] or 0, now=now,
        ))

    def update_rule(
        ruleset_id: str, rule_id: str, body: rule_update_in,  # type: ignore[valid-type]
        tenant: ScoringEditor, db: DatabaseDep, now: Now,
    ) -> dict[str, Any]:
        sent = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        for name in (prop, *_NOT_NULL):
            if name in sent and sent[name] is None:
                raise InvalidInput(name, "must not be null")
        if sent.get("ui_order", 0) is None:
            sent["ui_order"] = 0
        return run_write(db, lambda s: fit_config.update_fit_rule(
            s, tenant, kind, ruleset_id, rule_id, fields=sent, now=now
        ))

    def delete_rule(ruleset_id: str, rule_id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
        run_write(db, lambda s: fit_config.delete_fit_rule(s, tenant, kind, ruleset_id, rule_id, now=now))
        return Response(status_code=204)

    path = f"{base}/rulesets/{{ruleset_id}}/rules"
    router.add_api_route(path, list_rules, methods=["GET"], response_model=list[rule_out], tags=tags,  # type: ignore[valid-type]
                         summary=f"List {label} rules in a set", operation_id=f"list_{kind}_rules", **abm)
    router.add_api_route(path, create_rule, methods=["POST"], status_code=201, response_model=rule_out,
                         tags=tags, summary=f"Create {label} rule", operation_id=f"create_{kind}_rule", **abm)
    router.add_api_route(f"{path}/{{rule_id}}", update_rule, methods=["PUT"], response_model=rule_out, tags=tags,
                         summary=f"Update {label} rule (partial)", operation_id=f"update_{kind}_rule", **abm)
    router.add_api_route(f"{path}/{{rule_id}}", delete_rule, methods=["DELETE"], status_code=204,
                         response_class=Response, tags=tags, summary=f"Delete {label} rule",
                         operation_id=f"delete_{kind}_rule", **abm)

    # --- levels ---

    def list_levels(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
        return fit_config.list_fit_levels(session, tenant, kind)

    def create_level(body: LevelIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
        return run_write(db, lambda s: fit_config.create_fit_level(
            s, tenant, kind, name=body.name, min_score=body.min_score, max_score=body.max_score, now=now
        ))

    def update_level(level_id: str, body: LevelIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
        return run_write(db, lambda s: fit_config.update_fit_level(
            s, tenant, kind, level_id, name=body.name, min_score=body.min_score, max_score=body.max_score, now=now
        ))

    def delete_level(level_id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
        run_write(db, lambda s: fit_config.delete_fit_level(s, tenant, kind, level_id, now=now))
        return Response(status_code=204)

    path = f"/v1/levels/{kind}"
    level_tags: list[str | Any] = ["levels"]
    router.add_api_route(path, list_levels, methods=["GET"], response_model=list[FitLevelOut], tags=level_tags,
                         summary=f"List {label} levels", operation_id=f"list_{kind}_levels", **abm)
    router.add_api_route(path, create_level, methods=["POST"], status_code=201, response_model=FitLevelOut,
                         tags=level_tags, summary=f"Create {label} level", operation_id=f"create_{kind}_level", **abm)
    router.add_api_route(f"{path}/{{level_id}}", update_level, methods=["PUT"], response_model=FitLevelOut,
                         tags=level_tags, summary=f"Update {label} level", operation_id=f"update_{kind}_level", **abm)
    router.add_api_route(f"{path}/{{level_id}}", delete_level, methods=["DELETE"], status_code=204,
                         response_class=Response, tags=level_tags, summary=f"Delete {label} level",
                         operation_id=f"delete_{kind}_level", **abm)


_register("profile", ProfileMappingIn, ProfileMappingOut, ProfileRuleIn, ProfileRuleUpdateIn, ProfileRuleOut)
_register("account", AccountMappingIn, AccountMappingOut, AccountRuleIn, AccountRuleUpdateIn, AccountRuleOut)


@router.post(
    "/v1/admin/profile-mappings/apply", response_model=MappingsAppliedOut, tags=["admin"],
    summary="Apply profile field mappings to existing leads",
    description="Re-applies the current profile and account field mappings to every lead's and account's logged "
    "events in log order, respecting each mapping's update behavior; a changed profile is recorded as a profile "
    "event and its fit recomputed. Idempotent: a second run updates nothing.",
)
def apply_profile_mappings(tenant: UnitManager, db: DatabaseDep, now: Now) -> dict[str, int]:
    def work(session: Session) -> dict[str, int]:
        return fit_config.apply_mappings_to_history(session, tenant, now)

    return run_write(db, work)
