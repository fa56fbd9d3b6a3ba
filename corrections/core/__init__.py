"""Cross-cutting mechanisms that every domain uses; depends on no domain."""
