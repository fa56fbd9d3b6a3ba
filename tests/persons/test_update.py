"""PATCH with If-Match: optimistic locking, no lost update."""

from __future__ import annotations

import threading

from tests.conftest import Api


def test_patch_needs_if_match(officer, intake):
    person = intake(officer)
    resp = officer.patch(f"/api/v1/persons/{person['id']}", json={"phone": "13900000000"})
    assert resp.status_code == 428
    assert resp.content_type == "application/problem+json"


def test_patch_with_current_version_applies_and_bumps_version(officer, intake):
    person = intake(officer)
    resp = officer.patch(
        f"/api/v1/persons/{person['id']}",
        json={"phone": "13900000000"},
        headers={"If-Match": '"1"'},
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["phone"] == "13900000000"
    assert resp.get_json()["version"] == 2
    assert resp.headers["ETag"] == '"2"'


def test_stale_if_match_is_412_and_changes_nothing(officer, intake):
    person = intake(officer)
    url = f"/api/v1/persons/{person['id']}"
    assert (
        officer.patch(url, json={"phone": "13900000000"}, headers={"If-Match": '"1"'}).status_code
        == 200
    )
    resp = officer.patch(url, json={"phone": "13911111111"}, headers={"If-Match": '"1"'})
    assert resp.status_code == 412
    assert officer.get(url).get_json()["phone"] == "13900000000"


def test_patch_validates_the_merged_record(officer, intake):
    person = intake(officer)
    url = f"/api/v1/persons/{person['id']}"
    resp = officer.patch(url, json={"term_end": "2026-10-01"}, headers={"If-Match": '"1"'})
    assert resp.status_code == 422
    assert "term_end" in resp.get_json()["errors"]
    resp = officer.patch(url, json={"office_code": "32990102"}, headers={"If-Match": '"1"'})
    assert resp.status_code == 422 and "office_code" in resp.get_json()["errors"]
    resp = officer.patch(url, json={"name": None}, headers={"If-Match": '"1"'})
    assert resp.status_code == 422 and "name" in resp.get_json()["errors"]
    assert officer.get(url).get_json()["version"] == 1


def test_concurrent_patches_with_same_if_match_one_wins(app, login, intake):
    """Two writers read version 1 and race; exactly one update lands, the other gets 412."""
    officer = login("officer-dongcheng-1")
    person = intake(officer)
    url = f"/api/v1/persons/{person['id']}"
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}

    def writer(phone: str) -> None:
        api = Api(app.test_client(), officer.token, officer.username)
        barrier.wait()
        results[phone] = api.patch(
            url, json={"phone": phone}, headers={"If-Match": '"1"'}
        ).status_code

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("13900000001", "13900000002")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 412], results
    winner = next(p for p, code in results.items() if code == 200)
    final = officer.get(url).get_json()
    assert final["phone"] == winner and final["version"] == 2


def test_juvenile_flag_never_reverts(officer):
    """Once handled as a juvenile, always (Art. 58): a later correction does not undo it."""
    from datetime import date

    from tests.factories import person_payload

    person = officer.post(
        "/api/v1/persons", json=person_payload(_birth=date(2008, 6, 1), offence_date="2026-05-01")
    ).get_json()
    assert person["juvenile"] is True
    resp = officer.patch(
        f"/api/v1/persons/{person['id']}",
        json={"offence_date": "2026-06-02"},
        headers={"If-Match": '"1"'},
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["offence_date"] == "2026-06-02"
    assert resp.get_json()["juvenile"] is True


def test_status_change_records_why(officer, intake):
    person = intake(officer)
    url = f"/api/v1/persons/{person['id']}/status-changes"
    resp = officer.post(url, json={"to_status": "active", "reason": "按期报到"})
    assert resp.status_code == 201, resp.get_json()
    history = officer.get(url).get_json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "pending_intake"),
        ("pending_intake", "active"),
    ]
    assert history[-1]["reason"] == "按期报到"
    assert history[-1]["actor_username"] == "officer-dongcheng-1"
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["status"] == "active"


def test_status_cannot_be_set_by_hand_outside_the_allowed_moves(officer, intake):
    person = intake(officer)
    url = f"/api/v1/persons/{person['id']}/status-changes"
    for target in ("absconded", "discharged", "lost_contact"):
        resp = officer.post(url, json={"to_status": target, "reason": "测试原因"})
        assert resp.status_code == 422, target
        assert "to_status" in resp.get_json()["errors"]
    assert officer.post(url, json={"to_status": "active"}).status_code == 422  # no reason
    # Issue 14 finding 4 (and issue 13 finding 8): a death is no longer set by hand; it is a
    # termination decided by the district on the death record, which ends what was due.
    death = officer.post(url, json={"to_status": "deceased", "reason": "家属报告死亡"})
    assert death.status_code == 422 and "termination" in death.get_json()["errors"]["to_status"][0]
    assert officer.get(f"/api/v1/persons/{person['id']}").get_json()["status"] == "pending_intake"
