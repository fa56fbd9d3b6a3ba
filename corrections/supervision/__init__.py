"""Supervision log: events officers record (reports, checks, visits, sanctions ...)."""
