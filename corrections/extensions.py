"""Extension objects, created unbound and initialised in :func:`corrections.create_app`."""

from flask_migrate import Migrate

from corrections.core.api import Api
from corrections.core.db import db

migrate = Migrate()
api = Api()

__all__ = ["api", "db", "migrate"]
