"""The error envelope: {"error": {"code", "message", "request_id"}} for every failure, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import ServiceError

log = logging.getLogger("leadvane.api")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def request_id_of(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "request_id": request_id_of(request)}},
        status_code=status,
        headers=headers,
    )


def describe_validation_errors(errors: list[dict[str, Any]]) -> tuple[int, str, str]:
    """Status, code and a message naming each bad field, e.g. 'body.event_type: Field required'."""
    parts = []
    status, code = 422, "validation_error"
    for err in errors[:10]:
        loc = [str(p) for p in err.get("loc", ())]
        if err.get("type") == "json_invalid":
            return 400, "invalid_json", f"request body is not valid JSON: {err.get('msg', '')}".strip()
        if loc and loc[0] in ("body", "query", "path", "header"):
            where = loc[0]
            rest = ".".join(loc[1:])
            name = f"{rest}" if where == "body" and rest else (f"{where} parameter {rest}" if rest else where)
        else:
            name = ".".join(loc) or "request"
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{name}: {msg}")
    return status, code, "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = describe_validation_errors(list(exc.errors()))
        return error_response(request, status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(request, exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in %s %s (request %s)", request.method, request.url.path, request_id_of(request))
        return error_response(
            request, 500, "internal_error", "internal error; the request id identifies it in the logs"
        )
