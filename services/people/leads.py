"""Reading leads: filtered, sorted pages with scores and levels, one lead in detail, its events and score story.

Shared by the API and the dashboard. A lead's `score` is its score in the unit's primary ruleset (0 when it
has no score row yet); `scores` holds every ruleset's score by ruleset id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from core import levels as core_levels
from core import scoring
from core.model import ScoringModel
from core.scoring import DECAY_EVENT_TYPE
from db import models
from services.context import Tenant
from services.errors import InvalidInput, NotFound
from services.insight.event_log import list_events, page_offset
from services.people.aliases import lead_aliases
from services.people.owner_scores import abm_enabled, account_scores, fit_view
from services.scoring import levels as level_service
from services.scoring import versions
from services.scoring.fit import fit_of
from services.scoring.model import live_model, published_model
from services.targeting import segments as targeting

LeadSort = Literal["score", "last_activity", "created"]
LEAD_SORTS: tuple[str, ...] = ("score", "last_activity", "created")
CreatedRange = Literal["all", "today", "yesterday", "last_24h", "last_7d", "last_30d", "last_90d"]
CREATED_RANGES: tuple[str, ...] = ("all", "today", "yesterday", "last_24h", "last_7d", "last_30d", "last_90d")
LastActive = Literal["any", "7d", "30d"]


def named_range(name: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """[start, end) of a named created_at range in UTC days; (None, None) for "all"."""
    if name not in CREATED_RANGES:
        raise InvalidInput("range", f"expected one of {', '.join(CREATED_RANGES)}")
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    windows: dict[str, tuple[datetime | None, datetime | None]] = {
        "all": (None, None),
        "today": (midnight, None),
        "yesterday": (midnight - timedelta(days=1), midnight),
        "last_24h": (now - timedelta(hours=24), None),
        "last_7d": (now - timedelta(days=7), None),
        "last_30d": (now - timedelta(days=30), None),
        "last_90d": (now - timedelta(days=90), None),
    }
    return windows[name]


@dataclass(frozen=True, slots=True)
class LeadPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    limit: int


def fit_reasons(model: ScoringModel, kind: str, profile: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The primary fit ruleset's rules the profile matches (the fit's reasons), in the rules' order.

    Each: {rule_id, ruleset_id, profile_property (account_property for accounts), condition, comparison_value,
    weight}."""
    key = "profile_property" if kind == "profile" else "account_property"
    return [
        {
            "rule_id": rule.id, "ruleset_id": rule.ruleset_id, key: rule.property, "condition": rule.condition,
            "comparison_value": rule.comparison_value, "weight": rule.weight,
        }
        for rule in model.fit_book(kind).matched(profile or {})
    ]


def fit_band(model: ScoringModel, kind: str, name: str, field: str) -> core_levels.Level:
    """The fit level called `name` (case-insensitive); InvalidInput naming `field` when there is none."""
    bands = model.fit_levels_for(kind)
    band = next((lv for lv in bands if lv.name.strip().casefold() == name.strip().casefold()), None)
    if band is None:
        known = ", ".join(lv.name for lv in bands) or "none defined"
        raise InvalidInput(field, f"no {kind} fit level named {name!r} (levels: {known})")
    return band


def like_pattern(text: str) -> str:
    """A case-insensitive LIKE pattern for free text, with the wildcards in it escaped."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def primary_score_column(primary_ruleset_id: str | None) -> tuple[Any, Any]:
    """(joined LeadScore alias condition, score expression) for the primary ruleset; score 0 without a row."""
    condition = and_(
        models.LeadScore.lead_id == models.Lead.id,
        models.LeadScore.ruleset_id == (primary_ruleset_id or ""),
    )
    return condition, func.coalesce(models.LeadScore.score, literal(0))


def scores_by_lead(session: Session, tenant: Tenant, lead_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Every ruleset's score for the given leads, in one query."""
    out: dict[str, dict[str, int]] = {lid: {} for lid in lead_ids}
    if not lead_ids:
        return out
    rows = session.execute(
        select(models.LeadScore.lead_id, models.LeadScore.ruleset_id, models.LeadScore.score).where(
            models.LeadScore.unit_id == tenant.unit_id, models.LeadScore.lead_id.in_(list(lead_ids))
        )
    )
    for lead_id, rs, score in rows:
        out.setdefault(lead_id, {})[rs] = score
    return out


