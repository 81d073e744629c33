"""What an assignment's notebook cannot say: ``grading/ASSIGNMENT.toml`` in the course, read by the grader only.

The file is beside ``source/``, never inside it, so ``nbgrader
generate_assignment`` never releases it. Every table is optional, and an
assignment without the file needs none::

    # Data files the grader provisions. Each is copied into the sandbox, and
    # the variable points the notebook's code and its test cells at the copy.
    # The grader's own environment may point a variable at another file.
    [data]
    DIGITS_NPZ = "data/digits.npz"          # relative to the course folder

    # Limits for every submission of the assignment; the command line's win.
    [limits]
    cell_seconds = 900
    notebook_seconds = 3600
    memory_gib = 16                         # real memory under a cgroup (root), else address space
    processes = 1024

    # How `graders demo` and `graders data provision` write a data file that is
    # missing: graders data write's options. from = debian:PACKAGE, a file or a
    # folder of IDX files in the course, or python:MODULE:FUNCTION (a function
    # returning a graders.course.datasets.DataSet).
    [provision.DIGITS_NPZ]
    from = "debian:PACKAGE"                 # a Debian data-set package of IDX files
    train = 6000                            # a stratified sample (default: all)
    test = 1000
    seed = 0
    classes = ["zero", "one", ...]          # optional: stored in the file

    # The feedback's confusion matrix: the student's first Keras model on
    # these held-out arrays of a data file above. Its ticks name the classes:
    # ``classes`` (label 0 first) when given, else the data file's
    # ``class_names`` array when it has one (``graders data write --classes``),
    # else their numbers.
    [feedback]
    data = "DIGITS_NPZ"
    images = "x_test"
    labels = "y_test"
    classes = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]   # optional
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

FOLDER = "grading"
LIMITS = {"cell_seconds": "cell_seconds", "notebook_seconds": "notebook_seconds", "memory_gib": "memory_bytes",
          "processes": "processes"}
VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Variables the sandbox sets itself or the interpreter reads: a data file may not take their names.
RESERVED = re.compile(r"^(PATH|HOME|TMPDIR|LANG|LC_\w+|MPLCONFIGDIR|NBGRADER_\w+|PYTHON\w*|TF_\w+|OMP_\w+|OPENBLAS_\w+"
                      r"|LD_\w+|JUPYTER_\w+|GRADERS_\w+|KERAS_\w+|CUDA_\w+|MKL_\w+|XLA_\w+)$")


class SettingsError(ValueError):
    """The assignment's grading settings cannot be used as they are."""


@dataclass(frozen=True)
class HeldOut:
    """Arrays of a provisioned data file that the feedback's plots are measured on, and the names of their
    classes (``[feedback] classes``, label 0 first; empty: the data file's ``class_names``, else numbers)."""

    variable: str
    images: str
    labels: str
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provision:
    """How to write a data file that is missing (``[provision.VARIABLE]``): ``graders data write``'s options."""

    source: str  # debian:PACKAGE, an npz file or IDX folder (relative to the course), or python:MODULE:FUNCTION
    train: int | None = None  # a stratified sample of this many training examples (None: all)
    test: int | None = None
    seed: int = 0
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SelfCheck:
    """The students' model self-check ``graders selfcheck`` generates (``[selfcheck]``): which recorded models,
    under which names, showing which settings."""

    models: tuple[tuple[str, str], ...]  # (the name check_model takes, the reference record's model)
    module: str = "model_check"  # written as source/ASSIGNMENT/MODULE.py, released with the notebook
    shown: tuple[str, ...] = ("filters", "units", "kernel_size", "pool_size", "activation", "padding")
    compared: tuple[str, ...] = ("strides", "dilation_rate", "use_bias")  # checked, shown only where they differ
    total_params: bool = True  # the lesson's text states each model's total parameter count


