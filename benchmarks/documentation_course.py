"""Benchmark: nbgrader's documentation course graded by ``graders autograde`` and by stock ``nbgrader autograde``.

The course is the one the installed nbgrader package ships (``ps1``: two
notebooks, students bitdiddle and hacker). Both commands grade both students
from scratch (``--force``), alternating, ``--rounds`` times, in the same course
folder; their scores are compared cell for cell every round. Prints the
figures and writes them as JSON.

    python benchmarks/documentation_course.py [--rounds 3] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from installed_courses import documentation_sources, documentation_submissions, make_course, run  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402


def autograded_scores(course: Path) -> dict[tuple[str, str, str], float]:
    """(student, notebook, grade cell) -> autograded score, from the course's gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {(submission.student_id, notebook.name, grade.name): grade.auto_score
                for submission in gradebook.assignment_submissions("ps1")
                for notebook in submission.notebooks for grade in notebook.grades
                if grade.cell_type == "code" and grade.auto_score is not None}


def timed_scores(command: list[str], course: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    run(command, course)
    return time.perf_counter() - start, autograded_scores(course)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two commands (default 3)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "documentation_course.json")
    args = parser.parse_args()
    commands = {
        "graders autograde": [sys.executable, "-m", "graders", "autograde", "ps1", "--force"],
        "nbgrader autograde": [sys.executable, "-m", "nbgrader", "autograde", "ps1", "--force"],
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="graders-bench-docs-") as folder:
        course = make_course(Path(folder), documentation_sources(), documentation_submissions())
        for round_ in range(args.rounds):
            scores = {}
            for name, command in commands.items():
                took, scores[name] = timed_scores(command, course)
                seconds[name].append(took)
                print(f"round {round_ + 1}: {name} {took:.1f} s", flush=True)
            if scores["graders autograde"] != scores["nbgrader autograde"]:
                raise SystemExit(f"the two commands disagree: {scores}")
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "course": "nbgrader documentation course ps1: 2 notebooks, 2 students (bitdiddle, hacker)",
        "rounds": args.rounds,
        "seconds": seconds,
        "median_seconds": medians,
        "ratio_graders_to_nbgrader": medians["graders autograde"] / medians["nbgrader autograde"],
    }
    print(json.dumps(figures, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
