"""What the benchmarks share: running a command with its output in the failure, psql, a free
port, a log's tail. The benches run as scripts (``python bench/NAME.py``), so this folder is
on ``sys.path`` and they import it as ``common``."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path


class BenchError(Exception):
    """A step of the bench failed; the message carries its output."""


def describe(args) -> str:
    """A command for a message: long arguments (inline scripts, secrets) cut short."""
    return " ".join(a if len(a) <= 80 else a[:40] + "…" for a in map(str, args))


def sh(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command, its output captured; ``check``: a failure is :class:`BenchError`
    with all of it."""
    done = subprocess.run(args, env=env, check=False, capture_output=True, text=True)
    if check and done.returncode != 0:
        output = f"{done.stdout}{done.stderr}".rstrip()
        raise BenchError(f"{describe(args)} failed (exit {done.returncode}):\n{output}")
    return done


def run(args: list[str], env: dict | None = None) -> str:
    """Run a command; its standard output, or :class:`BenchError`."""
    return sh(*args, env=env).stdout


def psql(url: str, sql: str) -> str:
    return run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql]).strip()


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for a failure's message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A generated person's name: the same for all, or (``varied``) one of 720 by the row number,
# so that a name search finds a few hundred in a city of 100,000.
_VARIED_NAME = """(ARRAY['张','王','李','赵','刘','陈','杨','黄','周','吴'])[1 + g % 10]
              || (ARRAY['伟','芳','娜','敏','静','强','磊','军','洋','勇','艳','杰'])
                 [1 + (g / 10) % 12]
              || (ARRAY['','明','华','平','辉','红'])[1 + (g / 120) % 6]"""


def insert_persons(url: str, persons: int, keyring: Path, *, varied_names: bool = False) -> None:
    """``persons`` active persons straight in SQL (generate_series), spread over the offices:
    100,000 in seconds. ID numbers are encrypted at rest: every generated person shares one
    ciphertext (made with the scratch instance's ``keyring``) and has a distinct stand-in for
    its blind indexes."""
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from corrections.core import crypto, keys

    ring = keys.load(keyring, os.environ.get("CORRECTIONS_KEYRING"))
    id_number = crypto.encrypt("329901199001011234", "persons.id_number", ring)
    name = _VARIED_NAME if varied_names else "'bench'"
    psql(
        url,
        f"""
        INSERT INTO persons (version, name, gender, id_number, id_number_bidx, id_tail_bidx,
            date_of_birth, juvenile,
            category, crime_type, judgment_date, judgment_effective_date, term_start, term_end,
            intake_deadline, has_guarantor, office_id, district_id, status, grade, grade_since,
            created_at, updated_at)
        SELECT 1, {name}, 'male', '{id_number}', 'bench:' || g, 'bench:' || g,
            DATE '1990-01-01', false,
            'suspended_sentence', 'theft', DATE '2026-01-01', DATE '2026-01-10',
            DATE '2026-01-11', DATE '2028-01-10', DATE '2026-01-20', false,
            o.id, o.parent_id, 'active', 'ordinary', TIMESTAMPTZ '2026-06-01 00:00+00',
            TIMESTAMPTZ '2026-01-11 00:00+00', TIMESTAMPTZ '2026-01-11 00:00+00'
        FROM generate_series(1, {persons}) g
        JOIN LATERAL (
            SELECT id, parent_id FROM units WHERE kind = 'office'
            ORDER BY id OFFSET (g % (SELECT count(*) FROM units WHERE kind = 'office')) LIMIT 1
        ) o ON true;
        """,
    )


def insert_alerts(url: str, alerts: int, now: str, seconds: int) -> None:
    """``alerts`` alerts over the ``seconds`` before ``now`` (an ISO time), on the persons
    already there: the kinds in the proportions a city sees them, their severity as
    rules/alerts.yaml gives it; 10% live (7% open, 3% acknowledged), the rest resolved."""
    psql(
        url,
        f"""
        WITH p AS (SELECT array_agg(id ORDER BY id) AS ids FROM persons),
        k(n, kind, severity) AS (VALUES
            (0, 'obligation_missed', 'warning'), (1, 'obligation_missed', 'warning'),
            (2, 'obligation_missed', 'warning'), (3, 'obligation_missed', 'warning'),
            (4, 'lost_contact', 'critical'), (5, 'term_ending', 'info'),
            (6, 'high_risk', 'warning'), (7, 'sanction_proposed', 'warning'),
            (8, 'intake_overdue', 'critical'), (9, 'monitor_alarm', 'critical')),
        a AS (SELECT g, k.kind, k.severity,
                     p.ids[1 + ((g::bigint * 7919) % array_length(p.ids, 1))::int] AS person_id
              FROM generate_series(1, {alerts}) g CROSS JOIN p JOIN k ON k.n = g % 10)
        INSERT INTO alerts (person_id, kind, subject_type, subject_id, severity, severity_rank,
            office_id, district_id, status, detail,
            raised_at, raised_by, updated_at, escalation_level, auto_resolved, version,
            closed_at)
        SELECT a.person_id, a.kind, 'obligation', g, a.severity,
            CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
            per.office_id, per.district_id,
            CASE WHEN g % 100 < 7 THEN 'open' WHEN g % 100 < 10 THEN 'acknowledged'
                 ELSE 'resolved' END,
            '{{}}',
            TIMESTAMPTZ '{now}' - ((({alerts} - g)::bigint * {seconds} / {alerts})
                || ' seconds')::interval,
            'system', TIMESTAMPTZ '{now}', 0, false, 1,
            CASE WHEN g % 100 >= 10 THEN TIMESTAMPTZ '{now}' END
        FROM a JOIN persons per ON per.id = a.person_id;
        """,
    )
