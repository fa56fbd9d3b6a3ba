"""Every route declares who may call it; a route without a declaration fails this test."""

from __future__ import annotations

import re

from corrections.core.auth import PERMISSIONS, PUBLIC

PUBLIC_ALLOWED = {
    "/healthz",
    # Prometheus: no bearer token of a user; it answers only with METRICS_TOKEN.
    "/metrics",
    "/api/openapi.json",
    "/api/docs",
    "/api/docs/assets/<path:filename>",
    "/api/v1/auth/token",
    # Redeeming a one-time reset code: the user has no password (nor token) yet.
    "/api/v1/auth/password/reset",
    "/static/web/<path:filename>",
    # The command-centre page and its chart library: no data, the page signs in via the API.
    "/command-centre",
    "/command-centre/assets/plotly.min.js",
    # The officer workbench page: no data, it signs in via the API like the command centre.
    "/workbench",
    # The page that redeems a reset code (it posts to the public route above): no data.
    "/password-reset",
    # The risk model's health page (风险模型监测): no data, it signs in via the API.
    "/model-health",
    # The wall display's page (no data) and its enrolment: the display's token in the body,
    # answered with the display's cookie (POST), or the cookie removed (DELETE).
    "/display",
    "/api/v1/display/session",
    # 矫务公开: published monthly figures (a cache of counts, small ones withheld) and their
    # page; no personal data.
    "/api/v1/public/statistics",
    "/public/statistics",
}


def _handlers(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            handler = getattr(view_class, method.lower(), None) if view_class else view
            yield rule, method, handler


def test_every_route_declares_a_permission(app):
    missing = [
        f"{method} {rule.rule}"
        for rule, method, handler in _handlers(app)
        if getattr(handler, "__permission__", None) is None
    ]
    assert missing == []


def test_declared_permissions_are_known_and_public_routes_are_few(app):
    seen = set()
    for rule, _method, handler in _handlers(app):
        permission = handler.__permission__
        assert permission == PUBLIC or permission in PERMISSIONS, (rule.rule, permission)
        if permission == PUBLIC:
            seen.add(rule.rule)
    assert seen <= PUBLIC_ALLOWED, seen - PUBLIC_ALLOWED


def test_every_protected_route_refuses_an_anonymous_caller(client, app):
    for rule, method, handler in _handlers(app):
        if handler.__permission__ == PUBLIC:
            continue
        path = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
        resp = client.open(path, method=method, json={})
        assert resp.status_code == 401, (method, path, resp.status_code)


def test_openapi_documents_security_for_every_operation(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            assert "security" in op, (method, path)
            if op["security"]:
                assert "401" in op["responses"] and "403" in op["responses"], (method, path)
