"""Rulesets and scoring rules. Every change rescores the unit in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field, StrictInt
from sqlalchemy.orm import Session

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, ScoringEditor
from api.schemas import InModel, RuleOut, RulesetOut, iso
from api.types import UtcDatetime
from services.context import Tenant
from services.errors import InvalidInput
from services.scoring import rules

router = APIRouter(tags=["rules"])

API_ACTOR = "api"  # when the key carries no name of its own


class RulesetIn(InModel):
    name: str = Field(max_length=200)
    score_column: str = Field(default="total_score", max_length=64)
    is_primary: bool = False


class RulesetUpdateIn(InModel):
    name: str | None = Field(default=None, max_length=200)
    score_column: str | None = Field(default=None, max_length=64)
    is_primary: bool | None = None


class RuleIn(InModel):
    """A rule's editable fields. Read-only fields of the reference shape are accepted and ignored;
    org_id and unit_id come from the API key and must not be sent."""

    rule_id: str | None = None
    ruleset_id: str | None = None
    org_id: str | None = None
    unit_id: str | None = None
    event_type: str = Field(max_length=200)
    weight: StrictInt
    icon: str | None = Field(default=None, max_length=64)
    active: bool = True
    start_at: UtcDatetime | None = None
    end_at: UtcDatetime | None = None
    conditions: list[Any] | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    created_by: str | None = None
    updated_by: str | None = None

    def editable(self) -> dict[str, Any]:
        for name in ("org_id", "unit_id"):
            if getattr(self, name) is not None:
                raise InvalidInput(name, "is set by the API key and must not be sent")
        return {
            "ruleset_id": self.ruleset_id,
            "event_type": self.event_type,
            "weight": self.weight,
            "icon": self.icon,
            "active": self.active,
            "start_at": self.start_at,
            "end_at": self.end_at,
            "conditions": self.conditions or [],
        }


class RuleUpdateIn(RuleIn):
    """PUT takes a partial body: fields left out keep their current value."""

    event_type: str | None = Field(default=None, max_length=200)  # type: ignore[assignment]
    weight: StrictInt | None = None  # type: ignore[assignment]
    active: bool | None = None  # type: ignore[assignment]

    def changes(self) -> dict[str, Any]:
        for name in ("org_id", "unit_id"):
            if getattr(self, name) is not None:
                raise InvalidInput(name, "is set by the API key and must not be sent")
        editable = ("ruleset_id", "event_type", "weight", "icon", "active", "start_at", "end_at", "conditions")
        sent = self.model_dump(include=set(editable), exclude_unset=True)
        if sent.get("conditions", []) is None:
            sent["conditions"] = []
        for name in ("event_type", "weight", "active"):
            if name in sent and sent[name] is None:
                raise InvalidInput(name, "must not be null")
        return sent


def ruleset_out(view: rules.RulesetView) -> dict[str, Any]:
    return {
        "id": view.id,
        "ruleset_id": view.id,
        "name": view.name,
        "score_column": view.score_column,
        "is_primary": view.is_primary,
        "rule_count": view.rule_count,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }


def rule_out(view: rules.RuleView) -> dict[str, Any]:
    return {
        "id": view.id,
        "rule_id": view.id,
        "ruleset_id": view.ruleset_id,
        "event_type": view.event_type,
        "weight": view.weight,
        "icon": view.icon,
        "active": view.active,
        "start_at": iso(view.start_at),
        "end_at": iso(view.end_at),
        "conditions": view.conditions,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
        "created_by": view.created_by,
        "updated_by": view.updated_by,
    }


# --- rulesets ------------------------------------------------------------------------------------------------------


@router.get("/v1/rulesets", response_model=list[RulesetOut], summary="List scoring rule sets")
def list_rulesets(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
    return [ruleset_out(v) for v in rules.list_rulesets(session, tenant)]


@router.post("/v1/rulesets", status_code=201, response_model=RulesetOut, summary="Create scoring rule set")
def create_ruleset(body: RulesetIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    def work(session: Session) -> rules.RulesetView:
        return rules.create_ruleset(
            session, tenant, name=body.name, score_column=body.score_column, is_primary=body.is_primary, now=now
        )

    return ruleset_out(run_write(db, work))


@router.get("/v1/rulesets/{ruleset_id}", response_model=RulesetOut, summary="Get a scoring rule set")
def get_ruleset(ruleset_id: str, tenant: Reader, session: ReadSession) -> dict[str, Any]:
    return ruleset_out(rules.get_ruleset(session, tenant, ruleset_id))


@router.put(
    "/v1/rulesets/{ruleset_id}", response_model=RulesetOut, summary="Rename a rule set or make it the primary one"
)
def update_ruleset(
    ruleset_id: str, body: RulesetUpdateIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    def work(session: Session) -> rules.RulesetView:
        return rules.update_ruleset(
            session, tenant, ruleset_id, name=body.name, score_column=body.score_column,
            is_primary=body.is_primary, now=now,
        )

    return ruleset_out(run_write(db, work))


@router.delete(
    "/v1/rulesets/{ruleset_id}", status_code=204, response_class=Response, summary="Delete a scoring rule set"
)
def delete_ruleset(ruleset_id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda session: rules.delete_ruleset(session, tenant, ruleset_id, now=now))
    return Response(status_code=204)


@router.get("/v1/rulesets/{ruleset_id}/rules", response_model=list[RuleOut], summary="List scoring rules in a set")
def list_ruleset_rules(ruleset_id: str, tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
    return [rule_out(v) for v in rules.list_rules(session, tenant, ruleset_id)]


# --- rules ---------------------------------------------------------------------------------------------------------


@router.get("/v1/rules", response_model=list[RuleOut], summary="List scoring rules")
def list_rules(tenant: Reader, session: ReadSession, ruleset_id: str | None = None) -> list[dict[str, Any]]:
    return [rule_out(v) for v in rules.list_rules(session, tenant, ruleset_id)]


@router.post("/v1/rules", status_code=201, response_model=RuleOut, summary="Create scoring rule")
def create_rule(body: RuleIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    if body.rule_id is not None:
        raise InvalidInput("rule_id", "is assigned by the server and must not be sent")
    fields = body.editable()
    return rule_out(run_write(db, lambda session: _create(session, tenant, fields, now)))


@router.get("/v1/rules/{rule_id}", response_model=RuleOut, summary="Get a scoring rule")
def get_rule(rule_id: str, tenant: Reader, session: ReadSession) -> dict[str, Any]:
    return rule_out(rules.get_rule(session, tenant, rule_id))


@router.put("/v1/rules/{rule_id}", response_model=RuleOut, summary="Update scoring rule (partial)")
def update_rule(rule_id: str, body: RuleUpdateIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    if body.rule_id is not None and body.rule_id != rule_id:
        raise InvalidInput("rule_id", f"does not match the rule in the path ({rule_id!r})")
    changes = body.changes()

    def work(session: Session) -> rules.RuleView:
        current = rules.get_rule(session, tenant, rule_id)
        fields = {
            "ruleset_id": current.ruleset_id, "event_type": current.event_type, "weight": current.weight,
            "icon": current.icon, "active": current.active, "start_at": current.start_at, "end_at": current.end_at,
            "conditions": current.conditions, **changes,
        }
        return rules.update_rule(session, tenant, rule_id, fields, now=now, actor=tenant.actor or API_ACTOR)

    return rule_out(run_write(db, work))


@router.delete("/v1/rules/{rule_id}", status_code=204, response_class=Response, summary="Delete scoring rule")
def delete_rule(rule_id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda session: rules.delete_rule(session, tenant, rule_id, now=now))
    return Response(status_code=204)


def _create(session: Session, tenant: Tenant, fields: dict[str, Any], now: datetime) -> rules.RuleView:
    return rules.create_rule(session, tenant, fields, now=now, actor=tenant.actor or API_ACTOR)
