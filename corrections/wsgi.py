"""WSGI entry point for production servers: ``gunicorn corrections.wsgi:app``.

A bad setting stops it with ``invalid configuration: KEY: ...`` on standard error, not a
traceback, and exit status 4: gunicorn's "App failed to load", on which its master stops (a
worker that exits otherwise, with 2 say, is started again and again, each repeating the
message).
"""

import sys

from corrections import create_app
from corrections.config import ConfigError

# gunicorn's Arbiter.APP_LOAD_ERROR.
APP_LOAD_ERROR = 4

try:
    app = create_app()
except ConfigError as exc:
    print(exc.render(), file=sys.stderr, flush=True)
    sys.exit(APP_LOAD_ERROR)
