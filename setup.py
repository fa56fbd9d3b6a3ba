"""Build hook: a wheel carries the rules, the shipped risk model, the example settings file
and the systemd units as package data.

``rules/``, ``models/``, ``instance/config.example.py`` and ``deploy/systemd/`` stay at the top
of the repository (operators and analysts edit and review them there), so a non-editable
install copies them into ``corrections/_data/`` of the wheel; ``corrections.config`` prefers
that copy and falls back to the repository's folders (an editable install or a source
checkout). ``corrections config example`` and ``corrections deploy systemd`` hand the example
and the units to an operator who has only the wheel. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA_DIRS = ("rules", "models", "deploy/systemd")
# Single files, each copied to the same path under corrections/_data (not the rest of their
# folder: instance/ holds a checkout's secrets and database).
DATA_FILES = ("instance/config.example.py",)
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
        for name in DATA_FILES:
            if (ROOT / name).is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / name, target / name)


setup(cmdclass={"build_py": BuildWithData})
