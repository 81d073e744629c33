"""A throw-away copy of the course, for tests that run nbgrader."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import ROOT

COURSE_FILES = ("nbgrader_config.py", "source", "release", "grading")


def copy_course(destination: Path) -> Path:
    """Copy the course's config, source and release into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            shutil.copy2(source, destination / name)
    return destination
