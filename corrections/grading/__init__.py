"""Three-level five-grade management (三级五等): rules, pure engine, decisions, assessments."""
