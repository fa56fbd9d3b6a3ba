"""Logs and metrics for operators (issue 16, part 6): JSON lines with the request id the user
sees, one access line per request without personal data, Prometheus metrics behind a token."""

from __future__ import annotations

import json
import logging

import pytest

from corrections.core.observability import ACCESS_LOG, JsonFormatter
from tests.support.alerts import raise_alarm

TOKEN = "metrics-token-for-the-tests-0123456789"


def _lines(caplog, logger: str) -> list[dict]:
    fmt = JsonFormatter()
    return [json.loads(fmt.format(r)) for r in caplog.records if r.name == logger]


def test_one_json_access_line_per_request_with_the_id_the_user_sees(officer, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS_LOG)
    resp = officer.get("/api/v1/persons?category=suspended_sentence")
    assert resp.status_code == 200
    (line,) = _lines(caplog, ACCESS_LOG)
    assert line["request_id"] == resp.headers["X-Request-ID"]
    assert line["route"] == "/api/v1/persons" and line["method"] == "GET"
    assert line["status"] == 200 and line["role"] == "officer" and line["user_id"] > 0
    assert isinstance(line["duration_ms"], float)
    # The route, never the query string.
    assert "suspended_sentence" not in json.dumps(line)


def test_a_search_for_a_name_leaves_no_name_in_any_log_line(officer, intake, caplog):
    caplog.set_level(logging.DEBUG)
    intake()
    resp = officer.post("/api/v1/persons/search", json={"q": "张伟"})
    assert resp.status_code == 200 and resp.get_json()["items"]
    fmt = JsonFormatter()
    assert not [r for r in caplog.records if "张伟" in fmt.format(r)]


def test_a_problem_and_its_log_lines_carry_one_request_id(officer, intake, caplog):
    caplog.set_level(logging.INFO)
    person = intake()
    resp = officer.patch(
        f"/api/v1/persons/{person['id']}", json={"phone": "1"}, headers={"If-Match": '"9"'}
    )
    assert resp.status_code >= 400
    body = resp.get_json()
    assert body["request_id"] == resp.headers["X-Request-ID"]
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == body["request_id"]]
    assert lines and any(r.name == ACCESS_LOG for r in lines)
    access = next(r for r in lines if r.name == ACCESS_LOG)
    assert access.route == "/api/v1/persons/<id:person_id>"
    assert f"/{person['id']}" not in access.getMessage()


def test_metrics_are_404_without_a_configured_token(client):
    resp = client.get("/metrics")
    assert resp.status_code == 404 and resp.content_type == "application/problem+json"


@pytest.fixture
def scrape(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    yield lambda token=TOKEN: client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    app.config["METRICS_TOKEN"] = None


def test_metrics_need_the_scrapers_token(scrape):
    assert scrape("wrong-token-wrong-token-wrong").status_code == 401


def test_metrics_count_requests_and_read_jobs_alerts_and_streams(
    app, officer, intake, scrape, runner, clock
):
    person = intake()
    raise_alarm(app, person["id"], clock.now())
    before = scrape().get_data(as_text=True)
    officer.get("/api/v1/persons")
    officer.get("/api/v1/persons")
    runner.invoke(args=["scheduler", "run-once", "sweep_obligations"])
    text = scrape().get_data(as_text=True)

    def requests_count(body: str) -> float:
        for line in body.splitlines():
            if (
                line.startswith("corrections_http_requests_total{")
                and 'route="/api/v1/persons"' in line
                and 'method="GET"' in line
                and 'status="200"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    assert requests_count(text) == requests_count(before) + 2
    count = 'corrections_http_request_duration_seconds_count{method="GET",route="/api/v1/persons"}'
    assert count in text
    assert 'corrections_job_runs_total{job="sweep_obligations",status="succeeded"}' in text
    assert 'corrections_job_last_duration_seconds{job="sweep_obligations"}' in text
    assert 'corrections_alerts_open{kind="monitor_alarm",severity="critical"} 1.0' in text
    assert "corrections_alert_streams_open 0.0" in text
    # The scrape itself is not counted as a request.
    assert 'route="/metrics"' not in text


def test_the_suites_log_scan_finds_id_numbers_phones_and_factory_names():
    """The scan that fails the run (tests/log_scan.py) would see each kind of leak, in the
    message, in an extra field or in a traceback, and not a request id's digits."""
    from datetime import date

    from tests.factories import id_number_for
    from tests.log_scan import _Scanner

    id_number = id_number_for(date(1990, 5, 17), "male")
    scanner = _Scanner()
    log = logging.getLogger("corrections.test-scan")
    log.propagate = False
    log.addHandler(scanner)
    try:
        log.warning("person %s", id_number)
        log.warning("called", extra={"phone": "13912345678"})
        try:
            raise ValueError("张伟")
        except ValueError:
            log.exception("failed")
        log.warning("request", extra={"request_id": "13912345678a" + "0" * 20})
        log.warning("ordinary line: 42 persons swept")
    finally:
        log.removeHandler(scanner)
        log.propagate = True
    assert [what for what, _ in scanner.found] == [
        id_number,
        "13912345678",
        "张伟",
    ]


def test_a_non_ascii_token_is_refused_not_a_crash(scrape):
    """Hostile review: hmac.compare_digest raised TypeError for a str with non-ASCII."""
    assert scrape("é-not-the-token-at-all-é-é-é").status_code == 401


def test_invented_methods_add_no_metric_series(client, scrape):
    """Hostile review: any client could add series with methods like M12345."""
    client.open("/api/v1/persons", method="M12345")
    text = scrape().get_data(as_text=True)
    assert "M12345" not in text and 'method="other"' in text


def test_every_job_has_a_failed_series_from_the_first_scrape(scrape):
    """New-user review: the failed series appeared only at the first failure, so an alert on
    its increase never saw that one."""
    text = scrape().get_data(as_text=True)
    assert 'corrections_job_runs_total{job="backup",status="failed"} 0.0' in text
