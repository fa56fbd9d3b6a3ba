"""flask-smorest customisation: problem+json errors in the spec, bearer security scheme."""

from __future__ import annotations

import http
import json
import math

import flask_smorest
import marshmallow as ma
import orjson
from flask_smorest.utils import prepare_response, resolve_schema_instance
from marshmallow import missing
from webargs.flaskparser import FlaskParser, abort, is_json_request

from corrections.core import fastdump
from corrections.core.errors import PROBLEM_MEDIA_TYPE
from corrections.core.i18n import _
from corrections.core.schemas import SURROGATE, SURROGATE_MESSAGE


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error response of this API carries them."""

    type = ma.fields.String(metadata={"description": "URI naming the problem type"})
    title = ma.fields.String(metadata={"description": "Short summary of the problem type"})
    status = ma.fields.Integer(metadata={"description": "HTTP status code"})
    detail = ma.fields.String(metadata={"description": "Explanation of this occurrence"})
    instance = ma.fields.String(allow_none=True, metadata={"description": "Request path"})
    request_id = ma.fields.String(metadata={"description": "Request id, also in X-Request-ID"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={"description": "Validation messages per field name"},
    )


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        # Errors are handled once, app-wide, by corrections.core.errors.
        pass

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


# Deeper than any body of this API (an event's payload is two levels down); deeper documents
# would break the JSON columns' encoder (orjson stops at 254 levels) and cost stack.
MAX_JSON_DEPTH = 32
_MAX_NAMED = 10  # problems named per response


class _Refused:
    """A value the body's JSON holds but nothing here can take, with the reason."""

    def __init__(self, reason: str):  # a message (core/i18n.py)
        self.reason = reason


def _big_int(digits: str):
    # Python reads at most 4,300 digits; no field takes more than 19.
    return _Refused(_("Number too large.")) if len(digits) > 40 else int(digits)


def _big_float(text: str):
    value = float(text)
    return _Refused(_("Number too large.")) if math.isinf(value) else value


def _constant(name: str):
    return _Refused(_("{name} is not a JSON number.", name=name))


def _path(parts: tuple) -> str:
    return ".".join(str(p) for p in parts) or "json"


def _named_problems(raw: bytes) -> dict[str, list[str]]:
    """Why orjson refused a body, per field, when the body is otherwise JSON: a lone surrogate
    in a string or a key, a number beyond any range, NaN or Infinity. Empty when the body is
    simply malformed (a 400 for the body as a whole)."""
    try:
        doc = json.loads(raw, parse_int=_big_int, parse_float=_big_float, parse_constant=_constant)
    except (ValueError, RecursionError):
        return {}
    problems: dict[str, list[str]] = {}
    stack: list[tuple[tuple, object]] = [((), doc)]
    while stack and len(problems) < _MAX_NAMED:
        parts, value = stack.pop()
        if isinstance(value, _Refused):
            problems[_path(parts)] = [value.reason]
        elif isinstance(value, str) and SURROGATE.search(value):
            problems[_path(parts)] = [SURROGATE_MESSAGE]
        elif isinstance(value, dict):
            for key, item in value.items():
                if SURROGATE.search(key):
                    problems[_path(parts)] = [
                        _("Must be valid Unicode text (a lone surrogate in a member name).")
                    ]
                else:
                    stack.append(((*parts, key), item))
        elif isinstance(value, list):
            stack.extend(((*parts, i), item) for i, item in enumerate(value))
    return problems


def _too_deep(doc) -> str | None:
    """The top-level member (or ``json``, the body) holding a value nested deeper than
    MAX_JSON_DEPTH levels; None when none is."""
    stack = [(doc, 1, None)]
    while stack:
        value, depth, top = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return top or "json"
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1, top or key))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1, top or "json"))
    return None


class JsonParser(FlaskParser):
    """Request bodies parsed by orjson: strict UTF-8, several times faster than the standard
    library's parser on the hot paths.

    What orjson refuses, or what nothing downstream could store, is answered here with the
    field named: a lone surrogate (which nothing can encode), a number beyond any range, NaN,
    a value nested deeper than MAX_JSON_DEPTH (422); anything else that is not JSON is a
    malformed body (400)."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        raw = req.get_data(cache=True)
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            problems = _named_problems(raw)
            if problems:
                abort(422, messages={"json": problems})
            raise
        top = _too_deep(doc)
        if top is not None:
            message = _("Nested deeper than {levels} levels.", levels=MAX_JSON_DEPTH)
            abort(422, messages={"json": {top: [message]}})
        return doc


class Blueprint(flask_smorest.Blueprint):
    """Every operation documents the problem+json errors it can answer with, and dumps its
    response with :mod:`corrections.core.fastdump`."""

    ARGUMENTS_PARSER = JsonParser()

    def response(self, status_code, schema=None, **kwargs):
        """As flask-smorest's, the schema's ``dump`` made fast (the same output)."""
        if schema is not None:  # a copy: an instance the caller holds stays as it is
            schema = fastdump.install(resolve_schema_instance(schema))
        return super().response(status_code, schema, **kwargs)

    def arguments(self, schema, *, location="json", **kwargs):
        """As flask-smorest's, and a JSON body also documents 400 (malformed) and 413."""
        decorator = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return decorator

        def wrapper(func):
            func = decorator(func)
            for status, description in (
                (400, "The body is not valid JSON"),  # OpenAPI descriptions: for developers
                (413, "The body is larger than the configured limit"),
            ):
                func = self.alt_response(
                    status,
                    schema=ProblemSchema,
                    description=description,
                    content_type=PROBLEM_MEDIA_TYPE,
                )(func)
            return func

        return wrapper
