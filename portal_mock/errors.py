"""Every error the server sends, in the API's error envelope.

Exception tree (Connexion's own classes marked *)::

    ProblemException*                 -> status of the problem
    ├── BadRequestProblem*            -> 400 validation_error
    │   ├── InvalidInput              -> 400 validation_error, with per-field details
    │   └── MalformedBody             -> 400 malformed_body (not UTF-8, not JSON)
    ├── PayloadTooLarge               -> 413 payload_too_large
    └── TooManySessions               -> 429 too_many_sessions
    starlette HTTPException           -> 404 / 405 from routing
    StoreError (a write the disk refused,
      a database down or unreachable) -> 503 storage_unavailable, nothing acknowledged
    any other Exception               -> 500 internal_error, never a stack trace
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping

from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

logger = logging.getLogger(__name__)

Detail = dict[str, str]

CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_sessions",
    500: "internal_error",
    503: "storage_unavailable",
}
MESSAGES = {
    400: "The request does not match the API schema.",
    401: "A valid API key is required in the X-API-Key header.",
    403: "This API key may not act on that company namespace.",
    404: "Nothing is found at this address.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    415: "The request body must be application/json.",
    429: "Too many mock sessions are live; end one (DELETE /__mock/session) or restart the mock.",
    500: "The server failed to handle the request.",
    503: "The store cannot be used now (its disk is full or read-only, or its database is "
    "down); nothing was changed, and the request may be retried.",
}


class InvalidInput(BadRequestProblem):
    """A parameter or the body breaks the schema; ``details`` says where."""

    def __init__(self, message: str, details: Iterable[Detail]) -> None:
        super().__init__(detail=message)
        self.details = list(details)


class MalformedBody(BadRequestProblem):
    """The body cannot be read as JSON text, or is JSON that not every parser reads alike."""

    def __init__(self, detail: str, details: Iterable[Detail] | None = None) -> None:
        super().__init__(detail=detail)
        if details is not None:
            self.details = list(details)


class PayloadTooLarge(ProblemException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            status=413,
            title="Payload Too Large",
            detail=f"The request body is larger than {limit} bytes.",
        )


class TooManySessions(ProblemException):
    """A new X-Mock-Session would pass the configured number of live sessions."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status=429,
            title="Too Many Sessions",
            detail=f"{limit} mock sessions are live, the most this server keeps "
            "(--max-sessions); end one with DELETE /__mock/session or restart the mock.",
        )


# Error text never echoes a large input back: each message and field is cut here.
MAX_TEXT = 300
MAX_DETAILS = 50


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else f"{text[:MAX_TEXT]}... (cut at {MAX_TEXT} characters)"


def error_body(code: str, message: str, details: Iterable[Detail] = ()) -> dict[str, object]:
    listed = [
        {"field": _cut(d["field"]), "message": _cut(d["message"])}
        for d, _ in zip(details, range(MAX_DETAILS), strict=False)
    ]
    return {
        "success": False,
        "error": {"code": code, "message": _cut(message), "details": listed},
    }


def error_response(
    status: int,
    message: str,
    details: Iterable[Detail] = (),
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
) -> ConnexionResponse:
    """An error envelope as JSON; a status the spec does not document becomes a 500."""
    if status not in CODES:
        status, message, code = 500, MESSAGES[500], None
    return ConnexionResponse(
        status_code=status,
        mimetype="application/json",
        content_type="application/json",
        body=json.dumps(error_body(code or CODES[status], message, details)).encode(),
        headers=dict(headers or {}),
    )


def problem_handler(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ProblemException)
    status = exc.status
    if status >= 500:
        logger.error("%s: %s", exc.title, exc.detail)
        return error_response(500, MESSAGES[500])
    message = str(exc.detail or MESSAGES.get(status, exc.title))
    details = getattr(exc, "details", None)
    if status == 401:
        details = [{"field": "X-API-Key", "message": message}]
        message = MESSAGES[401]
    elif details is None:
        details = [{"field": "", "message": message}] if status == 400 else []
    code = "malformed_body" if isinstance(exc, MalformedBody) else None
    return error_response(status, message, details, exc.headers, code)


def http_exception_handler(
    allowed_methods: Callable[[str], list[str]],
) -> Callable[[ConnexionRequest, Exception], ConnexionResponse]:
    """Routing's 404 and 405 in the envelope; a 405's ``Allow`` lists the path's real methods.

    Starlette fills ``Allow`` from the first route that matched the path, which
    names one method of the path, not all of them.
    """

    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        message = MESSAGES.get(exc.status_code, "")
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.url.path))
            message = f"{request.method} is not allowed here; use {headers['Allow']}."
        return error_response(exc.status_code, message, headers=headers)

    return handle


def storage_error_handler(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    logger.error("store unavailable: %s", exc)
    return error_response(503, MESSAGES[503], [{"field": "", "message": str(exc)}])


def unexpected_error_handler(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    logger.error("unhandled error", exc_info=exc)
    return error_response(500, MESSAGES[500])
