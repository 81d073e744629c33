"""``graders selfcheck ASSIGNMENT``: the students' model self-check, generated from the reference record.

The module (``source/ASSIGNMENT/MODULE.py``, released with the notebook by
``nbgrader generate_assignment``) is ``selfcheck_template.py`` with the
lesson's tables filled in: each model the assignment's ``[selfcheck]``
settings name, as the solution built it (``graders reference``), with only
the settings the lesson's text states (``shown``) and the defaults it relies
on (``compared``), and its total parameter count when the lesson states it.
No output shape and no answer goes in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from graders.course.assignment import AssignmentError, find_assignment
from graders.course.settings import SelfCheck
from graders.reference.record import record_path

TEMPLATE = Path(__file__).with_name("selfcheck_template.py")
TABLES = re.compile(r"# -- the lesson's tables: .*?# -- end of the lesson's tables --\n", re.S)
SETTINGS_LINES = re.compile(r'^SHOWN = .*\nCONFIG_KEYS = .*\n', re.M)


def _literal(value):
    """A recorded setting as the template compares it (lists as tuples)."""
    return tuple(_literal(item) for item in value) if isinstance(value, list) else value


def _layer(layer: dict, keys: tuple[str, ...]) -> str:
    """One row of a table as source, at 8 spaces' indent (a setting per line when one line would be too long)."""
    config = tuple((key, _literal(layer["config"][key])) for key in keys if key in layer.get("config", {}))
    line = f"Layer({layer['type']!r}, {config!r})"
    if len(line) <= 100:
        return line
    settings = "".join(f"            {pair!r},\n" for pair in config)
    return f"Layer({layer['type']!r}, (\n{settings}        ))"


def selfcheck_source(models: dict[str, dict], selfcheck: SelfCheck, assignment: str) -> str:
    """The module's source: the template with ``models`` (check name -> the recorded model) as its tables."""
    keys = (*selfcheck.shown, *selfcheck.compared)
    lines = [f"# -- the lesson's tables: generated from grading/{assignment}.reference.json by "
             f"`graders selfcheck {assignment}`; do not edit --",
             "LESSON: dict[str, tuple[str, tuple[Layer, ...], int | None]] = {  # check name -> (variable, layers, "
             "total)"]
    shapes = {}
    for name, variable in selfcheck.models:
        recorded = models[name]
        total = sum(layer["params"] for layer in recorded["layers"]) if selfcheck.total_params else None
        lines.append(f"    {name!r}: ({variable!r}, (")
        lines += [f"        {_layer(layer, keys)}," for layer in recorded["layers"]]
        lines.append(f"    ), {total!r}),")
        shapes[name] = tuple(recorded["input_shape"]) if recorded.get("input_shape") else None
    lines.append("}")
    lines.append(f"INPUT_SHAPES: dict[str, tuple] = {shapes!r}  # check name -> one example's shape")
    lines.append("# -- end of the lesson's tables --\n")
    template = TEMPLATE.read_text()
    source = TABLES.sub(lambda _: "\n".join(lines), template, count=1)
    settings = (f"SHOWN = {selfcheck.shown!r}  # what the tables show: what the lesson's text states\n"
                f"CONFIG_KEYS = (*SHOWN, *{selfcheck.compared!r})  # also compared: Keras' defaults\n")
    return SETTINGS_LINES.sub(lambda _: settings, source, count=1)


def write_selfcheck(course: Path, assignment: str) -> Path:
    """Write the assignment's self-check module into its source folder; return its path.

    Raises:
        AssignmentError: the assignment has no ``[selfcheck]`` settings, no
            current reference record, or the record lacks a model they name.
    """
    found = find_assignment(course, assignment)
    selfcheck = found.settings.selfcheck
    if selfcheck is None:
        raise AssignmentError(f"{assignment} has no [selfcheck] table in grading/{assignment}.toml: name the models "
                              'it shows, e.g. models = {cnn = "model"}')
    found.notebooks()  # refuses a record older than the source notebooks
    path = record_path(found.course, assignment)
    try:
        notebooks = json.loads(path.read_text())["notebooks"]
    except (OSError, ValueError, KeyError) as error:
        raise AssignmentError(f"{assignment} has no readable reference record ({error}): run "
                              f"`graders reference {assignment}` first") from None
    models = {}
    for name, variable in selfcheck.models:
        found_in = {}
        for notebook, entry in notebooks.items():
            tables = [data_set["models"][variable] for data_set in entry.get("data_sets", {}).values()
                      if variable in data_set.get("models", {})]
            if tables:
                found_in[notebook] = tables[-1]
        if not found_in:
            raise AssignmentError(f"the reference record of {assignment} has no model {variable!r} (for "
                                  f"[selfcheck] models.{name}): a test cell must read it")
        if len({json.dumps(table, sort_keys=True) for table in found_in.values()}) > 1:
            raise AssignmentError(f"the model {variable!r} differs between notebooks ({', '.join(found_in)}): "
                                  "give each its own name")
        models[name] = next(iter(found_in.values()))
    target = found.source_folder / f"{selfcheck.module}.py"
    target.write_text(selfcheck_source(models, selfcheck, assignment))
    return target
