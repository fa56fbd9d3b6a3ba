"""Limits on the request line and headers, answered as problem+json (414, 431).

The WSGI server refuses what exceeds its own limits before the app sees the request, with
a page of HTML (gunicorn: 414 past 4,094 bytes of request line, 431 past 8,190 bytes of one
header field or 100 fields). The app's limits (``MAX_URL_BYTES``, ``MAX_HEADER_FIELD_BYTES``,
``MAX_HEADER_FIELDS``) are checked first thing in every request, and the server is run with
higher limits of its own (README, Production serving), so a client past them gets the same
problem+json as every other error.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from corrections.core.errors import DomainError
from corrections.core.i18n import _


class URITooLong(DomainError):
    status, code = 414, "uri-too-long"


class HeadersTooLarge(DomainError):
    status, code = 431, "request-header-fields-too-large"


def _url_bytes(environ: dict) -> int:
    """The request target as the client sent it (gunicorn and Werkzeug keep it raw)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is not None:
        return len(raw.encode("latin-1", "replace"))
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    return len(path.encode("latin-1", "replace")) + (len(query) + 1 if query else 0)


def _header_fields(environ: dict) -> list[tuple[str, int]]:
    """(name, bytes of ``Name: value``) for every header field the request carried."""
    fields = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key
        else:
            continue
        name = "-".join(part.capitalize() for part in name.split("_"))
        fields.append((name, len(name) + 2 + len(str(value).encode("latin-1", "replace"))))
    return fields


def check_request_limits() -> None:
    cfg = current_app.config
    environ = request.environ
    if _url_bytes(environ) > cfg["MAX_URL_BYTES"]:
        raise URITooLong(_("The URL is longer than {limit} bytes.", limit=cfg["MAX_URL_BYTES"]))
    fields = _header_fields(environ)
    if len(fields) > cfg["MAX_HEADER_FIELDS"]:
        raise HeadersTooLarge(
            _("The request has more than {limit} headers.", limit=cfg["MAX_HEADER_FIELDS"])
        )
    too_large = sorted(name for name, size in fields if size > cfg["MAX_HEADER_FIELD_BYTES"])
    if too_large:
        raise HeadersTooLarge(
            _(
                "A header field is larger than {limit} bytes.",
                limit=cfg["MAX_HEADER_FIELD_BYTES"],
            ),
            errors={name: [_("too large")] for name in too_large},
        )


def init_app(app: Flask) -> None:
    """Check the limits before anything else reads the request (after its id is assigned,
    so the problem carries it)."""
    app.before_request(check_request_limits)
