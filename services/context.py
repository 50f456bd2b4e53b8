"""Who is asking: the tenant every service call is scoped to (the scoring model lives in services.scoring.model)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tenant:
    """Who is asking: the unit every read and write is scoped to, and the caller's role
    there (services.tenancy.policy)."""

    org_id: str
    unit_id: str
    role: str = "Owner"
    actor: str | None = None  # the user's email or the API key's name, for audit fields
    credential_id: str | None = None  # the API key's id when a key authenticated (rate limits keyed by credential)
    member_id: str | None = None  # the organization member (users.id) when a person is asking
    org_role: str | None = None  # that person's organization role; None for keys and credentials
