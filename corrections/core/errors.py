"""Domain errors and their one mapping to RFC 9457 problem+json.

Services raise the domain errors below; views never build error responses themselves. Every
error the service can answer with, including Werkzeug's 404/405/413 and unexpected crashes, goes
out as ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail`` and
``instance``; validation failures add ``errors`` naming each bad field. ``title``, ``detail``
and the messages in ``errors`` are in the language the request asks for (core/i18n.py: Chinese
unless ``Accept-Language`` prefers English), named by ``Content-Language``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from corrections.core import i18n
from corrections.core.db import is_timeout
from corrections.core.i18n import _

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://corrections.example/problems/"


class DomainError(Exception):
    """Base of the errors that services raise; each maps to one HTTP status."""

    status: int = 400
    code: str = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        # ``detail``: a message (core/i18n.py ``_()``), rendered in the client's language.
        super().__init__(detail or HTTPStatus(self.status).phrase)
        self.detail = detail or HTTPStatus(self.status).phrase
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}


class NotFound(DomainError):
    status, code = 404, "not-found"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any):
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="corrections"'})
        super().__init__(detail, **kwargs)


class Conflict(DomainError):
    status, code = 409, "conflict"


class PreconditionFailed(DomainError):
    status, code = 412, "precondition-failed"


class PreconditionRequired(DomainError):
    status, code = 428, "precondition-required"


class BadRequest(DomainError):
    """A malformed part of the request outside its body (a header); ``errors`` names it."""

    status, code = 400, "bad-request"


class RuleViolation(DomainError):
    """Input that is well-formed but breaks a domain rule; names the field(s)."""

    status, code = 422, "validation-failed"

    def __init__(self, detail: str | None = None, *, field: str | None = None, **kwargs: Any):
        if field and "errors" not in kwargs:
            kwargs["errors"] = {field: [detail]}
        super().__init__(detail, **kwargs)


class TooManyRequests(DomainError):
    status, code = 429, "too-many-requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **kwargs: Any):
        kwargs.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(detail, **kwargs)


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    code: str | None = None,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """A problem+json response; ``extensions``: members of its own (RFC 9457, 3.2). Its
    title, detail and errors are rendered in the request's language (``Accept-Language``)."""
    phrase = HTTPStatus(status).phrase
    locale = i18n.negotiate()
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (code or phrase.lower().replace(" ", "-")),
        "title": i18n.lookup(phrase, locale),
        "status": status,
        "detail": i18n.translate(detail or phrase, locale),
        "instance": request.path if request else None,
    }
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = i18n.translate(errors, locale)
    for key, value in (extensions or {}).items():
        body.setdefault(key, value)
    resp = Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    resp.headers["Content-Language"] = i18n.CONTENT_LANGUAGE[locale]
    resp.vary.add("Accept-Language")
    return resp


def flatten_webargs_messages(messages: Mapping[str, Any]) -> dict[str, Any]:
    """webargs nests messages under their location (``json``, ``query``...); name fields only."""
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, Mapping):
            for name, msgs in fields.items():
                key = name if location in ("json", "form", "files") else f"{location}.{name}"
                flat[key] = msgs
        else:
            flat[location] = fields
    return flat


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    headers = dict(data.get("headers") or {})
    detail = data.get("message")
    if errors:
        errors = flatten_webargs_messages(errors)
        if status == 422:
            detail = detail or _(
                "The request has invalid fields: {fields}", fields=", ".join(sorted(errors))
            )
        elif status == 400 and "json" in errors:
            detail = _("The request body is not valid JSON.")
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if status >= 500:
        detail = _("The server could not complete the request.")
    return problem_response(
        status,
        detail=detail or error.description,
        errors=errors if status < 500 else None,
        headers=headers,
        code="validation-failed" if status == 422 else None,
    )


def _handle_domain_error(error: DomainError) -> Response:
    return problem_response(
        error.status,
        detail=error.detail,
        code=error.code,
        errors=error.errors,
        headers=error.headers,
    )


def _handle_stale(error: StaleDataError) -> Response:
    return problem_response(
        412,
        code="precondition-failed",
        detail=_("The resource was changed by someone else; read it again and retry."),
    )


def _handle_integrity(error: IntegrityError) -> Response:
    # Constraint names only: the driver's message can contain the offending values.
    log.warning("integrity error: %s", type(error.orig).__name__)
    return problem_response(
        409, code="conflict", detail=_("The change conflicts with stored data.")
    )


def _handle_data_error(error: DataError) -> Response:
    # Validation at the edge should have caught it; this net keeps a bad value from being a 500.
    log.warning("database refused a value: %s", type(error.orig).__name__)
    return problem_response(
        422,
        code="validation-failed",
        detail=_("A value is out of the range the database accepts."),
    )


def _handle_operational(error: OperationalError) -> Response:
    if is_timeout(error):
        # A statement or lock timeout (the class only: messages can quote the statement).
        log.warning("database timeout: %s", type(error.orig).__name__)
        return problem_response(
            503,
            code="database-busy",
            detail=_(
                "The database did not answer in time (a statement or lock timeout); nothing "
                "was changed. Try again shortly."
            ),
            headers={"Retry-After": "2"},
        )
    log.error("database operational error: %s", type(error.orig).__name__)
    return problem_response(
        503,
        detail=_("The database is unavailable; try again shortly."),
        headers={"Retry-After": "5"},
    )


def _handle_out_of_range(error: Exception) -> Response:
    # The edge (core/schemas.py, core/api.py) bounds every value a client sends; one that still
    # overflows date or number arithmetic, or cannot be encoded, is the client's: a 422, logged
    # with where it got through (the class and place, never the value) so the edge can be fixed.
    cause = getattr(error, "orig", None) or error
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
    log.warning(
        "value out of range: %s at %s in %s %s",
        type(cause).__name__,
        where,
        request.method,
        request.path,
    )
    return problem_response(
        422,
        code="validation-failed",
        detail=_("A value is out of the range this service accepts."),
    )


def _handle_statement(error: StatementError) -> Response:
    if isinstance(error.orig, OverflowError | UnicodeEncodeError):  # binding a parameter failed
        return _handle_out_of_range(error)
    return _handle_unexpected(error)


def _handle_unexpected(error: Exception) -> Response:
    # The traceback without the exception's message: messages can quote personal data.
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error(
        "unhandled %s in %s %s\n%s", type(error).__name__, request.method, request.path, frames
    )
    return problem_response(500, detail=_("The server could not complete the request."))


def register_error_handlers(app: Flask) -> None:
    i18n.catalogue()  # read at start-up: a broken catalogue stops the service, not a request
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(StaleDataError, _handle_stale)
    app.register_error_handler(IntegrityError, _handle_integrity)
    app.register_error_handler(DataError, _handle_data_error)
    app.register_error_handler(OperationalError, _handle_operational)
    app.register_error_handler(OverflowError, _handle_out_of_range)
    app.register_error_handler(UnicodeEncodeError, _handle_out_of_range)
    app.register_error_handler(StatementError, _handle_statement)
    app.register_error_handler(Exception, _handle_unexpected)
