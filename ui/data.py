"""What the pages read and write, through the services.

Reads are st.cache_data with a short TTL and the tenant among the arguments, so two units never share an
entry and a rerun costs nothing. Writes go through `save`, which checks the role, runs one transaction,
shows a refused change as an error next to the editor and clears the caches so every screen agrees.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import streamlit as st
from sqlalchemy.orm import Session

from services.context import Tenant
from services.errors import ServiceError
from services.ingest import imports
from services.insight import analytics
from services.people import accounts, erasure, leads, lookups, merge, owner_scores
from services.people.lead_insights import describe, recent_drivers
from services.scoring import levels, rules, scoring_settings, versions
from services.scoring import simulate as what_if
from services.scoring.level_changes import LevelChanges, compare, lead_levels
from services.tenancy import api_keys, policy
from services.tenancy.policy import Action
from services.tenancy.users import EDITOR_ROLES
from services.triggers import triggers
from ui.auth import SignedIn, require_editor
from ui.runtime import get_db, now

T = TypeVar("T")
TTL = 30


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


# --- leads ---------------------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def lead_page(
    tenant: Tenant,
    *,
    level: str | None = None,
    fit_level: str | None = None,
    min_score: int | None = None,
    max_score: int | None = None,
    last_active_after: datetime | None = None,
    event_type: str | None = None,
    q: str | None = None,
    account_id: str | None = None,
    segment_id: str | None = None,
    sort: str = "score",
    descending: bool = True,
    page: int = 1,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    with get_db().read() as session:
        result = leads.list_leads(
            session, tenant, level=level, fit_level=fit_level, min_score=min_score, max_score=max_score,
            last_active_after=last_active_after, event_type=event_type, q=q, account_id=account_id,
            segment_id=segment_id, now=now(),
            sort=sort,  # type: ignore[arg-type]
            descending=descending, page=page, limit=limit,
        )
    return result.rows, result.total


@st.cache_data(ttl=TTL, show_spinner=False)
def lead_trends(tenant: Tenant, lead_ids: tuple[str, ...], days: int = 14) -> dict[str, list[int]]:
    end = now()
    first_day = (end - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with get_db().read() as session:  # `days` calendar days, today included
        return analytics.daily_gains(session, tenant, lead_ids, start=first_day, end=end)


@st.cache_data(ttl=TTL, show_spinner=False)
def lead_hints(tenant: Tenant, lead_ids: tuple[str, ...], days: int = 7) -> dict[str, str]:
    """'Why hot' per lead: the change over the last `days` days and what drove it."""
    with get_db().read() as session:
        found = recent_drivers(session, tenant, lead_ids, now=now(), days=days)
    return {lead_id: describe(found.get(lead_id), days) for lead_id in lead_ids}


@st.cache_data(ttl=TTL, show_spinner=False)
def lead_score_at(tenant: Tenant, lead_id: str, at: datetime | None, version: int | None) -> dict[str, Any]:
    """The lead's score from its events up to `at` (all when None), under published `version` (None: the live
    model): GET /v1/leads/{id}/score?at=&version= for the dashboard."""
    with get_db().read() as session:
        return leads.lead_score(session, tenant, lead_id, at=at, version=version)


@st.cache_data(ttl=TTL, show_spinner=False)
def lead_detail(tenant: Tenant, lead_id: str) -> dict[str, Any]:
    with get_db().read() as session:
        detail = leads.get_lead(session, tenant, lead_id)
        detail["events"] = leads.lead_events(session, tenant, lead_id, limit=200)
        detail["history"] = leads.lead_score_history(session, tenant, lead_id)
        detail["contributions"] = leads.lead_top_contributions(session, tenant, lead_id, limit=12)
        # The waterfall names a rule by its condition ("page = /pricing"), not by its id.
        detail["rule_conditions"] = {r.id: r.conditions for r in rules.list_rules(session, tenant)}
    return detail


@st.cache_data(ttl=TTL, show_spinner=False)
def lead_search(tenant: Tenant, q: str) -> list[dict[str, Any]]:
    """Up to 10 leads whose id starts with `q` or one of whose aliases contains it (GET /v1/leads/search)."""
    if len(q.strip()) < lookups.SEARCH_MIN_CHARS:
        return []
    with get_db().read() as session:
        return lookups.search_leads(session, tenant, q)


MERGE_ROLES: frozenset[str] = policy.roles_with(Action.MERGE_LEADS)
ERASE_ROLES: frozenset[str] = policy.roles_with(Action.ERASE_LEADS)


def merge_leads(user: SignedIn, target_id: str, source_ids: list[str], *, where: Any = None) -> Saved[Any]:
    """Merge `source_ids` into `target_id` (POST /v1/leads/merge) as `user`."""
    return save(
        user,
        lambda session, tenant, at: merge.merge_leads(session, tenant, target_id=target_id, source_ids=source_ids,
                                                      now=at),
        where=where, roles=MERGE_ROLES,
    )


def erase_lead(user: SignedIn, lead_id: str, *, where: Any = None) -> Saved[Any]:
    """Erase a person (DELETE /v1/leads/{id}): the request is recorded, then carried out in its own transaction
    (left pending for the scheduler's job if that fails)."""
    asked = save(user, lambda session, tenant, at: erasure.request_erasure(session, tenant, lead_id, at),
                 where=where, roles=ERASE_ROLES)
    if not asked:
        return asked
    return save(user, lambda session, tenant, at: erasure.erase_lead(session, tenant, lead_id, at),
                where=where, roles=ERASE_ROLES)


# --- accounts ------------------------------------------------------------------------------------------------------


ABM_OFF_MESSAGE = (
    "Account scoring is off for this unit. An Owner or Operator turns it on under Settings → Scoring "
    "(\"Account-based marketing\") or with `PUT /v1/settings/scoring {\"abm_enabled\": true}`."
)


@st.cache_data(ttl=TTL, show_spinner=False)
def abm_enabled(tenant: Tenant) -> bool:
    """Is account scoring (ABM) on for the unit? The account pages show ABM_OFF_MESSAGE while it is off."""
    with get_db().read() as session:
        return owner_scores.abm_enabled(session, tenant)


@st.cache_data(ttl=TTL, show_spinner=False)
def account_page(
    tenant: Tenant, *, q: str | None = None, min_score: int | None = None, sort: str = "score", page: int = 1,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    with get_db().read() as session:
        result = accounts.list_accounts(
            session, tenant, q=q, min_score=min_score, sort=sort, page=page, limit=limit, now=now(),  # type: ignore[arg-type]
        )
    return result.rows, result.total


@st.cache_data(ttl=TTL, show_spinner=False)
def account_detail(tenant: Tenant, account_id: str) -> dict[str, Any]:
    with get_db().read() as session:
        return accounts.get_account(session, tenant, account_id, events_limit=50)


# --- rules and levels ----------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def rulesets(tenant: Tenant) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return [_plain(r) for r in rules.list_rulesets(session, tenant)]


@st.cache_data(ttl=TTL, show_spinner=False)
def ruleset_rules(tenant: Tenant, ruleset_id: str) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return [_plain(r) for r in rules.list_rules(session, tenant, ruleset_id)]


@st.cache_data(ttl=TTL, show_spinner=False)
def observed_event_types(tenant: Tenant) -> list[str]:
    with get_db().read() as session:
        return rules.observed_event_types(session, tenant)


@st.cache_data(ttl=TTL, show_spinner=False)
def engagement_levels(tenant: Tenant) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return levels.list_levels(session, tenant)


# --- scoring versions ----------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def scoring_versions(tenant: Tenant) -> list[dict[str, Any]]:
    """Every published version of the scoring configuration, newest first (`live`: the one scores are from)."""
    with get_db().read() as session:
        return [meta.as_dict() for meta in versions.list_versions(session, tenant)]


@st.cache_data(ttl=TTL, show_spinner=False)
def scoring_version_diff(tenant: Tenant, version: int) -> dict[str, Any]:
    """What `version` changed from the version before it (services.scoring.versions.diff_versions)."""
    with get_db().read() as session:
        return versions.diff_versions(session, tenant, version)


@st.cache_data(ttl=TTL, show_spinner=False)
def milestone_trigger_names(tenant: Tenant) -> dict[str, str]:
    """Milestone triggers by id: name (for the what-if preview's would-be firings)."""
    with get_db().read() as session:
        return {t.id: t.name for t in triggers.list_triggers(session, tenant, "milestone")}


def simulate_draft(user: SignedIn, changes: dict[str, Any], days: int | None) -> dict[str, Any]:
    """What publishing `changes` would do to the last `days` days (None: all history); nothing is stored.
    Not cached: the answer depends on the draft. Raises the service's refusal (InvalidInput naming the field)."""
    require_editor(user)
    with get_db().read() as session:
        return what_if.simulate(session, user.tenant, changes, days, now()).as_dict()


# --- analytics -----------------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def score_distribution(tenant: Tenant, bins: int = 30) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return analytics.score_distribution(session, tenant, bins=bins)


@st.cache_data(ttl=TTL, show_spinner=False)
def score_histogram(tenant: Tenant, upper: int, bins: int = 40) -> dict[str, Any]:
    with get_db().read() as session:
        return analytics.score_histogram(session, tenant, upper=upper, bins=bins)


@st.cache_data(ttl=TTL, show_spinner=False)
def analytics_overview(tenant: Tenant, start: datetime, end: datetime) -> dict[str, Any]:
    """Events per day, type and channel over the period, from the daily counters."""
    with get_db().read() as session:
        return analytics.overview(session, tenant, start=start, end=end)


@st.cache_data(ttl=TTL, show_spinner=False)
def analytics_stats(tenant: Tenant) -> dict[str, Any]:
    """The last 24 hours (events, active leads, points) and the top event types of the last 30 days."""
    with get_db().read() as session:
        return analytics.stats(session, tenant, now=now())


@st.cache_data(ttl=TTL, show_spinner=False)
def top_leads(tenant: Tenant, limit: int = 10) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return analytics.top_leads(session, tenant, limit=limit)


@st.cache_data(ttl=TTL, show_spinner=False)
def recent_gains(tenant: Tenant, days: int = 7, limit: int = 10) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return analytics.recent_gains(session, tenant, now=now(), days=days, limit=limit)


# --- settings ------------------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False)
def api_key_list(tenant: Tenant) -> list[dict[str, Any]]:
    with get_db().read() as session:
        return [
            {
                "id": k.id, "name": k.name, "prefix": k.display_prefix + "…", "created_at": k.created_at,
                "last_used_at": k.last_used_at, "revoked_at": k.revoked_at, "role": k.role,
            }
            for k in api_keys.list_api_keys(session, tenant)
        ]


@st.cache_data(ttl=TTL, show_spinner=False)
def credential_list(tenant: Tenant) -> list[dict[str, Any]]:
    """The unit's live credentials (client id, role, last use); never a secret."""
    with get_db().read() as session:
        return [
            {
                "id": c.id, "name": c.name, "client_id": c.client_id, "role": c.role, "created_at": c.created_at,
                "last_used_at": c.last_used_at,
            }
            for c in api_keys.list_credentials(session, tenant)
        ]


@st.cache_data(ttl=TTL, show_spinner=False)
def scoring_settings_of(tenant: Tenant) -> dict[str, Any]:
    with get_db().read() as session:
        return _plain(scoring_settings.get_settings(session, tenant))


# --- writes --------------------------------------------------------------------------------------------------------


def invalidate() -> None:
    st.cache_data.clear()


@dataclass(frozen=True, slots=True)
class Saved(Generic[T]):
    """The outcome of one change: truthy when it was committed."""

    ok: bool
    value: T | None = None

    def __bool__(self) -> bool:
        return self.ok


def save(
    user: SignedIn,
    work: Callable[[Session, Tenant, datetime], T],
    *,
    where: Any = None,
    describe: Callable[[str], str] = str,
    roles: frozenset[str] = EDITOR_ROLES,
) -> Saved[T]:
    """Run one change as `user` in its own transaction; a refusal is shown (in `where`) and nothing changes."""
    target = where if where is not None else st
    try:
        require_editor(user, roles)
        with get_db().write() as session:
            result = work(session, user.tenant, now())
    except ServiceError as exc:
        target.error(describe(exc.message))
        return Saved(False)
    invalidate()
    return Saved(True, result)


OWNER_ONLY: frozenset[str] = frozenset({"Owner"})


def counting_level_changes(
    work: Callable[[Session, Tenant, datetime], T],
) -> Callable[[Session, Tenant, datetime], tuple[T, LevelChanges]]:
    """`work` plus how many leads it moved between levels (levels read before and after, same transaction)."""

    def run(session: Session, tenant: Tenant, at: datetime) -> tuple[T, LevelChanges]:
        before = lead_levels(session, tenant)
        result = work(session, tenant, at)
        return result, compare(before, lead_levels(session, tenant))

    return run


def start_import(user: SignedIn, filename: str, content: bytes, *, allow_duplicate: bool = False) -> str:
    """Scan the CSV, record its import job and hand it to an import process; returns the job id.

    Raises the service's refusal (a bad file, the same file imported before: Conflict, a Viewer: Forbidden).
    The import survives reruns of the page: progress and outcome are read from the job (import_job).
    """
    tenant = user.tenant  # carries the user's role and email
    workers = imports.import_processes()
    path = imports.spool(io.BytesIO(content))
    db = get_db()
    try:
        csv_file = imports.scanned(workers.scan(path).result())
        with db.write() as session:
            job = imports.start_import(
                session, tenant, filename=filename, csv_file=csv_file, now=now(), allow_duplicate=allow_duplicate
            )
    except BaseException:
        imports.discard(path)
        raise
    url = db.engine.url.render_as_string(hide_password=False)
    workers.submit(db.write, url, tenant, job.id, path)
    return job.id


def import_job(tenant: Tenant, job_id: str) -> imports.ImportJobView:
    """The job as it is now (not cached: the page polls it for progress)."""
    with get_db().read() as session:
        return imports.get_import(session, tenant, job_id)


def export_events_csv(tenant: Tenant) -> str:
    with get_db().read() as session:
        return "".join(imports.csv_lines(imports.export_rows(session, tenant)))
