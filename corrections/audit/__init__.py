"""Append-only audit trail with a SHA-256 hash chain."""
