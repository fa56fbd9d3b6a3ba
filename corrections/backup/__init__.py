"""Backup and restore (容灾备份): copies of the database with signed manifests, restore,
restore drills and retention."""
