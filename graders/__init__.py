"""Grading kit for deep-learning courses on nbgrader: any assignment, graded outside the student's kernel.

The engine knows no lesson: an assignment's notebooks hold its checks (their
test cells), and ``grading/ASSIGNMENT.toml`` what the notebooks cannot say.
The lessons that come with the kit are in ``graders.lessons``.
"""

__version__ = "0.1.0"


def skip_slow_imports() -> None:
    """jsonschema, which nbformat imports, builds the grammar of ``rfc3987-syntax`` when that is installed
    (1.3 s), for the "iri" string formats that no notebook schema uses; without it, jsonschema skips them.
    Called by the command line and by each grading worker, before nbformat is imported."""
    import sys

    sys.modules.setdefault("rfc3987_syntax", None)
