"""One error type and one JSON error shape for the whole product.

Owns ``ErrorCode`` (stable code + HTTP status), ``KbError`` raised by services, the JSON shape
``{"error": {"code", "message", "details"}}``. The FastAPI handlers that produce it live in
``kb.http``; this module imports nothing from kb and nothing from FastAPI, so services can use it.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel


class ErrorCode(Enum):
    """Stable error codes with their HTTP status. Every code is documented in docs/errors.md."""

    BAD_REQUEST = ("bad_request", 400)
    NOT_AUTHENTICATED = ("not_authenticated", 401)
    INVALID_CREDENTIALS = ("invalid_credentials", 401)
    FORBIDDEN = ("forbidden", 403)
    NOT_FOUND = ("not_found", 404)
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405)
    CONFLICT = ("conflict", 409)
    ALREADY_EXISTS = ("already_exists", 409)
    ILLEGAL_TRANSITION = ("illegal_transition", 409)
    FOUR_EYES = ("four_eyes_violation", 409)
    DISPLAY_NAME_CONFUSABLE = ("display_name_confusable", 409)
    PAYLOAD_TOO_LARGE = ("payload_too_large", 413)
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", 415)
    VALIDATION_ERROR = ("validation_error", 422)
    INVALID_FILE = ("invalid_file", 422)
    RATE_LIMITED = ("rate_limited", 429)
    INTERNAL_ERROR = ("internal_error", 500)
    SERVICE_UNAVAILABLE = ("service_unavailable", 503)

    def __init__(self, code: str, status: int) -> None:
        self.code = code
        self.status = status


class KbError(Exception):
    """The only exception services raise for a user-facing failure."""

    def __init__(self, code: ErrorCode, message: str, details: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """The JSON body of every 4xx and 5xx response."""

    error: ErrorBody


def error_payload(code: ErrorCode, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code.code, "message": message, "details": details}}


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


# Declared on every API route so the OpenAPI spec names each status the app can answer with.
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("Malformed request (for example a body that is not valid JSON)"),
    401: _described("Not authenticated"),
    403: _described("Not allowed for this user"),
    404: _described("Not found"),
    409: _described("Conflicts with the current state"),
    413: _described("Request body too large"),
    422: _described("Validation error"),
    429: _described("Rate limited"),
    500: _described("Internal error"),
}

STATUS_TO_CODE = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


def jsonable_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned = []
    for error in errors:
        item = {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": error.get("type", "")}
        cleaned.append(item)
    return cleaned
