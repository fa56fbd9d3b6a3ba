"""The officer's caseload filters on GET /api/v1/persons (grade, flagged, due, risk_band)."""

from __future__ import annotations

from datetime import UTC, datetime


def _ids(api, query: str) -> set[int]:
    resp = api.get(f"/api/v1/persons?{query}")
    assert resp.status_code == 200, resp.get_json()
    return {p["id"] for p in resp.get_json()["items"]}


def test_caseload_filters_by_grade_due_flag_and_band(login, officer, active, intake, clock):
    person = active()
    waiting = intake(name="李四")  # pending intake: nothing falls due yet
    grade = officer.get(f"/api/v1/persons/{person['id']}").get_json()["grade"]
    assert person["id"] in _ids(officer, f"grade={grade}")
    other = next(g for g in ("strict", "ordinary", "lenient", "tight") if g != grade)
    assert person["id"] not in _ids(officer, f"grade={other}")
    assert _ids(officer, "grade=no_such_grade") == set()
    # Obligations open on activation; none is overdue yet, one falls due within a week.
    assert _ids(officer, "due=week") == {person["id"]}
    assert _ids(officer, "due=overdue") == set()
    clock.set(datetime(2026, 12, 20, 2, tzinfo=UTC))  # past the first report's due day
    later = login("officer-dongcheng-1")
    assert person["id"] in _ids(later, "due=overdue")
    assert waiting["id"] not in _ids(later, "due=today")
    clock.set(datetime(2026, 11, 27, 2, tzinfo=UTC))
    assert _ids(officer, "flagged=false") == {person["id"], waiting["id"]}
    assert _ids(officer, "flagged=true") == set()
    assert _ids(officer, "risk_band=high") == set()  # nobody scored


def test_caseload_filters_refuse_unknown_values_naming_the_field(officer):
    for query, field in (("due=soon", "due"), ("risk_band=extreme", "risk_band")):
        resp = officer.get(f"/api/v1/persons?{query}")
        assert resp.status_code == 422
        assert field in str(resp.get_json()["errors"])
