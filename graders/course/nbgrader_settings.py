"""Values ``nbgrader_config.py`` takes from the kit."""

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# Lines TensorFlow, absl, Keras and Python's warnings module write to stderr.
# nbgrader's IgnorePattern drops a stderr output that matches, so log noise
# does not zero a passing test cell. Real failures are ``error`` outputs.
LOG_LINE_PATTERN = "|".join(
    [
        r"(?m)^[IWEF]\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\]",  # absl / TensorFlow C++
        r"^\d{4}-\d\d-\d\d [\d:.]+: [IWEF] [\w./-]+:\d+\]",  # older TensorFlow C++
        r"^WARNING: All log messages before absl::InitializeLog\(\) is called",
        r"^(WARNING|INFO):(tensorflow|absl)",
        r"^\S+\.py:\d+: \w*Warning: ",  # warnings.warn(...)
    ]
)


def default_db_url(course_root: str | os.PathLike) -> str:
    """The gradebook URL: ``GRADERS_DB_URL``, else the course's sqlite file."""
    return os.environ.get("GRADERS_DB_URL", f"sqlite:///{Path(course_root).resolve() / 'gradebook.db'}")


def with_scripts_on_path(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with this Python environment's scripts folder first on PATH: nbgrader runs the
    ``alembic`` command, which an unactivated virtual environment would miss."""
    scripts, path = str(Path(sys.executable).parent), env.get("PATH", "")
    return {**env, "PATH": path if scripts in path.split(os.pathsep) else os.pathsep.join([scripts, path])}


def course_config(course: Path, overrides=None):
    """The course's configuration as nbgrader reads it: its ``nbgrader_config.py`` when there is one (nbgrader's
    defaults otherwise), then ``overrides`` (a traitlets ``Config``: nbgrader's command-line options) over it,
    with the course root at ``course`` unless one of them sets another. Environment variables the file sets
    (for nbgrader's own kernels) are not kept in this process. With ``CourseDirectory.root`` in ``overrides``
    (``--course-dir``), that folder's ``nbgrader_config.py`` is read after the course's, as nbgrader reads both
    the current folder's and the course root's."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    course = Path(course).resolve()
    folders = [course]
    if overrides is not None and "root" in overrides.CourseDirectory:  # --course-dir: its own config too, as nbgrader
        root = (course / str(overrides.CourseDirectory.root)).resolve()
        folders += [root] if root != course else []
    config = Config()
    environment = dict(os.environ)  # a config may set variables for nbgrader's kernels: not for this process
    try:
        for folder in folders:
            if (folder / "nbgrader_config.py").is_file():
                config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config())
    finally:
        os.environ.clear()
        os.environ.update(environment)
    if overrides is not None:
        config.merge(overrides)
    if "root" not in config.CourseDirectory:
        config.CourseDirectory.root = str(course)
    return config