@dataclass(frozen=True)
class GradingSettings:
    """An assignment's grader-side settings (defaults: no data, the command line's limits, no held-out set)."""

    data: tuple[tuple[str, str], ...] = ()  # (environment variable, file relative to the course)
    limits: tuple[tuple[str, int], ...] = ()  # (``sandbox.Limits`` field, value)
    held_out: HeldOut | None = None
    path: str = ""  # where they were read from, for messages
    provision: tuple[tuple[str, Provision], ...] = ()  # (variable, how to write its file when it is missing)
    selfcheck: SelfCheck | None = None

    def data_files(self, course: Path) -> dict[str, Path]:
        """Each data variable's file on this machine: the grader's environment's value when it sets the
        variable, else the file the settings name in the course.

        Raises:
            SettingsError: a file does not exist (the message says which
                variable, and how to provision it).
        """
        files = {}
        for variable, relative in self.data:
            path = Path(os.environ[variable]) if os.environ.get(variable) else Path(course) / relative
            if not path.is_file():
                where = f"{variable}={os.environ[variable]}" if os.environ.get(variable) else f"{relative} ({variable})"
                how = (f"`graders data provision {Path(self.path).stem}` writes it" if variable in dict(self.provision)
                       else "provision it")
                raise SettingsError(f"{self.path} needs the data file {where}, which does not exist: {how}, "
                                    f"or set {variable} to a copy")
            files[variable] = path.resolve()
        return files

    def fingerprint(self) -> str:
        """What of the settings decides a score or the feedback: the variables, limits, held-out arrays and class
        names (not where the files lie: their content, ``class_names`` included, is fingerprinted apart)."""
        return repr(([variable for variable, _ in self.data], self.limits, self.held_out))


def _table(settings: dict, name: str, path: Path) -> dict:
    value = settings.get(name, {})
    if not isinstance(value, dict):
        raise SettingsError(f"{path}: [{name}] should be a table")
    return value


def read_settings(course: Path, assignment: str) -> GradingSettings:
    """The settings of ``assignment`` from ``COURSE/grading/ASSIGNMENT.toml`` (defaults when there is none).

    Raises:
        SettingsError: the file is not valid TOML, or has a table, key or
            value the grader does not know (named, with what it accepts).
    """
    path = Path(course) / FOLDER / f"{assignment}.toml"
    if not path.is_file():
        return GradingSettings()
    try:
        settings = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path} is not valid TOML: {error}") from None
    unknown = sorted(set(settings) - {"data", "limits", "feedback", "provision", "selfcheck"})
    if unknown:
        raise SettingsError(f"{path}: unknown table(s) {', '.join(unknown)} (known: data, limits, feedback, "
                            "provision, selfcheck)")
    data = _table(settings, "data", path)
    for variable, file in data.items():
        if not VARIABLE.match(variable) or RESERVED.match(variable) or not isinstance(file, str) or not file:
            raise SettingsError(f"{path}: [data] {variable} = {file!r}: expected VARIABLE = \"path/in/the/course\" "
                                "(an upper-case variable name of its own, not one the sandbox or Python uses)")
    limits = {}
    for key, value in _table(settings, "limits", path).items():
        whole = isinstance(value, int) or key == "memory_gib" and isinstance(value, float) and math.isfinite(value)
        if key not in LIMITS or isinstance(value, bool) or not whole or value <= 0:
            raise SettingsError(f"{path}: [limits] {key} = {value!r}: expected a positive whole number for one of "
                                f"{', '.join(LIMITS)} (memory_gib may have decimals)")
        limits[LIMITS[key]] = int(value * 1024**3) if key == "memory_gib" else value
        if limits[LIMITS[key]] < 1:
            raise SettingsError(f"{path}: [limits] {key} = {value!r} is too small")
    feedback = _table(settings, "feedback", path)
    held_out = None
    if feedback:
        arrays = {key: value for key, value in feedback.items() if key != "classes"}
        if set(arrays) != {"data", "images", "labels"} or not all(isinstance(v, str) for v in arrays.values()):
            raise SettingsError(f"{path}: [feedback] needs exactly data, images and labels (strings), and may "
                                "have classes (a list of names)")
        if feedback["data"] not in data:
            raise SettingsError(f"{path}: [feedback] data = {feedback['data']!r} is not a variable of [data]")
        classes = feedback.get("classes", [])
        if "classes" in feedback and (
            not isinstance(classes, list) or len(classes) < 2 or len(set(map(str, classes))) != len(classes)
            or not all(isinstance(name, str) and name.strip() for name in classes)
        ):
            raise SettingsError(f"{path}: [feedback] classes = {classes!r}: expected the classes' names, label 0 "
                                'first, as a list of distinct, non-empty strings: classes = ["cat", "dog"]')
        held_out = HeldOut(feedback["data"], feedback["images"], feedback["labels"], tuple(classes))
    provision = tuple((variable, _provision(table, variable, data, path))
                      for variable, table in _table(settings, "provision", path).items())
    selfcheck = _selfcheck(settings["selfcheck"], path) if "selfcheck" in settings else None
    return GradingSettings(tuple(data.items()), tuple(sorted(limits.items())), held_out, str(path), provision,
                           selfcheck)


