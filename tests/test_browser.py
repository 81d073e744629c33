"""In the browser: the instructor grades in JupyterLab's formgrader, a student runs a self-check.

JupyterLab 4 with nbgrader's extensions serves a graded copy of the course, or
a student's home folder; headless Chromium, driven by Playwright, clicks
through it and saves the screenshots the README shows (``GRADERS_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from batch_course import sample_notebook, submit, with_cell_source
from course import copy_course
from graded_courses import GRADED_CELL, WRITTEN_ANSWER
from jupyter_lab import chromium_page, jupyter_lab, require_browser, screenshot_folder
from nbgrader.api import Gradebook

from graders.demo import nbgrader
from graders.lessons.mnist_cnn import ASSIGNMENT
from graders.lessons.mnist_cnn.data import ENV_VAR

try:
    from playwright.sync_api import expect
except ImportError:  # require_browser() skips the tests, or fails them under GRADERS_REQUIRE_BROWSER=1
    expect = None
if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

CHECK_CELL = "# Check: the convnet's layers"  # the visible check of test_cnn_architecture
SLOW = 180_000  # ms: a kernel start, TensorFlow's import and a few cells on a loaded CI machine


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory, request) -> Path:
    """A copy of the course ``graders autograde`` graded (the samples, the solution with a written answer, and
    broken and real-world submissions), whose exchange is a writable folder of its own."""
    require_browser()  # before paying for the graded courses
    graded = request.getfixturevalue("graded_courses").batch
    course = shutil.copytree(graded, tmp_path_factory.mktemp("lab") / "course", symlinks=True)
    exchange = tmp_path_factory.mktemp("exchange")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
    return course


def files_below(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each file below ``folder``: its content and modification time (ns)."""
    return {path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def open_lab(page: Page, url: str) -> None:
    """Load JupyterLab and fold its left sidebar away, leaving the width to the main area."""
    page.goto(url)
    page.wait_for_selector("#jp-main-dock-panel")
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()


def menu(page: Page, name: str, item: str) -> None:
    """Click ``item`` in the menu bar's menu ``name``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=name).click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()


def test_instructor_reviews_scores_and_grades_a_written_answer_in_formgrader(graded_course, sample_npz, tmp_path):
    shots = screenshot_folder()
    with (jupyter_lab(graded_course, tmp_path / "lab.log", {ENV_VAR: str(sample_npz)}) as server,
          chromium_page(shots / "failed-instructor.png") as page):
        open_lab(page, server.url("lab"))
        menu(page, "Nbgrader", "Formgrader")
        formgrader = page.frame_locator("#formgrader-iframe iframe")

        submissions = formgrader.locator("#main-table tr", has_text=ASSIGNMENT).locator("td.num-submissions a")
        expect(submissions).to_have_text(str(len(list((graded_course / "submitted").iterdir()))))
        page.screenshot(path=shots / "instructor-formgrader-assignments.png")

        submissions.click()
        for student, score in (("solution", "20"), ("untouched", "0")):
            row = formgrader.locator("#main-table tr", has_text=student)
            expect(row.locator("td.score")).to_have_text(re.compile(rf"^{score} / \d+$"))
        page.screenshot(path=shots / "instructor-formgrader-submissions.png")

        formgrader.get_by_role("link", name="Manual Grading").click()
        formgrader.locator(f"#main-table a[href$='/gradebook/{ASSIGNMENT}']").click()
        formgrader.locator(f"#main-table a[href$='/gradebook/{ASSIGNMENT}/{ASSIGNMENT}']").click()
        formgrader.locator("#main-table a.name-shown", has_text="solution").wait_for(state="attached")
        formgrader.get_by_role("button", name="Show All Names").click()
        formgrader.get_by_role("link", name="solution", exact=True).click()

        score = formgrader.locator(f"input.score#{GRADED_CELL}")
        score.wait_for()  # then wait for the page's scripts: a score typed before they load its grades is lost
        submission_page = page.frame(url=re.compile("/formgrader/submissions/"))
        submission_page.wait_for_function("() => window.formgrader?.grades?.loaded && formgrader.comments?.loaded")
        with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT") as saved:
            score.fill("2")
            score.press("Tab")  # formgrader saves a score when its field loses focus
        assert saved.value.ok and saved.value.json()["manual_score"] == 2
        comment = formgrader.locator(f"textarea#{GRADED_CELL}-comment")
        with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT"):
            comment.fill("All three steps explained, each with its reason.")
            comment.press("Tab")
        formgrader.locator(".nbgrader_cell", has=score).scroll_into_view_if_needed()
        page.screenshot(path=shots / "instructor-manual-grading.png")

        # A student hands in again; the instructor re-grades them alone from a terminal, as with nbgrader.
        solution_results = files_below(graded_course / "results" / ASSIGNMENT / "solution")
        untouched = sample_notebook(graded_course, "untouched")
        submit(graded_course, "untouched", with_cell_source(untouched, GRADED_CELL, WRITTEN_ANSWER))
        regrade = subprocess.run(
            [sys.executable, "-m", "graders", "autograde", ASSIGNMENT, "--student", "untouched"], cwd=graded_course,
            env={**os.environ, ENV_VAR: str(sample_npz)}, capture_output=True, text=True, timeout=600)
        assert regrade.returncode == 0, regrade.stdout[-3000:] + regrade.stderr[-2000:]
        assert "1 submissions: 1 to grade" in regrade.stdout
        # The submission page has no navigation bar: the frame goes back to the submissions list, which
        # formgrader reads anew from the gradebook.
        submission_page.goto(server.url(f"formgrader/manage_submissions/{ASSIGNMENT}"))
        row = formgrader.locator("#main-table tr", has_text="untouched")
        expect(row.locator("td.status")).to_have_text("needs manual grading")  # its written answer, new
        expect(row.locator("td.score")).to_have_text(re.compile(r"^0 / \d+$"))
        page.screenshot(path=shots / "instructor-formgrader-regraded.png")
        assert files_below(graded_course / "results" / ASSIGNMENT / "solution") == solution_results

    with Gradebook(f"sqlite:///{graded_course / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade(GRADED_CELL, ASSIGNMENT, ASSIGNMENT, "solution")
        assert (grade.manual_score, grade.score, grade.max_score) == (2, 2, 2)


def test_student_self_check_shows_the_first_wrong_layer(tmp_path, sample_npz):
    require_browser()
    home = tmp_path / "home"
    course = copy_course(tmp_path / "course")  # the committed release, as a student downloads it
    shutil.copytree(course / "release" / ASSIGNMENT, home / ASSIGNMENT)
    nbformat.write(sample_notebook(course, "padding_same"), home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    shots = screenshot_folder()
    with (jupyter_lab(home, tmp_path / "lab.log", {ENV_VAR: str(sample_npz)}) as server,
          chromium_page(shots / "failed-student.png") as page):
        open_lab(page, server.url(f"lab/tree/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
        expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=SLOW)
        cell = page.locator(".jp-CodeCell", has_text=CHECK_CELL)
        cell.locator(".jp-InputPrompt").click()  # selects the cell without editing it
        menu(page, "Run", "Run All Above Selected Cell")  # setup, data, preprocessing, the model: no training
        menu(page, "Run", "Run Selected Cell and Do not Advance")  # queued after those
        expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]:"), timeout=SLOW)

        first = cell.locator("table.selfcheck tr.selfcheck-first")
        expect(first).to_contain_text("Conv2D")
        expect(first).to_contain_text("same")
        # The check cell and its table, without the traceback under it.
        cell.evaluate("node => node.scrollIntoView({block: 'start'})")
        output = cell.locator(".jp-OutputArea-child", has=page.locator("table.selfcheck"))
        top, table = cell.bounding_box(), output.bounding_box()
        height = table["y"] + table["height"] - top["y"]
        page.screenshot(path=shots / "student-self-check.png",
                        clip={"x": top["x"], "y": top["y"], "width": top["width"], "height": height})


def test_student_reads_feedback_with_plots_and_no_hidden_test_code(graded_course, tmp_path):
    """Both feedback pages open in the browser with their plots drawn; neither shows hidden test code."""
    nbgrader(graded_course, "generate_feedback", ASSIGNMENT, "--student", "solution")
    pages = {"feedback-nbgrader.png": graded_course / "feedback" / "solution" / ASSIGNMENT / f"{ASSIGNMENT}.html",
             "feedback.png": graded_course / "results" / ASSIGNMENT / "solution" / "feedback.html"}
    shots = screenshot_folder()
    with chromium_page(shots / "failed-feedback.png") as page:
        for name, html in pages.items():
            page.goto(html.as_uri())
            text = page.locator("body").inner_text()
            for hidden in ("BEGIN HIDDEN TESTS", "checks.check_", "from graders"):
                assert hidden not in text, f"{html.name} shows hidden test code: {hidden!r}"
            assert "test_cnn_architecture" in text and "3 / 3" in text
            plots = page.locator("img.grader-plot[src^='data:image/png']")  # not the notebook's own digit plot
            expect(plots).to_have_count(2)
            widths = plots.evaluate_all("images => images.map(image => image.naturalWidth)")
            assert all(width > 300 for width in widths), widths  # drawn, not broken images
            page.screenshot(path=shots / name, full_page=name == "feedback.png")
