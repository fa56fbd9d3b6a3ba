"""A pytest plugin that reads every log line the whole suite produces and fails the run if
one carries personal data: an ID number, a mobile phone number, or one of the names and
addresses the test factories use (issue 16, part 6: "never personal data: a test scans logs of
the whole suite").

It formats each record exactly as the service's JSON log would (message, extra fields and an
exception's frames), so a leak through a field or a traceback counts too.
"""

from __future__ import annotations

import logging
import re

import pytest

from corrections.core.observability import JsonFormatter

# Bounded by non-alphanumerics, so a hex request id or a hash holding a run of digits is not
# taken for one.
ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
    r"[\dXx](?![0-9A-Za-z])"
)
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
# What tests/factories.py writes into names, contacts and addresses.
FACTORY_VALUES = ("张伟", "李芳", "王小红", "人民路", "滨江市东城区")


class _Scanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.formatter_ = JsonFormatter()
        self.found: list[tuple[str, str]] = []
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.formatter_.format(record)
        except Exception:  # a record that cannot be formatted is not this scan's to judge
            return
        self.lines += 1
        hit = ID_NUMBER.search(line) or MOBILE.search(line)
        what = hit.group(0) if hit else next((v for v in FACTORY_VALUES if v in line), None)
        if what and len(self.found) < 20:
            self.found.append((what, line[:400]))


_SCANNER = _Scanner()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_SCANNER)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SCANNER.found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"log scan: {len(_SCANNER.found)} log line(s) carry personal data:", red=True
            )
            for what, line in _SCANNER.found:
                reporter.write_line(f"  {what!r} in {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(
        f"log scan: {_SCANNER.lines} log lines read, {len(_SCANNER.found)} with personal data"
    )
