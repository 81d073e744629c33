"""The README's "Add an assignment, step by step", followed literally: each file it shows is written and each
command block run, in order, in a new folder; the new assignment's samples must score as declared."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

SECTION = "## Add an assignment, step by step"
FILE_BLOCK = re.compile(r"^`(?P<path>[^`\s]+)`:\n\n```\w*\n(?P<content>.*?)^```\n", re.M | re.S)
COMMAND_BLOCK = re.compile(r"^```sh\n(?P<commands>.*?)^```\n", re.M | re.S)


def walkthrough() -> str:
    """The section's files and commands as one bash script, in the README's order."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    steps = []
    for match in sorted([*FILE_BLOCK.finditer(section), *COMMAND_BLOCK.finditer(section)], key=lambda m: m.start()):
        if "path" in match.groupdict():
            path = match["path"]
            steps.append(f"mkdir -p \"$(dirname '{path}')\"\ncat > '{path}' <<'README_FILE'\n{match['content']}"
                         "README_FILE")
        else:
            steps.append(match["commands"].rstrip())
    return "\n".join(steps) + "\n"


def test_the_readme_walkthrough_shows_files_and_commands():
    script = walkthrough()
    for expected in ("cat > 'nbgrader_config.py'", "cat > 'make_notebook.py'", "cat > 'grading/linefit.toml'",
                     "cat > 'grading/linefit.samples.toml'", "graders reference linefit", "graders demo linefit",
                     "graders autograde linefit"):
        assert expected in script, expected


def test_adding_an_assignment_as_the_readme_says_grades_its_samples_as_declared(tmp_path):
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("GRADERS_DB_URL", None)
    process = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=tmp_path, env=environment,
                             capture_output=True, text=True, timeout=900)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-4000:]
    course = tmp_path / "tiny-course"
    assert "all scores as expected" in output
    record = (course / "grading" / "linefit.reference.json").read_text()
    assert '"q_parameters": 2' in record and '"final_loss"' in record
    assert (course / "release" / "linefit" / "linefit.ipynb").is_file()
    grades = (course / "results" / "linefit" / "grades.csv").read_text()
    assert "alice" in grades and "solution" in grades