def list_leads(
    session: Session,
    tenant: Tenant,
    *,
    min_score: int | None = None,
    max_score: int | None = None,
    level: str | None = None,
    fit_level: str | None = None,
    last_active_after: datetime | None = None,
    event_type: str | None = None,
    q: str | None = None,
    account_id: str | None = None,
    last_event_type: str | None = None,
    created_range: CreatedRange = "all",
    last_active: LastActive = "any",
    segment_id: str | None = None,
    members: Any = None,
    now: datetime | None = None,
    sort: LeadSort = "score",
    descending: bool = True,
    page: int = 1,
    limit: int = 50,
) -> LeadPage:
    """One page of leads matching every given filter, plus how many match in total.

    `event_type`: leads that had such an event; `last_event_type`: leads whose latest engagement event (decay
    adjustments aside) has that type. `created_range` and `last_active` are relative to `now`. `fit_level`: leads
    whose stored fit score lies in that profile fit level's band (of the published model). `segment_id`: members
    of that segment (services.targeting.segments, as of `now`); `members`: a select of lead ids already computed.
    """
    if sort not in LEAD_SORTS:
        raise InvalidInput("sort", f"expected one of {', '.join(LEAD_SORTS)}")
    if page < 1:
        raise InvalidInput("page", "must be at least 1")
    if not 1 <= limit <= 500:
        raise InvalidInput("limit", "must be between 1 and 500")
    ctx = live_model(session, tenant)
    fit_model = published_model(session, tenant)
    levels = level_service.load_levels(session, tenant)
    lead = models.Lead
    join_on, score = primary_score_column(ctx.primary_ruleset_id)

    conditions: list[Any] = [lead.unit_id == tenant.unit_id, lead.merged_into.is_(None)]
    if min_score is not None:
        conditions.append(score >= min_score)
    if max_score is not None:
        conditions.append(score <= max_score)
    if level is not None:
        band = next((lv for lv in levels if lv.name.strip().casefold() == level.strip().casefold()), None)
        if band is None:
            known = ", ".join(lv.name for lv in levels) or "none defined"
            raise InvalidInput("level", f"no engagement level named {level!r} (levels: {known})")
        conditions.extend([score >= band.min_score, score <= band.max_score])
    if fit_level is not None:
        fit_band_ = fit_band(fit_model, "profile", fit_level, "fit_level")
        conditions.extend([lead.fit_score >= fit_band_.min_score, lead.fit_score <= fit_band_.max_score])
    if last_active_after is not None:
        conditions.append(lead.last_activity_at >= last_active_after)
    if event_type is not None:
        # IN over the (unit_id, event_type) index: one pass over that type's events, not a probe per lead.
        conditions.append(
            lead.id.in_(
                select(models.Event.lead_id).where(
                    models.Event.unit_id == tenant.unit_id, models.Event.event_type == event_type
                )
            )
        )
    if last_event_type is not None:
        conditions.append(lead.id.in_(_leads_whose_last_event_is(tenant, last_event_type)))
    if created_range != "all" or last_active != "any":
        if now is None:
            raise ValueError("now is required for created_range and last_active")
        start, end = named_range(created_range, now)
        if start is not None:
            conditions.append(lead.created_at >= start)
        if end is not None:
            conditions.append(lead.created_at < end)
        if last_active != "any":
            days = {"7d": 7, "30d": 30}.get(last_active)
            if days is None:
                raise InvalidInput("last_active", "expected one of any, 7d, 30d")
            conditions.append(lead.last_activity_at >= now - timedelta(days=days))
    if account_id is not None:
        conditions.append(lead.account_id == account_id)
    if segment_id is not None and members is None:
        if now is None:
            raise ValueError("now is required for segment_id")
        try:
            members = targeting.member_ids_select(session, tenant, segment_id, now)
        except NotFound:
            raise InvalidInput("segment_id", f"no segment {segment_id!r} in this unit") from None
    if members is not None:
        conditions.append(lead.id.in_(members))
    if q is not None and q.strip():
        pattern = like_pattern(q)
        conditions.append(
            or_(
                func.lower(lead.email).like(pattern, escape="\\"),
                func.lower(lead.first_name).like(pattern, escape="\\"),
                func.lower(lead.last_name).like(pattern, escape="\\"),
                func.lower(lead.id).like(pattern, escape="\\"),
                func.lower(models.Account.domain).like(pattern, escape="\\"),
                func.lower(models.Account.name).like(pattern, escape="\\"),
            )
        )

    base = (
        select(lead.id)
        .select_from(lead)
        .outerjoin(models.LeadScore, join_on)
        .outerjoin(models.Account, models.Account.id == lead.account_id)
        .where(*conditions)
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    offset = page_offset(page, limit)
    if offset is None:
        return LeadPage([], int(total), page, limit)

    key = {"score": score, "last_activity": lead.last_activity_at, "created": lead.created_at}[sort]
    order = [key.desc().nulls_last(), lead.id.desc()] if descending else [key.asc().nulls_last(), lead.id.asc()]
    stmt = (
        select(
            lead.id, lead.email, lead.first_name, lead.last_name, lead.last_activity_at, lead.created_at,
            models.Account.id.label("account_id"), models.Account.name.label("account_name"),
            models.Account.domain.label("account_domain"), score.label("score"), lead.fit_score, lead.fit_scores,
        )
        .select_from(lead)
        .outerjoin(models.LeadScore, join_on)
        .outerjoin(models.Account, models.Account.id == lead.account_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(stmt).all()
    all_scores = scores_by_lead(session, tenant, [r.id for r in rows])
    data = [
        {
            "id": r.id,
            "email": r.email,
            "first_name": r.first_name,
            "last_name": r.last_name,
            "account": None
            if r.account_id is None
            else {"id": r.account_id, "name": r.account_name, "domain": r.account_domain},
            "score": int(r.score),
            "scores": all_scores.get(r.id, {}),
            "level": level_service.level_for_score(int(r.score), levels),
            **fit_view(fit_model, "profile", r.fit_score, r.fit_scores),
            "last_activity_at": r.last_activity_at,
            "created_at": r.created_at,
        }
        for r in rows
    ]
    return LeadPage(data, int(total), page, limit)


def _leads_whose_last_event_is(tenant: Tenant, event_type: str) -> Any:
    """Lead ids whose latest event (by occurred_at, then ingestion order) has this type; DECAY rows are
    score adjustments, not engagement, so they never count as the latest event."""
    ev = models.Event
    later = aliased(models.Event)
    newer_exists = (
        select(later.seq)
        .where(
            later.unit_id == tenant.unit_id,
            later.lead_id == ev.lead_id,
            later.event_type != DECAY_EVENT_TYPE,
            or_(later.occurred_at > ev.occurred_at, and_(later.occurred_at == ev.occurred_at, later.seq > ev.seq)),
        )
        .exists()
    )
    return select(ev.lead_id).where(
        ev.unit_id == tenant.unit_id, ev.event_type == event_type, ev.lead_id.is_not(None), ~newer_exists
    )


def require_lead(session: Session, tenant: Tenant, lead_id: str) -> models.Lead:
    """The unit's lead `lead_id`; a merged lead answers with the lead it was merged into (chains followed), so
    every read of a merged id shows the surviving lead (services.people.merge)."""
    row = session.get(models.Lead, lead_id)
    if row is None or row.unit_id != tenant.unit_id:
        raise NotFound(f"lead {lead_id!r} does not exist in this unit", field="id")
    seen = {row.id}
    while row.merged_into is not None and row.merged_into not in seen:
        target = session.get(models.Lead, row.merged_into)
        if target is None or target.unit_id != tenant.unit_id:
            break  # the target is gone (erased): the merged row is the last trace
        seen.add(target.id)
        row = target
    return row


def _score_summary(
    session: Session, tenant: Tenant, lead_id: str, levels: Sequence[core_levels.Level] | None = None
) -> dict[str, Any]:
    ctx = live_model(session, tenant)
    scores = scores_by_lead(session, tenant, [lead_id])[lead_id]
    primary = scores.get(ctx.primary_ruleset_id, 0) if ctx.primary_ruleset_id else 0
    bands = level_service.load_levels(session, tenant) if levels is None else levels
    return {"score": primary, "scores": scores, "level": level_service.level_for_score(primary, bands)}


def get_lead(session: Session, tenant: Tenant, lead_id: str) -> dict[str, Any]:
    """{lead: {..., aliases, metadata, score, scores, level, fit_score, fit_scores, fit_level, fit_reasons},
    account: {...} or {}}."""
    row = require_lead(session, tenant, lead_id)
    lead_id = row.id  # a merged id reads as the lead it was merged into
    fit_model = published_model(session, tenant)
    lead = {
        "id": row.id,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "account_id": row.account_id,
        **_score_summary(session, tenant, lead_id),
        **fit_view(fit_model, "profile", row.fit_score, row.fit_scores),
        "fit_reasons": fit_reasons(fit_model, "profile", row.metadata_),
        "aliases": [
            {"alias_kind": a.kind, "value": a.value, "raw_value": a.raw_value, "is_primary": bool(a.is_primary)}
            for a in lead_aliases(session, tenant, lead_id)
        ],
        "metadata": row.metadata_ or {},
        "last_activity_at": row.last_activity_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "merged_into": row.merged_into,
    }
    return {"lead": lead, "account": account_summary(session, tenant, row.account_id) or {}}


def account_summary(session: Session, tenant: Tenant, account_id: str | None) -> dict[str, Any] | None:
    """A lead's account as lead reads show it (id, name, domain, metadata, last activity, created, and its
    engagement `score` and `level` and `fit_score` and `fit_level` as GET /v1/accounts/{id} has them: all four
    null while the unit's ABM switch is off), or None."""
    account = session.get(models.Account, account_id) if account_id else None
    if account is None or account.unit_id != tenant.unit_id:
        return None
    scored = account_scores(session, tenant, account) if abm_enabled(session, tenant) else {}
    return {
        "id": account.id, "name": account.name, "domain": account.domain, "metadata": account.metadata_ or {},
        "last_activity_at": account.last_activity_at, "created_at": account.created_at,
        **{key: scored.get(key) for key in ("score", "level", "fit_score", "fit_level")},
    }


def lead_score(
    session: Session,
    tenant: Tenant,
    lead_id: str,
    ruleset_id: str | None = None,
    *,
    at: datetime | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """{lead_id, score, ruleset_id, scores (per ruleset id), level of that score, fit_score, fit_scores, fit_level}.

    With `ruleset_id`, that ruleset's score (0 before the lead scored in it); without, the highest score across
    the unit's rulesets (every ruleset scores; none is switched off), the primary ruleset's on a tie (so a lead with
    no event before `at` reads as the primary ruleset's 0). With `at` and/or `version`, the scores are
    those of `score_as_of` (the lead's events, up to `at` when given, replayed under published scoring version
    `version`, else the live one) instead of the stored ones; with `version`, rulesets and levels are that
    version's too, and so is the fit (that version's fit rules over the lead's profile; without `version`, the
    stored fit of the published model).
    """
    row = require_lead(session, tenant, lead_id)
    lead_id = row.id  # a merged id reads as the lead it was merged into
    model = None if version is None else versions.version_model(session, tenant, version)
    if at is None and model is None:
        scores = scores_by_lead(session, tenant, [lead_id])[lead_id]
    else:
        scores = score_as_of(session, tenant, lead_id, at, model=model)
    if ruleset_id is not None:
        if model is not None:
            if model.ruleset(ruleset_id) is None:
                raise NotFound(f"ruleset {ruleset_id!r} does not exist in scoring version {version}",
                               field="ruleset_id")
        elif session.scalar(
            select(models.Ruleset.id).where(models.Ruleset.unit_id == tenant.unit_id, models.Ruleset.id == ruleset_id)
        ) is None:
            raise NotFound(f"ruleset {ruleset_id!r} does not exist in this unit", field="ruleset_id")
        score, source = scores.get(ruleset_id, 0), ruleset_id
    elif scores:
        primary = (model if model is not None else live_model(session, tenant)).primary_ruleset_id
        source = max(scores, key=lambda rs: (scores[rs], rs == primary, rs))  # a tie: the primary ruleset
        score = scores[source]
    else:
        score, source = 0, None
    levels = (
        level_service.load_levels(session, tenant)
        if model is None
        else [core_levels.Level(lv.id, lv.name, lv.min_score, lv.max_score) for lv in model.levels]
    )
    if model is None:
        fit = fit_view(published_model(session, tenant), "profile", row.fit_score, row.fit_scores)
    else:
        computed = fit_of(model, "profile", row.metadata_)
        fit = fit_view(model, "profile", computed.score, computed.scores)
    return {
        "lead_id": lead_id, "score": score, "ruleset_id": source, "scores": scores,
        "level": level_service.level_for_score(score, levels), **fit,
    }


def score_as_of(
    session: Session, tenant: Tenant, lead_id: str, at: datetime | None, *, model: ScoringModel | None = None
) -> dict[str, int]:
    """The lead's score per ruleset from its events with occurred_at <= `at` (all of them when `at` is None),
    under `model` (a published version from services.scoring.model.model_at; default the CURRENT, live one).

    The events are replayed in the log's seq order (ingestion order, as the stored score was built), each through
    the same Scoreboard as ingest and rescore, so the floor at 0 applies along the sequence and DECAY events drop
    the score as they did. Rules changed after `at` count as they are in `model`: this is "what the lead would have
    had at `at` under today's rules (or version N's)", which equals the stored history when the rules have not
    changed since. When the lead had no event by then: 0 in each of the model's rulesets.
    """
    ctx = model if model is not None else live_model(session, tenant)
    ev = models.Event
    query = select(ev.seq, ev.event_type, ev.occurred_at, ev.metadata_).where(
        ev.unit_id == tenant.unit_id, ev.lead_id == lead_id
    )
    if at is not None:
        query = query.where(ev.occurred_at <= at)
    rows = session.execute(query.order_by(ev.seq))
    logged = [
        scoring.LoggedEvent(seq, lead_id, None, scoring.EventFacts(event_type, occurred_at, properties or {}))
        for seq, event_type, occurred_at, properties in rows
    ]
    if not logged:
        return dict.fromkeys(ctx.book.ruleset_ids, 0)  # what a replay of no event gives each ruleset
    return dict(scoring.replay(ctx.book, ctx.policy, logged).lead_scores.get(lead_id, {}))


def lead_events(
    session: Session, tenant: Tenant, lead_id: str, *, page: int = 1, limit: int = 50
) -> list[dict[str, Any]]:
    """The lead's events newest first, each with its primary score_delta."""
    lead_id = require_lead(session, tenant, lead_id).id  # a merged id reads as the lead it was merged into
    return list_events(session, tenant, page=page, limit=limit, lead_id=lead_id)


def lead_score_history(session: Session, tenant: Tenant, lead_id: str) -> list[tuple[datetime, int]]:
    """(occurred_at, primary score after the event) in the order the events were scored."""
    lead_id = require_lead(session, tenant, lead_id).id  # a merged id reads as the lead it was merged into
    primary = live_model(session, tenant).primary_ruleset_id
    if primary is None:
        return []
    rows = session.execute(
        select(models.Event.occurred_at, models.Event.explanation)
        .where(models.Event.unit_id == tenant.unit_id, models.Event.lead_id == lead_id)
        .order_by(models.Event.seq)
    )
    history: list[tuple[datetime, int]] = []
    for occurred_at, explanation in rows:
        after = (explanation or {}).get(primary, {}).get("after")
        if after is not None:
            history.append((occurred_at, int(after)))
    return history


def lead_top_contributions(session: Session, tenant: Tenant, lead_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The biggest contributors to the lead's primary score, grouped by event type and rule.

    Each item: {event_type, rule_id (None for system adjustments like decay), points, events}. Sorted by
    the size of the contribution (largest absolute points first), for a "why this score" waterfall.
    """
    lead_id = require_lead(session, tenant, lead_id).id  # a merged id reads as the lead it was merged into
    primary = live_model(session, tenant).primary_ruleset_id
    if primary is None:
        return []
    rows = session.execute(
        select(models.Event.event_type, models.Event.explanation).where(
            models.Event.unit_id == tenant.unit_id, models.Event.lead_id == lead_id, models.Event.score_delta != 0
        )
    )
    totals: dict[tuple[str, str | None], list[int]] = {}
    for event_type, explanation in rows:
        info = (explanation or {}).get(primary) or {}
        rules = info.get("rules") or []
        if rules:
            for rule in rules:
                slot = totals.setdefault((rule.get("event_type") or event_type, rule.get("rule_id")), [0, 0])
                slot[0] += int(rule.get("weight") or 0)
                slot[1] += 1
        elif info.get("delta"):
            slot = totals.setdefault((event_type, None), [0, 0])
            slot[0] += int(info["delta"])
            slot[1] += 1
    items: list[dict[str, Any]] = [
        {"event_type": et, "rule_id": rid, "points": points, "events": count}
        for (et, rid), (points, count) in totals.items()
        if points
    ]
    items.sort(key=lambda it: (-abs(it["points"]), it["event_type"], it["rule_id"] or ""))
    return items[:limit]