SETTING_NAMES = ("filters", "units", "kernel_size", "pool_size", "activation", "padding", "strides",
                 "dilation_rate", "use_bias", "rate")  # what a recorded layer's configuration holds


def _selfcheck(table, path: Path) -> SelfCheck:
    where = f"{path}: [selfcheck]"
    if not isinstance(table, dict) or set(table) - {"models", "module", "shown", "compared", "total_params"}:
        raise SettingsError(f"{where}: expected models (required), module, shown, compared and total_params")
    models = table.get("models")
    if not isinstance(models, dict) or not models or not all(
            isinstance(name, str) and isinstance(model, str) and name and model for name, model in models.items()):
        raise SettingsError(f'{where}: models should map each name check_model takes to a recorded model: '
                            'models = {cnn = "model"}')
    module = table.get("module", SelfCheck.module)
    if not isinstance(module, str) or not module.isidentifier():
        raise SettingsError(f"{where}: module = {module!r} should be a Python module name")
    lists = {}
    for key in ("shown", "compared"):
        value = table.get(key, list(getattr(SelfCheck, key)))
        if not isinstance(value, list) or not all(item in SETTING_NAMES for item in value):
            raise SettingsError(f"{where}: {key} should list layer settings among {', '.join(SETTING_NAMES)}")
        lists[key] = tuple(value)
    total = table.get("total_params", True)
    if not isinstance(total, bool):
        raise SettingsError(f"{where}: total_params should be true or false")
    return SelfCheck(tuple(models.items()), module, lists["shown"], lists["compared"], total)


def _provision(table, variable: str, data: dict, path: Path) -> Provision:
    where = f"{path}: [provision.{variable}]"
    if variable not in data:
        raise SettingsError(f"{where}: {variable} is not a variable of [data]")
    if not isinstance(table, dict) or set(table) - {"from", "train", "test", "seed", "classes"}:
        raise SettingsError(f"{where}: expected a table of from (required), train, test, seed and classes")
    source = table.get("from")
    if not isinstance(source, str) or not source:
        raise SettingsError(f"{where}: from should name the source: debian:PACKAGE, a file or folder in the course, "
                            "or python:MODULE:FUNCTION")
    counts = {key: table.get(key) for key in ("train", "test", "seed")}
    for key, value in counts.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise SettingsError(f"{where}: {key} = {value!r} should be a whole number")
    classes = table.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(name, str) and name for name in classes):
        raise SettingsError(f"{where}: classes should be a list of names, label 0 first")
    return Provision(source, counts["train"], counts["test"], counts["seed"] or 0, tuple(classes))
