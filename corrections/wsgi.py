"""WSGI entry point for production servers: ``gunicorn corrections.wsgi:app``."""

from corrections import create_app

app = create_app()
