"""Turn service results into the JSON shapes the reference documents describe."""

from __future__ import annotations

from typing import Any

from api.schemas import iso
from services.ingest.contract import Ingested


def signal_from_ingested(item: Ingested) -> dict[str, Any]:
    primary = item.primary
    account = item.account
    lead = item.lead
    return {
        "id": item.event_id,
        "type": item.event_type,
        "account": None
        if account is None
        else {
            "id": account["id"],
            "domain": account["domain"],
            "name": account["name"],
            "score": primary.account_after if primary and primary.account_after is not None else 0,
        },
        "contact": None
        if lead is None
        else {
            "id": lead["id"],
            "email": lead["email"],
            "first_name": lead["first_name"],
            "last_name": lead["last_name"],
            "score": primary.lead_after if primary and primary.lead_after is not None else 0,
        },
        "score": primary.delta if primary else 0,
        "source": item.source,
        "properties": item.properties,
        "occurred_at": iso(item.occurred_at),
        "created_at": iso(item.received_at),
    }


def event_from_ingested(item: Ingested) -> dict[str, Any]:
    primary = item.primary
    return {
        "id": item.event_id,
        "lead_id": item.lead_id,
        "account_id": item.account_id,
        "event_type": item.event_type,
        "channel": item.channel,
        "timestamp": iso(item.occurred_at),
        "received_at": iso(item.received_at),
        "metadata": item.properties,
        "score_delta": primary.delta if primary else 0,
        "lead_created": item.lead_created,
    }


def lead_scores_from_ingested(item: Ingested) -> dict[str, Any]:
    primary = item.primary
    return {
        "lead_id": item.lead_id,
        "score": primary.lead_after if primary and primary.lead_after is not None else 0,
        "scores": item.lead_scores(),
        "primary_ruleset_id": item.primary_ruleset_id,
    }


def error_body(err: Exception, request_id: str) -> dict[str, Any]:
    code = getattr(err, "code", "error")
    message = getattr(err, "message", str(err))
    return {"code": code, "message": message, "request_id": request_id}
