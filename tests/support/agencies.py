"""Partner agencies with one signed-in account each (the exchange's and the oversight's tests):
``p-<code>`` with a known password, its token in an :class:`tests.conftest.Api`."""

from __future__ import annotations

PASSWORD = "partner-password-9Kq"


def agency_accounts(app, client, agencies, *, procurators: bool = False) -> dict:
    """``agencies``: (code, kind, unit code) rows; each gets one account (a partner, or a
    procurator with ``procurators``), signed in. Returns {code: Api}."""
    from corrections.core.auth import SYSTEM
    from corrections.core.db import db
    from corrections.exchange import service
    from corrections.org.service import hash_password
    from corrections.oversight import service as oversight
    from tests.conftest import Api

    create = oversight.create_procurator if procurators else service.create_partner
    with app.app_context():
        for code, kind, unit in agencies:
            service.create_agency(
                db.session, code=code, kind=kind, name_zh=f"{code} 单位", unit_code=unit
            )
            user = create(db.session, username=f"p-{code}", agency_code=code, actor=SYSTEM)
            user.password_hash = hash_password(PASSWORD)
        db.session.commit()
        db.session.remove()
    made = {}
    for code, _kind, _unit in agencies:
        resp = client.post(
            "/api/v1/auth/token", json={"username": f"p-{code}", "password": PASSWORD}
        )
        assert resp.status_code == 201, resp.get_json()
        made[code] = Api(client, resp.get_json()["access_token"], f"p-{code}")
    return made


def envelope(type_: str, data: dict, id_: str | None = None, source: str = "urn:test") -> dict:
    """A CloudEvents 1.0 envelope as a partner sends one in (a fresh id unless given)."""
    import uuid

    return {
        "specversion": "1.0",
        "id": id_ or str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": "2026-11-27T02:00:00Z",
        "data": data,
    }
