from __future__ import annotations

import re


def test_healthz_pings_the_database(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_gone(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from corrections.core.db import db

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    with app.app_context():
        monkeypatch.setattr(db.session, "execute", broken)
        resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.content_type == "application/problem+json"


def test_docs_page_loads_only_local_assets(client):
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, html
    for ref in refs:
        assert ref.startswith("/"), ref
        assert not ref.startswith("//"), ref
        with client.get(ref) as asset:
            assert asset.status_code == 200, ref
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert (
        "unsafe-inline"
        not in resp.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    )
    assert client.get("/api/docs/assets/../../secret").status_code == 404


def test_openapi_lists_every_api_route(app, client):
    spec = client.get("/api/openapi.json").get_json()
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            # <id:person_id>, <code>, <string(maxlength=32):code> -> {person_id}, {code}
            path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
            assert path in documented, path
    problem = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    assert "application/problem+json" in problem
