"""Read autograded scores back from the nbgrader gradebook."""

from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry


def autograded_scores(db_url: str, assignment: str, notebook: str) -> dict[str, dict[str, float]]:
    """``{student: {test grade_id: score}}`` of every submission's autograded test cells."""
    scores: dict[str, dict[str, float]] = {}
    with Gradebook(db_url) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            try:
                grades = gradebook.find_submission_notebook(notebook, assignment, submission.student_id).grades
            except MissingEntry:
                continue
            scores[submission.student_id] = {
                grade.name: float(grade.score) for grade in grades if grade.cell_type == "code"
            }
    return scores
