"""The autograded test cells of an assignment's source notebook: the only source of its checks.

Roles come from nbgrader's own helpers (``nbgrader.utils``): a test cell is a
grade cell that is not a solution cell. Its code is read from the
instructor's source notebook, hidden tests included, never from the
student's copy. The names a cell reads decide what is brought across from
the student's kernel before it runs.
"""

from __future__ import annotations

import ast
import builtins
import keyword
from dataclasses import dataclass

from nbformat import NotebookNode
from nbgrader.utils import is_grade, is_solution

HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"


@dataclass(frozen=True)
class TestCell:
    """One autograded test cell of the source notebook."""

    grade_id: str
    points: float
    code: str  # the instructor's code, visible and hidden tests
    hidden: bool  # it holds hidden tests: its output is for students after the due date
    names: tuple[str, ...]  # the names of the student's run it reads (see ``names_read``)

    __test__ = False  # not a pytest test class


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: a code grade cell that is not a solution (nbgrader's definition)."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def names_read(code: str) -> tuple[str, ...]:
    """The global names ``code`` may read from the student's run, in order of first use, builtins left out.

    Every name the code loads or deletes, and every string constant that is
    an identifier (``globals().get("model")`` reads ``model``): bringing one
    name too many across costs a little time, one too few fails the check.
    Names the cell imports itself at its top level (``from selfcheck import
    check_shapes``) are its own and come from nowhere else, and so are its
    comprehensions' variables. A name the cell sets before reading it is
    still brought across: a student's function the cell calls may read it
    (the kernel sees the cell's value of it during the call). Code that is not
    Python (a cell magic) reads nothing.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(code))
    except (SyntaxError, ValueError):
        return ()
    imported = {
        alias.asname or alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    found: dict[str, None] = {}
    local: set[int] = set()  # Name nodes of a comprehension's own variables (its first iterable is the cell's)
    for node in ast.walk(tree):
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            own = {sub.id for gen in node.generators for sub in ast.walk(gen.target) if isinstance(sub, ast.Name)}
            outer = {id(sub) for sub in ast.walk(node.generators[0].iter)}
            local.update(id(sub) for sub in ast.walk(node)
                         if isinstance(sub, ast.Name) and sub.id in own and id(sub) not in outer)
    for node in ast.walk(tree):
        if id(node) in local:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Load, ast.Del)):
            found.setdefault(node.id)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.isidentifier()
            and not keyword.iskeyword(node.value)
        ):
            found.setdefault(node.value)
    return tuple(
        name for name in found if name not in imported and not hasattr(builtins, name) and not name.startswith("__")
    )


def _imports(notebook: NotebookNode, locked_only: bool):
    """Each import statement of the notebook's code cells (of its locked cells only, if asked), one per name."""
    for cell in notebook.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (locked_only and not (nbgrader.get("locked") and not nbgrader.get("solution"))):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                yield from (ast.Import(names=[alias]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield from (
                    ast.ImportFrom(module=node.module, names=[alias], level=0)
                    for alias in node.names
                    if alias.name != "*"
                )


def modules_imported(notebook: NotebookNode) -> frozenset[str]:
    """Every module the notebook's code cells may import, by full name, with the packages above it
    (``import matplotlib.pyplot``: ``matplotlib``, ``matplotlib.pyplot``; ``from keras import layers``:
    ``keras``, and ``keras.layers`` in case it is a module); relative imports left out."""
    found = set()
    for node in _imports(notebook, locked_only=False):
        names = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        )
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return frozenset(found)


def instructor_imports(notebook: NotebookNode) -> dict[str, str]:
    """The import statement of each name the notebook's locked cells import (``np``: ``import numpy as np``).

    A test cell reading such a name gets the instructor's module, whatever the student's kernel bound to it.
    """
    found = {}
    for node in _imports(notebook, locked_only=True):
        alias = node.names[0]
        found[alias.asname or alias.name.split(".")[0]] = ast.unparse(node)
    return found


def test_cells(source: NotebookNode) -> dict[str, TestCell]:
    """The source notebook's autograded test cells by grade_id, in notebook order.

    Raises:
        ValueError: a test cell has no grade_id, or two share one (nbgrader
            refuses such a notebook too).
    """
    cells: dict[str, TestCell] = {}
    for number, cell in enumerate(source.cells, start=1):
        if not is_test_cell(cell):
            continue
        name = cell.metadata["nbgrader"].get("grade_id")
        if not name:
            raise ValueError(f"cell {number} of the source notebook is a test cell without a grade_id")
        if name in cells:
            raise ValueError(f"two test cells of the source notebook are named {name!r}")
        cells[name] = TestCell(
            name,
            float(cell.metadata["nbgrader"].get("points", 0)),
            cell.source,
            HIDDEN_TESTS in cell.source,
            names_read(cell.source),
        )
    return cells


def grade_points(notebook: NotebookNode) -> dict[str, float]:
    """Points of each autograded test cell, by grade_id, in notebook order."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"].get("points", 0))
        for cell in notebook.cells
        if is_test_cell(cell) and cell.metadata["nbgrader"].get("grade_id")
    }
