"""Errors a use case reports to its caller; the API maps each to a status and the error envelope."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ServiceError):
    status = 422
    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class AbmDisabled(Forbidden):
    """Account endpoints while the unit's account-based marketing switch (`abm_enabled`) is off."""

    code = "abm_disabled"

    def __init__(self) -> None:
        super().__init__(
            "account-based marketing is off for this unit: an Owner or Operator turns it on with "
            "PUT /v1/settings/scoring {\"abm_enabled\": true}",
            field="abm_enabled",
        )
