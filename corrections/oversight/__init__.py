"""Procuratorate oversight (检察监督): opinions, suggestions, replies, per-office figures."""
