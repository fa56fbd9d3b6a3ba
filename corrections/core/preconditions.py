"""If-Match for optimistic locking: the one reading of the header that every update uses.

An update must name the version it was based on (its ETag), or it could overwrite a change
it never saw (the "lost update"), which is why a missing If-Match is 428 (RFC 6585, section 3).
``If-Match: *`` is true for any current version (RFC 9110, section 13.1.1), so it names none
and protects nothing: it is answered like a missing header, 428. A value that is not an
entity-tag (RFC 9110, section 8.8.3: ``"3"`` or ``W/"3"``) is 400 naming the header, and so is
a list of several: an update is based on the one version that was read. A well-formed tag that
is not the current version is 412 (the service compares), and so is a weak tag: If-Match uses
the strong comparison (RFC 9110, section 13.1.1), under which a weak tag matches nothing. Our
ETags are strong; a client holding ``W/"3"`` got it from something that weakened ours and
should read the resource again.
"""

from __future__ import annotations

import re

from flask import request

from corrections.core.errors import BadRequest, PreconditionFailed, PreconditionRequired
from corrections.core.i18n import _

HEADER = "If-Match"
# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text
_ENTITY_TAG = re.compile(r'(?:W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_LIST_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")


def if_match(example: str) -> str | None:
    """The version the client says it read (the tag without its quotes), None when it sent
    no If-Match. A well-formed tag that is not of the resource's form matches no version of
    it (412, the caller's to say); a weak tag matches no version either (412 here)."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    value = raw.strip(" \t")
    if value == "*":
        raise PreconditionRequired(
            _(
                "{header}: * names no version; send the ETag you read, e.g. {example}.",
                header=HEADER,
                example=example,
            )
        )
    tag = _ENTITY_TAG.fullmatch(value)
    if tag is None:
        several = all(_ENTITY_TAG.fullmatch(m) for m in _LIST_SEPARATOR.split(value))
        raise BadRequest(
            _(
                "{header} must be the one ETag you read, in double quotes, e.g. {example}.",
                header=HEADER,
                example=example,
            ),
            errors={
                HEADER: [
                    _("one ETag only")
                    if several
                    else _("not an ETag (e.g. {example})", example=example)
                ]
            },
        )
    if value.startswith("W/"):
        raise PreconditionFailed(
            _(
                "{header} compares strongly and a weak ETag matches no version; read the "
                "record again and send its ETag as given.",
                header=HEADER,
            )
        )
    return tag.group(1)


# The OpenAPI parameter of an update that names the integer version it read.
IF_MATCH_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": True,
    "schema": {"type": "string"},
    "description": 'The version from the ETag of the last read, e.g. "3".',
}
_VERSION = re.compile(r"[0-9]{1,9}")


def etag(version: int) -> dict[str, str]:
    """The ETag header of a record at integer ``version``."""
    return {"ETag": f'"{version}"'}


def expected_version(*, missing: str, unknown: str) -> int:
    """The integer version an update is based on, from If-Match: 428 with ``missing`` when it
    is not sent, 412 with ``unknown`` when it names no version of the record."""
    tag = if_match('"3"')
    if tag is None:
        raise PreconditionRequired(missing)
    if not _VERSION.fullmatch(tag):
        raise PreconditionFailed(unknown)
    return int(tag)
