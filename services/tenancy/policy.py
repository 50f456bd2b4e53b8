"""The one permission policy: which role may do which action. Services, routes and pages all ask here.

Unit roles (a person's membership role, or an API key's / credential's role): Owner, Operator, Viewer, and
Ingest for keys and credentials that may only send events. Organization actions (members, new units) are
decided by the person's organization role instead: only an organization Owner may take them, never a key.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from services.context import Tenant
from services.errors import Forbidden

Role = Literal["Owner", "Operator", "Viewer"]
ROLES: tuple[Role, ...] = ("Owner", "Operator", "Viewer")  # people's roles (units and organization)
KeyRole = Literal["Owner", "Operator", "Viewer", "Ingest"]
KEY_ROLES: tuple[KeyRole, ...] = ("Owner", "Operator", "Viewer", "Ingest")  # API keys' and credentials' roles


class Action(StrEnum):
    SELF = "self"  # about the caller themselves: who am I, my rate limit, my units (any authenticated caller)
    READ = "read"
    INGEST = "ingest"
    EDIT_SCORING = "scoring.edit"  # rules, rulesets, levels, decay, scoring settings, rescore
    EDIT_TRIGGERS = "triggers.edit"  # triggers, test sends, delivery retries
    IMPORT = "import"  # CSV imports
    EDIT_LEADS = "leads.edit"  # create and edit leads (profiles, account links), unlink and delete accounts
    MANAGE_KEYS = "keys.manage"  # API keys and credentials (/v1/secrets)
    MANAGE_USERS = "users.manage"  # add a person to the unit (dashboard, manage.py create-user)
    MANAGE_MEMBERSHIPS = "memberships.manage"  # roles in the unit (an Operator may not grant or take Owner)
    MANAGE_UNIT = "unit.manage"  # unit-wide operating settings, e.g. the API rate limit; renaming the unit
    READ_AUDIT = "audit.read"  # the audit log (Owner and Operator)
    MANAGE_ORG = "org.manage"  # organization members and new units: organization Owners only
    MERGE_LEADS = "leads.merge"  # merge duplicate leads into one (Owner and Operator)
    ERASE_LEADS = "leads.erase"  # erase a person and every trace of them (Owner only)
    DELETE_EVENTS = "events.delete"  # delete events from the log (by id, or every event of a type): Owner, Operator
    MANAGE_INTEGRATIONS = "integrations.manage"  # connect Slack, CRM credentials and sync, default targets: Owner
    RESEARCH = "research"  # start contact research (it may write provider fields into profiles): Owner, Operator


ORG_ACTIONS = frozenset({Action.MANAGE_ORG})

_ALLOWED: dict[str, frozenset[Action]] = {
    "Owner": frozenset(Action) - ORG_ACTIONS,
    "Operator": frozenset(Action)
    - ORG_ACTIONS
    - {Action.MANAGE_KEYS, Action.MANAGE_USERS, Action.MANAGE_UNIT, Action.ERASE_LEADS, Action.MANAGE_INTEGRATIONS},
    "Viewer": frozenset({Action.SELF, Action.READ}),
    "Ingest": frozenset({Action.SELF, Action.INGEST}),
}


def allowed(role: str, action: Action) -> bool:
    """May a caller with unit role `role` do `action` in the unit? (Organization actions: see `permits`.)"""
    return action in _ALLOWED.get(role, frozenset())


def permits(tenant: Tenant, action: Action) -> bool:
    """May this caller do `action`: organization actions by organization role, the rest by unit role."""
    if action in ORG_ACTIONS:
        return tenant.member_id is not None and tenant.org_role == "Owner"
    return allowed(tenant.role, action)


def roles_with(action: Action) -> frozenset[str]:
    """The unit roles that may do `action` (for code that still checks role names)."""
    return frozenset(role for role in _ALLOWED if allowed(role, action))


def require(tenant: Tenant, action: Action) -> None:
    """Every route and service write calls this first: a caller whose role does not allow `action` gets a 403."""
    if not permits(tenant, action):
        if action in ORG_ACTIONS:
            raise Forbidden("only an organization Owner (a person, not a key) may manage the organization")
        raise Forbidden(f"role {tenant.role} may not {action.value.replace('.', ' ')}")
