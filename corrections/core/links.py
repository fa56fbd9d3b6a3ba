"""Links a listed record carries to what can be done with it and to what it rests on: the
actions that decide it (their method, URL and the schema their body is validated with, whose
form a page builds from the OpenAPI document) and its evidence (the record's type and id, and
the list that holds it). Built by the HTTP layer from endpoint names, so a page follows them
instead of composing URLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import current_app, url_for

from corrections.core.auth import PERMISSIONS, PUBLIC, current_actor


class ActionSchema(ma.Schema):
    name = ma.fields.String(
        required=True, metadata={"description": "approve, reject, accept, decline, open ..."}
    )
    method = ma.fields.String(required=True)
    href = ma.fields.String(required=True)
    body_schema = ma.fields.String(
        allow_none=True,
        metadata={"description": "The request body's schema (components/schemas of the API)"},
    )
    body = ma.fields.Dict(
        allow_none=True,
        metadata={"description": "Members the body carries as given (e.g. decision: accepted)"},
    )
    choices = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "Field -> URL of the list its value is chosen from"},
    )


class EvidenceSchema(ma.Schema):
    type = ma.fields.String(
        required=True, metadata={"description": "event, incident, obligation, risk_score ..."}
    )
    id = ma.fields.Integer(required=True)
    href = ma.fields.String(
        allow_none=True, metadata={"description": "The list of the person's records holding it"}
    )


def action(
    name: str,
    endpoint: str,
    *,
    schema: type[ma.Schema] | None = None,
    body: dict[str, Any] | None = None,
    choices: dict[str, str] | None = None,
    method: str = "POST",
    **values: Any,
) -> dict[str, Any] | None:
    """An action on ``endpoint`` (with its URL's ``values``); ``schema``: the body's. None
    when the caller's role may not use it (:func:`permitted`; :func:`with_links` drops it)."""
    if not permitted(endpoint, method):
        return None
    out = {
        "name": name,
        "method": method,
        "href": url_for(endpoint, **values),
        "body_schema": schema.__name__.removesuffix("Schema") if schema else None,
        "body": body,
    }
    if choices:
        out["choices"] = choices
    return out


# Where each kind of evidence is listed, per person (the endpoint takes ``person_id``).
EVIDENCE_LISTS = {
    "event": "supervision.PersonEvents",
    "obligation": "supervision.PersonObligations",
    "incident": "incidents.Incidents",
    "risk_score": "risk.PersonRisk",
}


def evidence(person_id: int, refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evidence items ({type, id}) of a person's records, each with the list that holds it."""
    return [
        {
            **ref,
            "href": url_for(EVIDENCE_LISTS[ref["type"]], person_id=person_id)
            if ref["type"] in EVIDENCE_LISTS
            else None,
        }
        for ref in refs
    ]


def permitted(endpoint: str, method: str = "POST") -> bool:
    """Whether the caller's role may use ``method`` on ``endpoint`` (the permission its
    route declares, core/auth.py ``requires``); False for a route that declares none."""
    view = current_app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, method.lower(), None) if view_class else view
    permission = getattr(handler, "__permission__", None)
    if permission == PUBLIC:
        return True
    actor = current_actor()
    return permission in PERMISSIONS and actor is not None and actor.role in PERMISSIONS[permission]


def with_links(
    views: list[dict[str, Any]], add: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Listed views with their links (``add``); a sealed record's stub (ids and dates only,
    persons/privacy.py) gets none. Only the actions the caller's role may use are listed
    (:func:`action` leaves out the others): an analyst reading a queue is offered none."""
    out = [view if view.get("sealed") else add(view) for view in views]
    for view in out:
        if isinstance(view.get("actions"), list):
            view["actions"] = [a for a in view["actions"] if a is not None]
    return out
