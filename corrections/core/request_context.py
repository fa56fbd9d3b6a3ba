"""Request id and client address, for the audit trail and for the logs."""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, has_request_context, request

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id() -> str | None:
    return getattr(g, "request_id", None) if has_request_context() else None


def client_addr() -> str | None:
    return request.remote_addr if has_request_context() else None


def init_app(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        rid = getattr(g, "request_id", None)
        if rid:
            response.headers["X-Request-ID"] = rid
        return response
