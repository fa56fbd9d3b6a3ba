"""Build hook: a wheel carries the rules and the shipped risk model as package data.

``rules/`` and ``models/`` stay at the top of the repository (operators and analysts edit and
review them there), so a non-editable install copies them into ``corrections/_data/`` of the
wheel; ``corrections.config`` prefers that copy and falls back to the repository's folders
(an editable install or a source checkout). Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA_DIRS = ("rules", "models")
# What a model directory needs at run time; reproduction scripts and notebooks stay out.
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sh", ".*")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "corrections" / "_data"
        for name in DATA_DIRS:
            if (ROOT / name).is_dir():
                shutil.rmtree(target / name, ignore_errors=True)
                shutil.copytree(ROOT / name, target / name, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithData})
