"""Helpers shared by tests (not fixtures: those are in tests/conftest.py)."""
