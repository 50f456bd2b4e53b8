"""The error envelope as a model, and the error statuses every route documents in OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    message: str
    request_id: str


class ErrorEnvelope(BaseModel):
    """Every failure: {"error": {"code", "message", "request_id"}}; never a stack trace."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorBody


_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "Missing or invalid API key",
    403: "The API key's role does not allow this",
    404: "Not found in this unit",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "A field, parameter or value is invalid; the message names it",
    429: "Too many requests",
}

# Attached once to the whole application (create_api), so every router documents them.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text} for status, text in _DESCRIPTIONS.items()
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Route-level error statuses (beyond the app-wide ones) with the one envelope model."""
    return {status: {"model": ErrorEnvelope, "description": _DESCRIPTIONS.get(status, "Error")} for status in statuses}

