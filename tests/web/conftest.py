"""The page tests' browser, live server and screenshot folder (tests/support/browser.py)."""

from tests.support.browser import artifacts, browser, server  # noqa: F401 - fixtures
from tests.support.risk_monitoring import drifted  # noqa: F401 - the model-health page's
