"""A real browser for the page tests: the app served over HTTP from threads, and headless
Chromium through Selenium (Debian's ``chromium`` and ``chromium-driver``). Where they are
missing the importing module is skipped, except under CI, where that is a failure.

The page tests (``tests/web``) get the ``server``, ``browser`` and ``artifacts`` fixtures from
``tests/web/conftest.py``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import ThreadedWSGIServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parents[2]


def require_browser() -> None:
    """Skip the calling module where no browser is installed (fail under CI)."""
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium and chromedriver for the browser test", pytrace=False)
        pytest.skip("chromium / chromedriver not installed", allow_module_level=True)


class _Server(ThreadedWSGIServer):
    """Keeps its connections, so that stopping drops them as a restarted server would."""

    def process_request(self, request, client_address):
        self.connections = [*getattr(self, "connections", []), request]
        super().process_request(request, client_address)


class LiveServer:
    """The app served over HTTP from threads; ``stop`` then ``start`` is a restart on the
    same port (open connections, like the alert stream, are cut)."""

    def __init__(self, app):
        self.app, self.port, self.httpd = app, 0, None

    def start(self) -> None:
        import corrections.risk.service  # noqa: F401 - as a served worker has (gunicorn_conf)
        from corrections.alerts.views import streams_stopping

        streams_stopping(self.app).clear()
        self.httpd = _Server("127.0.0.1", self.port, self.app)
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        from corrections.alerts.views import streams_stopping

        streams_stopping(self.app).set()  # open alert streams end at their next poll
        time.sleep(0.5)
        self.httpd.shutdown()
        for conn in getattr(self.httpd, "connections", []):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def server(app):
    app.config["ALERT_STREAM_POLL_SECONDS"] = 0.2
    live = LiveServer(app)
    live.start()
    yield live
    live.stop()
    app.config.pop("ALERT_STREAM_POLL_SECONDS", None)
    # The app outlives the server: its streams must not stay told to stop (the next test's
    # streams would end at once).
    from corrections.alerts.views import streams_stopping

    streams_stopping(app).clear()


@pytest.fixture
def artifacts() -> Path:
    """Where page tests keep screenshots (``CORRECTIONS_TEST_ARTIFACTS``, default
    ``test-artifacts/`` in the project)."""
    path = Path(os.environ.get("CORRECTIONS_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def browser():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=zh-CN"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)
    driver.set_window_size(1920, 1080)
    yield driver
    driver.quit()


def requested_hosts(browser) -> set[str]:
    """Every host the page asked anything of (from the performance log)."""
    hosts = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("data:", "blob:")):
                hosts.add(urlsplit(url).netloc)
    return hosts


def console_errors(browser) -> list[str]:
    """The page's console errors (a script that failed, a CSP violation)."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
