"""Write an assignment's missing data files as its settings say (``[provision.VARIABLE]``).

``graders demo`` calls it before grading samples, and ``graders data
provision ASSIGNMENT`` on its own. A file that exists, or whose variable the
grader's environment points elsewhere, is left alone: provisioning never
replaces the grader's data.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

from graders.course import datasets
from graders.course.settings import GradingSettings, SettingsError, read_settings


def provision_missing(course: Path, assignment: str, console: Console | None = None,
                      settings: GradingSettings | None = None) -> list[Path]:
    """Write each data file of ``assignment`` that is missing and has a ``[provision.VARIABLE]``; return the
    files written.

    Raises:
        SettingsError: a missing file has no provision (the message says how to provide it), or its source
            cannot be read (``datasets.read_source``'s reason).
    """
    console = console or Console()
    settings = settings or read_settings(course, assignment)
    provisions = dict(settings.provision)
    written = []
    for variable, relative in settings.data:
        if os.environ.get(variable):
            console.print(f"data: {variable}={os.environ[variable]} (the grader's environment)")
            continue
        path = Path(course) / relative
        if path.is_file():
            continue
        if variable not in provisions:
            raise SettingsError(f"{settings.path}: the data file {relative} ({variable}) is missing and has no "
                                f"[provision.{variable}]: write it (graders data write {relative} --from SOURCE) "
                                f"or set {variable}")
        how = provisions[variable]
        source = how.source
        if not source.startswith((datasets.DEBIAN, datasets.PYTHON)):
            source = str(Path(course) / source)
        try:
            data = datasets.read_source(source)
            if how.classes:
                data = datasets.with_class_names(data, how.classes)
            data = datasets.stratified_sample(data, how.train, how.test, how.seed)
        except (OSError, ValueError, KeyError, ImportError, AttributeError) as error:
            raise SettingsError(f"{settings.path}: [provision.{variable}] from {how.source}: {error}") from None
        datasets.write_npz(path, data.train, data.test, data.class_names)
        console.print(f"data: wrote {relative} ({variable}) from {how.source}: "
                      f"{len(data.train[1]):,} training and {len(data.test[1]):,} test examples")
        written.append(path)
    return written
