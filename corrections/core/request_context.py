"""Request id and client address, for the audit trail and for the logs.

The request id is always the server's own: a client's ``X-Request-ID`` is kept beside it as
the client's reference (``client_request_id``), never written as if it were ours, so no client
can make two audit rows look like one request or borrow another request's id.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, has_request_context, request

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id() -> str | None:
    return getattr(g, "request_id", None) if has_request_context() else None


def client_request_id() -> str | None:
    """What the client sent as X-Request-ID (when it was well-formed), for correlation only."""
    return getattr(g, "client_request_id", None) if has_request_context() else None


def client_addr() -> str | None:
    """The client's address as the audit trail keeps it (at most 64 characters: a forwarded
    header is the client's to write, and an over-long one must not fail the audit row)."""
    if not has_request_context() or request.remote_addr is None:
        return None
    return request.remote_addr[:64]


def init_app(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.client_request_id = incoming if _REQUEST_ID_RE.match(incoming) else None
        g.request_id = uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        rid = getattr(g, "request_id", None)
        if rid:
            response.headers["X-Request-ID"] = rid
        client_rid = getattr(g, "client_request_id", None)
        if client_rid:
            response.headers["X-Client-Request-ID"] = client_rid
        return response
