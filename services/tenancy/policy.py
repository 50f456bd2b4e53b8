"""The one permission policy: which role may do which action. Services, routes and pages all ask here."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from services.context import Tenant
from services.errors import Forbidden

Role = Literal["Owner", "Operator", "Viewer"]
ROLES: tuple[Role, ...] = ("Owner", "Operator", "Viewer")


class Action(StrEnum):
    READ = "read"
    INGEST = "ingest"
    EDIT_SCORING = "scoring.edit"  # rules, rulesets, levels, decay, scoring settings, rescore
    EDIT_TRIGGERS = "triggers.edit"  # triggers, test sends, delivery retries
    IMPORT = "import"  # CSV imports
    MANAGE_KEYS = "keys.manage"
    MANAGE_USERS = "users.manage"
    MANAGE_UNIT = "unit.manage"  # unit-wide operating settings, e.g. the API rate limit
    READ_AUDIT = "audit.read"  # the audit log (Owner and Operator)


_ALLOWED: dict[Role, frozenset[Action]] = {
    "Owner": frozenset(Action),
    "Operator": frozenset(Action) - {Action.MANAGE_KEYS, Action.MANAGE_USERS, Action.MANAGE_UNIT},
    "Viewer": frozenset({Action.READ}),
}


def allowed(role: str, action: Action) -> bool:
    return action in _ALLOWED.get(role, frozenset())  # type: ignore[call-overload]


def roles_with(action: Action) -> frozenset[str]:
    """The roles that may do `action` (for code that still checks role names)."""
    return frozenset(role for role in ROLES if allowed(role, action))


def require(tenant: Tenant, action: Action) -> None:
    """Every service write calls this first: a caller whose role does not allow `action` gets a 403."""
    if not allowed(tenant.role, action):
        raise Forbidden(f"role {tenant.role} may not {action.value.replace('.', ' ')}")
