from __future__ import annotations

from pathlib import Path

import pytest

import corrections
from corrections.core import rules as registry
from corrections.grading import rules as grading_rules

RULES_DIR = Path(corrections.__file__).parent.parent / "rules"


@pytest.fixture(scope="session")
def rules() -> grading_rules.GradingRules:
    """The default ruleset, straight from rules/ (no app, no database)."""
    return grading_rules.build(
        registry.load_file(RULES_DIR / "grading.yaml"),
        registry.load_file(RULES_DIR / "assessment.yaml"),
    )
